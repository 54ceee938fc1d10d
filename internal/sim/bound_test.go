package sim

import (
	"math"
	"testing"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// cfg8 makes a load of k/8 need exactly k shards at u = 1 (8 MiB/s at the
// peak, the byte limit binding).
func cfg8() Config {
	c := cfg1()
	c.PeakMiBps = 8
	return c
}

// needTrace returns a trace whose minute m needs needs[m] shards under cfg8.
func needTrace(needs []int32) Trace {
	l := make([]float64, len(needs))
	for m, n := range needs {
		l[m] = float64(n) / 8
	}
	return Trace{Name: "needs", Start: synthStart, Load: l}
}

// blocks returns a schedule of need values, each held for every minutes.
func blocks(every int, values ...int32) []int32 {
	var out []int32
	for _, v := range values {
		for range every {
			out = append(out, v)
		}
	}
	return out
}

func TestLegalFloorConstantLoad(t *testing.T) {
	c := DefaultConfig()
	tr := flat(120, 1) // 40 MiB/s: 42 shards at 100 %, 60 at 70 %
	for _, tt := range []struct {
		u      float64
		shards float64
	}{{1, 42}, {0.7, 60}} {
		if got := LegalFloorShardHours(c, tr, tt.u); got != tt.shards*2 {
			t.Errorf("u=%.1f: %.4f shard-h, want %.0f shards × 2 h", tt.u, got, tt.shards)
		}
	}
}

// TestLegalFloorSlowChangeIsClairvoyant: a need that doubles once a day is
// followed minute by minute, so the floor is the clairvoyant's.
func TestLegalFloorSlowChangeIsClairvoyant(t *testing.T) {
	c := cfg8()
	tr := needTrace(blocks(dayMinutes, 1, 2, 4, 8, 4))
	cl := ClairvoyantShardHoursAt(c, tr, 1)
	want := float64(dayMinutes*(1+2+4+8+4)) / 60
	if got := LegalFloorShardHours(c, tr, 1); got != want {
		t.Fatalf("floor %.4f shard-h, want %.4f", got, want)
	}
	// The clairvoyant sums shard-hours minute by minute in float64.
	if math.Abs(cl-want) > 1e-9*want {
		t.Fatalf("clairvoyant %.4f shard-h, want %.4f", cl, want)
	}
}

// TestLegalFloorOneMinuteSpike: a need of 8 shards for one minute among
// minutes needing 1 takes three doublings up and three halvings down:
// 1 1 1 2 4 8 4 2 1 1 = 25 shard-minutes, where the clairvoyant holds 17.
func TestLegalFloorOneMinuteSpike(t *testing.T) {
	c := cfg8()
	tr := needTrace([]int32{1, 1, 1, 1, 1, 8, 1, 1, 1, 1})
	if cl := ClairvoyantShardHoursAt(c, tr, 1); math.Abs(cl-17.0/60) > 1e-12 {
		t.Fatalf("clairvoyant %.4f shard-h, want 17 shard-minutes", cl)
	}
	if got := LegalFloorShardHours(c, tr, 1); got != 25.0/60 {
		t.Fatalf("floor %.4f shard-minutes, want 25", 60*got)
	}
	// At u = 0.5 every need doubles: 2 … 16 … 2, the same three steps each way.
	if got := LegalFloorShardHours(c, tr, 0.5); got != 50.0/60 {
		t.Fatalf("u=0.5: floor %.4f shard-minutes, want 50", 60*got)
	}
}

// TestLegalFloorDailyBudget: a need alternating 1 and 2 shards every 30
// minutes changes 47 times a day, but 10 calls a day follow it down only
// five times a day: in the first day from the free start at 1 and four
// more dips (9 calls), in the second five dips (10 calls, the budget being
// fresh at midnight). Two days at 2 shards are 5760 shard-minutes; each dip
// saves 30.
func TestLegalFloorDailyBudget(t *testing.T) {
	c := cfg8()
	var vals []int32
	for range 2 * 24 {
		vals = append(vals, 1, 2)
	}
	tr := needTrace(blocks(30, vals...))
	got, cl := LegalFloorShardHours(c, tr, 1), ClairvoyantShardHoursAt(c, tr, 1)
	if want := float64(5760-10*30) / 60; got != want {
		t.Fatalf("floor %.4f shard-h, want %.4f (clairvoyant %.4f)", got, want, cl)
	}
	if got <= cl || got >= 2*48 {
		t.Fatalf("floor %.4f shard-h not between the clairvoyant's %.4f and fixed 2 shards' 96", got, cl)
	}
}

// TestLegalFloorAboveClairvoyant: on the synthetic traces the floor is
// never below the clairvoyant nor above holding the peak need throughout.
func TestLegalFloorAboveClairvoyant(t *testing.T) {
	c := DefaultConfig()
	for _, tr := range SyntheticTraces(1) {
		for _, u := range []float64{1, 0.7} {
			got, cl := LegalFloorShardHours(c, tr, u), ClairvoyantShardHoursAt(c, tr, u)
			peak := needShards(peakLoad(c, tr), u)
			if got < cl || got > float64(peak)*float64(tr.Minutes())/60 {
				t.Errorf("%s u=%.1f: floor %.1f shard-h, clairvoyant %.1f, peak %d shards", tr.Name, u, got, cl, peak)
			}
		}
	}
}

// TestLegalFloorBelowRuns: every run of the model that throttles nothing
// uses at least the never-throttle floor (the counts it asks for change
// only by its accepted calls, at most 10 in any 24 hours, and it bills at
// least them).
func TestLegalFloorBelowRuns(t *testing.T) {
	c := DefaultConfig()
	checked := 0
	for _, tr := range SyntheticTraces(1) {
		floor := LegalFloorShardHours(c, tr, 1)
		for _, r := range []Result{Run(c, tr, NewOperator(c, scaling.MaxShardsPerStream)), Run(c, tr, NewFixedPeak(c, tr))} {
			if r.ThrottledPercent > 0 {
				continue
			}
			checked++
			if r.ShardHours < floor {
				t.Errorf("%s: %s throttles nothing with %.1f shard-h, below the floor %.1f", tr.Name, r.Policy, r.ShardHours, floor)
			}
		}
	}
	if checked < 5 {
		t.Fatalf("only %d runs throttled nothing", checked)
	}
}

// BenchmarkLegalFloor reports the floor's cost on a week of diurnal load at
// 400 MiB/s (about 420 shards at the peak).
func BenchmarkLegalFloor(b *testing.B) {
	c := DefaultConfig()
	c.PeakMiBps = 400
	tr := SyntheticTraces(1)[3]
	for b.Loop() {
		LegalFloorShardHours(c, tr, 1)
	}
}
