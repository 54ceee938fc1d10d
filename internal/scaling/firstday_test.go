package scaling

import (
	"strings"
	"testing"
	"time"
)

// TestDaySeen: a day is seen once the oldest hourly peak began 24 hours or
// more before the current hour, in whatever order the peaks are stored.
func TestDaySeen(t *testing.T) {
	now := now0.Add(30 * time.Minute)
	hour := now.Truncate(time.Hour)
	at := func(hoursAgo int, n int32) Rec {
		return Rec{At: hour.Add(-time.Duration(hoursAgo) * time.Hour).Unix(), N: n}
	}
	for _, tt := range []struct {
		name  string
		peaks []Rec
		want  bool
	}{
		{"no peaks (a new stream)", nil, false},
		{"this hour only", []Rec{at(0, 5)}, false},
		{"23 hours back", []Rec{at(23, 5), at(1, 6), at(0, 7)}, false},
		{"24 hours back", []Rec{at(24, 5), at(1, 6), at(0, 7)}, true},
		{"24 hours back, stored out of order", []Rec{at(1, 6), at(24, 5), at(0, 7)}, true},
	} {
		if got := daySeen(tt.peaks, now); got != tt.want {
			t.Errorf("%s: daySeen = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// firstDayView is a shard view in the middle of an hour: open shards, the
// window's needs (recs, a minute apart, ending now) and the peaks of the
// previous hour (h1) and the one before (h2), 0 for none.
func firstDayView(now time.Time, open, h1, h2 int32, recs ...int32) shardView {
	hour := now.Truncate(time.Hour)
	v := shardView{open: open}
	if h2 > 0 {
		v.peaks = append(v.peaks, Rec{At: hour.Add(-2 * time.Hour).Unix(), N: h2})
	}
	if h1 > 0 {
		v.peaks = append(v.peaks, Rec{At: hour.Add(-time.Hour).Unix(), N: h1})
	}
	for i, n := range recs {
		v.recs = append(v.recs, Rec{At: now.Add(time.Duration(i-len(recs)+1) * time.Minute).Unix(), N: n})
	}
	v.peaks = append(v.peaks, Rec{At: hour.Unix(), N: maxRec(v.recs)})
	v.peak = maxRec(v.peaks)
	return v
}

// TestFirstDayRising: the need rises when the window's trend lifts the
// floor, or when the previous hour rose over the one before and the
// window is above the one before, even below the whole previous hour's
// noisy maximum (where risingHourly says no).
func TestFirstDayRising(t *testing.T) {
	now := now0.Add(15 * time.Minute)
	for _, tt := range []struct {
		name   string
		h1, h2 int32
		recs   []int32
		floor  int32
		want   bool
	}{
		{"trend lifts the floor", 0, 0, []int32{10, 12, 14}, 20, true},
		{"hours rose, window below the previous hour's maximum", 16, 10, []int32{15, 14, 15}, 15, true},
		{"hours rose, window back at two hours ago", 16, 10, []int32{9, 10, 10}, 10, false},
		{"hours fell (after a spike)", 10, 40, []int32{12, 11, 12}, 12, false},
		{"one hour known", 16, 0, []int32{15, 14, 15}, 15, false},
		{"flat hours", 12, 12, []int32{13, 12, 12}, 13, false},
	} {
		v := firstDayView(now, 40, tt.h1, tt.h2, tt.recs...)
		if got := firstDayRising(v, tt.floor, now); got != tt.want {
			t.Errorf("%s: firstDayRising = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestClimbLevel: on the first day, while the need rises, a scale-down
// keeps the calls to climb back to the open count; otherwise (a day seen,
// the need not rising, the count at or below the day's peak) to the day's
// peak.
func TestClimbLevel(t *testing.T) {
	now := now0.Add(15 * time.Minute)
	rising := firstDayView(now, 40, 16, 10, 15, 14, 15)
	seen := rising
	seen.peaks = append([]Rec{{At: now.Truncate(time.Hour).Add(-24 * time.Hour).Unix(), N: 12}}, seen.peaks...)
	falling := firstDayView(now, 40, 10, 30, 12, 11, 12)
	low := firstDayView(now, 14, 16, 10, 15, 14, 15)
	for _, tt := range []struct {
		name string
		v    shardView
		want int32
	}{
		{"first day, rising: the open count", rising, 40},
		{"a day seen: the day's peak", seen, 16},
		{"first day, falling: the day's peak", falling, 30},
		{"first day, rising, open below the peak: the day's peak", low, 16},
	} {
		got, why := climbLevel(tt.v, maxRec(tt.v.recs), now)
		if got != tt.want {
			t.Errorf("%s: climbLevel = %d, want %d", tt.name, got, tt.want)
		}
		if (got > tt.v.peak) != (why != "") {
			t.Errorf("%s: level %d (day's peak %d) with reason %q", tt.name, got, tt.v.peak, why)
		}
	}
}

// TestDecideFirstDayKeepsTheClimb is diurnal seed 2's first morning at
// 400 MiB/s in small: 40 shards open after a step up, one call left, the
// window needing 15 shards at 70 % with the hours rising (10, then a noisy
// 16) but the window below the previous hour's maximum, so the rising-hour
// hold does not apply. Without a day seen, going down to 20 would spend
// the last call below a morning that is still climbing: the budget plan
// holds at 40 (rule climbBack). With a day seen, or with the hours
// falling, it goes down as before.
func TestDecideFirstDayKeepsTheClimb(t *testing.T) {
	now := now0.Add(30 * time.Minute)
	hour := now.Truncate(time.Hour)
	history := spaced(9, now.Add(-30*time.Minute), 20*time.Minute) // 1 call left
	for _, tt := range []struct {
		name   string
		peaks  []Rec
		want   int32
		rule   ShardRule
		reason string
	}{
		{"first day, hours rising: hold", []Rec{{At: hour.Add(-2 * time.Hour).Unix(), N: 10}, {At: hour.Add(-time.Hour).Unix(), N: 16}}, 40, ShardHoldClimbBack, "the open count of 40"},
		{"a day seen: down", []Rec{{At: hour.Add(-24 * time.Hour).Unix(), N: 12}, {At: hour.Add(-2 * time.Hour).Unix(), N: 10}, {At: hour.Add(-time.Hour).Unix(), N: 16}}, 20, ShardDown, "day's peak 16"},
		{"first day, hours falling: down", []Rec{{At: hour.Add(-2 * time.Hour).Unix(), N: 18}, {At: hour.Add(-time.Hour).Unix(), N: 16}}, 20, ShardDown, "day's peak 18"},
	} {
		st := State{ShardPeaks: tt.peaks}
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
