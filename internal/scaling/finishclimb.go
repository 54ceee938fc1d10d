package scaling

import (
	"fmt"
	"time"
)

// plentyOfCalls is the calls left from which the ladder steps by its
// smallest step (upStep): calls are not scarce yet.
const plentyOfCalls = 8

// finishClimb continues a scale-up that Kinesis's limits cut short: the
// open count is below the highest need the stabilization window recorded
// (the level a scale-down would not go below for the window), while the
// newest need is not above the open count. It returns that level as an up
// target, and true, when
//   - the calls are plentiful: 8 or more left in the rolling 24 h (the
//     ladder's own "plenty", where it steps by 25 %), the step does not
//     freeze the stream (stepFreezes, with a configured reserve), and after
//     this call and the one that later undoes it the calls left, less the
//     reserve a scale-down keeps (one more while calls go out faster than
//     evenly, this one counted), can still climb from the open count to the
//     day's peak (canClimb);
//   - the step buys room as any scale-up must: at least the ladder's step
//     (upStep, 25 % with 8 or more calls left);
//   - the load has fallen back: the newest need is at most half the
//     window's level. Records are needs rounded up, so at small counts a
//     level one shard above the open count may be a need the open count
//     nearly carries (2.01 recorded as 3 over 2 open, after a scale-down
//     the need then edged past while it was UPDATING); a spike the law
//     cut short is one the load has left, and a load still near its level
//     is the up step's and the window hold's to answer, not this rule's.
//
// A finishing call costs more than itself: the way down from the higher
// count may take more calls, and land lower, than from the open count, and
// a surge that comes after it meets what those calls leave. With fewer than
// 8 calls left that cost was measured to outweigh the gain (Twitter at 40
// MiB/s on seeds 2 and 4: docs/scaling.md, "ec2's loss at 5 MiB/s").
//
// Otherwise it returns false, and the way down's rules decide as before (or
// the read side, when its need this pass is above the open count).
//
// The argument. A scale-up targets the newest need at once, but a call goes
// at most 2× and the next waits for UPDATING to end (3–5 minutes), so from a
// small count a climb takes several calls; a load that rose and fell within
// those minutes leaves the stream partway, below the need it had just
// shown. The window's highest need is the level the policy holds on the
// way down for a whole window after it was seen: an open count below it is
// one the policy would not have chosen had the law let the climb finish.
// Short surges come in clusters — on the NAB traces most onsets follow the
// last surge within the hour (docs/scaling.md, "The onset argument on the
// NAB traces") — so the next wave is likeliest while the last one is still
// in the window. With calls to spare the climb finishes; the scale-down
// rules take the step back as they take back any other.
func finishClimb(in Inputs, v shardView, now time.Time) (shardTarget, bool) {
	level := clamp32(maxRec(v.recs), v.lo, v.hi)
	if v.want > v.open || float64(level) < float64(v.open)*(1+upStep(v.budget)) || v.upNeed > float64(level)/2 || v.readNeed > v.open {
		// The newest need above the open count is the up step's; the read
		// side's need this pass is its own rule's (applyReadSide).
		return shardTarget{}, false
	}
	if !callsToSpare(in, v, now, level) {
		return shardTarget{}, false
	}
	return shardTarget{level, ShardUp, fmt.Sprintf("scaling up %d→%d: finishing a climb cut short, the need over the last %v was %d shards (now %.1f at %.0f%% utilization; %d reshard calls left)",
		v.open, level, v.window, level, v.upNeed, 100*v.uEff, v.budget)}, true
}

// callsToSpare reports whether an up call to t that no need forces yet
// (finishClimb, riseAhead) can be afforded: 8 or more calls left
// (plentyOfCalls), the step does not freeze the stream (stepFreezes), and
// after this call and the one that undoes it the calls left, less the
// scale-down's reserve (one more while calls go out ahead of pace), can
// still climb from the open count to the higher of the day's peak and t.
func callsToSpare(in Inputs, v shardView, now time.Time, t int32) bool {
	calls := PruneHistory(in.ReshardHistory, now)
	if v.budget < plentyOfCalls || stepFreezes(v, calls, now) {
		return false
	}
	reserve := v.reserve
	if aheadOfPace(append(calls[:len(calls):len(calls)], now), now) {
		reserve++
	}
	return canClimb(v.budget-2-reserve, calls, now, v.open, max(v.peak, t))
}
