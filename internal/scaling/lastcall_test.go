package scaling

import (
	"strings"
	"testing"
	"time"
)

// TestLastCallHold: the last call of the 24 h window is kept while the
// need at 100 %, plus the window's fastest rise over lastCallReaction,
// stays within the open count and nothing is throttled; any call but the
// last is not held.
func TestLastCallHold(t *testing.T) {
	at := func(min int64, n int32) Rec { return Rec{At: now0.Unix() + 60*min, N: n} }
	flat := []Rec{at(-10, 20), at(-5, 21), at(0, 21)}
	rising := []Rec{at(-10, 20), at(-6, 20), at(0, 26)} // +6 shards at 70 % within 6 minutes
	slow := []Rec{at(-14, 14), at(-7, 17), at(0, 21)}   // +7 over 14 minutes, +4 at most within 7
	view := func(budget int, upNeed, uEff float64, recs []Rec) shardView {
		return shardView{open: 20, u: 0.7, uEff: uEff, throttled: uEff != 0.7, budget: budget, upNeed: upNeed, recs: recs}
	}
	tests := []struct {
		name string
		v    shardView
		hold bool
	}{
		{"last call, 21 shards at 70 % is 14.7 at 100 %: held", view(1, 21, 0.7, flat), true},
		{"two calls left: not held", view(2, 21, 0.7, flat), false},
		{"no call left: not held (nothing to keep)", view(0, 21, 0.7, flat), false},
		{"last call, 29 at 70 % is 20.3 at 100 %: spent", view(1, 29, 0.7, flat), false},
		{"last call, throttled (uEff lowered): spent", view(1, 21, 0.6, flat), false},
		{"last call, u 6 %, throttled (uEff raised to 10 %): spent", shardView{open: 20, u: 0.06, uEff: 0.1, throttled: true, budget: 1, upNeed: 21, recs: flat}, false},
		{"last call, u 10 %, throttled (uEff stays 10 %): spent", shardView{open: 20, u: 0.1, uEff: 0.1, throttled: true, budget: 1, upNeed: 21, recs: flat}, false},
		{"last call, the window rose 6 within 7 minutes: 14.7 + 4.2 ≤ 20, held", view(1, 21, 0.7, rising), true},
		{"last call, 26 at 70 % and a rise of 6: 18.2 + 4.2 > 20, spent", view(1, 26, 0.7, rising), false},
		{"last call, slow rise of 4 within 7 minutes: 19.6 + 2.8 > 20, spent", view(1, 28, 0.7, slow), false},
		{"last call, slow rise, 21 at 70 %: 14.7 + 2.8, held", view(1, 21, 0.7, slow), true},
	}
	for _, tt := range tests {
		got, ok := lastCallHold(tt.v)
		if ok != tt.hold {
			t.Errorf("%s: held %v (%+v), want %v", tt.name, ok, got, tt.hold)
			continue
		}
		if ok && (got.n != 20 || got.rule != ShardHoldLastCall) {
			t.Errorf("%s: %d %v, want the open count 20 and lastCall", tt.name, got.n, got.rule)
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
// records (22 shards at 70 %, 15.4 at 100 % by the records limit). With 9 of the day's 10 calls spent, the scale-up is
// held (the last call would leave 40 shards for the rest of the day); with
// 8 spent it is made, and with the last call left but writes throttled, it
// is made too.
func TestDecideKeepsLastCall(t *testing.T) {
	tests := []struct {
		name      string
		spent     int
		throttled float64
		want      int32
		rule      ShardRule
	}{
		{"9 calls spent: held", 9, 0, 20, ShardHoldLastCall},
		{"8 calls spent: up", 8, 0, 40, ShardUp},
		{"9 calls spent, throttled: up", 9, 100, 40, ShardUp},
	}
	for _, tt := range tests {
		var st State
		for k := int64(14); k >= 1; k-- {
			st.Shards = append(st.Shards, Rec{At: now0.Unix() - 60*k, N: 21})
		}
		st.ShardPeaks = []Rec{{At: now0.Add(-time.Hour).Truncate(time.Hour).Unix(), N: 40}}
		in := baseInputs(now0, 20, 14.7)
		in.Metrics = load(now0, 14.7, tt.throttled)
		in.ReshardHistory = calls(tt.spent, now0.Add(-time.Hour))
		d, _ := Decide(in, st, now0)
		if d.Shards != tt.want || d.ShardRule != tt.rule {
			t.Errorf("%s: %d %v (%s), want %d %v", tt.name, d.Shards, d.ShardRule, d.ShardReason, tt.want, tt.rule)
		}
		if tt.rule == ShardHoldLastCall && !strings.Contains(d.ShardReason, "last of 10 reshard calls") {
			t.Errorf("%s: reason %q does not say why", tt.name, d.ShardReason)
		}
	}
}
