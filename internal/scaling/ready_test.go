package scaling

import (
	"strings"
	"testing"
	"time"
)

// TestReadyLevel: an hour whose peak is at least 4x the previous hour's
// keeps a quarter of that peak, rounded up, for 48 hours from its start;
// a slower rise, a missing previous hour or an older rise keeps nothing,
// and of several rises the highest level wins.
func TestReadyLevel(t *testing.T) {
	hour := now0.Truncate(time.Hour)
	at := func(hoursAgo int, n int32) Rec {
		return Rec{At: hour.Add(-time.Duration(hoursAgo) * time.Hour).Unix(), N: n}
	}
	tests := []struct {
		name  string
		peaks []Rec
		want  int32
	}{
		{"no peaks", nil, 0},
		{"flat", []Rec{at(3, 5), at(2, 5), at(1, 5), at(0, 5)}, 0},
		{"1 → 12 an hour ago: 3", []Rec{at(2, 1), at(1, 12), at(0, 1)}, 3},
		{"5 → 70 30 hours ago: 18", []Rec{at(31, 5), at(30, 70), at(29, 20), at(0, 5)}, 18},
		{"exactly 4x: 4 → 16 keeps 4", []Rec{at(5, 4), at(4, 16)}, 4},
		{"just under 4x: 4 → 15 keeps nothing", []Rec{at(5, 4), at(4, 15)}, 0},
		{"a rise over two hours, 3x each (slower than the climb's pace): nothing", []Rec{at(3, 2), at(2, 6), at(1, 18)}, 0},
		{"the previous hour missing: nothing", []Rec{at(3, 1), at(1, 12)}, 0},
		{"48 hours ago, the hour the memory starts in: 3", []Rec{at(49, 1), at(48, 12)}, 3},
		{"49 hours ago: forgotten", []Rec{at(50, 1), at(49, 12)}, 0},
		{"two rises, the higher level wins", []Rec{at(40, 1), at(39, 40), at(10, 2), at(9, 12)}, 10},
		{"this hour so far: 1 → 9 keeps 3", []Rec{at(1, 1), at(0, 9)}, 3},
	}
	for _, tt := range tests {
		got, _ := readyLevel(tt.peaks, now0)
		if got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}

// TestKeepPeaksRetention: State.ShardPeaks keeps 50 hours (readyLevel's 48
// and the hour before), while the view's peaks (the day's peak, yesterday's
// hours) stay the last 25 — the rules that read them see what they saw.
func TestKeepPeaksRetention(t *testing.T) {
	hour := now0.Truncate(time.Hour)
	var prev []Rec
	for h := 60; h >= 1; h-- {
		prev = append(prev, Rec{At: hour.Add(-time.Duration(h) * time.Hour).Unix(), N: int32(h)})
	}
	kept := keepPeaks(prev, now0, 7)
	if got := len(kept); got != 50 {
		t.Errorf("kept %d hours, want 50 (49 before this one)", got)
	}
	if oldest := kept[0].At; oldest != hour.Add(-49*time.Hour).Unix() {
		t.Errorf("oldest kept %v, want 49 h before this hour", time.Unix(oldest, 0).UTC())
	}
	day := sinceHour(kept, now0, dayPeaks)
	if got := len(day); got != 25 {
		t.Errorf("view keeps %d hours, want 25 (24 before this one)", got)
	}
	if got := day[len(day)-1]; got.At != hour.Unix() || got.N != 7 {
		t.Errorf("this hour %+v, want 7 at %v", got, hour)
	}
}

// TestDecideHoldsReady: 12 shards open, the window's need back to 1 after
// a crowd that rose 1 → 12 within an hour, calls plenty, the day's peak 1.
// With the rise over 48 h ago the stream goes down to the need, 1; with it
// 30 h ago, not below 3, and at 3 open it holds.
func TestDecideHoldsReady(t *testing.T) {
	hour := now0.Truncate(time.Hour)
	peaks := func(hoursAgo int) []Rec {
		return []Rec{{At: hour.Add(-time.Duration(hoursAgo+1) * time.Hour).Unix(), N: 1}, {At: hour.Add(-time.Duration(hoursAgo) * time.Hour).Unix(), N: 12}, {At: hour.Unix(), N: 1}}
	}
	tests := []struct {
		name  string
		open  int32
		peaks []Rec
		want  int32
		rule  ShardRule
	}{
		{"a rise 30 h ago, 12 open: down to 3", 12, peaks(30), 3, ShardDown},
		{"a rise 30 h ago, 4 open: down to 3 (a quarter shed)", 4, peaks(30), 3, ShardDown},
		{"a rise 60 h ago, 4 open: down to 1", 4, peaks(60), 1, ShardDown},
		{"a rise 60 h ago, 3 open: down to 1", 3, peaks(60), 1, ShardDown},
		{"a rise 30 h ago, 3 open: held", 3, peaks(30), 3, ShardHoldReady},
	}
	for _, tt := range tests {
		var st State
		for k := int64(20); k >= 1; k-- {
			st.Shards = append(st.Shards, Rec{At: now0.Unix() - 60*k, N: 1})
		}
		st.ShardPeaks = tt.peaks
		in := baseInputs(now0, tt.open, 0.05)
		d, _ := Decide(in, st, now0)
		if d.Shards != tt.want || d.ShardRule != tt.rule {
			t.Errorf("%s: %d %v (%s), want %d %v", tt.name, d.Shards, d.ShardRule, d.ShardReason, tt.want, tt.rule)
		}
		if tt.rule == ShardHoldReady && !strings.Contains(d.ShardReason, "sudden rise to 12 shards") {
			t.Errorf("%s: reason %q", tt.name, d.ShardReason)
		}
	}
}

// TestReadyStep: from a count at or below the level a sudden rise keeps, a
// scale-up at least doubles whatever the ladder's step;
// above that level, or with no rise, the target is left alone.
func TestReadyStep(t *testing.T) {
	hour := now0.Truncate(time.Hour)
	rise := []Rec{{At: hour.Add(-31 * time.Hour).Unix(), N: 40}, {At: hour.Add(-30 * time.Hour).Unix(), N: 680}, {At: hour.Unix(), N: 170}}
	tests := []struct {
		name    string
		history []Rec
		open, t int32
		want    int32
	}{
		{"at the level (170 of 680): 170 → 255 becomes 340", rise, 170, 255, 340},
		{"below it: 100 → 150 becomes 200", rise, 100, 150, 200},
		{"a larger target stays", rise, 170, 500, 500},
		{"above the level: 171 → 214 stays", rise, 171, 214, 214},
		{"no rise: stays", []Rec{{At: hour.Unix(), N: 170}}, 170, 255, 255},
	}
	for _, tt := range tests {
		v := shardView{open: tt.open, history: tt.history}
		if got := readyStep(tt.t, v, now0); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}
