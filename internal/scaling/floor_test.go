package scaling

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

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
		got, ok := LegalFloor(needs, perDay, day)
		want := enumerateFloor(needs, perDay, day)
		if !ok || got != want {
			t.Fatalf("case %d: needs %v, %d calls per %d minutes: got %d (ok %v), want %d", i, needs, perDay, day, got, ok, want)
		}
	}
}

// TestLegalFloorAgainstPlainDP compares the dynamic program with a plain
// one (every pair of counts up to the peak, each call checked with
// CheckStep) on random walks of up to 60 shards, where the blocks
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
		got, ok := LegalFloor(needs, perDay, day)
		if want := plainFloor(needs, perDay, day); !ok || got != want {
			t.Fatalf("case %d: %d calls per %d minutes: got %d (ok %v), want %d; needs %v", i, perDay, day, got, ok, want, needs)
		}
	}
}

// plainFloor is the same dynamic program without any of LegalFloor's
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
						if CheckStep(a, b) != nil || used == perDay {
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
		got, ok := LegalFloor(needs, p, d)
		if want := enumerateFloor(needs, p, d); !ok || got != want {
			t.Fatalf("needs %v, %d calls per %d minutes: got %d (ok %v), want %d", needs, p, d, got, ok, want)
		}
	})
}

// enumerateFloor tries every schedule with counts in [1, 2×peak need],
// checking each change with CheckStep and counting calls per day.
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
				if CheckStep(prev, n) != nil || c == perDay {
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
	for _, top := range []int32{1, 2, 3, 7, 42, 100, 420, MaxShardsPerStream} {
		w := newCallWindows(top, 1)
		if top <= 420 {
			for c := int32(1); c <= top; c++ {
				for n := int32(1); n <= top; n++ {
					legal := n == c || CheckStep(n, c) == nil
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

// TestLegalFloorFreeDown: a free decrease spends no call, so with the
// calls of the day spent the free-down floor still follows a fall, where
// LegalFloor must hold; with calls to spare both agree; it is never above
// LegalFloor.
func TestLegalFloorFreeDown(t *testing.T) {
	tests := []struct {
		name           string
		needs          []int32
		perDay         int
		legal, freeDwn int64
	}{
		// 1 call: the cheapest legal schedule starts at 8 and spends it
		// on 8→4 after the top; with free decreases it starts at 4,
		// spends it on 4→8 and falls to 1 for free.
		{"held top", []int32{1, 8, 8, 1, 1, 1}, 1, 8*3 + 4*3, 4 + 8 + 8 + 1 + 1 + 1},
		// The fall 8→1 needs three halvings by calls (8→4→2→1) but is
		// one free step.
		{"deep fall with calls", []int32{8, 1, 1, 1, 1}, 10, 8 + 4 + 2 + 1 + 1, 8 + 1 + 1 + 1 + 1},
		{"rise only", []int32{1, 2, 4}, 10, 1 + 2 + 4, 1 + 2 + 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			legal, ok := LegalFloor(tt.needs, tt.perDay, 1440)
			free, ok2 := LegalFloorFreeDown(tt.needs, tt.perDay, 1440)
			if !ok || !ok2 || legal != tt.legal || free != tt.freeDwn {
				t.Fatalf("legal %d free-down %d, want %d and %d", legal, free, tt.legal, tt.freeDwn)
			}
		})
	}
}
