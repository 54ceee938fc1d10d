package kubectlsp

import (
	"strings"
	"testing"
	"time"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

// kubectl sp status shows a halving by MergeShards under way, from the
// policy's state in status, and nothing when none runs.
func TestHalvingLine(t *testing.T) {
	now := time.Date(2026, 11, 28, 13, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name  string
		state *streamingv1alpha1.ScalingState
		want  []string // empty: no line
	}{
		{"no scaling state", nil, nil},
		{"no halving", &streamingv1alpha1.ScalingState{}, nil},
		{"halving 9", &streamingv1alpha1.ScalingState{MergeFrom: 9, MergeSince: now.Add(-12 * time.Minute).Unix()},
			[]string{"halving 9 → 5 shards by MergeShards since 2026-11-28T12:48:00Z (12m0s ago)", "its merged shards throttle above 4 shards' worth of load", "no UpdateShardCount call"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := halving(c.state, now)
			if ok != (len(c.want) > 0) {
				t.Fatalf("halving() = %q, %v; want a line: %v", got, ok, len(c.want) > 0)
			}
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("halving() = %q, lacks %q", got, w)
				}
			}
		})
	}
}
