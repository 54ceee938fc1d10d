package scaling

import (
	"fmt"
	"slices"
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

// spacedGap is how far apart (end of one to start of the next) every
// excursion of the week must be for the earlier ones not to count as
// recurrence: more than the day the climb-back hold keeps a peak for, so
// the hold would have ended before the next excursion anyway.
const spacedGap = 24 * 3600

// spacedMaxMerges bounds the halving that shedding a spaced top may start,
// by its number of merges (⌊open/2⌋): MergeShards takes one pair at a
// time, so a halving of hundreds of shards spends hours of the quiet
// between excursions merging, and every later call starts from wherever
// it got to.
const spacedMaxMerges = 32

// oneOffTop reports whether the day's top looks like a single excursion
// that a halving carrying carry shards (⌊open/2⌋, also its number of
// merges) may shed: week (State.WeekPeaks, hourly demand peaks at 100 %)
// knows at least a day, and either the demand stayed below half the
// day's top for the last oneOffQuietHours hours and carry covers, at
// utilization u, everything else the week's demand came back to
// (recurredNeed), or — where every excursion of the week came more than
// spacedGap after the previous one ended, the top's excursion, its decay
// included, ended as many hours ago as it lasted (quietAfter, weekTop.hours),
// and the halving takes at most spacedMaxMerges merges — carry covers
// everything outside the excursions (spacedNeed). The spaced case sheds a
// top the week has seen before and will likely see again, though not
// within the day the hold is for, so it waits out the whole excursion and
// as long again after it.
func oneOffTop(week []Rec, now time.Time, carry int32, u float64) bool {
	if len(week) < dayHours {
		return false
	}
	top, ok := dayTopOf(week, now)
	if !ok {
		return false
	}
	if quietFor(week, now, oneOffQuietHours, top.n) && float64(carry) >= recurredNeed(week, top, u) {
		return true
	}
	need, spaced := spacedNeed(week, top, u)
	return spaced && carry <= spacedMaxMerges && float64(carry) >= need &&
		quietAfter(week, now, top)
}

// weekTop is the day's top in the week's hourly peaks: the demand at
// 100 % of its newest highest hour (n), the first and last index of its
// excursion (lo, hi; excursion: its rise and decay included) and the fall
// the week's noise reaches (noise, baseNoise), which every excursion of
// the week is measured with.
type weekTop struct {
	lo, hi   int
	n, noise int32
}

// dayTopOf finds the newest highest hour of the 24 h before now's hour and
// now's hour, and its excursion; false when there is none or its demand is
// zero.
func dayTopOf(week []Rec, now time.Time) (weekTop, bool) {
	day := now.Truncate(time.Hour).Unix() - 24*3600
	top := -1
	for i, r := range week {
		if r.At >= day && (top < 0 || r.N >= week[top].N) {
			top = i
		}
	}
	if top < 0 || week[top].N == 0 {
		return weekTop{}, false
	}
	noise := baseNoise(week)
	lo, hi := excursion(week, top, week[top].N, noise)
	return weekTop{lo: lo, hi: hi, n: week[top].N, noise: noise}, true
}

// hours is the excursion's length in whole hours. The spaced path waits as
// long after the decay as the excursion lasted: a crowd of k hours is
// waited out for k more.
func (t weekTop) hours(week []Rec) int64 {
	return (week[t.hi].At-week[t.lo].At)/3600 + 1
}

// quietFor reports whether no hour of the last hours whole hours of week
// (State.WeekPeaks, now's hour included) reached half of top (demand at
// 100 %): the excursion is over and nothing came back near it.
func quietFor(week []Rec, now time.Time, hours int64, top int32) bool {
	since := now.Truncate(time.Hour).Unix() - hours*3600
	for _, r := range week {
		if r.At > since && 2*r.N >= top {
			return false
		}
	}
	return true
}

// quietAfter reports whether the top's excursion, its decay included,
// ended at least as many whole hours before now's hour as it lasted, and
// nothing since reached half the top (quietFor): the quiet wait counts
// from the end of the decay, not from the first hour below half the top.
// The excursion ends when its last hour does, an hour after that hour's
// At: counted from the At, a one-hour top would count as waited out at
// the first pass of the next hour.
func quietAfter(week []Rec, now time.Time, top weekTop) bool {
	hours := top.hours(week)
	end := week[top.hi].At + 3600
	return quietFor(week, now, hours, top.n) &&
		end <= now.Truncate(time.Hour).Unix()-hours*3600
}

// excursion is the first and last index in week of the excursion through
// hour i: the run of consecutive hours at or above half of top (demand at
// 100 %) around i, widened on either side over the consecutive hours that
// still stand above what the load comes back to (stands: more than noise,
// baseNoise, above the next hour out) — the rise into it and its decay. An
// hour the next one out is within noise of is what the load came back to,
// not the excursion's: widening over every falling hour walked on over a
// noisy base (after a one-hour spike the next base hour is lower with
// chance ½, the one after that ¼, …) and took the first base hour on
// either side, so a one-hour spike lasted three hours or more, partly by
// noise, and the spaced path waited that long again.
func excursion(week []Rec, i int, top, noise int32) (lo, hi int) {
	high := func(j int) bool { return 2*week[j].N >= top }
	lo, hi = i, i
	for lo > 0 && adjacent(week[lo-1], week[lo]) && high(lo-1) {
		lo--
	}
	for hi < len(week)-1 && adjacent(week[hi], week[hi+1]) && high(hi+1) {
		hi++
	}
	for lo > 0 && adjacent(week[lo-1], week[lo]) && stands(week, lo-1, lo, lo-2, noise) {
		lo--
	}
	for hi < len(week)-1 && adjacent(week[hi], week[hi+1]) && stands(week, hi+1, hi, hi+2, noise) {
		hi++
	}
	return lo, hi
}

// adjacent reports whether a and b are consecutive hours of the week (in
// either order): State.WeekPeaks skips the hours the operator did not see.
func adjacent(a, b Rec) bool {
	d := b.At - a.At
	return d == 3600 || d == -3600
}

// stands reports whether hour j of week, next to an excursion (in, its
// hour on the excursion's side), still stands above what the load comes
// back to: more than noise above out, the hour next to it on the far side.
// Where j has no such hour yet (the newest hour, whose next is to come, or
// the week's first), it stands while it is more than noise below in: the
// decay may go on, and the spaced path must not take a top as waited out
// while its excursion reaches now's hour.
func stands(week []Rec, j, in, out int, noise int32) bool {
	if out < 0 || out >= len(week) {
		return week[in].N-week[j].N > noise
	}
	return adjacent(week[j], week[out]) && week[j].N-week[out].N > noise
}

// noiseSpread is how many typical hour-to-hour changes an hour must stand
// above the next one out to be the excursion's (stands): with Gaussian
// noise the median absolute change is 0.674 of the change's standard
// deviation, so three of them are two standard deviations, a fall the
// base's noise reaches about one hour in forty-five.
const noiseSpread = 3

// baseNoise is the fall (demand at 100 %) that noise on the base reaches:
// noiseSpread times the median absolute change between consecutive hours of
// week (State.WeekPeaks). Most hours of a week are the base, and the median
// is not moved by the few large changes of its excursions; a flat base
// gives zero, so that any fall counts.
func baseNoise(week []Rec) int32 {
	var changes []int32
	for k := 1; k < len(week); k++ {
		if adjacent(week[k-1], week[k]) {
			d := week[k].N - week[k-1].N
			changes = append(changes, max(d, -d))
		}
	}
	if len(changes) == 0 {
		return 0
	}
	slices.Sort(changes)
	return noiseSpread * changes[len(changes)/2]
}

// recurredNeed is the need at utilization u (shards) of the highest hour
// of week (State.WeekPeaks) outside the top's excursion. What the load came
// back to over the week is kept; the rest of the top was a single
// excursion.
func recurredNeed(week []Rec, top weekTop, u float64) float64 {
	if u <= 0 {
		return 0
	}
	var recur int32
	for i, r := range week {
		if i < top.lo || i > top.hi {
			recur = max(recur, r.N)
		}
	}
	return float64(recur) / DemandPerShard / u
}

// spacedNeed is the need at utilization u (shards) of the highest hour of
// week (State.WeekPeaks) outside every excursion to half of the day's top
// (top.n, demand at 100 %; each measured with top.noise), and whether
// those excursions are spaced: at least two, each starting more than
// spacedGap after the previous one ended. Spaced excursions are each a
// one-off to the climb-back hold, which keeps a peak for a day.
func spacedNeed(week []Rec, top weekTop, u float64) (float64, bool) {
	if u <= 0 {
		return 0, false
	}
	runs, end := 0, -1
	var recur int32
	for i := 0; i < len(week); i++ {
		if 2*week[i].N < top.n {
			continue
		}
		lo, hi := excursion(week, i, top.n, top.noise)
		if runs > 0 && week[lo].At-week[end].At <= spacedGap {
			return 0, false
		}
		for j := end + 1; j < lo; j++ {
			recur = max(recur, week[j].N)
		}
		runs, end, i = runs+1, hi, hi // go on after this excursion
	}
	for j := end + 1; j < len(week); j++ {
		recur = max(recur, week[j].N)
	}
	return float64(recur) / DemandPerShard / u, runs >= 2
}
