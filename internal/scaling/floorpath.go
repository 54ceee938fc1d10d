package scaling

import "slices"

// floorCheckpointEvery is how many minutes LegalFloorPath runs again from
// each stored table when it walks back: memory for the tables of one such
// stretch and one per stretch, instead of one per minute.
const floorCheckpointEvery = 64

// LegalFloorPath returns one schedule that reaches LegalFloor(needs, perDay,
// dayMinutes): the count for each minute, every change between two minutes
// a legal UpdateShardCount call, at most perDay of them in each day of
// dayMinutes minutes, every count at or above its minute's need; with its
// shard-minutes. False when no legal schedule exists. It is for explaining
// a policy's shard-hours against the floor, minute by minute (the
// simulator's ExcessBreakdown).
//
// It runs the program forward once, keeping the table of every
// floorCheckpointEvery-th minute, then walks back from the cheapest end
// state: each stretch is run again from its checkpoint to recover the
// tables it read, and each minute's state is traced to the state it came
// from (staying, or one call from a count that may request it, with one
// call fewer used today; across a day's start every state came from one
// with the day's calls all counted).
func LegalFloorPath(needs []int32, perDay, dayMinutes int) ([]int32, int64, bool) {
	if len(needs) == 0 {
		return nil, 0, true
	}
	f, ok := newFloorDP(needs, perDay, dayMinutes)
	if !ok {
		return nil, 0, false
	}
	// Forward, keeping the table of each stretch's first minute (as
	// computed, before next adjusts it) and the valid count then.
	type checkpoint struct {
		table []int64
		valid int
	}
	var cps []checkpoint
	cur, prev := f.first(), make([]int64, f.size())
	for m := 0; m < len(needs); m++ {
		if m > 0 {
			prev, cur = cur, prev
			f.next(m, prev, cur)
		}
		if m%floorCheckpointEvery == 0 {
			cps = append(cps, checkpoint{slices.Clone(cur), f.valid})
		}
	}
	ks := f.ks
	// The cheapest end state, with all the day's calls counted.
	n, k := 0, perDay
	best := int64(floorInf)
	for c := f.valid; c <= int(f.top); c++ {
		if v := cur[c*ks+perDay]; v < best {
			best, n = v, c
		}
	}
	path := make([]int32, len(needs))
	// Backward, stretch by stretch; a stretch is the minutes from its
	// checkpoint s to the next one included, so it holds every call into
	// its minutes after s. tables[i] is what minute s+i+1 was computed
	// from (minute s+i's table after next adjusted it) and outs[i] minute
	// s+i+1's table.
	for ci := len(cps) - 1; ci >= 0; ci-- {
		s := ci * floorCheckpointEvery
		e := min(s+floorCheckpointEvery+1, len(needs)) // minutes s..e-1
		f.valid = cps[ci].valid
		tables := make([][]int64, 0, e-s)
		outs := make([][]int64, 0, e-s)
		last := slices.Clone(cps[ci].table)
		for m := s + 1; m < e; m++ {
			out := make([]int64, f.size())
			f.next(m, last, out)
			tables, outs = append(tables, last), append(outs, out)
			last = slices.Clone(out)
		}
		for m := e - 1; m > s; m-- {
			path[m] = int32(n)
			p, v := tables[m-s-1], outs[m-s-1][n*ks+k]
			if p[n*ks+k]+int64(n) != v {
				// Not a stay: a call from some count in n's window.
				k--
				for c := f.w.lo[n]; c <= f.w.hi[n]; c++ {
					if p[int(c)*ks+k]+int64(n) == v {
						n = int(c)
						break
					}
				}
			}
			if m%dayMinutes == 0 {
				// Minute m-1's state before the day's reset.
				k = perDay
			}
		}
		path[s] = int32(n)
	}
	return path, best, true
}
