package sim

import (
	"math"
	"testing"
)

// TestExcessBreakdown: on the step trace, the breakdown's floor is the
// legal floor, its operator figure is the operator's own run (recording the
// reasons changes nothing), its parts add up to the difference, and every
// minute's reason is one the breakdown knows (a change of wording in
// policy.go would land minutes in "other").
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

// TestExcessCause maps the shard reasons policy.go writes to their rule.
func TestExcessCause(t *testing.T) {
	tests := []struct {
		reason string
		open   int32
		want   string
	}{
		{"scaling up 3→6: load needs 3.2 shards at 70% utilization (2.13 MiB/s, 2239 records/s, 0.00% throttled)", 3, "up"},
		{"scaling down 10→6: need over the last 15m0s is at most 6 shards (day's peak 6, 1 calls left)", 10, "down"},
		{"holding at 9: less than a stabilization window (15m0s) of data since start", 9, "start"},
		{"holding at 12: last reshard was less than 15m0s ago", 12, "lastReshard"},
		{"holding at 12: need is rising (4 shards over the last 15m0s; previous hours' peaks 4, 3)", 12, "rising"},
		{"holding at 24: need is 4, but 1 of 10 reshard calls are left and climbing back to the day's peak of 22 needs them", 24, "climbBack"},
		{"holding at 12: need over the last 15m0s is 9 shards, 14 with its trend or yesterday's next hour", 12, "trend"},
		{"holding at 5: need over the last 15m0s is 5 shards", 5, "window"},
		{"holding at 5: need over the last 15m0s is 4 shards", 5, "quarter"},
		{"holding at 100: need over the last 15m0s is 100 shards", 100, "window"},
		{"read side: consumers at 8 tasks fall behind", 8, "other"},
	}
	for _, tt := range tests {
		if got := excessCause(tt.reason, tt.open); got != tt.want {
			t.Errorf("excessCause(%q, %d) = %q, want %q", tt.reason, tt.open, got, tt.want)
		}
	}
}
