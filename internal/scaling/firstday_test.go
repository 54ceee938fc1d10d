package scaling

import (
	"strings"
	"testing"
	"time"
)

// dayOfPeaks is a state's hourly peaks reaching back a whole day before
// now's hour (a low first hour, 1 shard), then peaks: the day's peak is
// known.
func dayOfPeaks(now time.Time, peaks ...Rec) []Rec {
	return append([]Rec{{At: now.Truncate(time.Hour).Add(-ReshardWindow).Unix(), N: 1}}, peaks...)
}

func TestDaySeen(t *testing.T) {
	hour := now0.Truncate(time.Hour)
	for _, tt := range []struct {
		name  string
		first time.Duration // the oldest peak's hour, before now's hour
		want  bool
	}{
		{"no peaks", -1, false},
		{"started this hour", 0, false},
		{"23 h", 23 * time.Hour, false},
		{"24 h", 24 * time.Hour, true},
		{"25 h", 25 * time.Hour, true},
	} {
		var peaks []Rec
		if tt.first >= 0 {
			peaks = []Rec{{At: hour.Add(-tt.first).Unix(), N: 3}, {At: hour.Unix(), N: 2}}
		}
		if got := daySeen(peaks, now0.Add(30*time.Minute)); got != tt.want {
			t.Errorf("%s: daySeen = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestDecideFirstDay: with less than a day of hourly peaks the day's peak
// is only the highest need since start. A scale-down while calls went out
// faster than evenly is held (before, the budget plan let it go as low as
// the calls left could climb back from to that partial day's peak); at an
// even pace, or once a day has been seen, the same scale-down is made. A
// scale-up is not stopped at the partial day's peak.
func TestDecideFirstDay(t *testing.T) {
	now := now0.Add(20 * time.Minute)
	quiet := func(st State) State { // 20 minutes at 1 MiB/s on 64 open
		for m := range 20 {
			at := now0.Add(time.Duration(m) * time.Minute)
			_, st = Decide(baseInputs(at, 64, 1), st, at)
		}
		return st
	}
	spike := Rec{At: now0.Add(-5 * time.Hour).Truncate(time.Hour).Unix(), N: 64}
	// Six calls in the last 3 h: 4 left, ahead of an even pace.
	burst := []time.Time{now.Add(-3 * time.Hour), now.Add(-2 * time.Hour), now.Add(-90 * time.Minute), now.Add(-60 * time.Minute), now.Add(-30 * time.Minute), now.Add(-20 * time.Minute)}
	for _, tt := range []struct {
		name   string
		peaks  []Rec
		hist   []time.Time
		down   bool
		reason string
	}{
		{"first day, ahead of pace, 4 left", []Rec{spike}, burst, false, "less than a day of data"},
		{"first day, even pace", []Rec{spike}, spaced(4, now.Add(-3*time.Hour), 3*time.Hour), true, "scaling down 64→"},
		{"a day seen, ahead of pace, 4 left", dayOfPeaks(now0, spike), burst, true, "scaling down 64→"},
	} {
		in := baseInputs(now, 64, 1)
		in.ReshardHistory = tt.hist
		d, _ := Decide(in, quiet(State{ShardPeaks: tt.peaks}), now)
		if down := d.Shards < 64; down != tt.down || !strings.Contains(d.ShardReason, tt.reason) {
			t.Errorf("%s: shards %d (%s), want down=%v with %q", tt.name, d.Shards, d.ShardReason, tt.down, tt.reason)
		}
		if !tt.down && d.ShardRule != ShardHoldClimbBack {
			t.Errorf("%s: rule %v, want %v", tt.name, d.ShardRule, ShardHoldClimbBack)
		}
	}

	// Up from 20 with 3 calls left (a 100 % step) and a peak of 28 three
	// hours ago: a known day's peak stops the step there; the peak of a
	// partial day does not.
	for _, tt := range []struct {
		name     string
		peaks    []Rec
		min, max int32
	}{
		{"a day seen: stop at its peak", dayOfPeaks(now0, Rec{At: now0.Add(-3 * time.Hour).Truncate(time.Hour).Unix(), N: 28}), 28, 30},
		{"first day: past the peak since start", []Rec{{At: now0.Add(-3 * time.Hour).Truncate(time.Hour).Unix(), N: 28}}, 31, 40},
	} {
		in := baseInputs(now0, 20, 15) // needs 21.4 shards at 70 %
		in.ReshardHistory = calls(7, now0.Add(-2*time.Hour))
		d, _ := Decide(in, State{ShardPeaks: tt.peaks}, now0)
		if d.Shards < tt.min || d.Shards > tt.max {
			t.Errorf("%s: shards %d (%s), want %d..%d", tt.name, d.Shards, d.ShardReason, tt.min, tt.max)
		}
	}
}
