package scaling

import "time"

// projectNewHigh is how far a scale-up at new highs may reach when it is
// sized to last horizon (until the next call frees up, when few are left):
// the need, plus the stabilization window's trend for the first
// trendHorizon, plus the hour-over-hour rise of the hourly peaks for the
// rest.
//
// The window's trend is its first record against its last, a few minutes
// apart: on a noisy load it is mostly noise, which is why a scale-down
// projects it an hour at most. Projected over the hours until a call frees
// up it took the step to 2× the open count on every new high of a random
// walk, a step the next scale-down took back an hour later, spending two
// of the day's calls on nothing. Beyond the first hour the evidence is the
// rise of the hourly peaks: this hour's so far against the whole previous
// hour's, none when it did not rise.
func projectNewHigh(want int32, recs, peaks []Rec, horizon time.Duration, now time.Time) float64 {
	proj := float64(want) + windowSlope(recs)*min(horizon, trendHorizon).Seconds()
	if beyond := horizon - trendHorizon; beyond > 0 {
		proj += hourlyRise(peaks, now) * beyond.Hours()
	}
	return proj
}

// hourlyRise is how many shards the need rose from the previous hour's
// peak to this hour's so far (0 when it did not rise or an hour is
// missing).
func hourlyRise(peaks []Rec, now time.Time) float64 {
	hour := now.Truncate(time.Hour).Unix()
	var cur, prev int32
	for _, r := range peaks {
		switch r.At {
		case hour:
			cur = r.N
		case hour - 3600:
			prev = r.N
		}
	}
	if prev == 0 || cur <= prev {
		return 0
	}
	return float64(cur - prev)
}

// windowSlope is the stabilization window's trend in shards per second: its
// first record against its last, when they are at least 5 minutes apart and
// the need rose (0 otherwise).
func windowSlope(recs []Rec) float64 {
	if len(recs) < 2 {
		return 0
	}
	first, last := recs[0], recs[len(recs)-1]
	if span := last.At - first.At; span >= 300 && last.N > first.N {
		return float64(last.N-first.N) / float64(span)
	}
	return 0
}
