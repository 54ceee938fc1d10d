package scaling

import (
	"strings"
	"testing"
	"time"
)

// TestHalvingUnderWay: a halving runs from its start count down to
// ceil(from/2) (excluded), and a call since its start ends it.
func TestHalvingUnderWay(t *testing.T) {
	start := now0.Add(-time.Hour)
	h := halving{from: 64, since: start.Unix()}
	tests := []struct {
		name    string
		open    int32
		history []time.Time
		want    bool
	}{
		{"at its start", 64, nil, true},
		{"half way", 48, nil, true},
		{"done at 32", 32, nil, false},
		{"above its start", 65, nil, false},
		{"a call before it", 48, []time.Time{start.Add(-time.Minute)}, true},
		{"a call since it", 48, []time.Time{start.Add(time.Minute)}, false},
	}
	for _, tt := range tests {
		if got := h.underWay(tt.open, tt.history); got != tt.want {
			t.Errorf("%s: underWay(%d) = %v, want %v", tt.name, tt.open, got, tt.want)
		}
	}
	if (halving{}).underWay(1, nil) {
		t.Error("the zero halving is under way")
	}
}

// TestDecideMergeDown: a top held for want of calls is shed by merges
// toward half the open count, no call spent; a halving under way goes on
// while the need stays within its carry, and a need above the carry is
// answered by a call that re-evens the shards.
func TestDecideMergeDown(t *testing.T) {
	st, now := afterSpike()
	tests := []struct {
		name    string
		open    int32
		mibps   float64
		halving halving
		calls   int
		want    int32
		rule    ShardRule
		reason  string
	}{
		{"held top: merge", 64, 1, halving{}, 8, 32, ShardMergeDown, "merging down 64→32 by MergeShards"},
		{"calls to spare: a call down", 64, 1, halving{}, 0, 2, ShardDown, "scaling down 64→"},
		{"under way: merges go on", 50, 1, halving{from: 64, since: now.Add(-time.Hour).Unix()}, 8, 32, ShardMergeDown, "within the 32 a halving from 64 carries"},
		// 30 MiB/s needs 45 shards at 70 %, above the 32 the halving
		// carries but within the 50 open: a call to 45 re-evens them.
		{"need above the carry: re-even", 50, 30, halving{from: 64, since: now.Add(-time.Hour).Unix()}, 8, 45, ShardUp, "re-evens the shards"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev := st
			prev.MergeFrom, prev.MergeSince = tt.halving.from, tt.halving.since
			in := baseInputs(now, tt.open, tt.mibps)
			in.ReshardHistory = calls(tt.calls, now.Add(-2*time.Hour))
			d, next := Decide(in, prev, now)
			if d.Shards != tt.want || d.ShardRule != tt.rule || !strings.Contains(d.ShardReason, tt.reason) {
				t.Fatalf("shards %d rule %v (%s), want %d by %v saying %q", d.Shards, d.ShardRule, d.ShardReason, tt.want, tt.rule, tt.reason)
			}
			if d.ByMerge != (tt.rule == ShardMergeDown) {
				t.Fatalf("ByMerge %v", d.ByMerge)
			}
			if d.ByMerge && next.MergeFrom == 0 {
				t.Fatalf("a merge left no halving in State")
			}
		})
	}
}
