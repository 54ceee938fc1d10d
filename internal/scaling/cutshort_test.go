package scaling

import (
	"testing"
	"time"
)

// TestCutShortNeed: the record of the last call's minute, only while the
// stream is ACTIVE after that call kept it UPDATING for climbStep (4
// minutes) or longer.
func TestCutShortNeed(t *testing.T) {
	at := func(min int64, n int32) Rec { return Rec{At: now0.Unix() + 60*min, N: n} }
	ago := func(min int) time.Time { return now0.Add(-time.Duration(min) * time.Minute) }
	recs := []Rec{at(-11, 40), at(-5, 40), at(-4, 3), at(-1, 2), at(0, 2)}
	tests := []struct {
		name     string
		updating bool
		calls    []time.Time
		seen     time.Time // the newest pass that saw the stream UPDATING
		want     int32
	}{
		{"no call", false, nil, ago(1), 0},
		{"UPDATING 4 minutes after the call 5 ago: its minute's 40", false, []time.Time{ago(10), ago(5)}, ago(1), 40},
		{"the last call is the newest, whatever the order", false, []time.Time{ago(5), ago(10)}, ago(1), 40},
		{"ACTIVE again within climbStep (UPDATING seen 3 minutes after): none", false, []time.Time{ago(5)}, ago(2), 0},
		{"UPDATING now: none", true, []time.Time{ago(5)}, ago(0), 0},
		{"the call 4 ago, UPDATING seen at 0: its minute's 3", false, []time.Time{ago(4)}, ago(0), 3},
		{"the call's record gone from the window: none", false, []time.Time{ago(20)}, ago(0), 0},
	}
	for _, tt := range tests {
		in := Inputs{StreamUpdating: tt.updating, ReshardHistory: tt.calls}
		if got := cutShortNeed(in, recs, tt.seen.Unix()); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}

// TestDecideContinuesClimbCutShort: ec2 at 40 MiB/s with UPDATING a fifth
// longer (-updating-scale 1.2, 17:05 on 04-15): 16→32 was called 5 minutes
// ago on a need of 40 (the 2× law cut it), the stream was UPDATING until a
// minute ago and is ACTIVE now, the load has fallen between two waves and
// the minute that set the need is older than the up step's newest minutes;
// 5 calls are left, so finishClimb's 8-call gate is shut. The climb goes on
// to the need the call fell short of, as it does when the stream is ACTIVE
// again within climbStep and that minute is still among the newest.
func TestDecideContinuesClimbCutShort(t *testing.T) {
	tests := []struct {
		name     string
		updating bool
		seenAgo  int   // minutes since a pass last saw the stream UPDATING
		callRec  int32 // the record of the last call's minute
		want     int32
		rule     ShardRule
	}{
		{"UPDATING 4 minutes, ACTIVE now, the call fell short of 40: up to it, a climb back to the day's peak (not the new high's 48)", false, 1, 40, 40, ShardUp},
		{"still UPDATING: held", true, 0, 40, 32, ShardHoldLastReshard},
		{"ACTIVE within climbStep (UPDATING 3 minutes): held, as before", false, 2, 40, 32, ShardHoldLastReshard},
		{"the call met its need (32): held", false, 1, 32, 32, ShardHoldLastReshard},
	}
	for _, tt := range tests {
		var st State
		st.Shards = windowRecs(func(k int64) int32 {
			switch {
			case k == 5:
				return tt.callRec
			case k >= 6 && k <= 11:
				return min(40, tt.callRec)
			}
			return 1
		})
		st.ShardPeaks = dayOfPeaks(24)
		st.ShardPeaks[len(st.ShardPeaks)-1].N = tt.callRec
		st.UpdatingSeen = now0.Add(-time.Duration(tt.seenAgo) * time.Minute).Unix()
		in := baseInputs(now0, 32, 0.3)
		in.StreamUpdating = tt.updating
		for _, m := range []int{25, 20, 15, 10, 5} {
			in.ReshardHistory = append(in.ReshardHistory, now0.Add(-time.Duration(m)*time.Minute))
		}
		d, next := Decide(in, st, now0)
		if d.Shards != tt.want || d.ShardRule != tt.rule {
			t.Errorf("%s: %d %v (%s), want %d %v", tt.name, d.Shards, d.ShardRule, d.ShardReason, tt.want, tt.rule)
		}
		if wantSeen := map[bool]int64{true: now0.Unix(), false: st.UpdatingSeen}[tt.updating]; next.UpdatingSeen != wantSeen {
			t.Errorf("%s: next UpdatingSeen %d, want %d", tt.name, next.UpdatingSeen, wantSeen)
		}
	}
}
