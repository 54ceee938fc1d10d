package sim

import (
	"testing"
)

// merger is a controller that starts at given counts and, at given passes,
// asks for an UpdateShardCount call (calls) or one MergeShards toward a
// count (merges).
type merger struct {
	shards         int32
	calls, merges  map[int]int32
	pass           int
	everyPassMerge int32 // > 0: ask to merge toward this count on every pass
}

func (s *merger) Name() string { return "merger" }
func (s *merger) Start(Load) (int32, int32, int32) {
	return s.shards, 8, 8
}
func (s *merger) Control(v View) Command {
	c := Command{ReshardTo: s.calls[s.pass], MergeTo: s.merges[s.pass], ProducerDesired: 8, ConsumerDesired: 8}
	if s.everyPassMerge > 0 && !v.Updating && v.OpenShards > s.everyPassMerge {
		c.MergeTo = s.everyPassMerge
	}
	s.pass++
	return c
}

func mergeCfg(minutes int) Config {
	c := cfg1()
	c.MergeMinutes = minutes
	c.Timeline = true
	return c
}

// TestModelMergeRefusals: a merge is refused while the stream is UPDATING
// (after an UpdateShardCount or another merge) and at or above the open
// count; an UpdateShardCount waits for a merge as for any UPDATING.
func TestModelMergeRefusals(t *testing.T) {
	tests := []struct {
		name                   string
		calls, merges          map[int]int32
		merged, called, refuse int
	}{
		{"one merge", nil, map[int]int32{0: 4}, 1, 0, 0},
		{"merge while merging", nil, map[int]int32{0: 4, 1: 4}, 1, 0, 1},
		{"merge after the merge", nil, map[int]int32{0: 4, 4: 4}, 2, 0, 0},
		{"merge while UPDATING by a call", map[int]int32{0: 16}, map[int]int32{1: 4}, 0, 1, 1},
		{"call while merging", map[int]int32{1: 4}, map[int]int32{0: 4}, 1, 0, 1},
		{"merge to the open count", nil, map[int]int32{0: 8}, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Run(mergeCfg(3), flat(30, 0.1), &merger{shards: 8, calls: tt.calls, merges: tt.merges})
			if r.MergeCalls != tt.merged || r.ReshardCalls != tt.called || r.RejectedCalls != tt.refuse {
				t.Fatalf("merges %d calls %d refused %d, want %d, %d, %d", r.MergeCalls, r.ReshardCalls, r.RejectedCalls, tt.merged, tt.called, tt.refuse)
			}
		})
	}
}

// TestModelMergeBilling: each completed merge bills one shard fewer, the
// open count drops when it is done, and merges spend no call of the 24 h
// budget.
func TestModelMergeBilling(t *testing.T) {
	r := Run(mergeCfg(3), flat(40, 0.1), &merger{shards: 8, everyPassMerge: 4})
	if r.MergeCalls != 4 || r.ReshardCalls != 0 {
		t.Fatalf("merges %d calls %d, want 4 and 0", r.MergeCalls, r.ReshardCalls)
	}
	// Merges start at the ends of minutes 0, 4, 8, 12 (3 minutes UPDATING,
	// then one ACTIVE pass): 8 shards billed in minutes 0–3, 7 in 4–7, ...
	want := []int32{8, 8, 8, 8, 7, 7, 7, 7, 6, 6, 6, 6, 5, 5, 5, 5, 4}
	for m, w := range want {
		if got := r.Timeline[m].BilledShards; got != w {
			t.Fatalf("minute %d: billed %d, want %d", m, got, w)
		}
	}
	wantH := (4*(8+7+6+5) + 24*4) / 60.0
	if d := r.ShardHours - wantH; d > 1e-9 || d < -1e-9 {
		t.Fatalf("shard-hours %.4f, want %.4f", r.ShardHours, wantH)
	}
	if left := r.Timeline[len(r.Timeline)-1].CallsLeft; left != 10 {
		t.Fatalf("calls left %d, want 10", left)
	}
}

// TestModelMergeCapacity: from the first merge of a halving from 8 the
// stream carries as 4 shards, not 8−k, until the halving ends or an
// UpdateShardCount re-evens the shards.
func TestModelMergeCapacity(t *testing.T) {
	tests := []struct {
		name          string
		calls, merges map[int]int32
		minute        int
		carry         int32
	}{
		{"before the first merge", nil, map[int]int32{5: 4}, 5, 8},
		{"during the first merge", nil, map[int]int32{5: 4}, 6, 4},
		{"after one merge of four", nil, map[int]int32{5: 4}, 20, 4},
		{"re-evened by a call", map[int]int32{10: 6}, map[int]int32{5: 4}, 20, 6},
		{"while the re-evening call runs", map[int]int32{10: 6}, map[int]int32{5: 4}, 12, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Run(mergeCfg(3), flat(30, 0.1), &merger{shards: 8, calls: tt.calls, merges: tt.merges})
			if got := r.Timeline[tt.minute].CarryShards; got != tt.carry {
				t.Fatalf("minute %d: carries %d shards, want %d", tt.minute, got, tt.carry)
			}
		})
	}
	// The whole halving: 8 → 4 by four merges, carrying 4 throughout.
	r := Run(mergeCfg(3), flat(40, 0.1), &merger{shards: 8, everyPassMerge: 4})
	for m := 1; m < 40; m++ {
		if got := r.Timeline[m].CarryShards; got != 4 {
			t.Fatalf("minute %d: carries %d, want 4", m, got)
		}
	}
	// 5 MiB/s needs 5 shards: during the halving from 8, 20 % is throttled
	// (4 shards' worth), where 8−k open shards (7, 6, 5) would throttle
	// none.
	c := mergeCfg(3)
	c.PeakMiBps = 5
	r = Run(c, flat(12, 1), &merger{shards: 8, merges: map[int]int32{0: 4}})
	for m := 1; m < 12; m++ {
		if got := r.Timeline[m].ThrottledPercent; got < 19.9 || got > 20.1 {
			t.Fatalf("minute %d: throttled %.2f%%, want 20", m, got)
		}
	}
}

// TestModelMergeMinutes: the default merge time is the model's UPDATING
// time for one shard's change (UpdatingMinutes(8, 7) = 5 minutes).
func TestModelMergeMinutes(t *testing.T) {
	r := Run(mergeCfg(0), flat(20, 0.1), &merger{shards: 8, merges: map[int]int32{0: 4}})
	for m, tl := range r.Timeline[:8] {
		if want := m >= 1 && m <= 5; tl.Updating != want {
			t.Fatalf("minute %d: updating %v, want %v", m, tl.Updating, want)
		}
	}
}
