package scaling

import "fmt"

// riseStep is a new high's step when the load outruns what the target
// utilization's margin absorbs: the newest need plus the largest rise the
// stabilization window's records show within lastCallReaction, and true.
// It applies while writes are throttled or when that rise is more than the
// margin u leaves above the need ((1 − u) ÷ u of it: 43 % at 70 %); false
// otherwise, and the budget ladder decides alone.
//
// The argument is AWS's timing, not a trace. A call made now on a need is
// the last change the stream sees until the next call lands: that needs a
// complete CloudWatch point showing the next need (CompleteAfter, the 1–3
// minutes CloudWatch is late) and this call's UPDATING to end (climbStep),
// lastCallReaction in all. Until then the count this call buys must carry
// whatever the load rises by. The target utilization's margin is what
// carries a rise in that time; when the window's own rises over that span
// are larger than the margin (or writes are already refused, so the
// margin is gone), the step must be sized for the rise itself, not for
// the 25 %/50 % of the ladder, which is meant for the budget, not for the
// load's pace: on a load that multiplies within minutes each sub-2× step
// costs a call and at least lastCallReaction of throttling. On slow rises
// (daily traffic, ramps, noise within the margin) the test is false and
// nothing changes. PlanReshard still makes the legal steps (2× a call).
func riseStep(v shardView) (int32, bool) {
	rise := largestRise(v.recs, lastCallReaction)
	if rise <= 0 || !v.throttled && float64(rise)*v.u <= float64(v.want)*(1-v.u) {
		return 0, false
	}
	return v.want + rise, true
}

// riseReason is the clause a scale-up's reason gains when riseStep sized
// it.
func riseReason(v shardView) string {
	return fmt.Sprintf(", sized for the rise of %d shards the window shows within %v", largestRise(v.recs, lastCallReaction), lastCallReaction)
}
