package scaling

import (
	"strings"
	"testing"
	"time"
)

// TestRiseStep: a new high steps by the window's largest rise within
// lastCallReaction when that rise is more than the target utilization's
// margin above the need ((1 − u) ÷ u of it) or writes are throttled; not
// on slow rises or noise within the margin.
func TestRiseStep(t *testing.T) {
	at := func(min int64, n int32) Rec { return Rec{At: now0.Unix() + 60*min, N: n} }
	fast := []Rec{at(-10, 1), at(-4, 1), at(-2, 7), at(0, 19)}                // +18 within 4 minutes
	slow := []Rec{at(-14, 12), at(-7, 15), at(0, 19)}                         // +4 at most within 7 minutes
	spread := []Rec{at(-14, 4), at(-6, 10), at(0, 19)}                        // +9 within 6: 6.3 > 5.7 at 70 %
	margin := []Rec{at(-7, 11), at(0, 19)}                                    // +8: 5.6 ≤ 5.7, within the margin
	apart := []Rec{at(-14, 1), at(-6, 19), at(-4, 18), at(0, 19)}             // +18 over 8 minutes, +1 within 7
	noise := []Rec{at(-6, 17), at(-5, 14), at(-3, 18), at(-1, 15), at(0, 19)} // swings of 5
	view := func(recs []Rec, u float64, throttled bool) shardView {
		return shardView{open: 9, u: u, uEff: u, throttled: throttled, want: 19, recs: recs}
	}
	tests := []struct {
		name string
		v    shardView
		want int32
		ok   bool
	}{
		{"fast rise of 18 within 7 minutes: 19 + 18", view(fast, 0.7, false), 37, true},
		{"slow rise: the ladder", view(slow, 0.7, false), 0, false},
		{"slow rise, throttled: the rise counts", view(slow, 0.7, true), 23, true},
		{"rise of 9 within 6 minutes, above the 43 % margin", view(spread, 0.7, false), 28, true},
		{"rise of 8, within the margin at 70 %", view(margin, 0.7, false), 0, false},
		{"rise of 8 at u = 90 %: the margin is 11 %", view(margin, 0.9, false), 27, true},
		{"a rise over 8 minutes, +1 within 7", view(apart, 0.7, false), 0, false},
		{"noise within the margin", view(noise, 0.7, false), 0, false},
		{"no rise, throttled: nothing to add", view([]Rec{at(-1, 19), at(0, 19)}, 0.7, true), 0, false},
	}
	for _, tt := range tests {
		got, ok := riseStep(tt.v)
		if ok != tt.ok || ok && got != tt.want {
			t.Errorf("%s: riseStep = %d, %v, want %d, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

// TestDecideFastNewHighSteps: 16 shards open, all 10 calls left (the
// ladder's 25 %), 10 minutes at 7.5 MiB/s (12 shards at 70 %). When the
// load doubles to 15 MiB/s within a minute (23 shards), the call is sized
// for the rise (23 + 11 = 34: a doubling first, 16→32), not the ladder's
// 25 % (16→24). When it climbs to 15 MiB/s over 10 minutes, the ladder
// decides as before (16→20 on a need of 17 at the first new high).
func TestDecideFastNewHighSteps(t *testing.T) {
	for _, tt := range []struct {
		name    string
		minutes int // minutes the climb from 7.5 to 15 MiB/s takes
		want    int32
		rise    bool
	}{
		{"doubles within a minute: sized for the rise", 1, 34, true},
		{"climbs over 10 minutes: the ladder", 10, 20, false},
	} {
		st := State{}
		for k := 10; k >= 1; k-- {
			st.Shards = append(st.Shards, Rec{At: now0.Add(-time.Duration(k) * time.Minute).Unix(), N: 12})
		}
		var first Decision
		for m := 0; m <= tt.minutes; m++ {
			now := now0.Add(time.Duration(m) * time.Minute)
			in := baseInputs(now, 16, 7.5+7.5*float64(m)/float64(tt.minutes))
			var d Decision
			d, st = Decide(in, st, now)
			if d.Shards > 16 && first.Shards == 0 {
				first = d
			}
		}
		if first.Shards != tt.want || first.ShardRule != ShardUp || strings.Contains(first.ShardReason, "sized for the rise") != tt.rise {
			t.Errorf("%s: first scale-up to %d, %v (%s), want %d (sized for the rise: %v)", tt.name, first.Shards, first.ShardRule, first.ShardReason, tt.want, tt.rise)
		}
	}
}

// TestDecideClimbBackIgnoresRise: below the day's peak (28) a fast rise
// (12 → 23 shards) climbs back by the ladder as before, 16→24: the rise
// step is for new highs only.
func TestDecideClimbBackIgnoresRise(t *testing.T) {
	st := State{ShardPeaks: []Rec{{At: now0.Add(-3 * time.Hour).Truncate(time.Hour).Unix(), N: 28}}}
	for k := 10; k >= 1; k-- {
		st.Shards = append(st.Shards, Rec{At: now0.Add(-time.Duration(k) * time.Minute).Unix(), N: 12})
	}
	in := baseInputs(now0, 16, 15)
	d, _ := Decide(in, st, now0)
	if d.Shards != 24 || strings.Contains(d.ShardReason, "sized for the rise") {
		t.Errorf("climbing back: %d (%s), want 24 by the ladder", d.Shards, d.ShardReason)
	}
}
