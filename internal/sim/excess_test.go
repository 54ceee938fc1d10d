package sim

import (
	"math"
	"testing"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// TestExcessBreakdown: on the step trace, the breakdown's floor is the
// legal floor, its operator figure is the operator's own run (recording the
// rules changes nothing), its parts add up to the difference, and every
// minute's rule is one the breakdown knows (a rule left unset would land
// minutes in "other").
func TestExcessBreakdown(t *testing.T) {
	cfg := DefaultConfig()
	var step Trace
	for _, tr := range SyntheticTraces(cfg.Seed) {
		if tr.Name == "synthetic-step-x10" {
			step = tr
		}
	}
	ex := ExcessBreakdown(cfg, step)
	if want := LegalFloorShardHours(cfg, step, cfg.TargetUtilization); math.Abs(ex.FloorShardHours-want) > 1e-6 {
		t.Errorf("floor %.3f shard-h, LegalFloorShardHours says %.3f", ex.FloorShardHours, want)
	}
	if want := RunAll(cfg, step)[0].ShardHours; math.Abs(ex.OperatorShardHours-want) > 1e-6 {
		t.Errorf("operator %.3f shard-h, the bench's operator row has %.3f", ex.OperatorShardHours, want)
	}
	var sum float64
	for c, v := range ex.ByCause {
		sum += v
		known := false
		for _, k := range ExcessCauses {
			known = known || k == c
		}
		if !known {
			t.Errorf("cause %q is not in ExcessCauses", c)
		}
	}
	if d := ex.OperatorShardHours - ex.FloorShardHours; math.Abs(sum-d) > 1e-6 || d <= 0 {
		t.Errorf("parts sum to %.3f shard-h, the difference is %.3f", sum, d)
	}
	if o := ex.ByCause["other"]; math.Abs(o) > 0.5 {
		t.Errorf("%.1f shard-h under other: some shard reasons were not recognised", o)
	}
	if ex.ByCause["quarter"] <= 0 || ex.ByCause["rising"] <= 0 {
		t.Errorf("the step's excess has no quarter or rising part: %v", ex.ByCause)
	}
}

// TestExcessCause maps every shard rule to a part of the breakdown: the
// rules the breakdown names go to their own part, the rest to "other".
func TestExcessCause(t *testing.T) {
	want := map[scaling.ShardRule]string{
		scaling.ShardUp: "up", scaling.ShardDown: "down", scaling.ShardHoldStart: "start",
		scaling.ShardHoldLastReshard: "lastReshard", scaling.ShardHoldRising: "rising",
		scaling.ShardHoldClimbBack: "climbBack", scaling.ShardHoldTrend: "trend",
		scaling.ShardHoldWindow: "window", scaling.ShardHoldQuarter: "quarter",
	}
	for r := scaling.ShardRuleUnset; r <= scaling.ShardReadSide; r++ {
		w, ok := want[r]
		if !ok {
			w = "other"
		}
		if got := excessCause(r); got != w {
			t.Errorf("excessCause(%v) = %q, want %q", r, got, w)
		}
	}
}

// TestPassCause: a halving by merges counts as "merging" from its
// ShardMergeDown pass through the holds while the merge keeps the stream
// UPDATING, and ends at the next other rule; an UPDATING hold after a call
// stays "other".
func TestPassCause(t *testing.T) {
	seq := []struct {
		rule scaling.ShardRule
		want string
	}{
		{scaling.ShardHoldUpdating, "other"},
		{scaling.ShardHoldClimbBack, "climbBack"},
		{scaling.ShardMergeDown, "merging"},
		{scaling.ShardHoldUpdating, "merging"},
		{scaling.ShardHoldUpdating, "merging"},
		{scaling.ShardMergeDown, "merging"},
		{scaling.ShardHoldClimbBack, "climbBack"},
		{scaling.ShardUp, "up"},
		{scaling.ShardHoldUpdating, "other"},
	}
	merging := false
	for i, s := range seq {
		var got string
		got, merging = passCause(s.rule, merging)
		if got != s.want {
			t.Errorf("pass %d (%v): %q, want %q", i, s.rule, got, s.want)
		}
	}
}
