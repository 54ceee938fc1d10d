package scaling

import (
	"fmt"
	"time"
)

// lastCallReaction is how long after a minute's load a call made on it has
// landed: the minute's point is complete CompleteAfter later (CloudWatch's
// 1–3 minutes), and the stream is UPDATING for at least 3 minutes after the
// call before the next pass sees it ACTIVE (climbStep).
const lastCallReaction = CompleteAfter + climbStep

// lastCallHold keeps a reshard call whose step would freeze the stream
// (stepFreezes: the last call of the rolling 24 h, or one whose step could
// not be undone and still leave a call for a rise) while the open count can
// still carry the load at Kinesis's own limit (1 MiB/s and 1000 records/s a
// shard) for as long as a call made later would take to land.
//
// The target utilization u is headroom kept by calls that can still be
// made: a need above the open count at u is answered by a call, and the
// next need by the next one. When the step freezes the stream that stops
// being true: the call spent on a need just above u (the count still
// carries it at 100 %) leaves the stream at the step's count — with one
// call left unable to move at all, otherwise unable to come back down —
// until calls leave the window, up to a day. So the call waits while
// nothing would be refused before it could land: the newest need at 100 %
// plus the largest rise the window's records show within lastCallReaction
// is within the open count, and Kinesis refuses nothing (writes throttled in
// the newest minutes lower uEff below u: bursts within a minute or uneven
// keys that the minute averages hide). Either failing releases the call at
// once, sized by stepUp as before. calls are the reshard calls of the
// rolling 24 h, oldest first.
func lastCallHold(v shardView, calls []time.Time, now time.Time) (shardTarget, bool) {
	if v.budget < 1 || v.throttled || !stepFreezes(v, calls, now) {
		return shardTarget{}, false
	}
	atLimit := v.upNeed*v.uEff + float64(largestRise(v.recs, lastCallReaction))*v.u
	if atLimit > float64(v.open) {
		return shardTarget{}, false
	}
	why := fmt.Sprintf("this would be the last of %d reshard calls", ReshardsPerWindow)
	if v.budget > 1 {
		why = fmt.Sprintf("with %d of %d reshard calls left, the call to undo this step would leave none to answer a rise", v.budget, ReshardsPerWindow)
	}
	return shardTarget{v.open, ShardHoldLastCall, fmt.Sprintf("holding at %d: need is %.1f shards at %.0f%% utilization, but %.1f at 100%% with the window's fastest rise over %v, and %s",
		v.open, v.upNeed, 100*v.uEff, atLimit, lastCallReaction, why)}, true
}

// stepFreezes reports whether a scale-up made now would leave the stream
// at its count until calls leave the 24 h window: with one call left the
// step is the last and nothing moves afterwards; otherwise the step is
// frozen when the call that would undo it leaves no call to answer a rise.
//
// A scale-up is answering a need above the open count, so the day's peak
// is above it too. The scale-down that undoes the step comes a
// stabilization window later at the earliest (the last-reshard hold), and
// the budget plan (downTarget) lets it go below the day's peak only when
// the calls left after it, less the reserve it keeps (one more while calls
// go out faster than evenly, this one counted), can still climb back: at
// least one call. After the step and its undoing budget − 2 are left, plus
// the calls that leave the window by then; when that, less the reserve, is
// under one, the budget plan refuses the undoing whatever the load does,
// and the step's count is held as the last call's would be. So k, the
// calls left below which a call is kept, is 2 plus the reserve less the
// calls about to free up; k = 1 (the last call) always. Beyond that the
// budget plan's hold depends on how far below the day's peak the count is;
// keeping calls for that climb measured worse (docs/scaling.md, "Calls
// kept while a step would freeze the stream").
func stepFreezes(v shardView, calls []time.Time, now time.Time) bool {
	if v.budget == 1 {
		return true
	}
	reserve := v.reserve
	if aheadOfPace(append(calls[:len(calls):len(calls)], now), now) {
		reserve++
	}
	undo := now.Add(v.window)
	freed := 0
	for _, c := range calls {
		if !c.Add(ReshardWindow).After(undo) {
			freed++
		}
	}
	return v.budget+freed-2-reserve < 1
}

// largestRise is the largest rise between two records (oldest first) at
// most span apart, 0 when none rose.
func largestRise(recs []Rec, span time.Duration) int32 {
	var rise int32
	for i, a := range recs {
		for _, b := range recs[i+1:] {
			if b.At-a.At <= int64(span/time.Second) {
				rise = max(rise, b.N-a.N)
			}
		}
	}
	return rise
}
