package scaling

import (
	"math"
	"time"
)

// The horizon planner's first stage: a forecast envelope of the shard need
// over the next hours, from what the policy's State remembers (the
// stabilization window's per-minute needs, the hourly peaks of the last
// 25 hours and the week's hourly demand peaks).

// envelope is the need (shards at the target utilization) the forecast
// allows in each step of the horizon: at least lo[j], at most hi[j].
type envelope struct {
	lo, hi []float64
}

// trendHours is how many complete hours of peaks the trend is fitted on.
const trendHours = 6

// windowRise is the rise of the need over the stabilization window's
// records, in shards per hour: the first and the last record of at least
// five minutes apart; 0 when it did not rise.
func windowRise(recs []Rec) float64 {
	if len(recs) < 2 {
		return 0
	}
	first, last := recs[0], recs[len(recs)-1]
	if span := last.At - first.At; span >= 300 && last.N > first.N {
		return float64(last.N-first.N) / float64(span) * 3600
	}
	return 0
}

// hourlyTrend fits a least-squares line to the peaks of the last trendHours
// complete hours before now's hour: slope in shards per hour, the slope's
// standard error and the residuals' standard deviation. With fewer than
// three hours it returns zeros (no trend known).
func hourlyTrend(peaks []Rec, now time.Time) (slope, se, sigma float64) {
	hour := now.Truncate(time.Hour).Unix()
	var xs, ys []float64
	for _, r := range peaks {
		if h := (hour - r.At) / 3600; r.At < hour && h <= trendHours {
			xs, ys = append(xs, -float64(h)), append(ys, float64(r.N))
		}
	}
	n := float64(len(xs))
	if n < 3 {
		return 0, 0, 0
	}
	var mx, my float64
	for i := range xs {
		mx, my = mx+xs[i]/n, my+ys[i]/n
	}
	var sxx, sxy float64
	for i := range xs {
		sxx += (xs[i] - mx) * (xs[i] - mx)
		sxy += (xs[i] - mx) * (ys[i] - my)
	}
	if sxx == 0 {
		return 0, 0, 0
	}
	slope = sxy / sxx
	var rss float64
	for i := range xs {
		e := ys[i] - my - slope*(xs[i]-mx)
		rss += e * e
	}
	sigma = math.Sqrt(rss / (n - 2))
	return slope, sigma / math.Sqrt(sxx), sigma
}

// history is what the forecast reads of the past hours.
type history struct {
	peaks []Rec   // State.ShardPeaks: the recommendation's hourly peaks, 25 h
	week  []Rec   // State.WeekPeaks: the demand's hourly peaks, a week
	u     float64 // the target utilization, to read the week in shards at it
}

// season is a past period whose coming hours the forecast follows: the
// need at the same time one period ago (0: not known), scaled by ratio.
type season struct {
	ago   time.Duration
	need  func(time.Time) float64
	ratio float64
}

// pickSeason is the period today matches now, if any: the previous week's
// same day (from the week's peaks) when it is known and base is within
// [2/3, 1.5]× its need at this hour, else yesterday (from the day's peaks)
// on the same terms. The week goes first because it is the same weekday:
// it carries the weekly shape yesterday lacks (a Friday before a Saturday,
// a Sunday before a Monday); without a week's history only yesterday can
// be picked, as before the week was kept.
func pickSeason(base float64, h history, now time.Time) (season, bool) {
	week := season{ago: weekHours * time.Hour, need: func(t time.Time) float64 { return weekNeed(h.week, t, h.u) }}
	day := season{ago: 24 * time.Hour, need: func(t time.Time) float64 { return float64(peakOfHour(h.peaks, t)) }}
	for _, s := range []season{week, day} {
		if r, ok := matchRatio(base, s.need(now.Add(-s.ago))); ok {
			s.ratio = r
			return s, true
		}
	}
	return season{}, false
}

// matchRatio is base over then (the need at the same time of a past
// period) when then is known and the ratio is within [2/3, 1.5]; ok is
// false otherwise.
func matchRatio(base, then float64) (float64, bool) {
	if then <= 0 || base <= 0 {
		return 0, false
	}
	r := base / then
	return r, r >= 2.0/3 && r <= 1.5
}

// peakOfHour is the recorded peak of the hour t falls in (0: none).
func peakOfHour(peaks []Rec, t time.Time) int32 {
	at := t.Truncate(time.Hour).Unix()
	for _, r := range peaks {
		if r.At == at {
			return r.N
		}
	}
	return 0
}

// forecastNeeds is the envelope of steps steps of length step from now. It
// starts at base (the stabilization window's highest need) and follows the
// hourly trend, widened by twice the trend's uncertainty (the slope's
// standard error times the hours ahead plus the hourly residual); when
// today matches the same day of the previous week or yesterday
// (pickSeason), that day's need at the same time (scaled to today's level)
// widens it too.
// The trend's hi never exceeds twice the larger of base and the day's peak
// (a trend is not extrapolated without end); a past day's need, seen, may
// (yesterday's never does: it is at most the day's peak × 1.5).
// rise (shards per hour, ≥ 0) is a rise seen right now, for the reactive
// rule's plan: hi follows it for an hour when it is steeper than the hourly
// trend (further, a few minutes' rise is mostly noise).
func forecastNeeds(base float64, dayPeak int32, h history, now time.Time, steps int, step time.Duration, rise float64) envelope {
	slope, se, sigma := hourlyTrend(h.peaks, now)
	past, seasonal := pickSeason(base, h, now)
	ceiling := 2 * max(base, float64(dayPeak))
	env := envelope{lo: make([]float64, steps), hi: make([]float64, steps)}
	for j := range steps {
		hrs := float64(j) * step.Hours()
		c := base + slope*hrs
		half := 2 * (se*hrs + sigma*min(hrs, 1))
		lo, hi := max(0, c-half), min(max(c+half, base+rise*min(hrs, 1)), ceiling)
		at := now.Add(time.Duration(j) * step)
		if seasonal && j > 0 {
			if y := past.need(at.Add(-past.ago)); y > 0 {
				lo, hi = min(lo, past.ratio*y), max(hi, past.ratio*y)
			}
		}
		env.lo[j], env.hi[j] = min(lo, hi), hi
	}
	return env
}

// expectedShortfall is E[max(0, X − n)] for X uniform on [lo, hi] (X = lo
// when hi ≤ lo).
func expectedShortfall(n, lo, hi float64) float64 {
	switch {
	case n >= hi:
		return 0
	case hi <= lo || n <= lo:
		return (lo+hi)/2 - n
	}
	return (hi - n) * (hi - n) / (2 * (hi - lo))
}
