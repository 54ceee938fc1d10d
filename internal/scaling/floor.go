package scaling

import "math"

// LegalFloor is the fewest shard-minutes of any schedule that carries the
// per-minute shard needs and changes the count only by legal
// UpdateShardCount calls (2×/½ of the open count), with perDay calls allowed
// in each day of dayMinutes minutes; false when no legal schedule exists (a
// need above MaxShardsPerStream). The first minute's count is free. The
// simulator's LegalFloorShardHours is this on a trace; the horizon planner
// runs the same per-minute step (callWindows) on its forecast.
//
// Dynamic programming over minutes: cost[n][k] is the fewest shard-minutes
// up to this minute of a schedule with n shards now and at most k calls so
// far today. "At most" makes cost non-increasing in k, so a call "to the
// same count" from cost[n][k-1] never beats staying at cost[n][k] and the
// call's predecessors need not leave n out. k is the inner index so that
// one pass over the counts updates every k. The work is O(minutes × perDay
// × peak need), about half a second for nyc_taxi (309,571 minutes, 42
// shards at the bench's 40 MiB/s).
//
// Counts run from 1 to the trace's peak need P only: clamping a schedule to
// min(n(m), P) still carries every minute, costs no more, and turns each
// legal call from a to b into a legal call or no change (both above P: no
// change; a > P ≥ b: b ≥ MinLegalStep(a) ≥ MinLegalStep(P); a ≤ P < b:
// P < b ≤ MaxLegalStep(a)), so it needs no more calls.
// TestLegalFloorAgainstEnumeration enumerates counts up to 2P to check it.
func LegalFloor(needs []int32, perDay, dayMinutes int) (int64, bool) {
	return legalFloor(needs, perDay, dayMinutes, false)
}

// LegalFloorFreeDown is LegalFloor with every decrease free: any lower
// count at any minute, no call. It bounds from below the floor of a
// schedule that may also scale down by MergeShards (no daily limit, but
// one pair at a time, each taking the stream UPDATING, and the stream
// carrying only half its start count during a halving): every such
// schedule is one of these, since merges only ever lower the count. It is
// a measurement for the judge's floors, not one of them.
func LegalFloorFreeDown(needs []int32, perDay, dayMinutes int) (int64, bool) {
	return legalFloor(needs, perDay, dayMinutes, true)
}

func legalFloor(needs []int32, perDay, dayMinutes int, freeDown bool) (int64, bool) {
	if len(needs) == 0 {
		return 0, true
	}
	f, ok := newFloorDP(needs, perDay, dayMinutes)
	if !ok {
		return 0, false
	}
	f.freeDown = freeDown
	cur, prev := f.first(), make([]int64, f.size())
	for m := 1; m < len(needs); m++ {
		prev, cur = cur, prev
		f.next(m, prev, cur)
	}
	return f.best(cur), true
}

// floorInf stands for an infeasible state; it leaves room to add
// shard-minutes. Holding the peak need from the first minute is always
// legal, so the minimum at the end is finite.
const floorInf = math.MaxInt64 / 2

// floorDP is LegalFloor's program, one minute at a time, so that
// LegalFloorPath can run it again over a stretch of minutes.
type floorDP struct {
	needs           []int32
	perDay, dayMins int
	top             int32
	ks              int // values of k per count: perDay + 1
	w               *callWindows
	perCount        []int64 // a minute at n shards costs n shard-minutes
	valid           int     // counts below valid in the last minute's row are left over from older minutes
	freeDown        bool    // LegalFloorFreeDown: any decrease is free
	down            []int64 // freeDown: per k, the least of prev over the counts from c up
}

func newFloorDP(needs []int32, perDay, dayMinutes int) (*floorDP, bool) {
	top := int32(1)
	for _, n := range needs {
		top = max(top, n)
	}
	if top > MaxShardsPerStream {
		return nil, false
	}
	f := &floorDP{needs: needs, perDay: perDay, dayMins: dayMinutes, top: top, ks: perDay + 1}
	f.w = newCallWindows(top, f.ks)
	f.perCount = make([]int64, top+1)
	for n := range f.perCount {
		f.perCount[n] = int64(n)
	}
	return f, true
}

// size is the length of one minute's table: cost[n][k] at n*ks+k; n = 0
// unused.
func (f *floorDP) size() int { return (int(f.top) + 1) * f.ks }

// first is minute 0's table: any count carrying the need, no call.
func (f *floorDP) first() []int64 {
	cur := make([]int64, f.size())
	for n := 1; n <= int(f.top); n++ {
		v := int64(floorInf)
		if n >= int(f.needs[0]) {
			v = int64(n)
		}
		for k := range f.ks {
			cur[n*f.ks+k] = v
		}
	}
	f.valid = int(f.needs[0])
	return cur
}

// next computes minute m's table into cur from minute m-1's in prev, which
// it first adjusts in place: a new day resets the calls used, and the
// counts the program reads below the old valid ones are marked infeasible.
// prev then holds exactly what minute m was computed from.
func (f *floorDP) next(m int, prev, cur []int64) {
	ks := f.ks
	if m%f.dayMins == 0 {
		// A new day: every schedule has used none of its calls yet.
		for n := f.valid; n <= int(f.top); n++ {
			row := prev[n*ks : (n+1)*ks]
			for k := range f.perDay {
				row[k] = row[f.perDay]
			}
		}
	}
	need := int(f.needs[m])
	// The windows of counts from need on read from lo[need] on.
	for i := int(f.w.lo[need]) * ks; i < f.valid*ks; i++ {
		prev[i] = floorInf
	}
	f.w.step(prev, cur, need, f.perCount)
	if f.freeDown {
		f.stepDown(prev, cur, need)
	}
	f.valid = need
}

// stepDown lowers cur[c][k], for every count c from need on, to the
// cheapest of prev at c or any higher count with k calls, plus c: a free
// decrease to c.
func (f *floorDP) stepDown(prev, cur []int64, need int) {
	ks := f.ks
	if f.down == nil {
		f.down = make([]int64, ks)
	}
	for k := range f.down {
		f.down[k] = floorInf
	}
	for c := int(f.top); c >= need; c-- {
		v, o := prev[c*ks:(c+1)*ks], cur[c*ks:(c+1)*ks]
		for k := range ks {
			f.down[k] = min(f.down[k], v[k])
			o[k] = min(o[k], f.down[k]+int64(c))
		}
	}
}

// best is the least cost in the last minute's table.
func (f *floorDP) best(cur []int64) int64 {
	b := int64(floorInf)
	for n := f.valid; n <= int(f.top); n++ {
		b = min(b, cur[n*f.ks+f.perDay])
	}
	return b
}

// callWindows computes one minute of LegalFloor: for every shard count c,
// the least cost of staying at c or of one UpdateShardCount call to c from
// any count that may request it.
//
// Those counts form one interval [lo[c], hi[c]]: the rule lives in
// MinLegalStep and MaxLegalStep, both rising with the open
// count. The counts are cut into blocks, each starting after the previous
// one's end and ending at hi[s] of its start s (1–2, 3–6, 7–14, … under
// the 2×/½ rule). A window of c in one block starts in that block or the
// one below, covers the block, and ends in it or the one above
// (TestCallWindowsSpanThreeBlocks checks this up to MaxShardsPerStream), so
// its minimum is that of a block suffix, a whole block and a block prefix:
// O(top) per minute and k, without the branches of a sliding-window deque.
type callWindows struct {
	ks       int        // values of k per count
	lo, hi   []int32    // c may be requested from any count in [lo[c], hi[c]]
	end      []int32    // the last count of c's block
	blocks   [][2]int32 // first and last count of each block, ascending
	pre, suf []int64    // per k: minima from a block's start to c, from c to its end
}

func newCallWindows(top int32, ks int) *callWindows {
	w := &callWindows{
		ks: ks,
		lo: make([]int32, top+1), hi: make([]int32, top+1), end: make([]int32, top+1),
		pre: make([]int64, (int(top)+1)*ks), suf: make([]int64, (int(top)+1)*ks),
	}
	l, h := int32(1), int32(1)
	for c := int32(1); c <= top; c++ {
		for MaxLegalStep(l) < c {
			l++
		}
		for h < top && MinLegalStep(h+1) <= c {
			h++
		}
		w.lo[c], w.hi[c] = l, h
	}
	for s := int32(1); s <= top; {
		e := w.hi[s]
		w.blocks = append(w.blocks, [2]int32{s, e})
		for c := s; c <= e; c++ {
			w.end[c] = e
		}
		s = e + 1
	}
	return w
}

// step sets out[c][k], for every count c from first on, to cost[c] plus the
// least of prev[c][k] (no call) and, for k ≥ 1, of prev[n][k-1] over the
// counts n in [lo[c], hi[c]] (one call). It reads prev from lo[first] on.
func (w *callWindows) step(prev, out []int64, first int, cost []int64) {
	ks, top := w.ks, len(w.lo)-1
	// The windows of counts from first on start at or above from, so the
	// blocks they cover whole start there too.
	from := int(w.lo[first])
	for _, b := range w.blocks {
		s, e := max(int(b[0]), from), int(b[1])
		if e < from {
			continue
		}
		if e >= first { // prefixes: c's own block and the one above
			copy(w.pre[s*ks:(s+1)*ks], prev[s*ks:(s+1)*ks])
			for c := s + 1; c <= e; c++ {
				p, q, v := w.pre[(c-1)*ks:c*ks], w.pre[c*ks:(c+1)*ks], prev[c*ks:(c+1)*ks]
				for k := range q {
					q[k] = min(p[k], v[k])
				}
			}
		}
		if s <= int(w.lo[top]) { // suffixes: the block below c's
			copy(w.suf[e*ks:(e+1)*ks], prev[e*ks:(e+1)*ks])
			for c := e - 1; c >= s; c-- {
				p, q, v := w.suf[(c+1)*ks:(c+2)*ks], w.suf[c*ks:(c+1)*ks], prev[c*ks:(c+1)*ks]
				for k := range q {
					q[k] = min(p[k], v[k])
				}
			}
		}
	}
	for c := first; c <= top; c++ {
		lo, hi, e := int(w.lo[c]), int(w.hi[c]), int(w.end[c])
		stay, o := prev[c*ks:(c+1)*ks], out[c*ks:(c+1)*ks]
		whole, below, above := w.pre[e*ks:(e+1)*ks], w.suf[lo*ks:(lo+1)*ks], w.pre[hi*ks:(hi+1)*ks]
		o[0] = stay[0] + cost[c]
		for k := 1; k < ks; k++ {
			o[k] = min(stay[k], whole[k-1], below[k-1], above[k-1]) + cost[c]
		}
	}
}
