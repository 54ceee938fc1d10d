package scaling

import (
	"fmt"
	"time"
)

// The first day. The budget plan sizes what it keeps by the day's peak,
// the highest hourly need of the last 24 h. Until the policy has seen 24 h
// (a new stream, or a status without scaling state), that is only the
// highest need since it started: a lower bound, often far below the real
// peak (a daily load started at night has seen only the night). Two rules
// read the day's peak as known and therefore wait for a whole day of
// hourly peaks: the scale-down's budget plan keeps calls only for a climb
// back to it, and a scale-up stops at it.

// daySeen reports whether the hourly peaks reach back a whole reshard
// window (24 h before the current hour), so that dayPeak is the peak of a
// full day and not of the hours since start.
func daySeen(peaks []Rec, now time.Time) bool {
	return len(peaks) > 0 && peaks[0].At <= now.Truncate(time.Hour).Add(-ReshardWindow).Unix()
}

// unseenDayHold is the budget plan's hold before a day has been seen: no
// scale-down while calls go out faster than evenly (aheadOfPace). The plan
// cannot show that the calls left would climb back to a peak it has not
// seen, so it spends no call on a scale-down ahead of the rate at which the
// 24 h window gives them back. Scale-ups are never held.
func unseenDayHold(v shardView, calls []time.Time, floor int32, now time.Time) (shardTarget, bool) {
	if daySeen(v.peaks, now) || !aheadOfPace(calls, now) {
		return shardTarget{}, false
	}
	return shardTarget{v.open, ShardHoldClimbBack, fmt.Sprintf("holding at %d: need is %d, but with %d of %d reshard calls left, spent faster than evenly, and less than a day of data, climbing back to the day's peak (%d so far, not yet known) may need them",
		v.open, floor, v.budget, ReshardsPerWindow, v.peak)}, true
}
