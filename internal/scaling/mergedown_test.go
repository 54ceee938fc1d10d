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
		// Each crowd's excursion is 2 h (the top and its decay): the
		// spaced path waits 2 h after the decay hour ends, not 12.
		{"crowds more than a day apart, decay ended 5 h ago", weekWith(now0, 48, 100, map[int]int32{7: top, 6: 1300, 37: top, 36: 1300}), 16, true},
		{"crowds more than a day apart, decay ended 2 h ago", weekWith(now0, 48, 100, map[int]int32{4: top, 3: 1300, 34: top, 33: 1300}), 16, true},
		{"crowds more than a day apart, decay ended 1 h ago", withNow(now0, 100, weekWith(now0, 48, 100, map[int]int32{3: top, 2: 1300, 33: top, 32: 1300})), 16, false},
		// The newest hour has no next yet: the crowd's decay may go on.
		{"crowds more than a day apart, the decay hour the newest", weekWith(now0, 48, 100, map[int]int32{2: top, 1: 1300, 32: top, 31: 1300}), 16, false},
		// A one-hour crowd two hours ago, the base hour after it the
		// newest: that hour may be its decay, so it has not been waited
		// out yet.
		{"one-hour crowds more than a day apart, the hour after it the newest", weekWith(now0, 48, 100, map[int]int32{2: top, 32: top}), 16, false},
		{"one-hour crowds more than a day apart, ended 2 h ago", weekWith(now0, 48, 100, map[int]int32{3: top, 33: top}), 16, true},
		{"one-hour crowds more than a day apart, ended 1 h ago", withNow(now0, 100, weekWith(now0, 48, 100, map[int]int32{2: top, 32: top})), 16, true},
		// A one-hour crowd that ended as now's hour began has not been
		// waited out, whatever now's hour holds so far.
		{"one-hour crowds more than a day apart, ended at now's hour", withNow(now0, 100, weekWith(now0, 48, 100, map[int]int32{1: top, 31: top})), 16, false},
		// On a noisy base that falls by noise for three hours after the
		// decay, the excursion still ends with the decay hour and lasts
		// 2 h, so it has been waited out.
		{"crowds more than a day apart on a noisy base, decay ended 5 h ago", noisyWeek(now0, 48, 100, map[int]int32{7: top, 6: 1300, 5: 103, 4: 101, 3: 98, 37: top, 36: 1300}), 16, true},
		// A crowd whose excursion is 7 h (the top, five hours above half
		// of it, its decay) is waited out for 7 h.
		{"a long crowd, decay ended 6 h ago", weekWith(now0, 72, 100, map[int]int32{13: top, 12: 3000, 11: 3000, 10: 3000, 9: 3000, 8: 3000, 7: 1300, 50: top, 49: 1300}), 16, false},
		{"a long crowd, decay ended 7 h ago", weekWith(now0, 72, 100, map[int]int32{14: top, 13: 3000, 12: 3000, 11: 3000, 10: 3000, 9: 3000, 8: 1300, 50: top, 49: 1300}), 16, true},
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

// withNow is week with a record for now's hour at n, as State.WeekPeaks
// holds it during the hour.
func withNow(now time.Time, n int32, week []Rec) []Rec {
	return append(week, Rec{At: now.Truncate(time.Hour).Unix(), N: n})
}

// noisyWeek is weekWith on a base that moves by a few units every hour (a
// fixed zigzag of amplitude 3 around base), with the hours ago in at set
// to their value: a base whose hour-to-hour changes are noise.
func noisyWeek(now time.Time, hours int, base int32, at map[int]int32) []Rec {
	zigzag := []int32{0, 2, -1, 3, -2, 1, -3}
	week := weekWith(now, hours, base, nil)
	for k := range week {
		ago := hours - k
		week[k].N = base + zigzag[ago%len(zigzag)]
		if v, ok := at[ago]; ok {
			week[k].N = v
		}
	}
	return week
}

// TestExcursion: an excursion is its run at or above half the top, the
// rise into it and its decay, the hours that stand above what the load
// comes back to; it takes no base hour, and on a noisy base it does not go
// on over the base's own hour-to-hour falls, so a one-hour spike lasts one
// hour, whatever the noise does next to it.
func TestExcursion(t *testing.T) {
	const top = 4480
	tests := []struct {
		name  string
		week  []Rec
		hours int64 // the excursion through the top, in whole hours
	}{
		{"a one-hour spike on a flat base", weekWith(now0, 48, 100, map[int]int32{13: top}), 1},
		{"a spike, a decay hour and a flat base", weekWith(now0, 48, 100, map[int]int32{14: top, 13: 1300}), 2},
		{"a rise hour, the spike and a decay hour", weekWith(now0, 48, 100, map[int]int32{15: 900, 14: top, 13: 1300}), 3},
		{"a run above half of it", weekWith(now0, 48, 100, map[int]int32{14: top, 13: 3000, 12: 2500}), 3},
		// The newest hour has no next hour yet: while it is below the
		// one before by more than noise it may be decay still; once an
		// hour follows it, a base hour is not the excursion's.
		{"the newest hour below the decay hour", weekWith(now0, 48, 100, map[int]int32{3: top, 2: 1300}), 3},
		{"a base hour after the decay hour, and one after it", weekWith(now0, 48, 100, map[int]int32{4: top, 3: 1300}), 2},
		// The base falls by noise for three hours after the spike and for
		// two before it: none of that is the spike's.
		{"a one-hour spike on a falling noisy base", noisyWeek(now0, 48, 100, map[int]int32{16: 104, 15: 106, 14: top, 13: 103, 12: 101, 11: 98, 10: 97, 9: 102}), 1},
		{"a spike and its decay on a falling noisy base", noisyWeek(now0, 48, 100, map[int]int32{16: 104, 15: 106, 14: top, 13: 1300, 12: 103, 11: 101, 10: 98, 9: 102}), 2},
		// A decay over hours, each above the next by more than noise, is
		// all the excursion's.
		{"a slow decay on a noisy base", noisyWeek(now0, 48, 100, map[int]int32{14: top, 13: 1800, 12: 900, 11: 450, 10: 230, 9: 102, 8: 99, 7: 97, 6: 103}), 5},
	}
	for _, tt := range tests {
		got, ok := dayTopOf(tt.week, now0)
		if !ok {
			t.Fatalf("%s: no top", tt.name)
		}
		if h := got.hours(tt.week); h != tt.hours {
			t.Errorf("%s: excursion %d h (%d..%d), want %d h", tt.name, h, got.lo, got.hi, tt.hours)
		}
	}
}

// TestBaseNoise: the fall noise reaches is noiseSpread times the median
// hour-to-hour change, which a few large changes (a spike) do not move and
// a gap between hours does not count in.
func TestBaseNoise(t *testing.T) {
	gap := weekWith(now0, 4, 100, map[int]int32{2: 150})
	gap = append(gap[:1], gap[2:]...) // 4 h ago, then 2 h and 1 h ago
	tests := []struct {
		name string
		week []Rec
		want int32
	}{
		{"a flat base", weekWith(now0, 48, 100, nil), 0},
		{"a noisy base (zigzag, median change 3)", noisyWeek(now0, 48, 100, nil), 9},
		{"a noisy base with a spike", noisyWeek(now0, 48, 100, map[int]int32{13: 4480}), 9},
		{"changes across a gap do not count", gap, 150},
		{"one hour", weekWith(now0, 1, 100, nil), 0},
	}
	for _, tt := range tests {
		if got := baseNoise(tt.week); got != tt.want {
			t.Errorf("%s: baseNoise = %d, want %d", tt.name, got, tt.want)
		}
	}
}
