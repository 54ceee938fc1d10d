package sim

import (
	"math"
	"math/rand/v2"
	"slices"
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

// TestLegalFloorAgainstEnumeration compares the dynamic program with every
// schedule of counts up to twice the peak need (so counts above the peak,
// which the program never considers, are tried too) on small random needs,
// budgets and day lengths.
func TestLegalFloorAgainstEnumeration(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 1000 {
		needs := make([]int32, 1+r.IntN(6))
		for m := range needs {
			needs[m] = 1 + r.Int32N(5)
		}
		perDay, day := r.IntN(4), 1+r.IntN(5)
		got, ok := legalFloor(needs, perDay, day)
		want := enumerateFloor(needs, perDay, day)
		if !ok || got != want {
			t.Fatalf("case %d: needs %v, %d calls per %d minutes: got %d (ok %v), want %d", i, needs, perDay, day, got, ok, want)
		}
	}
}

// TestLegalFloorAgainstPlainDP compares the dynamic program with a plain
// one (every pair of counts up to the peak, each call checked with
// scaling.CheckStep) on random walks of up to 60 shards, where the blocks
// of callWindows are many and long.
func TestLegalFloorAgainstPlainDP(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 25 {
		needs := make([]int32, 50+r.IntN(100))
		n := 1 + r.Int32N(60)
		for m := range needs {
			n = min(max(n+r.Int32N(21)-10, 1), 60)
			if r.IntN(20) == 0 { // now and then a jump
				n = 1 + r.Int32N(60)
			}
			needs[m] = n
		}
		perDay, day := r.IntN(6), 10+r.IntN(60)
		got, ok := legalFloor(needs, perDay, day)
		if want := plainFloor(needs, perDay, day); !ok || got != want {
			t.Fatalf("case %d: %d calls per %d minutes: got %d (ok %v), want %d; needs %v", i, perDay, day, got, ok, want, needs)
		}
	}
}

// plainFloor is the same dynamic program without any of legalFloor's
// shortcuts: exact call counts, every predecessor tried.
func plainFloor(needs []int32, perDay, day int) int64 {
	const inf = int64(math.MaxInt64)
	top := slices.Max(needs)
	table := func() [][]int64 {
		c := make([][]int64, top+1)
		for n := range c {
			c[n] = make([]int64, perDay+1)
		}
		return c
	}
	cost, next := table(), table()
	for n := range cost {
		for k := range cost[n] {
			cost[n][k] = inf
		}
	}
	for n := needs[0]; n <= top; n++ {
		cost[n][0] = int64(n)
	}
	for m := 1; m < len(needs); m++ {
		for n := range next {
			for k := range next[n] {
				next[n][k] = inf
			}
		}
		for a := int32(1); a <= top; a++ {
			for k := 0; k <= perDay; k++ {
				if cost[a][k] == inf {
					continue
				}
				used := k
				if m%day == 0 {
					used = 0
				}
				for b := needs[m]; b <= top; b++ {
					kb := used
					if b != a {
						if scaling.CheckStep(a, b) != nil || used == perDay {
							continue
						}
						kb++
					}
					next[b][kb] = min(next[b][kb], cost[a][k]+int64(b))
				}
			}
		}
		cost, next = next, cost
	}
	best := inf
	for _, row := range cost {
		best = min(best, slices.Min(row))
	}
	return best
}

// FuzzLegalFloor is TestLegalFloorAgainstEnumeration on the fuzzer's needs.
func FuzzLegalFloor(f *testing.F) {
	f.Add([]byte{0, 0, 0, 5, 0, 0}, uint8(2), uint8(3))
	f.Add([]byte{1, 0, 1, 0, 1, 0, 1}, uint8(1), uint8(2))
	f.Fuzz(func(t *testing.T, raw []byte, perDay, day uint8) {
		if len(raw) == 0 || len(raw) > 6 {
			return
		}
		needs := make([]int32, len(raw))
		for m, b := range raw {
			needs[m] = 1 + int32(b%5)
		}
		p, d := int(perDay%5), 1+int(day%8)
		got, ok := legalFloor(needs, p, d)
		if want := enumerateFloor(needs, p, d); !ok || got != want {
			t.Fatalf("needs %v, %d calls per %d minutes: got %d (ok %v), want %d", needs, p, d, got, ok, want)
		}
	})
}

// enumerateFloor tries every schedule with counts in [1, 2×peak need],
// checking each change with scaling.CheckStep and counting calls per day.
func enumerateFloor(needs []int32, perDay, day int) int64 {
	var peak int32
	for _, n := range needs {
		peak = max(peak, n)
	}
	best := int64(math.MaxInt64)
	var walk func(m int, prev int32, calls int, cost int64)
	walk = func(m int, prev int32, calls int, cost int64) {
		if m == len(needs) {
			best = min(best, cost)
			return
		}
		if m%day == 0 {
			calls = 0
		}
		for n := needs[m]; n <= 2*peak; n++ {
			c := calls
			if m > 0 && n != prev {
				if scaling.CheckStep(prev, n) != nil || c == perDay {
					continue
				}
				c++
			}
			walk(m+1, n, c, cost+int64(n))
		}
	}
	walk(0, 0, 0, 0)
	return best
}

// TestCallWindowsSpanThreeBlocks: the counts from which one call may request
// c are exactly [lo[c], hi[c]], and that window starts no lower than the
// block below c's, covers c's block and ends no higher than the block above,
// as callWindows.step assumes, up to the most shards a stream may have.
func TestCallWindowsSpanThreeBlocks(t *testing.T) {
	for _, top := range []int32{1, 2, 3, 7, 42, 100, 420, scaling.MaxShardsPerStream} {
		w := newCallWindows(top, 1)
		if top <= 420 {
			for c := int32(1); c <= top; c++ {
				for n := int32(1); n <= top; n++ {
					legal := n == c || scaling.CheckStep(n, c) == nil
					if in := n >= w.lo[c] && n <= w.hi[c]; in != legal {
						t.Fatalf("top %d: %d→%d legal %v, in window [%d, %d] %v", top, n, c, legal, w.lo[c], w.hi[c], in)
					}
				}
			}
		}
		next := int32(1)
		for i, b := range w.blocks {
			if b[0] != next || b[1] < b[0] {
				t.Fatalf("top %d: block %d is %v, want it to start at %d", top, i, b, next)
			}
			next = b[1] + 1
			below, above := b[0], b[1]
			if i > 0 {
				below = w.blocks[i-1][0]
			}
			if i+1 < len(w.blocks) {
				above = w.blocks[i+1][1]
			}
			for c := b[0]; c <= b[1]; c++ {
				if w.lo[c] < below || w.lo[c] > b[0] || w.hi[c] < b[1] || w.hi[c] > above || w.end[c] != b[1] {
					t.Fatalf("top %d: window of %d is [%d, %d], its block %v, blocks around [%d, %d]", top, c, w.lo[c], w.hi[c], b, below, above)
				}
			}
		}
		if next != top+1 {
			t.Fatalf("top %d: blocks end at %d", top, next-1)
		}
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
