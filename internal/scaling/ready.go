package scaling

import (
	"fmt"
	"time"
)

// A sudden rise is an hour whose peak need is at least suddenRise times the
// previous hour's: more than readyDoublings doublings within the hour. The
// shard count can only double per call, and each call keeps the stream
// UPDATING for minutes (climbStep), so a rise like this outruns the climb
// and every doubling still to make when it comes back is minutes of
// throttled records. For readyFor after such an hour a scale-down keeps
// the level from which its peak is readyDoublings calls away.
//
// The climb-back hold (downTarget) keeps calls, not time: with the calls
// back after a day it lets the stream fall to the base, from which a
// return of a 10x rise takes three or four calls under throttling. Two
// days covers a rise that recurs about daily but not to the hour; the
// level costs at most a quarter of the peak while it is held.
const (
	suddenRise     = 4
	readyDoublings = 2
	readyFor       = 48 * time.Hour
	// dayPeaks is how far back the day's peak and yesterday's hours read
	// (the hour the 24 h window starts in counts); peakRetention is how
	// long State.ShardPeaks keeps an hour: readyFor and the hour before
	// the oldest hour it reads.
	dayPeaks      = 25 * time.Hour
	peakRetention = readyFor + 2*time.Hour
)

// readyLevel is the lowest count a scale-down may go to after a sudden rise
// within readyFor: the highest such hour's peak divided by 2^readyDoublings,
// rounded up (0 when there was none). rise is that hour's peak and when.
func readyLevel(peaks []Rec, now time.Time) (level int32, rise Rec) {
	since := now.Truncate(time.Hour).Add(-readyFor).Unix()
	for _, r := range peaks {
		if r.At < since {
			continue
		}
		prev := hourPeak(peaks, time.Unix(r.At-3600, 0))
		if prev <= 0 || r.N < suddenRise*prev {
			continue
		}
		if l := (r.N + 1<<readyDoublings - 1) >> readyDoublings; l > level {
			level, rise = l, r
		}
	}
	return level, rise
}

// readyStep is a scale-up's target t from a count held for a sudden rise
// (open at or below readyLevel): at least a doubling. The level was kept
// so that a return is readyDoublings calls away; a budget-sized step of 25
// or 50 % (while calls are plenty) would make it three or four, throttled
// through each. Two doublings from at most a quarter of the rise's peak
// never pass it.
func readyStep(t int32, v shardView, now time.Time) int32 {
	if ready, _ := readyLevel(v.history, now); ready == 0 || v.open > ready {
		return t
	}
	return max(t, 2*v.open)
}

// readyHold is the hold at open that readyLevel sets.
func readyHold(open, level int32, rise Rec) shardTarget {
	return shardTarget{open, ShardHoldReady, fmt.Sprintf("holding at %d: a sudden rise to %d shards in the hour from %s keeps %d, %d calls from it, for %v",
		open, rise.N, time.Unix(rise.At, 0).UTC().Format("2006-01-02 15:04"), level, readyDoublings, readyFor)}
}

// sinceHour is the records of peaks stamped after the hour that began span
// before the current hour, and the current hour's.
func sinceHour(peaks []Rec, now time.Time, span time.Duration) []Rec {
	cut := now.Truncate(time.Hour).Add(-span).Unix()
	var out []Rec
	for _, r := range peaks {
		if r.At > cut {
			out = append(out, r)
		}
	}
	return out
}
