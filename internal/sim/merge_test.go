package sim

import (
	"math"
	"slices"
	"testing"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
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

// TestModelMergeCapacity: during a halving by merges each shard throttles
// on its own. From 40 shards at 28 MiB/s (70 %), a merged shard (2/40 of
// the keys, 1.4 MiB/s) throttles 0.4 MiB/s and a plain one (0.7 MiB/s)
// nothing, so k merges done throttle 0.4k/28 of the records — not the 8
// of 28 (28.6 %) of a stream carrying as 40/2 shards from the first merge.
// An UpdateShardCount that re-evens the halving relies meanwhile on the
// smaller of what the old and new shards accept.
func TestModelMergeCapacity(t *testing.T) {
	cfg := mergeCfg(3)
	cfg.PeakMiBps = 28
	perMerge := 100 * 0.4 / 28
	tests := []struct {
		name          string
		calls, merges map[int]int32
		every         int32
		minute        int
		throttled     float64
	}{
		{"first merge in flight", nil, nil, 20, 1, 0},
		{"one merge done", nil, nil, 20, 4, perMerge},
		{"five merges done", nil, nil, 20, 20, 5 * perMerge},
		{"nineteen merges done", nil, nil, 20, 76, 19 * perMerge},
		{"halving done: 20 even shards", nil, nil, 20, 80, 100 * 8.0 / 28},
		{"re-evening call 39 → 30 runs", map[int]int32{10: 30}, map[int]int32{0: 20}, 0, 12, perMerge},
		{"re-evening call 39 → 24 runs", map[int]int32{10: 24}, map[int]int32{0: 20}, 0, 12, 100 * 4.0 / 28},
		{"re-evened to 30", map[int]int32{10: 30}, map[int]int32{0: 20}, 0, 20, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Run(cfg, flat(90, 1), &merger{shards: 40, calls: tt.calls, merges: tt.merges, everyPassMerge: tt.every})
			if got := r.Timeline[tt.minute].ThrottledPercent; math.Abs(got-tt.throttled) > 1e-9 {
				t.Fatalf("minute %d: throttled %.4f%%, want %.4f%%", tt.minute, got, tt.throttled)
			}
		})
	}
}

// TestHalvingShares: the merged shards take two adjacent slots' shares,
// the hottest slots first; no merge done leaves keyShares as it is.
func TestHalvingShares(t *testing.T) {
	tests := []struct {
		name    string
		h, open int32
		skew    float64
		want    []float64
	}{
		{"no merge done", 4, 4, 0, []float64{0.25, 0.25, 0.25, 0.25}},
		{"one of four done", 8, 7, 0, []float64{0.25, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125}},
		{"halving done", 8, 4, 0, []float64{0.25, 0.25, 0.25, 0.25}},
		{"odd: one slot left alone", 5, 3, 0, []float64{0.4, 0.4, 0.2}},
		// Zipf 1 over 4 slots: 12/25, 6/25, 4/25, 3/25.
		{"skew: hottest pair first", 4, 3, 1, []float64{18.0 / 25, 4.0 / 25, 3.0 / 25}},
		{"skew: both pairs", 4, 2, 1, []float64{18.0 / 25, 7.0 / 25}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := halvingShares(tt.h, tt.open, tt.skew)
			if len(got) != len(tt.want) {
				t.Fatalf("shares %v, want %v", got, tt.want)
			}
			for i := range got {
				if math.Abs(got[i]-tt.want[i]) > 1e-12 {
					t.Fatalf("shares %v, want %v", got, tt.want)
				}
			}
		})
	}
	if got, want := halvingShares(40, 40, 1.2), keyShares(40, 1.2); !slices.Equal(got, want) {
		t.Fatalf("no merge done: %v, want keyShares %v", got, want)
	}
}

// TestAcceptedByShares: even shares give acceptedFraction's figures bit
// for bit (bursts, skew, both); uneven shares throttle the wide shards
// alone.
func TestAcceptedByShares(t *testing.T) {
	in := Load{Bytes: 28 * scaling.MiB, Records: 28 * scaling.MiB / 2048}
	for _, c := range []struct{ burst, skew float64 }{{3, 0}, {1, 0.7}, {3, 1}, {10, 0.3}} {
		cfg := DefaultConfig()
		cfg.BurstPeakToMean, cfg.KeySkew = c.burst, c.skew
		for _, n := range []int32{1, 20, 39, 40, 41} {
			if got, want := cfg.acceptedByShares(keyShares(n, c.skew), in), cfg.acceptedFraction(n, in); got != want {
				t.Fatalf("burst %v skew %v, %d even shards: %v, want %v", c.burst, c.skew, n, got, want)
			}
		}
	}
	oneMerged := halvingShares(40, 39, 0)
	tests := []struct {
		name  string
		burst float64
		want  float64
	}{
		// The merged shard (x = 1.4) accepts 1/1.4 of its 2/40.
		{"flat minute", 1, 1 - 0.05*0.4/1.4},
		// A tenth of the seconds at 3x, the rest at 7/9 of the mean: the
		// merged shard (x = 1.4) is over its limit in every second, a
		// plain one (x = 0.7) in the bursts only.
		{"bursts 3x", 3, 0.05*(1/1.4) + 0.95*(0.1+0.9*0.7*7/9)/0.7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.BurstPeakToMean = tt.burst
			if got := cfg.acceptedByShares(oneMerged, in); math.Abs(got-tt.want) > 1e-12 {
				t.Fatalf("accepted %.6f, want %.6f", got, tt.want)
			}
		})
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
