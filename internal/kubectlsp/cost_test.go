package kubectlsp

import (
	"math"
	"testing"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

// TestCostPerHourFollowsTheCapacityMode: a provisioned stream costs its open
// shards, an on-demand one its stream-hour and the bytes written and read.
func TestCostPerHourFollowsTheCapacityMode(t *testing.T) {
	sp := &streamingv1alpha1.StreamProcessor{}
	sp.Spec.Producer.CPU, sp.Spec.Producer.Memory = 1024, 2048 // 0.04048 + 2 × 0.004445
	sp.Status.Producer.RunningTasks = 1
	sp.Status.Stream.OpenShards = 4
	sp.Status.LastDecision = &streamingv1alpha1.ScalingDecision{Inputs: map[string]string{"incomingMiBPerSec": "1"}}
	task := 0.04048 + 2*0.004445
	for _, c := range []struct {
		mode string
		want float64
	}{
		{"PROVISIONED", 4*0.015 + task},
		{"", 4*0.015 + task}, // not yet described: as provisioned
		// 1 MiB/s = 3600/1024 GB an hour, written (0.08/GB) and read once (0.04/GB).
		{"ON_DEMAND", 0.04 + 3600.0/1024*(0.08+0.04) + task},
	} {
		sp.Status.Stream.Mode = c.mode
		if got := CostPerHour(sp); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("mode %q: CostPerHour = %.6f, want %.6f", c.mode, got, c.want)
		}
	}
}
