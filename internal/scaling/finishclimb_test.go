package scaling

import (
	"strings"
	"testing"
	"time"
)

// TestFinishClimb: a climb the law cut short (the window recorded a need
// above the open count, the newest need is below it) continues to the
// window's need when the calls are plentiful (8 or more left, no freeze,
// the climb to the day's peak kept after this call and its undoing) and
// the step is at least the ladder's; otherwise the way down's rules decide.
func TestFinishClimb(t *testing.T) {
	at := func(min int64, n int32) Rec { return Rec{At: now0.Unix() + 60*min, N: n} }
	spike := []Rec{at(-12, 1), at(-9, 5), at(-6, 5), at(-3, 2), at(0, 1)} // a spike needing 5, over
	view := func(open int32, budget int, recs []Rec) shardView {
		return shardView{lo: 1, hi: 100, open: open, u: 0.7, uEff: 0.7, budget: budget, upNeed: 0.4, want: 1,
			recs: recs, peak: maxRec(recs), window: 15 * time.Minute}
	}
	two := []time.Time{now0.Add(-12 * time.Minute), now0.Add(-8 * time.Minute)} // the climb's calls, ahead of pace
	// ec2_network_in_257a54 at 40 MiB/s, 04-15 16:48: a precursor out of a
	// quiet day recorded needs 1, 2, 4 within four minutes; 4 open, the
	// load back to 3.8 shards at 70 %.
	risen := func(hours int) shardView {
		v := view(4, 8, []Rec{at(-9, 1), at(-8, 1), at(-7, 2), at(-6, 2), at(-5, 4), at(-4, 4), at(-3, 4), at(-2, 4), at(-1, 4), at(0, 4)})
		v.upNeed, v.want, v.peaks = 3.8, 4, dayOfPeaks(hours)
		return v
	}
	tests := []struct {
		name  string
		v     shardView
		calls []time.Time
		want  int32 // 0: not finished
	}{
		{"4 open, the window needed 5, 8 calls left: 4→5", view(4, 8, spike), two, 5},
		{"2 open, 8 left: 2→5 (PlanReshard steps 2× a call)", view(2, 8, spike), two, 5},
		{"5 open: the window's need is held already", view(5, 8, spike), two, 0},
		{"5 of 6 needed, 8 left: within the ladder's 25 %", view(5, 8, append(spike[:len(spike):len(spike)], at(0, 6))), two, 0},
		{"3 open, 7 left: calls are not plentiful", view(3, 7, spike), nil, 0},
		{"2 open, the window's 3 a need of 2.01 rounded up, the load still at 1.99: not a passed spike", func() shardView {
			v := view(2, 8, []Rec{at(-9, 2), at(-6, 3), at(-3, 3), at(0, 2)})
			v.upNeed, v.want = 1.99, 2
			return v
		}(), two, 0},
		{"the same with the load fallen to half the window's level: finished", func() shardView {
			v := view(2, 8, []Rec{at(-9, 2), at(-6, 3), at(-3, 3), at(0, 2)})
			v.upNeed, v.want = 1.5, 2
			return v
		}(), two, 3},
		{"the newest need is above the open count: the up step's", func() shardView { v := view(4, 8, spike); v.want = 6; return v }(), two, 0},
		{"8 left, a reserve of 7 configured: the step would freeze the stream", func() shardView { v := view(4, 8, spike); v.reserve = 7; return v }(), two, 0},
		{"8 left, the day's peak 1000: after this call and its undoing 5 cannot climb 4 → 1000", func() shardView { v := view(4, 8, spike); v.peak = 1000; return v }(), two, 0},
		{"the read side needs 5 this pass: the read side's, not this rule's", func() shardView { v := view(4, 8, spike); v.readNeed = 5; return v }(), two, 0},
		{"the window's need above maxShards: clamped, then within the ladder's step", func() shardView { v := view(4, 8, spike); v.hi = 4; return v }(), two, 0},
		{"ec2 at 40 MiB/s, the precursor's climb 1→2→4 landed, a day known: 4→7 on its rise, above 1.5×: the doubling, 4→8", risen(12), two, 8},
		{"the same with maxShards 7: 4→7", func() shardView { v := risen(12); v.hi = 7; return v }(), two, 7},
		{"the same with 11 of the day's hours known: the window's need, 4, is held already", risen(11), two, 0},
		{"the same with 7 calls left: calls are not plentiful", func() shardView { v := risen(12); v.budget = 7; return v }(), nil, 0},
		{"the same with the newest need above the open count: the up step's", func() shardView { v := risen(12); v.upNeed, v.want = 4.2, 5; return v }(), two, 0},
		{"a rise of one shard (1→2 over 2 open), a day known: not counted", func() shardView {
			v := view(2, 8, []Rec{at(-9, 1), at(-6, 2), at(-3, 2), at(0, 2)})
			v.upNeed, v.want, v.peaks = 1.8, 2, dayOfPeaks(12)
			return v
		}(), two, 0},
	}
	for _, tt := range tests {
		got, ok := finishClimb(Inputs{ReshardHistory: tt.calls}, tt.v, now0)
		checkUpTarget(t, tt.name, got, ok, tt.want)
	}
}

// TestDecideFinishesClimb: 4 shards open after a climb 1→2→4 whose calls
// landed after the surge passed (the window recorded a need of 5 shards at
// 70 % eight minutes ago; the load is back to 0.05 MiB/s). With 8 calls
// left the climb finishes, 4→5, inside the last reshard's window; with 2
// left (spent evenly) the last-reshard hold keeps 4, as before.
func TestDecideFinishesClimb(t *testing.T) {
	tests := []struct {
		name    string
		history []time.Time
		want    int32
		rule    ShardRule
	}{
		{"8 calls left: finished", []time.Time{now0.Add(-9 * time.Minute), now0.Add(-5 * time.Minute)}, 5, ShardUp},
		{"2 calls left: held", append(spentEvery(7, 150*time.Minute), now0.Add(-5*time.Minute)), 4, ShardHoldLastReshard},
	}
	for _, tt := range tests {
		var st State
		st.Shards = windowRecs(func(k int64) int32 {
			if k >= 8 && k <= 10 {
				return 5
			}
			return 1
		})
		st.ShardPeaks = []Rec{{At: now0.Truncate(time.Hour).Unix(), N: 5}}
		in := baseInputs(now0, 4, 0.05)
		in.ReshardHistory = tt.history
		d, _ := Decide(in, st, now0)
		if d.Shards != tt.want || d.ShardRule != tt.rule {
			t.Errorf("%s: %d %v (%s), want %d %v", tt.name, d.Shards, d.ShardRule, d.ShardReason, tt.want, tt.rule)
		}
	}
}

// checkUpTarget fails when an up rule's answer is not want (0: no call) or
// is not a scale-up with a "scaling up" reason (finishClimb, riseAhead).
func checkUpTarget(t *testing.T, name string, got shardTarget, ok bool, want int32) {
	t.Helper()
	if ok != (want > 0) || ok && (got.n != want || got.rule != ShardUp) {
		t.Errorf("%s: %v %+v, want %d", name, ok, got, want)
	}
	if ok && !strings.HasPrefix(got.reason, "scaling up") {
		t.Errorf("%s: reason %q", name, got.reason)
	}
}

// dayOfPeaks is n hourly peaks of one shard, the newest in now0's hour.
func dayOfPeaks(n int) []Rec {
	var peaks []Rec
	for h := n - 1; h >= 0; h-- {
		peaks = append(peaks, Rec{At: now0.Truncate(time.Hour).Add(-time.Duration(h) * time.Hour).Unix(), N: 1})
	}
	return peaks
}

// TestRisenLevel: the highest record plus the rise it made within
// lastCallReaction (7 minutes) before it, rises of two shards or more.
func TestRisenLevel(t *testing.T) {
	at := func(min int64, n int32) Rec { return Rec{At: now0.Unix() + 60*min, N: n} }
	tests := []struct {
		name string
		recs []Rec
		want int32
	}{
		{"none", nil, 0},
		{"flat", []Rec{at(-2, 4), at(-1, 4), at(0, 4)}, 0},
		{"1→2→4 within 4 minutes: 4 plus 3", []Rec{at(-4, 1), at(-3, 2), at(-2, 4), at(0, 4)}, 7},
		{"a rise of one shard is not counted", []Rec{at(-2, 1), at(-1, 2), at(0, 2)}, 0},
		{"a fall is no rise", []Rec{at(-2, 9), at(-1, 4), at(0, 1)}, 0},
		{"the low 8 minutes before is outside lastCallReaction", []Rec{at(-8, 1), at(0, 4)}, 0},
		{"the low 7 minutes before is inside it", []Rec{at(-7, 1), at(0, 4)}, 7},
		{"the highest of two rises", []Rec{at(-20, 1), at(-19, 10), at(-5, 2), at(-4, 6)}, 19},
	}
	for _, tt := range tests {
		if got := risenLevel(tt.recs); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}

// TestDecideFinishesClimbWithItsRise: ec2_network_in_257a54 at 40 MiB/s,
// 04-15 16:48 — a precursor out of a quiet day took the stream 1→2→4 (the
// window recorded 1, 2, then 4 within four minutes), 4 are open, the load
// is back to 1.3 MiB/s, 8 calls are left. With the day's hourly peaks known
// the climb finishes to the rise it made, 7, above 1.5× the open count, so
// to the call's doubling, 4→8; with only this hour known
// the last-reshard hold keeps 4.
func TestDecideFinishesClimbWithItsRise(t *testing.T) {
	tests := []struct {
		name  string
		hours int
		want  int32
		rule  ShardRule
	}{
		{"a day known: 4→7 on its rise, the doubling 4→8", 24, 8, ShardUp},
		{"one hour known: held", 1, 4, ShardHoldLastReshard},
	}
	for _, tt := range tests {
		var st State
		st.Shards = windowRecs(func(k int64) int32 {
			switch {
			case k <= 5:
				return 4
			case k <= 7:
				return 2
			}
			return 1
		})
		st.ShardPeaks = dayOfPeaks(tt.hours)
		st.ShardPeaks[len(st.ShardPeaks)-1].N = 4
		in := baseInputs(now0, 4, 1.3)
		in.ReshardHistory = []time.Time{now0.Add(-8 * time.Minute), now0.Add(-4 * time.Minute)}
		d, _ := Decide(in, st, now0)
		if d.Shards != tt.want || d.ShardRule != tt.rule {
			t.Errorf("%s: %d %v (%s), want %d %v", tt.name, d.Shards, d.ShardRule, d.ShardReason, tt.want, tt.rule)
		}
	}
}

// TestToDoubling: a finishing level above 1.5× the open count goes to the
// legal doubling (capped at maxShards); one at or below 1.5× stays.
func TestToDoubling(t *testing.T) {
	tests := []struct {
		name            string
		level, open, hi int32
		want            int32
	}{
		{"7 over 4 open (1.75×): 8", 7, 4, 100, 8},
		{"6 over 4 open (1.5×): stays 6", 6, 4, 100, 6},
		{"5 over 4 open: stays 5", 5, 4, 100, 5},
		{"3 over 2 open (1.5×): stays 3", 3, 2, 100, 3},
		{"49 over 28 open: 56", 49, 28, 100, 56},
		{"7 over 4 open, maxShards 7: 7", 7, 4, 7, 7},
		{"5 over 2 open (above 2×; PlanReshard steps it): stays 5", 5, 2, 100, 5},
	}
	for _, tt := range tests {
		if got := toDoubling(tt.level, tt.open, tt.hi); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}
