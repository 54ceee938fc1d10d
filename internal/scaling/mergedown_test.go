package scaling

import (
	"strings"
	"testing"
	"time"
)

// TestHalvingUnderWay: a halving runs from its start count down to
// ceil(from/2) (excluded), and a call since its start ends it.
func TestHalvingUnderWay(t *testing.T) {
	start := now0.Add(-time.Hour)
	h := halving{from: 64, since: start.Unix()}
	tests := []struct {
		name    string
		open    int32
		history []time.Time
		want    bool
	}{
		{"at its start", 64, nil, true},
		{"half way", 48, nil, true},
		{"done at 32", 32, nil, false},
		{"above its start", 65, nil, false},
		{"a call before it", 48, []time.Time{start.Add(-time.Minute)}, true},
		{"a call since it", 48, []time.Time{start.Add(time.Minute)}, false},
	}
	for _, tt := range tests {
		if got := h.underWay(tt.open, tt.history); got != tt.want {
			t.Errorf("%s: underWay(%d) = %v, want %v", tt.name, tt.open, got, tt.want)
		}
	}
	if (halving{}).underWay(1, nil) {
		t.Error("the zero halving is under way")
	}
}

// weekWith is hours hourly demand peaks before now's hour at base (in
// 1/DemandPerShard shards at 100 %), with the hours ago in at set to
// their value.
func weekWith(now time.Time, hours int, base int32, at map[int]int32) []Rec {
	var week []Rec
	for ago := hours; ago >= 1; ago-- {
		n := base
		if v, ok := at[ago]; ok {
			n = v
		}
		week = append(week, Rec{At: now.Truncate(time.Hour).Add(-time.Duration(ago) * time.Hour).Unix(), N: n})
	}
	return week
}

// TestOneOffTop: a top is a one-off when a day of hours is known, nothing
// came back to half of it for oneOffQuietHours, and the halving's carry
// covers whatever else the week's demand came back to (its decay is part
// of the top) — or, where every excursion came more than a day after the
// previous one, the top's decay ended oneOffQuietHours ago and the halving
// takes at most 32 merges, whatever was outside the excursions.
func TestOneOffTop(t *testing.T) {
	const top = 4480 // 44.8 shards at 100 %: 64 at 70 %
	tests := []struct {
		name  string
		week  []Rec
		carry int32
		want  bool
	}{
		{"one excursion 13 h ago", weekWith(now0, 48, 100, map[int]int32{13: top}), 32, true},
		{"an excursion of three hours", weekWith(now0, 48, 100, map[int]int32{13: top, 14: top / 2, 15: 3000}), 32, true},
		{"back near it 3 h ago", weekWith(now0, 48, 100, map[int]int32{13: top, 3: 3000}), 32, false},
		{"a day earlier too", weekWith(now0, 48, 100, map[int]int32{13: top, 37: 4000}), 32, false},
		// 1,500 is 21 shards at 70 %: a halving to 32 carries it, one to
		// 16 does not.
		{"a smaller one recurred, within the carry", weekWith(now0, 48, 100, map[int]int32{13: top, 37: 1500}), 32, true},
		{"a smaller one recurred, above the carry", weekWith(now0, 48, 100, map[int]int32{13: top, 37: 1500}), 16, false},
		// A decay hour at 1,300 (29 % of the top; 18.6 shards at 70 %)
		// belongs to the top's excursion, not to what recurred.
		{"a decay hour after it", weekWith(now0, 48, 100, map[int]int32{14: top, 13: 1300}), 16, true},
		{"a rise after the decay", weekWith(now0, 48, 100, map[int]int32{14: top, 13: 1300, 12: 1400}), 16, false},
		// The flash crowd's shape: equal excursions, each more than a
		// day after the previous one's decay ended (27 h).
		{"crowds more than a day apart", weekWith(now0, 48, 100, map[int]int32{14: top, 13: 1300, 44: top, 43: 1300}), 16, true},
		// Each crowd's excursion is 4 h (a base hour, the top, its decay,
		// a base hour): the spaced path waits 4 h after it, not 12.
		{"crowds more than a day apart, decayed 5 h ago", weekWith(now0, 48, 100, map[int]int32{7: top, 6: 1300, 37: top, 36: 1300}), 16, true},
		{"crowds more than a day apart, decayed 2 h ago", weekWith(now0, 48, 100, map[int]int32{4: top, 3: 1300, 34: top, 33: 1300}), 16, false},
		// A crowd whose excursion is 9 h (a base hour, the top, five hours
		// above half of it, its decay, a base hour) is waited out for 9 h.
		{"a long crowd, decayed 6 h ago", weekWith(now0, 72, 100, map[int]int32{13: top, 12: 3000, 11: 3000, 10: 3000, 9: 3000, 8: 3000, 7: 1300, 50: top, 49: 1300}), 16, false},
		{"a long crowd, decayed 9 h ago", weekWith(now0, 72, 100, map[int]int32{16: top, 15: 3000, 14: 3000, 13: 3000, 12: 3000, 11: 3000, 10: 1300, 50: top, 49: 1300}), 16, true},
		{"crowds more than a day apart, a halving over 32 merges", weekWith(now0, 48, 100, map[int]int32{14: top, 13: 1300, 44: top, 43: 1300}), 33, false},
		{"one of three crowds within a day of the next", weekWith(now0, 72, 100, map[int]int32{14: top, 13: 1300, 44: top, 43: 1300, 60: top}), 16, false},
		{"less than a day known", weekWith(now0, 20, 100, map[int]int32{13: top}), 32, false},
		{"nothing known", nil, 32, false},
	}
	for _, tt := range tests {
		if got := oneOffTop(tt.week, now0, tt.carry, 0.7); got != tt.want {
			top, _ := dayTopOf(tt.week, now0)
			t.Errorf("%s: oneOffTop = %v, want %v (recurred need %.1f)", tt.name, got, tt.want, recurredNeed(tt.week, top, 0.7))
		}
	}
}

// TestDecideMergeDown: a one-off top held for want of calls is shed by
// merges toward half the open count, no call spent; a top the load came
// back to is held; a halving under way goes on while the need stays
// within its carry, and a need above the carry is answered by a call that
// re-evens the shards.
func TestDecideMergeDown(t *testing.T) {
	st, now := afterSpike()
	const top = 4480
	oneOff := weekWith(now, 48, 100, map[int]int32{13: top})
	underWay := halving{from: 64, since: now.Add(-time.Hour).Unix()}
	tests := []struct {
		name    string
		open    int32
		mibps   float64
		week    []Rec
		halving halving
		calls   int
		want    int32
		rule    ShardRule
		reason  string
	}{
		{"one-off held top: merge", 64, 1, oneOff, halving{}, 8, 32, ShardMergeDown, "merging down 64→32 by MergeShards"},
		{"came back 3 h ago: hold", 64, 1, weekWith(now, 48, 100, map[int]int32{13: top, 3: 3000}), halving{}, 8, 64, ShardHoldClimbBack, "climbing back"},
		{"a day earlier too: hold", 64, 1, weekWith(now, 48, 100, map[int]int32{13: top, 37: 4000}), halving{}, 8, 64, ShardHoldClimbBack, "climbing back"},
		{"crowds more than a day apart: merge", 64, 1, weekWith(now, 48, 100, map[int]int32{14: top, 13: 1300, 44: top, 43: 1300}), halving{}, 8, 32, ShardMergeDown, "merging down 64→32 by MergeShards"},
		{"crowds more than a day apart, decayed 5 h ago: merge", 64, 1, weekWith(now, 48, 100, map[int]int32{7: top, 6: 1300, 37: top, 36: 1300}), halving{}, 8, 32, ShardMergeDown, "merging down 64→32 by MergeShards"},
		{"crowds more than a day apart, 66 shards: hold", 66, 1, weekWith(now, 48, 100, map[int]int32{14: top, 13: 1300, 44: top, 43: 1300}), halving{}, 8, 66, ShardHoldClimbBack, "climbing back"},
		{"calls to spare: a call down", 64, 1, oneOff, halving{}, 0, 2, ShardDown, "scaling down 64→"},
		{"under way: merges go on", 50, 1, nil, underWay, 8, 32, ShardMergeDown, "within the 32 a halving from 64 carries"},
		// 30 MiB/s needs 45 shards at 70 %, above the 32 the halving
		// carries but within the 50 open: a call to 45 re-evens them.
		{"need above the carry: re-even", 50, 30, nil, underWay, 8, 45, ShardUp, "re-evens the shards"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev := st
			prev.ShardPeaks = []Rec{{At: now.Add(-13 * time.Hour).Truncate(time.Hour).Unix(), N: 64}}
			prev.WeekPeaks = tt.week
			prev.MergeFrom, prev.MergeSince = tt.halving.from, tt.halving.since
			in := baseInputs(now, tt.open, tt.mibps)
			in.ReshardHistory = calls(tt.calls, now.Add(-2*time.Hour))
			d, next := Decide(in, prev, now)
			if d.Shards != tt.want || d.ShardRule != tt.rule || !strings.Contains(d.ShardReason, tt.reason) {
				t.Fatalf("shards %d rule %v (%s), want %d by %v saying %q", d.Shards, d.ShardRule, d.ShardReason, tt.want, tt.rule, tt.reason)
			}
			if d.ByMerge != (tt.rule == ShardMergeDown) {
				t.Fatalf("ByMerge %v", d.ByMerge)
			}
			if d.ByMerge && next.MergeFrom == 0 {
				t.Fatalf("a merge left no halving in State")
			}
		})
	}
}
