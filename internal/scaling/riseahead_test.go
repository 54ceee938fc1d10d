package scaling

import (
	"math"
	"testing"
	"time"
)

// TestPaceNeed (loads in shards at 100 %): the newest minute's need at 100 % carried riseLead ahead at
// the pace of the last three minutes, only when each rose over the one
// before, a minute apart.
func TestPaceNeed(t *testing.T) {
	mins := func(mibps ...float64) []minuteLoad {
		var ls []minuteLoad
		for i, v := range mibps {
			at := now0.Add(time.Duration(i-len(mibps)) * time.Minute)
			ls = append(ls, minuteLoad{at: at, bytes: v * ShardWriteBytesPerSec, recs: v * ShardWriteRecordsPerSec / 2, complete: true})
		}
		return ls
	}
	gap := mins(0.1, 0.3, 0.5)
	gap[0].at = gap[0].at.Add(-time.Minute)
	tests := []struct {
		name  string
		fresh []minuteLoad
		want  float64 // at 100 %
	}{
		{"three rising minutes: 0.5 + 4 × 0.2", mins(0.01, 0.1, 0.3, 0.5), 1.3},
		{"a jump out of quiet: 0.41 + 4 × 0.2", mins(0.01, 0.01, 0.05, 0.41), 1.21},
		{"a step down then up: no rise", mins(0.3, 0.1, 0.5), 0},
		{"flat: no rise", mins(0.5, 0.5, 0.5), 0},
		{"falling", mins(0.5, 0.3, 0.1), 0},
		{"a missing minute: no rise", gap, 0},
		{"two minutes: too few", mins(0.1, 0.5), 0},
	}
	for _, tt := range tests {
		at100, atU := paceNeed(tt.fresh, 0.5)
		if math.Abs(at100-tt.want) > 1e-9 || math.Abs(atU-2*tt.want) > 1e-9 {
			t.Errorf("%s: %.3f, %.3f; want %.3f, %.3f", tt.name, at100, atU, tt.want, 2*tt.want)
		}
	}
}

// TestRiseAhead: the call before the need passes the open count, and its
// gates.
func TestRiseAhead(t *testing.T) {
	at := func(min int64, n int32) Rec { return Rec{At: now0.Unix() + 60*min, N: n} }
	quiet := []Rec{at(-12, 1), at(-9, 1), at(-6, 1), at(-3, 1), at(0, 1)}
	view := func(open int32, budget int, pace100 float64) shardView {
		return shardView{lo: 1, hi: 100, open: open, u: 0.7, uEff: 0.7, budget: budget, upNeed: 0.7, want: 1,
			kept: quiet, recs: quiet, peak: 1, window: 15 * time.Minute, pace100: pace100, paceU: pace100 / 0.7}
	}
	tests := []struct {
		name  string
		v     shardView
		calls []time.Time
		want  int32 // 0: not called
	}{
		{"1 open, the pace passes 1 at 100 %: 1→2", view(1, 10, 1.3), nil, 2},
		{"the pace stays within the open count", view(1, 10, 0.95), nil, 0},
		{"4 open, pace 4.2: 6 at 70 %, within 2× open", view(4, 10, 4.2), nil, 6},
		{"4 open, pace 7: 10 at 70 %, one call goes to 8", view(4, 10, 7), nil, 8},
		{"8 open, pace 8.1: 12 at 70 %", view(8, 10, 8.1), nil, 12},
		{"the newest need is above the open count: the up step's", func() shardView { v := view(1, 10, 1.3); v.want = 2; return v }(), nil, 0},
		{"the read side needs more this pass", func() shardView { v := view(1, 10, 1.3); v.readNeed = 2; return v }(), nil, 0},
		{"less than a window of data since start", func() shardView { v := view(1, 10, 1.3); v.kept, v.recs = quiet[3:], quiet[3:]; return v }(), nil, 0},
		{"7 calls left: not plentiful", view(1, 7, 1.3), nil, 0},
		{"8 left, a reserve of 7: the step would freeze the stream", func() shardView { v := view(1, 8, 1.3); v.reserve = 7; return v }(), nil, 0},
		{"8 left, the day's peak 1000: the calls left could not climb to it", func() shardView { v := view(1, 8, 1.3); v.peak = 1000; return v }(), nil, 0},
		{"10 open at u 90 %, pace 10.1: 12, within the ladder's 25 %", func() shardView { v := view(10, 10, 10.1); v.u, v.paceU = 0.9, 10.1/0.9; return v }(), nil, 0},
		{"the target clamped by maxShards to the open count", func() shardView { v := view(1, 10, 1.3); v.hi = 1; return v }(), nil, 0},
		{"out of a quiet day at the lower bound, pace 0.44: 1→2", func() shardView { v := view(1, 10, 0.44); v.outOfQuiet = true; return v }(), nil, 2},
		{"out of a quiet day above the lower bound: the pace decides", func() shardView { v := view(2, 10, 0.9); v.outOfQuiet = true; return v }(), nil, 0},
		{"out of a quiet day, 7 calls left", func() shardView { v := view(1, 7, 0.44); v.outOfQuiet = true; return v }(), nil, 0},
	}
	for _, tt := range tests {
		got, ok := riseAhead(Inputs{ReshardHistory: tt.calls}, tt.v, now0)
		checkUpTarget(t, tt.name, got, ok, tt.want)
	}
}

// TestDecideRisesAhead: one shard open through a quiet window, the load
// then rising 0.1 → 0.3 → 0.5 MiB/s (0.71 shards at 70 %, within one):
// the pass calls 1→2 now, where the up step would wait for the need to
// pass one shard. The same minutes out of order, or with 2 calls left,
// hold at 1.
func TestDecideRisesAhead(t *testing.T) {
	tests := []struct {
		name    string
		last    []float64 // the newest three minutes, MiB/s
		history []time.Time
		want    int32
		rule    ShardRule
	}{
		{"rising: 1→2", []float64{0.1, 0.3, 0.5}, nil, 2, ShardUp},
		{"not rising each minute: held", []float64{0.3, 0.1, 0.5}, nil, 1, ShardHoldWindow},
		{"2 calls left: held", []float64{0.1, 0.3, 0.5}, spentEvery(8, 150*time.Minute), 1, ShardHoldWindow},
	}
	for _, tt := range tests {
		var st State
		st.Shards = windowRecs(func(int64) int32 { return 1 })
		st.ShardPeaks = []Rec{{At: now0.Truncate(time.Hour).Unix(), N: 1}}
		in := baseInputs(now0, 1, 0.01)
		setNewestMiBps(&in.Metrics, tt.last...)
		in.ReshardHistory = tt.history
		d, _ := Decide(in, st, now0)
		if d.Shards != tt.want || d.ShardRule != tt.rule {
			t.Errorf("%s: %d %v (%s), want %d %v", tt.name, d.Shards, d.ShardRule, d.ShardReason, tt.want, tt.rule)
		}
	}
}

// TestRisesOutOfQuiet: a rise to three times the day's highest hour, at a
// fifth of the open count or more, with the day known (loads in shards at
// 100 %; the day's hours in hundredths of a shard).
func TestRisesOutOfQuiet(t *testing.T) {
	mins := func(v ...float64) []minuteLoad {
		var ls []minuteLoad
		for i, x := range v {
			ls = append(ls, minuteLoad{at: now0.Add(time.Duration(i-len(v)) * time.Minute), bytes: x * ShardWriteBytesPerSec, recs: x * ShardWriteRecordsPerSec / 2, complete: true})
		}
		return ls
	}
	day := func(hours int, n int32) []Rec {
		var w []Rec
		for h := range hours {
			w = append(w, Rec{At: now0.Truncate(time.Hour).Add(-time.Duration(h+1) * time.Hour).Unix(), N: n})
		}
		return w
	}
	precursor := mins(0.01, 0.06, 0.11, 0.17, 0.22) // ec2 at 5 MiB/s, 04-15 16:40–16:44
	tests := []struct {
		name  string
		fresh []minuteLoad
		open  int32
		week  []Rec
		want  bool
	}{
		{"ec2's precursor over a day of bumps at 0.07", precursor, 1, day(24, 7), true},
		{"a bump to 0.53 over a day of bumps at 0.56 (ec2 at 40 MiB/s)", mins(0.04, 0.14, 0.24, 0.33, 0.43, 0.53), 1, day(24, 56), false},
		{"3 times the day's highest hour is more than 0.22", precursor, 1, day(24, 8), false},
		{"under a fifth of the open count", precursor, 2, day(24, 7), false},
		{"the rise broken by a step down", mins(0.01, 0.06, 0.17, 0.11, 0.22), 1, day(24, 7), false},
		{"11 of the day's hours known", precursor, 1, day(11, 7), false},
		{"12 known", precursor, 1, day(12, 7), true},
		{"now's hour does not count", precursor, 1, append(day(24, 7), Rec{At: now0.Truncate(time.Hour).Unix(), N: 22}), true},
		{"a high hour a day and more ago does not count", precursor, 1, append(day(24, 7), Rec{At: now0.Truncate(time.Hour).Add(-25 * time.Hour).Unix(), N: 100}), true},
	}
	for _, tt := range tests {
		pace100, _ := paceNeed(tt.fresh, 1)
		if got := risesOutOfQuiet(tt.fresh, pace100, tt.open, tt.week, now0); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestDecideRisesOutOfQuiet: one shard after a day at 0.07 MiB/s; a rise
// 0.11 → 0.17 → 0.22 MiB/s calls 1→2 (its pace alone reaches 0.44 of a
// shard at 100 %); after a day with an hour at 0.1 MiB/s it does not.
func TestDecideRisesOutOfQuiet(t *testing.T) {
	tests := []struct {
		name string
		high float64 // the day's highest hour, MiB/s
		want int32
		rule ShardRule
	}{
		{"a quiet day: 1→2", 0.07, 2, ShardUp},
		{"an hour at 0.1 MiB/s: held", 0.1, 1, ShardHoldWindow},
	}
	for _, tt := range tests {
		var st State
		st.Shards = windowRecs(func(int64) int32 { return 1 })
		st.ShardPeaks = []Rec{{At: now0.Truncate(time.Hour).Unix(), N: 1}}
		for h := range dayHours {
			// 1000-byte records: the bytes decide, MiB/s ÷ 1 MB/s a shard.
			n := ceil32(tt.high * MiB / ShardWriteBytesPerSec * DemandPerShard)
			st.WeekPeaks = append(st.WeekPeaks, Rec{At: now0.Truncate(time.Hour).Add(-time.Duration(dayHours-h) * time.Hour).Unix(), N: n})
		}
		in := baseInputs(now0, 1, 0.01)
		setNewestMiBps(&in.Metrics, 0.11, 0.17, 0.22)
		d, _ := Decide(in, st, now0)
		if d.Shards != tt.want || d.ShardRule != tt.rule {
			t.Errorf("%s: %d %v (%s), want %d %v", tt.name, d.Shards, d.ShardRule, d.ShardReason, tt.want, tt.rule)
		}
	}
}
