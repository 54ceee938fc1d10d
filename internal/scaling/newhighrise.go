package scaling

import (
	"fmt"
	"math"
	"time"
)

// riseStep is a new high's step when the load rises faster than the
// budget ladder's step t can carry: the newest need plus the rise it made
// within the last lastCallReaction (riseNow), the reason clause naming that
// rise, and true. It applies while
// writes are throttled, or when the need with that rise again would be
// above what t carries at Kinesis's own limit (t ÷ u shards of need at u);
// false otherwise, and the ladder's t stands.
//
// The argument is AWS's timing, not a trace. A call made now on a need is
// the last change the stream sees until the next call lands: that needs a
// complete CloudWatch point showing the next need (CompleteAfter, the 1–3
// minutes CloudWatch is late) and this call's UPDATING to end (climbStep),
// lastCallReaction in all, as the last-call hold counts it. Until then the
// count this call buys must carry whatever the load rises by. A load that
// has just risen by more than the ladder's step and the target
// utilization's margin together would be refused before the next call
// could answer it (and one that is throttled already has no margin), so
// the step is sized for the same rise again, not for the 25 %/50 % of the
// ladder, which is meant for the budget, not for the load's pace: on a
// load that multiplies within minutes each sub-2× step costs a call and
// at least lastCallReaction of throttling. On slow rises (daily traffic,
// ramps, noise within the margin) the test is false and nothing changes.
// PlanReshard still makes the legal steps (2× a call).
func riseStep(v shardView, t int32) (int32, string, bool) {
	rise := riseNow(v)
	if rise <= 0 || !v.throttled && (v.upNeed+rise)*v.u <= float64(t) {
		return 0, "", false
	}
	return max(v.want, ceil32(v.upNeed+rise)), fmt.Sprintf(", sized for the rise of %.1f shards within the last %v", rise, lastCallReaction), true
}

// riseNow is how far the newest need (upNeed, not rounded) is above the
// lowest record of the stabilization window within lastCallReaction before
// the newest: the rise the load is making now. A rise that ended earlier
// is already in the need (adding it again on every call of a climb would
// step past the top). Records are needs rounded up, so this under-states
// the rise by less than a shard rather than over-stating it.
func riseNow(v shardView) float64 {
	if len(v.recs) < 2 {
		return 0
	}
	return v.upNeed - float64(lowestSince(v.recs, v.recs[len(v.recs)-1].At-int64(lastCallReaction/time.Second)))
}

// lowestSince is the lowest need of recs recorded at or after since
// (Unix seconds; math.MaxInt32 when none is).
func lowestSince(recs []Rec, since int64) int32 {
	low := int32(math.MaxInt32)
	for _, r := range recs {
		if r.At >= since {
			low = min(low, r.N)
		}
	}
	return low
}
