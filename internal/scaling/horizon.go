package scaling

import (
	"fmt"
	"math"
	"time"
)

// The receding-horizon shard planner (StreamConfig.Planner = "horizon"):
// forecast the need over the next hours (forecastNeeds), find the cheapest
// legal schedule of UpdateShardCount calls from the open count under the
// call budget (planFirst, the legal-floor dynamic program's step on a soft
// cost), execute only its first call, and plan again next pass. One
// reactive rule: a need above the open count goes up now.

const (
	// horizonStep and horizonSteps: the plan covers 4 hours in 10-minute
	// steps, one call at most per step (a call keeps the stream UPDATING
	// for a few minutes).
	horizonStep  = 10 * time.Minute
	horizonSteps = 24
	// lossPrice is what a shard-minute of need not covered at the target
	// utilization costs, in shard-minutes: a plan holds a count while the
	// chance that the need exceeds it is above 1/lossPrice.
	lossPrice = 10
	// callMinutes prices a call of the plan, while all calls are left, at
	// this many minutes of the open count (callPenalties raises it as
	// calls run out): the 24 h budget outlasts the horizon, so a call spent
	// now must save that much within it (a quarter of the shards for two
	// hours) — otherwise the plan spends calls on small moves and has none
	// when the load comes back.
	callMinutes = 30
	// costUnits: DP costs are integers in 1/costUnits shard-minutes.
	costUnits = 100
	// labelBits: the low bits of a DP cost carry the count chosen for now,
	// so the minimum at the end says which first call it came from.
	labelBits = 14
)

// horizonProblem is one planning problem.
type horizonProblem struct {
	open     int32
	atLeast  int32 // the count for now may not be below this (the reactive rule)
	lo, hi   int32 // spec bounds
	env      envelope
	budget   int   // calls left now
	frees    []int // frees[j]: calls of the 24 h window that have left it by step j
	climbTo  int32 // at the end, enough calls must be left to climb here by doublings
	stepMins float64
	callCost float64 // shard-minutes per call
}

// planFirst returns the count the cheapest schedule holds for the first
// step: open (no call now) or one legal call from it. The cost of a
// schedule is its shard-minutes plus lossPrice times the expected
// shortfall under the envelope; at most budget + frees[j] calls by step j,
// and at the end enough left to climb to climbTo (when no schedule can,
// that condition is dropped).
func planFirst(p horizonProblem) int32 {
	const inf = math.MaxInt64 / 4
	top := max(p.open, p.atLeast)
	bottom := p.open
	for j := range p.env.hi {
		top = max(top, ceil32(p.env.hi[j]))
		bottom = min(bottom, max(ceil32(p.env.lo[j]), 1))
	}
	// Counts above the envelope, the open count and the count to climb to
	// are never cheaper (clamping a schedule there keeps it legal, as in
	// LegalFloor).
	top = min(max(top, p.lo, p.climbTo), p.hi)
	first := int(max(min(bottom, p.open), p.lo, 1))
	if p.open > top || int(p.open) < first {
		return p.open
	}
	allowed := func(j int) int { return min(ReshardsPerWindow, p.budget+p.frees[j]) }
	ks := allowed(len(p.frees)-1) + 1
	w := newCallWindows(top, ks)
	prev, cur := make([]int64, (int(top)+1)*ks), make([]int64, (int(top)+1)*ks)
	for i := range prev {
		prev[i], cur[i] = inf, inf
	}
	prev[int(p.open)*ks] = 0
	cost := make([]int64, top+1)
	for j := range p.env.lo {
		for c := first; c <= int(top); c++ {
			cost[c] = p.stepCost(j, int32(c)) << labelBits
			if j == 0 {
				cost[c] += int64(c) // the label: the count chosen for now
				if int32(c) < p.atLeast {
					cost[c] = inf
				}
			}
		}
		w.step(prev, cur, first, cost)
		for c := first; c <= int(top); c++ {
			for k := allowed(j) + 1; k < ks; k++ {
				cur[c*ks+k] = inf
			}
		}
		prev, cur = cur, prev
	}
	best, bestAny := int64(inf), int64(inf)
	last := allowed(len(p.frees) - 1)
	pen := callPenalties(p.callCost, last, ks)
	for c := first; c <= int(top); c++ {
		for k := range ks {
			v := prev[c*ks+k] + pen[k]
			bestAny = min(bestAny, v)
			if last-k >= callsUp(int32(c), min(p.climbTo, p.hi)) {
				best = min(best, v)
			}
		}
	}
	if best >= inf {
		best = bestAny
	}
	if best >= inf {
		return p.open
	}
	return int32(best & (1<<labelBits - 1))
}

// callPenalties is what spending k calls of the avail left costs, for each
// k < ks, in DP units: call i (from 1) costs callCost × ReshardsPerWindow /
// (avail − i + 1), so a call is cheap while many are left and dear when it
// is one of the last (scarcity: the budget is per 24 h, the plan sees 4).
func callPenalties(callCost float64, avail, ks int) []int64 {
	pen := make([]int64, ks)
	var sum float64
	for k := 1; k < ks; k++ {
		sum += callCost * ReshardsPerWindow / float64(max(avail-k+1, 1))
		pen[k] = int64(math.Round(sum*costUnits)) << labelBits
	}
	return pen
}

// stepCost is what holding c shards through step j costs, in DP units
// before labelling: its shard-minutes plus lossPrice times the expected
// shortfall under the envelope.
func (p horizonProblem) stepCost(j int, c int32) int64 {
	miss := expectedShortfall(float64(c), p.env.lo[j], p.env.hi[j])
	return int64(math.Round(p.stepMins * costUnits * (float64(c) + lossPrice*miss)))
}

// historyFrees is frees for planFirst: how many calls of the window leave
// it by the start of each step.
func historyFrees(history []time.Time, now time.Time, steps int, step time.Duration) []int {
	calls := PruneHistory(history, now)
	out := make([]int, steps)
	for j := range out {
		at := now.Add(time.Duration(j) * step)
		for _, c := range calls {
			if !c.Add(ReshardWindow).After(at) {
				out[j]++
			}
		}
	}
	return out
}

// horizonPlanner is decideShardsHorizon reading the week's demand peaks
// (State.WeekPeaks) of the previous pass, in the shape Decide's planners
// share.
func horizonPlanner(week []Rec) func(Inputs, []Rec, []Rec, time.Time, *Decision) (int32, string, []Rec, []Rec) {
	return func(in Inputs, prev, prevPeaks []Rec, now time.Time, d *Decision) (int32, string, []Rec, []Rec) {
		return decideShardsHorizon(in, prev, prevPeaks, week, now, d)
	}
}

// decideShardsHorizon is the horizon planner's shard target; it keeps the
// same State as decideShards and reads week (State.WeekPeaks), which
// Decide records for both planners.
func decideShardsHorizon(in Inputs, prev, prevPeaks, week []Rec, now time.Time, d *Decision) (int32, string, []Rec, []Rec) {
	v, held := observeShards(in, prev, prevPeaks, week, now, d)
	if held != nil {
		d.ShardRule = ShardHeldNoData
		return held.target, held.reason, held.kept, held.peaks
	}
	open := v.open
	problem := func(atLeast int32, rise float64) horizonProblem {
		base := float64(maxRec(v.recs))
		return horizonProblem{open: open, atLeast: atLeast, lo: v.lo, hi: v.hi,
			env:    forecastNeeds(base, v.peak, history{peaks: v.peaks, week: week, u: v.u}, now, horizonSteps, horizonStep, rise),
			budget: v.budget, frees: historyFrees(in.ReshardHistory, now, horizonSteps, horizonStep),
			climbTo: v.peak, stepMins: horizonStep.Minutes(), callCost: callMinutes * float64(open)}
	}
	switch {
	case open < v.lo || open > v.hi:
		t := clamp32(max(open, v.want), v.lo, v.hi)
		d.ShardRule = ShardBounds
		return t, fmt.Sprintf("moving %d→%d into the bounds [%d, %d]", open, t, v.lo, v.hi), v.kept, v.peaks
	case v.want > open:
		// The reactive rule: up now. Within one call's reach the plan
		// says how far beyond the need the call goes.
		t := v.want
		if !in.StreamUpdating && v.budget > 0 && t <= MaxLegalStep(open) {
			t = max(t, planFirst(problem(v.want, windowRise(v.recs))))
		}
		d.ShardRule = ShardUp
		return t, fmt.Sprintf("scaling up %d→%d: load needs %.1f shards at %.0f%% utilization (%.2f MiB/s, %.0f records/s, %.2f%% throttled); plan over the next %v",
			open, t, v.upNeed, 100*v.uEff, d.Used.BytesPerSec/MiB, d.Used.RecordsPerSec, d.Used.ThrottledPercent, horizonStep*horizonSteps), v.kept, v.peaks
	case in.StreamUpdating:
		d.ShardRule = ShardHoldUpdating
		return open, fmt.Sprintf("holding at %d: stream is updating", open), v.kept, v.peaks
	}
	if now.Unix()-coveredSince(v.kept, v.recs) < int64(v.window/time.Second)*3/4 {
		d.ShardRule = ShardHoldStart
		return open, fmt.Sprintf("holding at %d: less than a stabilization window (%v) of data since start", open, v.window), v.kept, v.peaks
	}
	if calls := PruneHistory(in.ReshardHistory, now); len(calls) > 0 && now.Sub(calls[len(calls)-1]) < v.window {
		d.ShardRule = ShardHoldLastReshard
		return open, fmt.Sprintf("holding at %d: last reshard was less than %v ago", open, v.window), v.kept, v.peaks
	}
	floor := maxRec(v.recs)
	d.ShardRule = holdNeed(floor, open) // the holds below
	if floor >= open || v.budget == 0 {
		return open, fmt.Sprintf("holding at %d: need over the last %v is %d shards, %d of %d reshard calls left", open, v.window, floor, v.budget, ReshardsPerWindow), v.kept, v.peaks
	}
	// A call now saves at most (open − floor) shards over the horizon (the
	// plan does not go below the window's need at once: that would cost
	// lossPrice a shard); when that is less than the first call's price,
	// no plan starts with one, and the dynamic program need not run.
	if saves := float64(open-floor) * (horizonStep * horizonSteps).Minutes(); saves < callMinutes*float64(open)*ReshardsPerWindow/float64(v.budget) {
		return open, fmt.Sprintf("holding at %d: need over the last %v is %d shards; a call now would save less than its price (%d of %d calls left)",
			open, v.window, floor, v.budget, ReshardsPerWindow), v.kept, v.peaks
	}
	t := planFirst(problem(v.lo, 0))
	if t >= open {
		return open, fmt.Sprintf("holding at %d: need over the last %v is %d shards, but the cheapest plan over the next %v keeps %d (day's peak %d, %d calls left)",
			open, v.window, floor, horizonStep*horizonSteps, open, v.peak, v.budget), v.kept, v.peaks
	}
	d.ShardRule = ShardDown
	return t, fmt.Sprintf("scaling down %d→%d: need over the last %v is at most %d shards; cheapest plan over the next %v (day's peak %d, %d calls left)",
		open, t, v.window, floor, horizonStep*horizonSteps, v.peak, v.budget), v.kept, v.peaks
}
