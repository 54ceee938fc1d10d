package scaling

import (
	"strings"
	"testing"
	"time"
)

// regimeWeek is week's hourly demand peaks (shards at 100 %) for the 96
// hours ending at now's hour, oldest first, from shape(hoursAgo).
func regimeWeek(now time.Time, shape func(hoursAgo int) float64) []Rec {
	hour := now.Truncate(time.Hour)
	var week []Rec
	for ago := 95; ago >= 0; ago-- {
		if n := shape(ago); n > 0 {
			week = append(week, Rec{At: hour.Add(-time.Duration(ago) * time.Hour).Unix(), N: int32(n * DemandPerShard)})
		}
	}
	return week
}

// elbNoise is elb in small: hourly peaks jumping between 8 and 13 shards at
// 100 %, hour after hour, with a top of 20 (a minute spike) 5 hours after
// each midnight of the 96 hours, so every day reaches it. Over three days
// its 90th percentile is 13, its 5th 8.
func elbNoise(ago int) float64 {
	if ago%24 == 5 {
		return 20
	}
	return []float64{8, 12, 9, 13, 10, 11}[ago%6]
}

// TestRoutineLevel: the climb-back level is capped at three days'
// 5th-percentile hour only for stationary noise whose day's top those days
// reached; not for a surge above the days before, bursts, noise spread as
// Twitter's calm, daily traffic, noise without a top above its 90th
// percentile, or without three days of history.
func TestRoutineLevel(t *testing.T) {
	now := now0.Add(30 * time.Minute)
	const u = 0.7
	for _, tt := range []struct {
		name  string
		shape func(ago int) float64
		want  int32 // 0: not capped
	}{
		{"elb's noise, its top reached every day: 8 at 70 %", elbNoise, 12},
		{"the same top reached on two of the three days before", func(ago int) float64 {
			if ago >= 72 && ago%24 == 5 {
				return 12
			}
			return elbNoise(ago)
		}, 12},
		{"a top reached on one day before only", func(ago int) float64 {
			if ago >= 48 && ago%24 == 5 {
				return 12
			}
			return elbNoise(ago)
		}, 0},
		{"a surge: today's top far above the days before", func(ago int) float64 {
			if ago == 3 {
				return 60
			}
			return elbNoise(ago)
		}, 0},
		{"bursts: a few hours far above a flat base", func(ago int) float64 {
			if ago%24 < 2 {
				return 100
			}
			return []float64{10, 10.2, 9.9, 10.1}[ago%4]
		}, 0},
		{"noise spread as Twitter's calm: the 90th percentile twice the median", func(ago int) float64 {
			if ago%24 == 5 {
				return 20
			}
			return []float64{6, 7, 6.5, 13, 7, 6}[ago%6]
		}, 0},
		{"daily traffic: smooth hours", func(ago int) float64 {
			return 10 + 5*float64(min(ago%24, 24-ago%24))/12
		}, 0},
		{"noise with no top above it", func(ago int) float64 {
			return []float64{8, 12, 9, 13, 10, 11}[ago%6]
		}, 0},
		{"the first three days: no history before the day", func(ago int) float64 {
			if ago > 60 {
				return 0
			}
			return elbNoise(ago)
		}, 0},
	} {
		got, why, ok := routineLevel(regimeWeek(now, tt.shape), now, u)
		if !ok {
			got = 0
		}
		if got != tt.want || ok != (why != "") {
			t.Errorf("%s: routineLevel = %d, %v (%q), want %d", tt.name, got, ok, why, tt.want)
		}
	}
}

// TestDecideReleasesRoutineTop is elb's climb-back hold in small: 40 shards
// open after a doubling, one call left, the window needing 15 shards at
// 70 % and the day's peak 31. Climbing back to 31 from a scale-down needs a
// call, so the budget plan holds at 40. When the week shows that 31 is the
// top of three days of stationary noise (20 shards at 100 % once a day
// over hours of 8 to 13), the level to keep calls for is the noise's
// 5th-percentile hour (12 at 70 %), and the count goes down to 20; with a week
// that does not (a flat week, then today's top), it holds as before.
func TestDecideReleasesRoutineTop(t *testing.T) {
	now := now0.Add(30 * time.Minute)
	hour := now.Truncate(time.Hour)
	history := spaced(9, now.Add(-30*time.Minute), 20*time.Minute) // 1 call left
	peaks := []Rec{{At: hour.Add(-24 * time.Hour).Unix(), N: 20}, {At: hour.Add(-3 * time.Hour).Unix(), N: 31}, {At: hour.Add(-2 * time.Hour).Unix(), N: 20}, {At: hour.Add(-time.Hour).Unix(), N: 18}}
	surge := func(ago int) float64 {
		if ago == 3 {
			return 20
		}
		return 10
	}
	for _, tt := range []struct {
		name   string
		week   []Rec
		want   int32
		rule   ShardRule
		reason string
	}{
		{"elb's noise: down", regimeWeek(now, elbNoise), 20, ShardDown, "scaling down 40→20"},
		{"a top above a flat week: hold", regimeWeek(now, surge), 40, ShardHoldClimbBack, "day's peak of 31"},
		{"no week: hold", nil, 40, ShardHoldClimbBack, "day's peak of 31"},
	} {
		st := State{ShardPeaks: peaks, WeekPeaks: tt.week}
		for m := range 20 {
			at := now.Add(time.Duration(m-20) * time.Minute)
			_, st = Decide(baseInputs(at, 40, 10), st, at) // 10 MiB/s = 15 shards at 70 %
		}
		in := baseInputs(now, 40, 10)
		in.ReshardHistory = history
		d, _ := Decide(in, st, now)
		if d.Shards != tt.want || d.ShardRule != tt.rule || !strings.Contains(d.ShardReason, tt.reason) {
			t.Errorf("%s: shards %d, rule %v (%s), want %d by %v saying %q", tt.name, d.Shards, d.ShardRule, d.ShardReason, tt.want, tt.rule, tt.reason)
		}
	}
}
