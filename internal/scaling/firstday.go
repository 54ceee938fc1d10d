package scaling

import (
	"fmt"
	"time"
)

// The first day: until the hourly peaks reach back a whole day, "the day's
// peak" (dayPeak) is only the highest need since start, a lower bound of
// the day's. A stream started at night on a daily load then takes the
// night for the day: the budget plan keeps calls to climb back to the
// midnight level only, and the calls go on the way down and on the
// morning's first steps, before the day's top (docs/scaling.md, "The
// diurnal trace's first day").

// daySeen reports whether the hourly peaks reach back a whole day: the
// oldest recorded hour began 24 hours or more before the current one.
func daySeen(peaks []Rec, now time.Time) bool {
	if len(peaks) == 0 {
		return false
	}
	oldest := peaks[0].At
	for _, r := range peaks {
		oldest = min(oldest, r.At)
	}
	return oldest <= now.Truncate(time.Hour).Add(-24*time.Hour).Unix()
}

// firstDayRising reports whether the need is still rising, judged as the
// first day must be (without yesterday): the window's trend lifts the
// scale-down floor above every need in the window, or the previous hour's
// peak is above the one before it and the window's need is above that one
// too. Unlike risingHourly it does not ask the window's need to reach the
// whole previous hour's peak: a 15-minute maximum is mostly below an
// hour's on noise, which let scale-downs through on rising mornings.
func firstDayRising(v shardView, floor int32, now time.Time) bool {
	cur := maxRec(v.recs)
	if floor > cur {
		return true
	}
	hour := now.Truncate(time.Hour)
	h1, h2 := hourPeak(v.peaks, hour.Add(-time.Hour)), hourPeak(v.peaks, hour.Add(-2*time.Hour))
	return h2 > 0 && h1 > h2 && cur > h2
}

// climbLevel is the level a scale-down keeps the calls to climb back to:
// the day's peak, and on the first day, while the need rises, at least the
// open count. Before a day is seen the peak so far says nothing of where a
// rising need stops; the count the last step up chose (sized by the calls
// left and the rise) is the better lower bound, and a scale-down that
// could not climb back to it would freeze the stream below the rest of the
// morning. The second result says why the level is above the day's peak
// (empty when it is not).
func climbLevel(v shardView, floor int32, now time.Time) (int32, string) {
	if v.open <= v.peak || daySeen(v.peaks, now) || !firstDayRising(v, floor, now) {
		return v.peak, ""
	}
	return v.open, fmt.Sprintf(" (the open count of %d while no day is seen and the need rises)", v.open)
}
