package scaling

import (
	"math"
	"testing"
	"time"
)

// TestProjectNewHigh: the window's trend counts for the first hour of the
// horizon only; beyond it, the hourly peaks' rise.
func TestProjectNewHigh(t *testing.T) {
	hour := now0.Truncate(time.Hour).Unix()
	// The window rose 20 → 23 over 15 minutes: 12 shards an hour.
	recs := []Rec{{At: now0.Unix() - 900, N: 20}, {At: now0.Unix() - 60, N: 23}}
	slope := 3.0 / 840 * 3600
	rising := []Rec{{At: hour - 7200, N: 18}, {At: hour - 3600, N: 20}, {At: hour, N: 23}}
	flat := []Rec{{At: hour - 3600, N: 23}, {At: hour, N: 23}}
	gap := []Rec{{At: hour - 7200, N: 10}, {At: hour, N: 23}}
	tests := []struct {
		name    string
		recs    []Rec
		peaks   []Rec
		horizon time.Duration
		want    float64
	}{
		{"within an hour: the window's trend", recs, rising, 30 * time.Minute, 23 + slope/2},
		{"an hour: the window's trend", recs, rising, time.Hour, 23 + slope},
		{"5 h, hourly peaks up 3: 4 h of that after the first", recs, rising, 5 * time.Hour, 23 + slope + 3*4},
		{"5 h, hourly peaks flat: the first hour only", recs, flat, 5 * time.Hour, 23 + slope},
		{"5 h, previous hour missing: the first hour only", recs, gap, 5 * time.Hour, 23 + slope},
		{"falling window, hourly rise", []Rec{{At: now0.Unix() - 900, N: 24}, {At: now0.Unix() - 60, N: 23}}, rising, 3 * time.Hour, 23 + 3*2},
		{"one record", recs[1:], rising, 2 * time.Hour, 23 + 3},
	}
	for _, tt := range tests {
		if got := projectNewHigh(23, tt.recs, tt.peaks, tt.horizon, now0); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s: %.3f, want %.3f", tt.name, got, tt.want)
		}
	}
}

// TestDecideNewHighOnNoise: 3 calls left, the oldest leaving the 24 h
// window in 4 hours, the need one shard above the day's peak after rising
// one shard in the window and one over the previous hour. The step goes as
// far as an hour of the window's trend and 3 more hours of the hourly rise
// (21 + 4 + 3 → 28, 30 as a quarter of 20), not 2× (the window's trend
// projected 4 hours: 37, 40 as a quarter).
func TestDecideNewHighOnNoise(t *testing.T) {
	st := State{ShardPeaks: []Rec{
		{At: now0.Add(-2 * time.Hour).Unix(), N: 19},
		{At: now0.Add(-time.Hour).Unix(), N: 20},
	}}
	for k := 10; k >= 1; k-- {
		st.Shards = append(st.Shards, Rec{At: now0.Add(-time.Duration(k) * time.Minute).Unix(), N: 20})
	}
	hist := calls(7, now0.Add(-14*time.Hour))
	var first Decision
	for m := range 16 {
		now := now0.Add(time.Duration(m) * time.Minute)
		in := baseInputs(now, 20, 13+float64(m)/15) // 19.5 → 21 shards at 70 %
		in.ReshardHistory = hist
		var d Decision
		d, st = Decide(in, st, now)
		if d.Shards > 20 && first.Shards == 0 {
			first = d
		}
	}
	if first.Shards != 30 {
		t.Errorf("first scale-up to %d (%s), want 30", first.Shards, first.ShardReason)
	}
}
