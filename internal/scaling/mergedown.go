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
}

// halvingOf is the halving prev remembers.
func halvingOf(prev State) halving {
	return halving{prev.MergeFrom, prev.MergeSince}
}

// HalvingEnd is the open count a halving by MergeShards from n shards ends
// at: ceil(n/2).
func HalvingEnd(n int32) int32 { return (n + 1) / 2 }

// HalvingCarry is the shards' worth a stream carries without throttling
// while a halving from n shards is under way: with uniform keys a merged
// shard gets twice a plain one's records and throttles first, so from the
// first merge done the stream carries n/2 shards' worth (at least one)
// untouched. Above it only the merged shards throttle, each on its own (the
// simulator's model, internal/sim halvingShares). The policy and kubectl sp
// use it.
func HalvingCarry(n int32) int32 { return max(n/2, 1) }

// underWay says whether the halving still runs at open shards: open is
// between its end (exclusive) and its start, and no UpdateShardCount call
// was made since it started.
func (h halving) underWay(open int32, history []time.Time) bool {
	if h.from < 2 || open > h.from || open <= HalvingEnd(h.from) {
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
func (h halving) carry() int32 { return HalvingCarry(h.from) }

// next is the halving to remember after decision d at open shards: a merge
// starts one (or continues the one under way); a hold keeps the one under
// way, whose carry holds until it ends or a call re-evens it.
func (h halving) next(d Decision, in Inputs, now time.Time) halving {
	switch {
	case h.underWay(in.OpenShards, in.ReshardHistory):
		return h
	case d.ByMerge:
		return halving{in.OpenShards, now.Unix()}
	}
	return halving{}
}

// mergeDown sheds a one-off top by MergeShards, which spends none of the
// UpdateShardCount calls that the budget plan keeps for the climb back:
// where t holds the open count for want of calls (ShardHoldClimbBack), the
// window's need at the target utilization (the scale-down floor) is at
// most half the open count and the top looks one-off (oneOffTop), it
// starts a halving toward ceil(open/2); a halving under way continues,
// whatever holds, while the need stays within its carry (half its start
// count). Calls (t other than open) are left as they are: they re-even the
// shards and go further.
func mergeDown(in Inputs, v shardView, h halving, t shardTarget, now time.Time) shardTarget {
	if t.n != v.open || v.open < 2 {
		return t
	}
	floor := downFloor(v, now)
	from := v.open
	if h.underWay(v.open, in.ReshardHistory) {
		from = h.from
	} else if t.rule != ShardHoldClimbBack || !oneOffTop(v.week, now, v.open/2, v.u) {
		return t
	}
	to := max(HalvingEnd(from), v.lo)
	if 2*floor > from || to >= v.open {
		return t
	}
	return shardTarget{n: to, rule: ShardMergeDown, reason: fmt.Sprintf(
		"merging down %d→%d by MergeShards (no reshard call spent; %d of %d left for the climb back to the day's peak of %d): need over the last %v is %d shards, within the %d a halving from %d carries; the top was a one-off",
		v.open, to, v.budget, ReshardsPerWindow, v.peak, v.window, floor, HalvingCarry(from), from)}
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

// oneOffQuietHours is how many whole hours the demand must have stayed
// below half the day's top before oneOffTop calls it a one-off: a spike
// that comes back within hours is one a held top is for.
const oneOffQuietHours = 12

// oneOffTop reports whether the day's top looks like a single excursion
// that a halving carrying carry shards may shed: week (State.WeekPeaks,
// hourly demand peaks at 100 %) knows at least a day, the demand stayed
// below half the day's top for the last oneOffQuietHours hours, and
// carry covers, at utilization u, everything else the week's demand came
// back to (recurredNeed).
func oneOffTop(week []Rec, now time.Time, carry int32, u float64) bool {
	return len(week) >= dayHours && quietFor(week, now, oneOffQuietHours) &&
		float64(carry) >= recurredNeed(week, now, u)
}

// dayTop is the index in week of the newest highest hour of the 24 h
// before now's hour and now's hour; -1 when there is none.
func dayTop(week []Rec, now time.Time) int {
	day := now.Truncate(time.Hour).Unix() - 24*3600
	top := -1
	for i, r := range week {
		if r.At >= day && (top < 0 || r.N >= week[top].N) {
			top = i
		}
	}
	return top
}

// quietFor reports whether no hour of the last hours whole hours of week
// (State.WeekPeaks, now's hour included) reached half the day's top: the
// excursion is over and nothing came back near it.
func quietFor(week []Rec, now time.Time, hours int64) bool {
	top := dayTop(week, now)
	if top < 0 || week[top].N == 0 {
		return false
	}
	since := now.Truncate(time.Hour).Unix() - hours*3600
	for _, r := range week {
		if r.At > since && 2*r.N >= week[top].N {
			return false
		}
	}
	return true
}

// recurredNeed is the need at utilization u (shards) of the highest hour
// of week (State.WeekPeaks) outside the day's top excursion: the run of
// consecutive hours at or above half the day's top around its newest
// highest hour. What the load came back to over the week is kept; the rest
// of the top was a single excursion.
func recurredNeed(week []Rec, now time.Time, u float64) float64 {
	top := dayTop(week, now)
	if top < 0 || u <= 0 {
		return 0
	}
	in := func(i, j int) bool { // hour j, next to hour i, is in the run
		return week[j].At-week[i].At == 3600 && 2*week[j].N >= week[top].N
	}
	lo, hi := top, top
	for lo > 0 && in(lo-1, lo) {
		lo--
	}
	for hi < len(week)-1 && in(hi, hi+1) {
		hi++
	}
	var recur int32
	for i, r := range week {
		if i < lo || i > hi {
			recur = max(recur, r.N)
		}
	}
	return float64(recur) / DemandPerShard / u
}
