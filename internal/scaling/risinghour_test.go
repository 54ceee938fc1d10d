package scaling

import (
	"strings"
	"testing"
	"time"
)

// TestRisingHourlyNoise: while the hours rose, a window whose need is
// within 10 % of the previous hour's noisy maximum counts as rising; a
// window far below it (the hour after a spike) does not, nor one after
// hours that fell or with one hour known. The first two clauses stand.
func TestRisingHourlyNoise(t *testing.T) {
	now := now0.Add(15 * time.Minute)
	for _, tt := range []struct {
		name   string
		h1, h2 int32
		recs   []int32
		want   bool
	}{
		{"hours rose, window within 10 % below the previous hour's maximum", 16, 10, []int32{15, 14, 15}, true},
		{"hours rose, window at 90 % of the previous hour", 20, 10, []int32{17, 18}, true},
		{"hours rose, window below 90 % of the previous hour", 20, 10, []int32{17, 16}, false},
		{"the hour after a spike", 40, 10, []int32{12, 11, 12}, false},
		{"hours fell, window within 10 %", 16, 20, []int32{15, 15}, false},
		{"one hour known, window within 10 %", 16, 0, []int32{15, 15}, false},
		{"window above the previous hour", 16, 0, []int32{15, 17}, true},
		{"two hours non-decreasing, window at the previous hour", 16, 16, []int32{16, 17}, true},
	} {
		v := firstDayView(now, 40, tt.h1, tt.h2, tt.recs...)
		if _, _, _, got := risingHourly(v, now); got != tt.want {
			t.Errorf("%s: risingHourly = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestDecideRisingHourNoise is TestDecideFirstDayKeepsTheClimb's morning
// with a day seen, so the first-day climb-back does not apply: hours 10
// then a noisy 16, the window needing 15 at 70 % on 40 open. The
// rising-hour hold now keeps 40 (before: down to 15); with the previous
// hour at 17 the window is more than 10 % below it and the scale-down goes
// through.
func TestDecideRisingHourNoise(t *testing.T) {
	now := now0.Add(30 * time.Minute)
	hour := now.Truncate(time.Hour)
	for _, tt := range []struct {
		name string
		h1   int32
		want int32
		rule ShardRule
	}{
		{"previous hour 16, window 15: rising, hold", 16, 40, ShardHoldRising},
		{"previous hour 17, window 15: down", 17, 15, ShardDown},
	} {
		st := State{ShardPeaks: []Rec{{At: hour.Add(-24 * time.Hour).Unix(), N: 12}, {At: hour.Add(-2 * time.Hour).Unix(), N: 10}, {At: hour.Add(-time.Hour).Unix(), N: tt.h1}}}
		for m := range 20 {
			at := now.Add(time.Duration(m-20) * time.Minute)
			_, st = Decide(baseInputs(at, 40, 10), st, at) // 10 MiB/s = 15 shards at 70 %
		}
		d, _ := Decide(baseInputs(now, 40, 10), st, now)
		if d.Shards != tt.want || d.ShardRule != tt.rule {
			t.Errorf("%s: shards %d, rule %v (%s), want %d by %v", tt.name, d.Shards, d.ShardRule, d.ShardReason, tt.want, tt.rule)
		}
		if tt.rule == ShardHoldRising && !strings.Contains(d.ShardReason, "need is rising") {
			t.Errorf("%s: reason %q does not say the need is rising", tt.name, d.ShardReason)
		}
	}
}
