package sim

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// judgeFixture is a small judgement by hand: one smooth and one spiky
// trace at one peak and seed, every part met.
func judgeFixture() Judgement {
	smooth := newJudgeCase(40, 1, "nyc_taxi", []Result{
		{Policy: "operator", LostPercent: 0.03, ShardHours: 120, FloorShardHours: 100, FloorShardHours100: 80, StreamCostUSD: 10},
		{Policy: "operator-auto", StreamCostUSD: 10},
		{Policy: "seed", LostPercent: 50},
		{Policy: "oracle-reactive", LostPercent: 0.2},
		{Policy: "on-demand", StreamCostUSD: 30},
	})
	spiky := newJudgeCase(40, 1, "ec2_network_in_257a54", []Result{
		{Policy: "operator", LostPercent: 1, ShardHours: 150, FloorShardHours: 100, FloorShardHours100: 80, StreamCostUSD: 10},
		{Policy: "operator-auto", StreamCostUSD: 10},
		{Policy: "seed", LostPercent: 20},
		{Policy: "oracle-reactive", LostPercent: 4},
		{Policy: "on-demand", StreamCostUSD: 30},
	})
	jm := Judgement{Peaks: []float64{40}, Seeds: []uint64{1}, Cases: []JudgeCase{smooth, spiky}}
	jm.Summaries = summarize(jm)
	return jm
}

// TestJudgeCaseParts: a case's parts are IssueGoalParts' verdicts, in its
// order, with the shard-hour ratio against the floor its goal reads.
func TestJudgeCaseParts(t *testing.T) {
	jm := judgeFixture()
	smooth, spiky := jm.Cases[0], jm.Cases[1]
	var names []string
	for _, p := range spiky.Parts {
		names = append(names, p.Name)
		if !p.Applies || !p.Met {
			t.Errorf("spiky part %+v: want applying and met", p)
		}
	}
	if want := []string{GoalLoss, GoalShardHours, GoalSeed, GoalCost}; !slices.Equal(names, want) {
		t.Errorf("parts %v, want %v", names, want)
	}
	if smooth.ShardHoursRatio != 1.2 || spiky.ShardHoursRatio != 150.0/80 {
		t.Errorf("shard-hour ratios %v (smooth, want 1.2) %v (spiky, want 1.875)", smooth.ShardHoursRatio, spiky.ShardHoursRatio)
	}
	if p := spiky.Parts[0]; p.Figure != 1 || p.Bound != 2 {
		t.Errorf("spiky loss figure %v ≤ bound %v, want 1 ≤ 2 (half oracle-reactive's 4)", p.Figure, p.Bound)
	}
	if jm.Summaries[0].Parts != 8 || jm.Summaries[0].MissedBySeed[0] != 0 {
		t.Errorf("summary %+v: want 0 of 8 parts missed", jm.Summaries[0])
	}
}

// TestCompareReportsNewlyMissedPart: a part met before and missed after is
// listed and flags its case; one missed before and met after is listed as
// newly met and flags nothing.
func TestCompareReportsNewlyMissedPart(t *testing.T) {
	before, after := judgeFixture(), judgeFixture()
	after.Cases[1].Parts[1].Met = false // spiky shard-hours
	before.Cases[0].Parts[3].Met = false
	cmp := Compare(before, after)
	if len(cmp.NewlyMissed) != 1 || cmp.NewlyMissed[0].Trace != "ec2_network_in_257a54" || cmp.NewlyMissed[0].After.Name != GoalShardHours {
		t.Fatalf("newly missed %+v, want ec2's shard-hours", cmp.NewlyMissed)
	}
	if len(cmp.NewlyMet) != 1 || cmp.NewlyMet[0].Trace != "nyc_taxi" || cmp.NewlyMet[0].After.Name != GoalCost {
		t.Errorf("newly met %+v, want nyc_taxi's cost", cmp.NewlyMet)
	}
	if cmp.Flagged != 1 || !slices.Contains(cmp.Cases[1].Flags, FlagNewlyMissed) || len(cmp.Cases[0].Flags) != 0 {
		t.Errorf("flags %q / %q (%d flagged), want only ec2 with %q", cmp.Cases[0].Flags, cmp.Cases[1].Flags, cmp.Flagged, FlagNewlyMissed)
	}
	if m := cmp.Missed[0]; m.Before != 1 || m.After != 1 {
		t.Errorf("missed %+v, want 1 → 1", m)
	}
}

// TestCompareFlagsLoss: the acceptance rules on loss, smooth and spiky.
func TestCompareFlagsLoss(t *testing.T) {
	for _, tc := range []struct {
		name          string
		trace         int // 0 smooth, 1 spiky
		before, after float64
		want          []string
	}{
		{"smooth up 0.02 points", 0, 0.03, 0.05, []string{FlagSmoothLossUp}},
		{"smooth up 0.01 points", 0, 0.03, 0.04, nil},
		{"smooth above 0.1", 0, 0.105, 0.105, []string{FlagSmoothLossAbove}},
		{"smooth down", 0, 0.05, 0.0, nil},
		{"spiky up a little", 1, 2.0, 2.001, []string{FlagSpikyLossUp}},
		{"spiky down", 1, 2.0, 1.5, nil},
	} {
		before, after := judgeFixture(), judgeFixture()
		before.Cases[tc.trace].Operator.LostPercent = tc.before
		after.Cases[tc.trace].Operator.LostPercent = tc.after
		cc := Compare(before, after).Cases[tc.trace]
		if !slices.Equal(cc.Flags, tc.want) {
			t.Errorf("%s: flags %q, want %q", tc.name, cc.Flags, tc.want)
		}
		if cc.FiguresChanged != (tc.before != tc.after) {
			t.Errorf("%s: figures changed %v", tc.name, cc.FiguresChanged)
		}
	}
}

// TestCompareListsUnmatchedCases: a case in one judgement only is named,
// not compared and not dropped; parts missed are counted before → after
// only for a seed both judged.
func TestCompareListsUnmatchedCases(t *testing.T) {
	before, after := judgeFixture(), judgeFixture()
	after.Cases[1].Seed = 2
	after.Seeds = []uint64{1, 2}
	cmp := Compare(before, after)
	if len(cmp.Cases) != 1 || len(cmp.OnlyBefore) != 1 || len(cmp.OnlyAfter) != 1 || !strings.Contains(cmp.OnlyAfter[0], "seed 2") {
		t.Errorf("cases %d, only before %q, only after %q", len(cmp.Cases), cmp.OnlyBefore, cmp.OnlyAfter)
	}
	before.Cases[1].Parts[0].Met = false // in the baseline only: not counted
	cmp = Compare(before, after)
	if len(cmp.Missed) != 1 || cmp.Missed[0].Seed != 1 || cmp.Missed[0].Before != 0 {
		t.Errorf("missed counts %+v, want seed 1's only, 0 before (over the matched case)", cmp.Missed)
	}
}

// TestSummarizeCountsSeeds: per part the seeds that miss it, per seed the
// parts missed, and the operator's mean and worst figures.
func TestSummarizeCountsSeeds(t *testing.T) {
	jm := Judgement{Peaks: []float64{400}, Seeds: []uint64{1, 2, 3}}
	for i, s := range jm.Seeds {
		for _, c := range judgeFixture().Cases {
			c.PeakMiBps, c.Seed = 400, s
			if c.Trace == "ec2_network_in_257a54" {
				c.Operator.LostPercent = float64(i + 1)
				c.ShardHoursRatio = float64(i + 1)
				c.Parts[0].Met = s == 1 // seeds 2 and 3 miss the loss part
			}
			jm.Cases = append(jm.Cases, c)
		}
	}
	ps := summarize(jm)[0]
	if !slices.Equal(ps.MissedBySeed, []int{0, 1, 1}) || ps.Parts != 8 {
		t.Errorf("missed by seed %v of %d, want [0 1 1] of 8", ps.MissedBySeed, ps.Parts)
	}
	ec2 := ps.Traces[1]
	if got := ec2.MissedBy[0]; got.Part != GoalLoss || !slices.Equal(got.Seeds, []uint64{2, 3}) {
		t.Errorf("loss missed by %+v, want seeds 2 and 3", got)
	}
	if len(ec2.MissedBy[1].Seeds) != 0 || len(ps.Traces[0].MissedBy[0].Seeds) != 0 {
		t.Errorf("parts no seed misses: %+v %+v", ec2.MissedBy[1], ps.Traces[0].MissedBy[0])
	}
	if ec2.LostMean != 2 || ec2.LostWorst != 3 || ec2.RatioMean != 2 || ec2.RatioWorst != 3 {
		t.Errorf("ec2 over seeds %+v, want lost mean 2 worst 3, ratio mean 2 worst 3", ec2)
	}
}

// TestJudgementRoundTrip: what -judge -json writes reads back equal, and
// compared with itself nothing changed and nothing is flagged.
func TestJudgementRoundTrip(t *testing.T) {
	jm := judgeFixture()
	jm.Config = DefaultConfig()
	jm.Config.PeakMiBps, jm.Config.Seed = 0, 0
	raw, err := json.Marshal(jm)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ReadJudgement(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, jm) {
		t.Fatalf("read back differs:\n%+v\nwant\n%+v", back, jm)
	}
	cmp := Compare(back, jm)
	if cmp.Flagged != 0 || len(cmp.NewlyMissed)+len(cmp.NewlyMet)+len(cmp.ConfigChanged) != 0 || len(cmp.Cases) != 2 {
		t.Errorf("self comparison %+v: want nothing changed", cmp)
	}
	for _, cc := range cmp.Cases {
		if cc.FiguresChanged {
			t.Errorf("%s: figures changed against itself", cc.Trace)
		}
	}
	if _, err := ReadJudgement(strings.NewReader(`[{"trace":"x"}]`)); err == nil {
		t.Error("a -bench -json file read as a judgement")
	}
}

// TestJudgeParallelIsSequential: the judgement on four workers is the one
// on one worker, byte for byte, though runs of different lengths finish out
// of order; each case is the trace's own RunGoalPolicies; and the traces
// are loaded once per seed, not once per peak and seed.
func TestJudgeParallelIsSequential(t *testing.T) {
	spike := func(name string, n, at int) Trace {
		tr := flat(n, 0.2)
		tr.Name = name
		for m := at; m < min(at+20, n); m++ {
			tr.Load[m] = 1
		}
		return tr
	}
	loads := map[uint64]int{}
	traces := func(seed uint64) ([]Trace, error) {
		loads[seed]++
		return []Trace{spike("short", 90, 30), spike("nyc_taxi", 600, 200+int(seed)), spike("mid", 240, 100)}, nil
	}
	run := func(workers int) []byte {
		jm, err := Judge(DefaultConfig(), []float64{5, 40}, []uint64{1, 2}, traces, workers)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := json.Marshal(jm)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	seq := run(1)
	if want := map[uint64]int{1: 1, 2: 1}; !maps.Equal(loads, want) {
		t.Errorf("traces loaded %v times per seed, want %v", loads, want)
	}
	par := run(4)
	if !bytes.Equal(seq, par) {
		t.Fatalf("4 workers differ from 1:\n%s\n%s", par, seq)
	}
	var jm Judgement
	if err := json.Unmarshal(seq, &jm); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, c := range jm.Cases {
		order = append(order, c.Trace)
	}
	if want := slices.Repeat([]string{"short", "nyc_taxi", "mid"}, 4); !slices.Equal(order, want) {
		t.Errorf("case order %v, want %v", order, want)
	}
	c := DefaultConfig()
	c.PeakMiBps, c.Seed = 40, 2
	ts, _ := traces(2)
	want := find(RunGoalPolicies(c, ts[1]), "operator")
	if got := jm.Cases[10]; got.PeakMiBps != 40 || got.Seed != 2 || got.Trace != "nyc_taxi" || got.Operator.LostPercent != want.LostPercent || got.Operator.ShardHours != want.ShardHours {
		t.Errorf("case 10 %+v, want nyc_taxi at 40 MiB/s seed 2 with %+v", got, want)
	}
}
