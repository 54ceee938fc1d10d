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
// newest need is not above the open count. The level is that need or,
// with at least outOfQuietHours of the day's hourly peaks known, the
// highest need plus the rise it made within lastCallReaction (risenLevel:
// what the up step sizes a fast new high for) when that is higher. It
// returns the level as an up target, and true, when
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
//     For a level sized with its rise it is enough that the newest need
//     fits the open count: that level is a forecast the up step made, not
//     a rounded-up need.
//
// A finishing call costs more than itself: the way down from the higher
// count may take more calls, and land lower, than from the open count, and
// a surge that comes after it meets what those calls leave. With fewer than
// 8 calls left that cost was measured to outweigh the gain (Twitter at 40
// MiB/s on seeds 2 and 4: docs/scaling.md, "ec2's loss at 5 MiB/s"), and
// again with 5 left for ec2's wave C at 40 MiB/s (Twitter at 40 on seed 1:
// "ec2 at 40 MiB/s: the loss episodes, and a climb finished to its rise").
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
//
// Sized with its rise. A fast new high is stepped up by the need plus the
// rise it just made (riseStep), because the count a call buys must carry
// the load until the next call can land; the law cuts that target to 2× as
// well. When the load then falls back before the call lands, the window
// holds only the need, and the rise the up step sized for is forgotten,
// though the next wave of a cluster comes while it is still in the window.
// ec2_network_in_257a54 at 40 MiB/s: a precursor out of a quiet day takes
// the stream 1→2→4 (the up step wanted 7: 3.8 shards plus a rise of 2.8);
// with 4 open the load falls back, and wave B, ten times the precursor's
// top, comes two minutes later and meets 4 shards. Finishing 4→7 on the
// precursor's rise, at the pass that sees 4 open, leaves the next call free
// two minutes sooner: 7 open in wave B's third minute where 8 opened in its
// fifth, and each later doubling two minutes sooner. The trace's loss
// 4.346 → 2.975 % (docs/scaling.md,
// "ec2 at 40 MiB/s: the loss episodes, and a climb finished to its rise").
// A rise of one shard is not counted (minRise), nor a day not known to be
// a day (a stream just started has no day's peak to climb back to).
//
// To the doubling. A level above 1.5× the open count is rounded up to the
// call's legal doubling (toDoubling): the doubling costs the same one call,
// and a scale-down takes back what the load does not use. On ec2 at 40
// MiB/s the precursor's 4 open finish 4→8 rather than 4→7, and wave B meets
// 8 shards and the next doublings from 8: 2.975 → 2.748 % (docs/scaling.md,
// "ec2 at 40 MiB/s: the loss episodes, and a climb finished to its rise").
func finishClimb(in Inputs, v shardView, now time.Time) (shardTarget, bool) {
	level := clamp32(maxRec(v.recs), v.lo, v.hi)
	fallen, sized := float64(level)/2, ""
	if r := clamp32(risenLevel(v.recs), v.lo, v.hi); r > level && len(v.peaks) >= outOfQuietHours {
		// The level a rise step aimed at: the load has left it once the
		// newest need fits the open count (the rise is a forecast, not a
		// rounded-up need the load may still hold).
		level, fallen, sized = r, float64(v.open), " with its rise"
	}
	if v.want > v.open || float64(level) < float64(v.open)*(1+upStep(v.budget)) || v.upNeed > fallen || v.readNeed > v.open {
		// The newest need above the open count is the up step's; the read
		// side's need this pass is its own rule's (applyReadSide).
		return shardTarget{}, false
	}
	target, doubled := toDoubling(level, v.open, v.hi), ""
	if target > level {
		doubled = ", the one call's doubling"
	}
	if !callsToSpare(in, v, now, target) {
		return shardTarget{}, false
	}
	return shardTarget{target, ShardUp, fmt.Sprintf("scaling up %d→%d: finishing a climb cut short, the need over the last %v%s was %d shards%s (now %.1f at %.0f%% utilization; %d reshard calls left)",
		v.open, target, v.window, sized, level, doubled, v.upNeed, 100*v.uEff, v.budget)}, true
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

// minRise is the smallest rise, in shards, that risenLevel counts: a need
// that moves by one shard is as often a need near a whole count rounded up
// one way and then the other.
const minRise = 2

// risenLevel is the highest of the stabilization window's records (oldest
// first) each plus the rise it made over the lowest record within
// lastCallReaction before it, counting rises of minRise shards or more (0
// when none): the level the up step sizes a fast new high for (riseStep
// adds the rise riseNow measures the same way), kept for the window after
// the call that the law cut short.
func risenLevel(recs []Rec) int32 {
	var level int32
	for i, r := range recs {
		low := lowestSince(recs[:i+1], r.At-int64(lastCallReaction/time.Second))
		if r.N-low >= minRise {
			level = max(level, r.N+(r.N-low))
		}
	}
	return level
}

// toDoubling rounds a finishing level above 1.5× the open count up to the
// legal doubling (2× the open count, at most hi): Kinesis allows a call up
// to 2×, so the doubling costs the same one call, carries a next wave the
// level would only partly carry, and a scale-down takes back what the load
// does not use. A level at or below 1.5× is left as it is: there the
// doubling would hold a third or more above the level for the window.
func toDoubling(level, open, hi int32) int32 {
	if 2*level <= 3*open {
		return level
	}
	return max(level, min(2*open, hi))
}
