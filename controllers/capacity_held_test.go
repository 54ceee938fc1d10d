package controllers

import (
	"slices"
	"testing"
	"time"

	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

// TestPlanCapacityHeldShards: for Auto, each pass adds the open shards of
// a provisioned stream to its hour in status.cost.heldShards (a week kept,
// across passes), and the decision prices those hours at them: a steady
// load that needs one shard, with 300 held for the last day, goes
// on-demand.
func TestPlanCapacityHeldShards(t *testing.T) {
	steady := loadWeek(func(int) float64 { return 0.5 })
	hour := planNow.Truncate(time.Hour)
	rec := func(hoursAgo int, n int32) streamingv1alpha1.ScalingRecord {
		return streamingv1alpha1.ScalingRecord{At: hour.Add(-time.Duration(hoursAgo) * time.Hour).Unix(), N: n}
	}
	var lastDay []streamingv1alpha1.ScalingRecord
	for h := 24; h >= 1; h-- {
		lastDay = append(lastDay, rec(h, 300))
	}
	tests := []struct {
		name     string
		mode     ktypes.StreamMode
		open     int32
		prev     []streamingv1alpha1.ScalingRecord
		want     []streamingv1alpha1.ScalingRecord
		costMode string
	}{
		{"provisioned: the hour is recorded, a week kept", ktypes.StreamModeProvisioned, 3,
			[]streamingv1alpha1.ScalingRecord{rec(8*24, 9), rec(2, 5)}, []streamingv1alpha1.ScalingRecord{rec(2, 5), rec(0, 3)}, "PROVISIONED"},
		{"provisioned: the hour keeps its most", ktypes.StreamModeProvisioned, 3,
			[]streamingv1alpha1.ScalingRecord{rec(0, 4)}, []streamingv1alpha1.ScalingRecord{rec(0, 4)}, "PROVISIONED"},
		{"on-demand: nothing recorded (and a steady load goes back)", ktypes.StreamModeOnDemand, 4,
			[]streamingv1alpha1.ScalingRecord{rec(30, 5)}, []streamingv1alpha1.ScalingRecord{rec(30, 5)}, "PROVISIONED"}, // and back: steady load
		{"provisioned, 300 shards held for a day: on-demand", ktypes.StreamModeProvisioned, 300,
			lastDay, append(slices.Clone(lastDay), rec(0, 300)), "ON_DEMAND"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sp := planObject()
			sp.Spec.Stream.CapacityMode, sp.Spec.Stream.MaxShards = streamingv1alpha1.CapacityAuto, 1000
			sp.Status.Cost = &streamingv1alpha1.CostStatus{HeldShards: tc.prev}
			obs := convergedPass(sp)
			obs.stream.summary.StreamModeDetails.StreamMode = tc.mode
			obs.stream.summary.OpenShardCount = &tc.open
			obs.stream.load = loadObservation{samples: steady}
			pl := planPass(sp, obs, planNow, planTiming)
			c := pl.status.Cost
			if c == nil || !slices.Equal(c.HeldShards, tc.want) || c.Mode != tc.costMode {
				t.Fatalf("status.cost = %+v, want mode %s, heldShards %v", c, tc.costMode, tc.want)
			}
		})
	}
}
