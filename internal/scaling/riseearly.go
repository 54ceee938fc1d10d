package scaling

import (
	"fmt"
	"math"
	"os"
	"time"
)

// freshRise is the rise the load is making now, from the unrounded needs
// of the fresh minutes at uEff: the newest need (upNeed, partial minutes
// included) less the lowest need of the complete minutes within
// lastCallReaction before the newest minute; 0 when none is complete or
// none is lower. Only complete minutes count for the low end: a partial
// point under-states its minute and would read as a rise.
func freshRise(fresh []minuteLoad, upNeed, uEff float64) float64 {
	if len(fresh) == 0 {
		return 0
	}
	since := fresh[len(fresh)-1].at.Add(-lastCallReaction)
	low := math.Inf(1)
	for _, l := range fresh {
		if l.complete && !l.at.Before(since) {
			n, _, _ := shardsFor(l, uEff)
			low = min(low, n)
		}
	}
	if math.IsInf(low, 1) || low >= upNeed {
		return 0
	}
	return upNeed - low
}

// riseDue is a scale-up the load's pace calls for before its need passes
// the open count: the newest need fits the open count at the target
// utilization, but the need plus the rise it made within the last
// lastCallReaction (freshRise) would not fit it even at Kinesis's own
// limit. It returns riseStep's target for that rise (the need plus the
// same rise again, at the target utilization) and true; false when the
// rise fits, or when the call would freeze the stream (stepFreezes: the
// call is kept, as the last-call hold keeps it).
//
// The argument is riseStep's, applied one call earlier. A call made now
// is the last change the stream sees for lastCallReaction: a complete
// CloudWatch point (CompleteAfter) and this call's UPDATING (climbStep).
// A load that rose by r within that span and may rise by r again before a
// later call could land needs the count now, not after the need has
// passed it: waiting for the need at u to cross the open count costs the
// minutes CloudWatch is late plus a whole UPDATING of refused writes, and
// at small counts, where a call goes at most 2×, a second call's. Needs
// are read unrounded from the fresh minutes, since at one or two shards
// the window's rounded records show no rise at all. Slow loads (daily
// traffic, ramps, noise within the margin) rise by less than the target
// utilization's margin within 7 minutes and never meet the test.
func riseDue(in Inputs, v shardView, now time.Time) (shardTarget, bool) {
	if v.freshRise <= 0 || v.budget < 1 || (v.upNeed+v.freshRise)*v.uEff <= float64(v.open) {
		return shardTarget{}, false
	}
	calls := PruneHistory(in.ReshardHistory, now)
	if stepFreezes(v, calls, now) {
		return shardTarget{}, false
	}
	if os.Getenv("E5_RISE") == "pace" && aheadOfPace(append(calls[:len(calls):len(calls)], now), now) {
		return shardTarget{}, false
	}
	t := clamp32(max(v.open+1, ceil32(v.upNeed+v.freshRise)), v.lo, v.hi)
	if t <= v.open {
		return shardTarget{}, false
	}
	return shardTarget{t, ShardUp, fmt.Sprintf("scaling up %d→%d: load needs %.1f shards at %.0f%% utilization and rose %.1f within the last %v, %.1f at 100%% if it rises as much again",
		v.open, t, v.upNeed, 100*v.uEff, v.freshRise, lastCallReaction, (v.upNeed+v.freshRise)*v.uEff)}, true
}
