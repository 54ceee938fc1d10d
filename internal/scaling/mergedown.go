package scaling

import (
	"fmt"
	"time"
)

// halving is a scale-down by MergeShards under way, as State remembers it:
// the open count when it started (from) and when (since, Unix seconds).
// Until the open count reaches ceil(from/2), the merged shards own twice
// the hash range of the others, so with uniform keys the stream carries
// only as from/2 shards (the merged ones throttle first), whatever the open
// count says. An UpdateShardCount call re-evens the shards and ends it.
type halving struct {
	from  int32
	since int64
	// starts: when each halving of the last ReshardWindow started (Unix
	// seconds, oldest first), this one included.
	starts []int64
}

// halvingOf is the halving prev remembers.
func halvingOf(prev State) halving {
	return halving{prev.MergeFrom, prev.MergeSince, prev.MergeHalvings}
}

// debt is the halvings by merges started in the ReshardWindow before now:
// the budget plan's way down counts each as the call it saved (downTarget),
// so that the calls below the shed top go as they would have without
// merges, and the saved calls stay for the climbs.
func (h halving) debt(now time.Time) int {
	n := 0
	for _, s := range h.starts {
		if now.Unix()-s < int64(ReshardWindow/time.Second) {
			n++
		}
	}
	return n
}

// halved is the open count a halving from n ends at: ceil(n/2).
func halved(n int32) int32 { return (n + 1) / 2 }

// underWay says whether the halving still runs at open shards: open is
// between its end (exclusive) and its start, and no UpdateShardCount call
// was made since it started.
func (h halving) underWay(open int32, history []time.Time) bool {
	if h.from < 2 || open > h.from || open <= halved(h.from) {
		return false
	}
	for _, c := range history {
		if c.Unix() >= h.since {
			return false
		}
	}
	return true
}

// carry is the shards' worth the stream carries during the halving.
func (h halving) carry() int32 { return max(h.from/2, 1) }

// next is the halving to remember after decision d at open shards: a merge
// starts one (or continues the one under way); a hold keeps the one under
// way, whose carry holds until it ends or a call re-evens it.
func (h halving) next(d Decision, in Inputs, now time.Time) halving {
	var starts []int64
	for _, s := range h.starts {
		if now.Unix()-s < int64(ReshardWindow/time.Second) {
			starts = append(starts, s)
		}
	}
	switch {
	case h.underWay(in.OpenShards, in.ReshardHistory):
		return halving{h.from, h.since, starts}
	case d.ByMerge:
		return halving{in.OpenShards, now.Unix(), append(starts, now.Unix())}
	}
	return halving{starts: starts}
}

// mergeDown sheds a held top by MergeShards, which spends none of the
// UpdateShardCount calls that the budget plan keeps for the climb back:
// where t holds the open count for want of calls (ShardHoldClimbBack), the
// window's need at the target utilization (the scale-down floor) is at
// most half the open count and the calls left could climb back from the
// half (climbsBackFromHalf), it starts a halving toward ceil(open/2); a
// halving under way continues, whatever holds, while the need stays within
// its carry (half its start count). Calls (t other than open) are left as
// they are: they re-even the shards and go further.
func mergeDown(in Inputs, v shardView, h halving, t shardTarget, now time.Time) shardTarget {
	if t.n != v.open || v.open < 2 {
		return t
	}
	floor := downFloor(v, now)
	from := v.open
	if h.underWay(v.open, in.ReshardHistory) {
		from = h.from
	} else if t.rule != ShardHoldClimbBack || !climbsBackFromHalf(in, v, floor, now) || !halfOfLevel(v, floor, now) {
		return t
	}
	to := max(halved(from), v.lo)
	if 2*floor > from || to >= v.open {
		return t
	}
	return shardTarget{n: to, rule: ShardMergeDown, reason: fmt.Sprintf(
		"merging down %d→%d by MergeShards (no reshard call spent; %d of %d left for the climb back to the day's peak of %d): need over the last %v is %d shards, within the %d a halving from %d carries",
		v.open, to, v.budget, ReshardsPerWindow, v.peak, v.window, floor, from/2, from)}
}

// climbsBackFromHalf reports whether the calls left, less the budget
// plan's reserve (downTarget's), could climb back from ceil(open/2) to the
// level the plan keeps (climbLevel): a halving by merges saves the call
// down, not the calls up, so it must not leave the stream at half its top
// with no call to return.
func climbsBackFromHalf(in Inputs, v shardView, floor int32, now time.Time) bool {
	level, _ := climbLevel(v, floor, now)
	window24 := PruneHistory(in.ReshardHistory, now)
	reserve := v.reserve
	if aheadOfPace(window24, now) {
		reserve++
	}
	return canClimb(v.budget-v.mergeDebt-reserve, window24, now, halved(v.open), level)
}

// halfOfLevel reports whether a halving from the open count stays at or
// above half the level the budget plan keeps (climbLevel), so that one
// call doubles back to it: merges shed the held top, not the shards below
// it, where a returning spike would need a climb of several calls.
func halfOfLevel(v shardView, floor int32, now time.Time) bool {
	level, _ := climbLevel(v, floor, now)
	return 2*halved(v.open) >= level
}

// reEven answers a need that rose above a halving's carry while the open
// count still covers it: an UpdateShardCount call to the need (to one more
// than the open count when the need is the open count) re-evens the merged
// shards, since AWS's UpdateShardCount scales to uniform hash ranges.
func reEven(v shardView, h halving) shardTarget {
	t := v.want
	if t >= v.open {
		t = v.open + 1
	}
	t = clamp32(t, v.lo, v.hi)
	return shardTarget{n: t, rule: ShardUp, reason: fmt.Sprintf(
		"scaling up from %d shards' worth: load needs %d shards at %.0f%% utilization, above what a halving by merges from %d carries; UpdateShardCount %d→%d re-evens the shards",
		h.carry(), v.want, 100*v.uEff, h.from, v.open, t)}
}

// HalvingEnd is the open count a halving by MergeShards from n shards ends
// at: ceil(n/2).
func HalvingEnd(n int32) int32 { return halved(n) }

// HalvingCarry is the shards' worth a stream carries while a halving from n
// shards is under way: with uniform keys a merged shard gets twice a plain
// one's records and throttles first, so from the first merge the stream
// carries as n/2 shards (at least one). The policy, the simulator's model
// and kubectl sp share it.
func HalvingCarry(n int32) int32 { return max(n/2, 1) }
