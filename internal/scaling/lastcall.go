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

// lastCallHold keeps the last reshard call of the rolling 24 h while the
// open count can still carry the load at Kinesis's own limit (1 MiB/s and
// 1000 records/s a shard) for as long as a call made later would take to
// land.
//
// The target utilization u is headroom kept by calls that can still be
// made: a need above the open count at u is answered by a call, and the
// next need by the next one. With one call left that stops being true: the
// call spent on a need just above u (the count still carries it at 100 %)
// leaves the stream unable to move, up or down, until the oldest call
// leaves the window — up to a day — and its step (2× with one call left)
// is held all that time. So the last call waits while nothing would be
// refused before it could land: the newest need at 100 % plus the largest
// rise the window's records show within lastCallReaction is within the
// open count, and Kinesis refuses nothing (writes throttled in the newest
// minutes lower uEff below u: bursts within a minute or uneven keys that
// the minute averages hide). Either failing releases the call at once,
// sized by stepUp as before.
func lastCallHold(v shardView) (shardTarget, bool) {
	if v.budget != 1 || v.throttled {
		return shardTarget{}, false
	}
	atLimit := v.upNeed*v.uEff + float64(largestRise(v.recs, lastCallReaction))*v.u
	if atLimit > float64(v.open) {
		return shardTarget{}, false
	}
	return shardTarget{v.open, ShardHoldLastCall, fmt.Sprintf("holding at %d: need is %.1f shards at %.0f%% utilization, but %.1f at 100%% with the window's fastest rise over %v, and this would be the last of %d reshard calls",
		v.open, v.upNeed, 100*v.uEff, atLimit, lastCallReaction, ReshardsPerWindow)}, true
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
