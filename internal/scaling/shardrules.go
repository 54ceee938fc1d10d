package scaling

import (
	"fmt"
	"slices"
	"time"
)

// ShardRule names the rule that set a Decision's shard target, so that
// tools (the simulator's excess breakdown) need not parse ShardReason,
// which stays the human-readable sentence for status and events.
type ShardRule uint8

// The shard rules. The zero value is unset (Decide always sets one).
const (
	ShardRuleUnset ShardRule = iota
	// ShardHeldNoData: held for lack of data (no open shards yet, no fresh
	// IncomingBytes).
	ShardHeldNoData
	// ShardBounds: the open count is outside [minShards, maxShards].
	ShardBounds
	// ShardUp: a scale-up.
	ShardUp
	// ShardDown: a scale-down.
	ShardDown
	// ShardHoldStart: less than a stabilization window of data.
	ShardHoldStart
	// ShardHoldUpdating: the stream is UPDATING (horizon planner).
	ShardHoldUpdating
	// ShardHoldLastReshard: within a window of the last reshard.
	ShardHoldLastReshard
	// ShardHoldRising: the need rises hour over hour.
	ShardHoldRising
	// ShardHoldWindow: the window's need is at or above the open count.
	ShardHoldWindow
	// ShardHoldQuarter: the window's need is below the open count, by less
	// than a quarter (or the horizon planner's plan keeps it).
	ShardHoldQuarter
	// ShardHoldTrend: the window's trend or yesterday's next hour lifts the
	// need to within a quarter of the open count.
	ShardHoldTrend
	// ShardHoldClimbBack: the budget plan keeps the shards, since the calls
	// left could not climb back to the day's peak after a scale-down.
	ShardHoldClimbBack
	// ShardReadSide: the read side raised the target.
	ShardReadSide
	// ShardHoldLastCall: a scale-up held to keep a call whose step would
	// freeze the stream (the last call of the 24 h window, or one whose
	// undoing would leave none for a rise) while the open count carries
	// the load at 100 %.
	ShardHoldLastCall
	// ShardMergeDown: a scale-down by MergeShards (Decision.ByMerge), which
	// spends no UpdateShardCount call.
	ShardMergeDown
)

var shardRuleNames = [...]string{"unset", "noData", "bounds", "up", "down", "start", "updating",
	"lastReshard", "rising", "window", "quarter", "trend", "climbBack", "readSide", "lastCall", "mergeDown"}

// String is the rule's short name (as in `simulate -excess`).
func (r ShardRule) String() string {
	if int(r) < len(shardRuleNames) {
		return shardRuleNames[r]
	}
	return fmt.Sprintf("ShardRule(%d)", r)
}

// shardTarget is one rule's answer: the target, the rule and its reason.
type shardTarget struct {
	n      int32
	rule   ShardRule
	reason string
}

// holdNeed is the hold at open for a window's need of floor shards: at or
// above the open count, or below it by too little to be worth a call.
func holdNeed(floor, open int32) ShardRule {
	if floor >= open {
		return ShardHoldWindow
	}
	return ShardHoldQuarter
}

// rulesPlanner is decideShards reading the week's demand peaks
// (State.WeekPeaks), the halving by merges under way of the previous pass
// and the newest pass that saw the stream UPDATING (State.UpdatingSeen), in
// the shape Decide's planners share.
func rulesPlanner(week []Rec, h halving, updatingSeen int64) func(Inputs, []Rec, []Rec, time.Time, *Decision) (int32, string, []Rec, []Rec) {
	return func(in Inputs, prev, prevPeaks []Rec, now time.Time, d *Decision) (int32, string, []Rec, []Rec) {
		return decideShards(in, prev, prevPeaks, week, h, updatingSeen, now, d)
	}
}

// decideShards is the rule stack's shard target (the default planner):
// observe (with the need the last call fell short of after a long
// UPDATING, cutShortNeed), then the bounds, the up step, a call re-evening
// a halving by merges the need outgrew, or the scale-down with its holds,
// a held top shed by merges (mergeDown).
func decideShards(in Inputs, prev, prevPeaks, week []Rec, h halving, updatingSeen int64, now time.Time, d *Decision) (int32, string, []Rec, []Rec) {
	v, held := observeShards(in, prev, prevPeaks, week, now, d)
	if held != nil {
		d.ShardRule = ShardHeldNoData
		return held.target, held.reason, held.kept, held.peaks
	}
	if n := cutShortNeed(in, v.recs, updatingSeen); n > v.want {
		v.want, v.cutShort = n, n
	}
	var t shardTarget
	switch {
	case v.open < v.lo || v.open > v.hi:
		t = intoBounds(v)
	case v.want > v.open:
		if h, ok := lastCallHold(v, PruneHistory(in.ReshardHistory, now), now); ok {
			t = h
		} else {
			t = stepUp(in, v, now, d)
		}
	case h.underWay(v.open, in.ReshardHistory) && v.want > h.carry():
		t = reEven(v, h)
	default:
		if f, ok := finishClimb(in, v, now); ok {
			t = f
		} else if r, ok := riseAhead(in, v, now); ok {
			t = r
		} else {
			t = stepDown(in, v, now)
		}
		t = mergeDown(in, v, h, t, now)
	}
	d.ShardRule, d.ByMerge = t.rule, t.rule == ShardMergeDown
	return t.n, t.reason, v.kept, v.peaks
}

// intoBounds moves an open count outside [lo, hi] into the bounds, to the
// need when that is higher.
func intoBounds(v shardView) shardTarget {
	t := clamp32(max(v.open, v.want), v.lo, v.hi)
	return shardTarget{t, ShardBounds, fmt.Sprintf("moving %d→%d into the bounds [%d, %d]", v.open, t, v.lo, v.hi)}
}

// stepUp is the scale-up: each call must buy room, so the fewer calls are
// left, the further it goes (25 %, then 50 %, then 100 %, the sizes AWS
// handles best). Climbing back to a level seen in the last day, the step
// stops at that peak: beyond it there is nothing known to buy. Above the
// day's peak the load is new and may keep rising, so it does not; and when
// it rises faster than the ladder's step carries until the next call can
// land, the step is sized for that rise (riseStep).
func stepUp(in Inputs, v shardView, now time.Time, d *Decision) shardTarget {
	open, peak, want := v.open, v.peak, v.want
	t := max(want, ceil32(float64(open)*(1+upStep(v.budget))))
	sizedFor := ""
	if peak > want || v.cutShort > 0 && peak >= want {
		// The need a call fell short of is a level the window saw, so at
		// the day's peak it is a climb back, not a new high.
		t = min(t, peak)
	} else if len(v.recs) > 1 {
		t = max(want, min(t, ceil32(projectNewHigh(want, v.recs, v.peaks, newHighHorizon(in, v.budget, now), now))))
		if r, why, ok := riseStep(v, t); ok && r > t {
			t, sizedFor = r, why
		}
	}
	if v.cutShort > 0 && sizedFor == "" {
		sizedFor = fmt.Sprintf(", the need of %d shards the last call fell short of", v.cutShort)
	}
	if t <= 2*open {
		t = climbableUp(snapQuarter(t, open), in, v, now)
	}
	t = clamp32(t, v.lo, v.hi)
	return shardTarget{t, ShardUp, fmt.Sprintf("scaling up %d→%d: load needs %.1f shards at %.0f%% utilization (%.2f MiB/s, %.0f records/s, %.2f%% throttled)%s",
		open, t, v.upNeed, 100*v.uEff, d.Used.BytesPerSec/MiB, d.Used.RecordsPerSec, d.Used.ThrottledPercent, sizedFor)}
}

// newHighHorizon is how far a new high's step projects the rise: to when
// the next call frees up (an hour at most while calls are plenty). The
// step is only worth its shards while the need keeps rising.
func newHighHorizon(in Inputs, budget int, now time.Time) time.Duration {
	horizon := trendHorizon
	if calls := PruneHistory(in.ReshardHistory, now); budget <= ReshardsPerWindow/2 && len(calls) > 0 {
		horizon = max(horizon, calls[0].Add(ReshardWindow).Sub(now))
	}
	return horizon
}

// climbableUp raises a scale-up target t (within one call of open) until
// the calls left after it could still climb to the day's peak, to 2× open
// at most: go further now if the rest of the budget could not.
func climbableUp(t int32, in Inputs, v shardView, now time.Time) int32 {
	window := PruneHistory(in.ReshardHistory, now)
	for c := t; c <= 2*v.open; c++ {
		if canClimb(v.budget-1, window, now, c, v.peak) || c == 2*v.open {
			return c
		}
	}
	return t
}

// stepDown is the scale-down: to the window's need (the floor), unless a
// hold applies, and only as low as the budget plan allows.
func stepDown(in Inputs, v shardView, now time.Time) shardTarget {
	floor := downFloor(v, now)
	if h, ok := downHold(in, v, floor, now); ok {
		return h
	}
	return downTarget(in, v, floor, now)
}

// downFloor is the lowest a scale-down may go: the highest recommendation
// of the window, projected an hour ahead while the window's need rises (a
// call spent now would be undone within the hour), and, when this hour so
// far looks like the same hour yesterday (within a factor of 1.5), not
// below what the coming hour needed yesterday scaled to today's level:
// daily traffic often repeats.
func downFloor(v shardView, now time.Time) int32 {
	recs := v.recs
	floor := maxRec(recs)
	if slope := windowSlope(recs); slope > 0 {
		floor = max(floor, ceil32(float64(recs[len(recs)-1].N)+slope*trendHorizon.Seconds()))
	}
	hour := now.Truncate(time.Hour)
	yCur, yNext, today := hourPeak(v.peaks, hour.Add(-24*time.Hour)), hourPeak(v.peaks, hour.Add(-23*time.Hour)), hourPeak(v.peaks, hour)
	if yCur > 0 && yNext > 0 {
		if ratio := float64(today) / float64(yCur); ratio >= 2.0/3 && ratio <= 1.5 {
			floor = max(floor, ceil32(float64(yNext)*ratio))
		}
	}
	return floor
}

// hourPeak is the recorded peak of the hour starting at hour, 0 if none.
func hourPeak(peaks []Rec, hour time.Time) int32 {
	for _, r := range peaks {
		if r.At == hour.Unix() {
			return r.N
		}
	}
	return 0
}

// downHold is the first hold that keeps the open count on the way down, in
// order: too little data, a recent reshard, a need rising hour over hour,
// a floor within a quarter of the open count.
func downHold(in Inputs, v shardView, floor int32, now time.Time) (shardTarget, bool) {
	open, window, recs := v.open, v.window, v.recs
	hold := func(rule ShardRule, format string, a ...any) (shardTarget, bool) {
		return shardTarget{open, rule, fmt.Sprintf(format, a...)}, true
	}
	if startingUp(v, now) {
		return hold(ShardHoldStart, "holding at %d: less than a stabilization window (%v) of data since start", open, window)
	}
	if calls := PruneHistory(in.ReshardHistory, now); len(calls) > 0 && now.Sub(calls[len(calls)-1]) < window {
		// A reshard (often up, rounded past the need) just happened; give it
		// a full window before undoing any of it.
		return hold(ShardHoldLastReshard, "holding at %d: last reshard was less than %v ago", open, window)
	}
	if cur, h1, h2, rising := risingHourly(v, now); rising {
		return hold(ShardHoldRising, "holding at %d: need is rising (%d shards over the last %v; previous hours' peaks %d, %d)", open, cur, window, h2, h1)
	}
	if floor > open*3/4 || floor >= open {
		if cur := maxRec(recs); floor > cur {
			return hold(ShardHoldTrend, "holding at %d: need over the last %v is %d shards, %d with its trend or yesterday's next hour", open, window, cur, floor)
		}
		return hold(holdNeed(floor, open), "holding at %d: need over the last %v is %d shards", open, window, floor)
	}
	return shardTarget{}, false
}

// risingHourly reports whether the need rises hour over hour: the highest
// need of this window (cur) is above the highest need of the whole previous
// hour (h1), or the last two hours and this window never fell and rose
// overall. A call spent going down now would be undone within the hour (and
// a budget-sized step up would be undone only to be taken again).
func risingHourly(v shardView, now time.Time) (cur, h1, h2 int32, rising bool) {
	hour := now.Truncate(time.Hour)
	h1, h2 = hourPeak(v.peaks, hour.Add(-time.Hour)), hourPeak(v.peaks, hour.Add(-2*time.Hour))
	cur = maxRec(v.recs)
	return cur, h1, h2, h1 > 0 && cur > h1 || h2 > 0 && cur >= h1 && h1 >= h2 && cur > h2
}

// downTarget goes as low as the budget allows while keeping the calls to
// climb back to climbLevel (the day's peak; on a first day while the need
// rises, at least the open count), plus the reserve (none by default), if it
// returned right after this scale-down: the calls left after the way down,
// plus those that leave the 24 h window while the climb is under way, must
// cover its doubling path. While calls went out faster than one per
// ReshardWindow/ReshardsPerWindow (bursts of ups and downs around spikes),
// one more call is kept for a spike that comes back higher. When that
// leaves less than a quarter to shed, the budget plan holds.
func downTarget(in Inputs, v shardView, floor int32, now time.Time) shardTarget {
	open, budget := v.open, v.budget
	level, why := climbLevel(v, floor, now)
	window24 := PruneHistory(in.ReshardHistory, now)
	reserve := v.reserve
	if aheadOfPace(window24, now) {
		reserve++
	}
	t := open
	for _, c := range downCandidates(floor, open, level) {
		left := budget - len(PlanReshardPath(open, c))
		if left >= 0 && canClimb(left-reserve, window24, now, c, level) {
			t = c
			break
		}
	}
	if t > open*3/4 {
		return shardTarget{open, ShardHoldClimbBack, fmt.Sprintf("holding at %d: need is %d, but %d of %d reshard calls are left and climbing back to the day's peak of %d%s needs them", open, floor, budget, ReshardsPerWindow, v.peak, why)}
	}
	t = clamp32(snapDown(t, open), v.lo, v.hi)
	return shardTarget{t, ShardDown, fmt.Sprintf("scaling down %d→%d: need over the last %v is at most %d shards (day's peak %d, %d calls left)", open, t, v.window, floor, v.peak, budget)}
}

// downCandidates are the scale-down targets worth checking against the
// budget plan, lowest first: the floor, and each count where a climb's or
// the way down's path length changes (peak and open halved k times) between
// it and open.
func downCandidates(floor, open, peak int32) []int32 {
	cands := []int32{floor}
	for k := range 15 {
		for _, base := range []int32{peak, open} {
			if c := int32((int64(base) + (1 << k) - 1) >> k); c > floor && c < open {
				cands = append(cands, c)
			}
		}
	}
	slices.Sort(cands)
	return cands
}
