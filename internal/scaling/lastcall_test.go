package scaling

import (
	"strings"
	"testing"
	"time"
)

// spentEvery is n reshard calls gap apart, the newest gap before now0:
// with one more at now0 they are spent evenly (not ahead of pace) for a
// gap of 2.4 h or more.
func spentEvery(n int, gap time.Duration) []time.Time {
	var h []time.Time
	for i := n; i >= 1; i-- {
		h = append(h, now0.Add(-time.Duration(i)*gap))
	}
	return h
}

// TestLastCallHold: the last call of the 24 h window is kept while the
// need at 100 %, plus the window's fastest rise over lastCallReaction,
// stays within the open count and nothing is throttled; a call that is not
// the last is held only when its step would freeze the stream (stepFreezes).
func TestLastCallHold(t *testing.T) {
	at := func(min int64, n int32) Rec { return Rec{At: now0.Unix() + 60*min, N: n} }
	flat := []Rec{at(-10, 20), at(-5, 21), at(0, 21)}
	rising := []Rec{at(-10, 20), at(-6, 20), at(0, 26)} // +6 shards at 70 % within 6 minutes
	slow := []Rec{at(-14, 14), at(-7, 17), at(0, 21)}   // +7 over 14 minutes, +4 at most within 7
	view := func(budget int, upNeed, uEff float64, recs []Rec) shardView {
		return shardView{open: 20, u: 0.7, uEff: uEff, throttled: uEff != 0.7, budget: budget, upNeed: upNeed, recs: recs, window: 15 * time.Minute}
	}
	// 8 calls spent every 2.5 h, the oldest 20 h ago; every 179 minutes,
	// the oldest 23 h 52 min ago, which leaves the window within the
	// stabilization window.
	even8, leaving8 := spentEvery(8, 150*time.Minute), spentEvery(8, 179*time.Minute)
	tests := []struct {
		name  string
		v     shardView
		calls []time.Time
		hold  bool
	}{
		{"last call, 21 shards at 70 % is 14.7 at 100 %: held", view(1, 21, 0.7, flat), spentEvery(9, 150*time.Minute), true},
		{"two calls left, the oldest leaves the window before the step could be undone: not held", view(2, 21, 0.7, flat), leaving8, false},
		{"two calls left: the step could only be undone by the last, held", view(2, 21, 0.7, flat), even8, true},
		{"three calls left, spent evenly: not held", view(3, 21, 0.7, flat), spentEvery(7, 150*time.Minute), false},
		{"no call left: not held (nothing to keep)", view(0, 21, 0.7, flat), spentEvery(10, 140*time.Minute), false},
		{"last call, 29 at 70 % is 20.3 at 100 %: spent", view(1, 29, 0.7, flat), nil, false},
		{"two calls left, 29 at 70 %: spent", view(2, 29, 0.7, flat), even8, false},
		{"last call, throttled (uEff lowered): spent", view(1, 21, 0.6, flat), nil, false},
		{"two calls left, throttled: spent", view(2, 21, 0.6, flat), even8, false},
		{"last call, u 6 %, throttled (uEff raised to 10 %): spent", shardView{open: 20, u: 0.06, uEff: 0.1, throttled: true, budget: 1, upNeed: 21, recs: flat}, nil, false},
		{"last call, u 10 %, throttled (uEff stays 10 %): spent", shardView{open: 20, u: 0.1, uEff: 0.1, throttled: true, budget: 1, upNeed: 21, recs: flat}, nil, false},
		{"last call, the window rose 6 within 7 minutes: 14.7 + 4.2 ≤ 20, held", view(1, 21, 0.7, rising), nil, true},
		{"last call, 26 at 70 % and a rise of 6: 18.2 + 4.2 > 20, spent", view(1, 26, 0.7, rising), nil, false},
		{"last call, slow rise of 4 within 7 minutes: 19.6 + 2.8 > 20, spent", view(1, 28, 0.7, slow), nil, false},
		{"last call, slow rise, 21 at 70 %: 14.7 + 2.8, held", view(1, 21, 0.7, slow), nil, true},
	}
	for _, tt := range tests {
		got, ok := lastCallHold(tt.v, tt.calls, now0)
		if ok != tt.hold {
			t.Errorf("%s: held %v (%+v), want %v", tt.name, ok, got, tt.hold)
			continue
		}
		if ok && (got.n != 20 || got.rule != ShardHoldLastCall) {
			t.Errorf("%s: %d %v, want the open count 20 and lastCall", tt.name, got.n, got.rule)
		}
	}
}

// TestStepFreezes: k, the calls left below which a scale-up's step would
// be held until calls free up, is 1 for the last call, else 2 plus the
// reserve a scale-down keeps (one more while calls went out faster than
// evenly, counting this one) less the calls that leave the window before
// the step could be undone (a stabilization window from now).
func TestStepFreezes(t *testing.T) {
	v := func(budget, reserve int) shardView {
		return shardView{open: 20, budget: budget, reserve: reserve, window: 15 * time.Minute}
	}
	bunched := func(n int) []time.Time { return spentEvery(n, 30*time.Minute) } // n calls in n/2 hours: ahead of pace
	tests := []struct {
		name  string
		v     shardView
		calls []time.Time
		want  bool
	}{
		{"last call", v(1, 0), spentEvery(9, 150*time.Minute), true},
		{"last call, calls about to free up", v(1, 0), spentEvery(9, 159*time.Minute), true},
		{"two left, spent evenly: undoing takes the last", v(2, 0), spentEvery(8, 150*time.Minute), true},
		{"two left, the oldest leaves within the window: one left after undoing", v(2, 0), spentEvery(8, 179*time.Minute), false},
		{"three left, spent evenly: one left after undoing", v(3, 0), spentEvery(7, 150*time.Minute), false},
		{"three left, ahead of pace: the reserve takes the one", v(3, 0), bunched(7), true},
		{"three left, this call puts them ahead of pace", v(3, 0), spentEvery(7, 140*time.Minute), true},
		{"three left, a reserve of 1 configured", v(3, 1), spentEvery(7, 150*time.Minute), true},
		{"four left, ahead of pace: one left after undoing and the reserve", v(4, 0), bunched(6), false},
		{"ten left", v(10, 0), nil, false},
	}
	for _, tt := range tests {
		if got := stepFreezes(tt.v, tt.calls, now0); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestLargestRise: the largest rise between records at most span apart.
func TestLargestRise(t *testing.T) {
	r := func(min int64, n int32) Rec { return Rec{At: now0.Unix() + 60*min, N: n} }
	tests := []struct {
		recs []Rec
		want int32
	}{
		{nil, 0},
		{[]Rec{r(0, 5)}, 0},
		{[]Rec{r(0, 9), r(1, 5)}, 0},                      // falling
		{[]Rec{r(0, 5), r(7, 9)}, 4},                      // exactly 7 minutes apart
		{[]Rec{r(0, 5), r(8, 30)}, 0},                     // too far apart
		{[]Rec{r(0, 5), r(3, 12), r(9, 13), r(10, 4)}, 7}, // 5→12 within 3; 12→13 within 6
	}
	for i, tt := range tests {
		if got := largestRise(tt.recs, lastCallReaction); got != tt.want {
			t.Errorf("case %d: %d, want %d", i, got, tt.want)
		}
	}
}

// TestDecideKeepsLastCall: 20 shards open, a flat 14.7 MiB/s of 1000-byte
// records (22 shards at 70 %, 15.4 at 100 % by the records limit). With 9
// of the day's 10 calls spent, the scale-up is held (the last call would
// leave 40 shards for the rest of the day); with 8 spent too (undoing the
// step would take the last call), and with 7 spent one an hour (ahead of
// pace: the scale-down would keep one more). With 7 spent evenly, or 6 one
// an hour, it is made, and with a call to keep but writes throttled, it is
// made too.
func TestDecideKeepsLastCall(t *testing.T) {
	tests := []struct {
		name      string
		history   []time.Time
		throttled float64
		want      int32
		rule      ShardRule
	}{
		{"9 calls spent: held", calls(9, now0.Add(-time.Hour)), 0, 20, ShardHoldLastCall},
		{"8 calls spent: held", calls(8, now0.Add(-time.Hour)), 0, 20, ShardHoldLastCall},
		{"7 calls spent one an hour: held", calls(7, now0.Add(-time.Hour)), 0, 20, ShardHoldLastCall},
		{"7 calls spent every 2.5 h: up", spentEvery(7, 150*time.Minute), 0, 40, ShardUp},
		{"6 calls spent one an hour: up", calls(6, now0.Add(-time.Hour)), 0, 40, ShardUp},
		{"9 calls spent, throttled: up", calls(9, now0.Add(-time.Hour)), 100, 40, ShardUp},
		{"8 calls spent, throttled: up", calls(8, now0.Add(-time.Hour)), 100, 40, ShardUp},
	}
	for _, tt := range tests {
		var st State
		st.Shards = windowRecs(func(int64) int32 { return 21 })
		st.ShardPeaks = []Rec{{At: now0.Add(-time.Hour).Truncate(time.Hour).Unix(), N: 40}}
		in := baseInputs(now0, 20, 14.7)
		in.Metrics = load(now0, 14.7, tt.throttled)
		in.ReshardHistory = tt.history
		d, _ := Decide(in, st, now0)
		if d.Shards != tt.want || d.ShardRule != tt.rule {
			t.Errorf("%s: %d %v (%s), want %d %v", tt.name, d.Shards, d.ShardRule, d.ShardReason, tt.want, tt.rule)
		}
		if tt.rule == ShardHoldLastCall && !strings.Contains(d.ShardReason, "reshard calls") {
			t.Errorf("%s: reason %q does not say why", tt.name, d.ShardReason)
		}
	}
}
