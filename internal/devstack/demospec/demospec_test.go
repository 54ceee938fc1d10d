package demospec

import (
	"testing"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

func TestShortenKeepsLargerBoundsAndShortensWindows(t *testing.T) {
	sp := &streamingv1alpha1.StreamProcessor{}
	sp.Spec.Stream.MaxShards, sp.Spec.Consumer.MaxTasks = 16, 2
	sp.Spec.Scaling.Paused = true
	Shorten(sp)
	sc := sp.Spec.Scaling
	if sc.IntervalSeconds != 10 || sc.ShardScaleDownSeconds != 60 || sc.TaskScaleDownSeconds == nil || *sc.TaskScaleDownSeconds != 30 || sc.Paused {
		t.Errorf("scaling after Shorten: %+v", sc)
	}
	if sp.Spec.Stream.MaxShards != 16 || sp.Spec.Consumer.MaxTasks != 4 || sp.Spec.Stream.TargetUtilizationPercent != 25 {
		t.Errorf("bounds after Shorten: max shards %d (want 16 kept), max consumers %d (want raised to 4), target %d%%",
			sp.Spec.Stream.MaxShards, sp.Spec.Consumer.MaxTasks, sp.Spec.Stream.TargetUtilizationPercent)
	}
}
