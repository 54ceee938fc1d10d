package scaling

import (
	"fmt"
	"slices"
	"time"
)

// The regime test reads the three days (regimeDays × dayHours hourly peaks
// of State.WeekPeaks) before the day the climb-back level comes from. The
// figures in the comments are the NAB traces' and the synthetic ones',
// hour by hour (docs/scaling.md, "elb's shard-hours by a regime that holds
// over days").
const (
	regimeDays = 3
	// regimeMissing is how many of those hours may be unknown (the
	// operator did not see them) before the test says nothing.
	regimeMissing = 4
	// regimeSpread: the three days' 90th-percentile hourly peak is at
	// most this many times their median. Surges and bursts lift a few
	// hours far above the rest (Twitter's three days 2.1–5.8, 10th to
	// 90th percentile of its hours; the bursts' 7.5 with a burst in
	// them); elb's noise is 1.4–1.8. At 2.0 Twitter's calm at 400 MiB/s
	// passed on one evening and the next surge lost more.
	regimeSpread = 1.8
	// regimeTurns: at least this share of hour-to-hour steps turn
	// direction. Noise turns about two steps in three (elb 0.56–0.70);
	// daily traffic turns twice a day (diurnal 0.11–0.14, nyc_taxi
	// 0.23–0.34).
	regimeTurns = 0.4
	// regimeReach: the day's top counts as reached on a day when that
	// day's highest hour is at least this share of it.
	regimeReach = 0.8
	// regimeTopOver: the day's top is above the three days' 90th
	// percentile by at most this factor (elb 0.9–1.5; a day with a
	// burst 10).
	regimeTopOver = 2.0
	// regimeLevelPercent is the percentile of the three days' hourly
	// peaks that the level keeps the calls for: the level the load held
	// through nearly every hour.
	regimeLevelPercent = 5
)

// routineLevel is the climb-back level for a load whose regime holds over
// days: stationary noise whose hourly peaks jump hour after hour around one
// level (elb: one or two minutes an hour far above the rest), and whose
// day's top is one those days reached routinely. For such a load the day's
// top is the noise's maximum, met again for a minute on most days but never
// held, so keeping the calls (and, for want of them, the shards) to climb
// back to it holds the count of a doubling for hours; the level kept for is
// instead the one the load held through nearly every hour of those days
// (regimeLevelPercent), and a spike above it takes the next call or is
// throttled for its minute.
//
// It returns that level (shards at u), a reason, and true only when, from
// week (State.WeekPeaks, demand at 100 %), the regimeDays days before the
// day ending at now's hour are known, their hourly peaks turn direction
// often (regimeTurns) and spread little (regimeSpread), the day's top is
// above their 90th percentile by at most regimeTopOver and was reached
// (regimeReach) on at least two of those days. A surge lifts its day above
// the days before (the reach or the factor fails) or spreads the days'
// peaks; daily traffic turns too rarely; the first four days have no
// history. The caller keeps the lower of this and its own level.
func routineLevel(week []Rec, now time.Time, u float64) (int32, string, bool) {
	hour := now.Truncate(time.Hour)
	day := peaksFrom(week, hour.Add(-(dayHours-1)*time.Hour), dayHours)
	days := peaksFrom(week, hour.Add(-((regimeDays+1)*dayHours-1)*time.Hour), regimeDays*dayHours)
	top := slices.Max(day)
	known := slices.DeleteFunc(slices.Clone(days), func(n int32) bool { return n <= 0 })
	if top <= 0 || u <= 0 || len(known) < len(days)-regimeMissing {
		return 0, "", false
	}
	slices.Sort(known)
	p50, p90 := known[len(known)/2], known[len(known)*9/10]
	if float64(p90) > regimeSpread*float64(p50) || top <= p90 || float64(top) > regimeTopOver*float64(p90) {
		return 0, "", false
	}
	if turnShare(days) < regimeTurns || daysReaching(days, float64(top)*regimeReach) < 2 {
		return 0, "", false
	}
	level := ceil32(float64(known[len(known)*regimeLevelPercent/100]) / DemandPerShard / u)
	return level, fmt.Sprintf(" (the day's peak is the top of %d days of noise: the level is their %dth-percentile hour, %d)", regimeDays, regimeLevelPercent, level), true
}

// peaksFrom is week's peak of each of n hours from from, oldest first (0
// for an hour not known).
func peaksFrom(week []Rec, from time.Time, n int) []int32 {
	out := make([]int32, n)
	for _, r := range week {
		if i := (r.At - from.Unix()) / 3600; r.At >= from.Unix() && i < int64(n) {
			out[i] = max(out[i], r.N)
		}
	}
	return out
}

// turnShare is the share of steps between known consecutive hours after
// which the next step goes the other way.
func turnShare(peaks []int32) float64 {
	turns, steps := 0, 0
	for i := 1; i+1 < len(peaks); i++ {
		if peaks[i-1] <= 0 || peaks[i] <= 0 || peaks[i+1] <= 0 {
			continue
		}
		a, b := peaks[i]-peaks[i-1], peaks[i+1]-peaks[i]
		if a == 0 || b == 0 {
			continue
		}
		steps++
		if (a > 0) != (b > 0) {
			turns++
		}
	}
	if steps == 0 {
		return 0
	}
	return float64(turns) / float64(steps)
}

// daysReaching counts the whole days (dayHours each, oldest first) of
// peaks whose highest hour is at least level.
func daysReaching(peaks []int32, level float64) int {
	n := 0
	for d := 0; d+dayHours <= len(peaks); d += dayHours {
		if float64(slices.Max(peaks[d:d+dayHours])) >= level {
			n++
		}
	}
	return n
}
