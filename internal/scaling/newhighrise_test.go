package scaling

import (
	"strings"
	"testing"
	"time"
)

// TestRiseStep: a new high (need 18.6, the ladder's step 20) steps by the
// rise the need made within the last lastCallReaction when the need plus
// that rise is more than the ladder's step carries at 100 % (20 ÷ u) or
// writes are throttled; not on slow rises, noise or a rise that ended.
func TestRiseStep(t *testing.T) {
	at := func(min int64, n int32) Rec { return Rec{At: now0.Unix() + 60*min, N: n} }
	fast := []Rec{at(-10, 1), at(-4, 1), at(-2, 7), at(0, 19)}                // +17.6 within 4 minutes
	slow := []Rec{at(-14, 12), at(-7, 15), at(0, 19)}                         // +3.6 within 7 minutes
	edge := []Rec{at(-6, 9), at(0, 19)}                                       // 28.2 at 70 % is 19.7 at 100 %: carried
	past := []Rec{at(-6, 8), at(0, 19)}                                       // 29.2 is 20.4 at 100 %: not carried
	margin := []Rec{at(-7, 11), at(0, 19)}                                    // 26.2: 18.3 at 70 %, 23.6 at 90 %
	ended := []Rec{at(-14, 1), at(-8, 19), at(-4, 18), at(0, 19)}             // +18 ended 8 minutes ago
	noise := []Rec{at(-6, 17), at(-5, 14), at(-3, 18), at(-1, 15), at(0, 19)} // swings of 5
	view := func(recs []Rec, u float64, throttled bool) shardView {
		return shardView{open: 16, u: u, uEff: u, throttled: throttled, upNeed: 18.6, want: 19, recs: recs}
	}
	tests := []struct {
		name string
		v    shardView
		want int32
		ok   bool
	}{
		{"fast rise of 17.6: 18.6 + 17.6", view(fast, 0.7, false), 37, true},
		{"slow rise: the ladder", view(slow, 0.7, false), 0, false},
		{"slow rise, throttled: the rise counts", view(slow, 0.7, true), 23, true},
		{"need and rise carried at 100 % by the ladder's step", view(edge, 0.7, false), 0, false},
		{"need and rise just past it", view(past, 0.7, false), 30, true},
		{"rise of 7.6 at 70 %: carried", view(margin, 0.7, false), 0, false},
		{"rise of 7.6 at u = 90 %: not carried", view(margin, 0.9, false), 27, true},
		{"a rise that ended 8 minutes ago", view(ended, 0.7, false), 0, false},
		{"noise within what the step carries", view(noise, 0.7, false), 0, false},
		{"no rise, throttled: nothing to add", view([]Rec{at(-1, 19), at(0, 19)}, 0.7, true), 0, false},
		{"one record", view([]Rec{at(0, 19)}, 0.7, true), 0, false},
	}
	for _, tt := range tests {
		got, _, ok := riseStep(tt.v, 20)
		if ok != tt.ok || ok && got != tt.want {
			t.Errorf("%s: riseStep = %d, %v, want %d, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

// TestDecideFastNewHighSteps: 16 shards open, all 10 calls left (the
// ladder's 25 %), 10 minutes at 7.5 MiB/s (12 shards at 70 %). When the
// load rises to 18 MiB/s within a minute (27 shards), the call is sized
// for the need and that rise again (27 + 15 = 42; PlanReshard doubles
// first, 16→32): 27 + 15 shards at 70 % are 29.4 at 100 %, more than the
// ladder's 27 carry. Without the rule: 16→28. When the load climbs to 18
// MiB/s over 10 minutes, the ladder decides as before (16→20 on a need of
// 17 at the first new high).
func TestDecideFastNewHighSteps(t *testing.T) {
	for _, tt := range []struct {
		name    string
		minutes int // minutes the climb from 7.5 to 18 MiB/s takes
		want    int32
		rise    bool
	}{
		{"rises 2.4× within a minute: sized for the rise", 1, 42, true},
		{"climbs over 10 minutes: the ladder", 10, 20, false},
	} {
		st := State{}
		for k := 10; k >= 1; k-- {
			st.Shards = append(st.Shards, Rec{At: now0.Add(-time.Duration(k) * time.Minute).Unix(), N: 12})
		}
		var first Decision
		for m := 0; m <= tt.minutes; m++ {
			now := now0.Add(time.Duration(m) * time.Minute)
			in := baseInputs(now, 16, 7.5+10.5*float64(m)/float64(tt.minutes))
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
// (12 → 27 shards within 10 minutes) climbs back to that peak, 16→28, as
// before: the rise step is for new highs only. Applied here it would size
// the step for 27 + 15 (27 + 15 at 70 % is 29.4 at 100 %, more than 28).
func TestDecideClimbBackIgnoresRise(t *testing.T) {
	st := State{ShardPeaks: []Rec{{At: now0.Add(-3 * time.Hour).Truncate(time.Hour).Unix(), N: 28}}}
	for k := 10; k >= 1; k-- {
		st.Shards = append(st.Shards, Rec{At: now0.Add(-time.Duration(k) * time.Minute).Unix(), N: 12})
	}
	in := baseInputs(now0, 16, 18)
	d, _ := Decide(in, st, now0)
	if d.Shards != 28 || strings.Contains(d.ShardReason, "sized for the rise") {
		t.Errorf("climbing back: %d (%s), want 28, the day's peak", d.Shards, d.ShardReason)
	}
}
