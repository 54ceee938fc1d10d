package sim

import (
	"fmt"
	"math"
	"slices"
)

// JudgeCase is one trace at one peak and seed: the operator's run and issue
// 13's goal parts for it (IssueGoalParts).
type JudgeCase struct {
	PeakMiBps float64 `json:"peakMiBps"`
	Seed      uint64  `json:"seed"`
	Trace     string  `json:"trace"`
	Smooth    bool    `json:"smooth"`
	Operator  Result  `json:"operator"`
	// ShardHoursRatio is the operator's shard-hours over the floor its
	// shard-hour goal reads (at the target utilization for smooth traces,
	// at 100 % for spiky ones); 0 when that floor is infinite.
	ShardHoursRatio float64    `json:"shardHoursRatio"`
	Parts           []GoalPart `json:"parts"`
}

// Missed is how many of the case's goal parts are missed.
func (c JudgeCase) Missed() int {
	n := 0
	for _, p := range c.Parts {
		if p.Missed() {
			n++
		}
	}
	return n
}

// key names the case for matching it against a baseline.
func (c JudgeCase) key() caseKey { return caseKey{c.PeakMiBps, c.Seed, c.Trace} }

type caseKey struct {
	peak  float64
	seed  uint64
	trace string
}

// Judgement is what -judge measured: every case, in the order peak, seed,
// trace (the peaks and seeds as asked, the traces as BenchTraces lists
// them), the per-peak summaries, and the comparison with a baseline when
// one was given.
type Judgement struct {
	Peaks []float64 `json:"peaks"`
	Seeds []uint64  `json:"seeds"`
	// Config is the rest of the model's configuration (its PeakMiBps and
	// Seed are zero: each case has its own).
	Config     Config        `json:"config"`
	Cases      []JudgeCase   `json:"cases"`
	Summaries  []PeakSummary `json:"summaries"`
	Comparison *Comparison   `json:"comparison,omitempty"`
}

// JudgeTraces lists the traces to judge for one seed (the synthetic traces'
// noise follows the seed).
type JudgeTraces func(seed uint64) ([]Trace, error)

// BenchJudgeTraces are the bench's traces (BenchTraces) for each seed.
func BenchJudgeTraces(cfg Config, dir, only string) JudgeTraces {
	return func(seed uint64) ([]Trace, error) {
		c := cfg
		c.Seed = seed
		return BenchTraces(c, dir, only)
	}
}

// Judge runs the policies issue 13's goals read (RunGoalPolicies) on every
// trace at every peak and seed, on workers goroutines (at least one), and
// judges each case. The runs share no mutable state, and each case is
// stored at its own index, so the Judgement does not depend on workers or
// on the order the runs finish in.
func Judge(cfg Config, peaks []float64, seeds []uint64, traces JudgeTraces, workers int) (Judgement, error) {
	if len(peaks) == 0 || len(seeds) == 0 {
		return Judgement{}, fmt.Errorf("judge: need at least one peak and one seed")
	}
	type job struct {
		i   int
		cfg Config
		t   Trace
	}
	// The traces depend on the seed only: load them once per seed.
	bySeed := make([][]Trace, len(seeds))
	for i, s := range seeds {
		ts, err := traces(s)
		if err != nil {
			return Judgement{}, fmt.Errorf("judge: traces for seed %d: %w", s, err)
		}
		bySeed[i] = ts
	}
	var jobs []job
	var cases []JudgeCase
	for _, p := range peaks {
		for i, s := range seeds {
			for _, t := range bySeed[i] {
				c := cfg
				c.PeakMiBps, c.Seed = p, s
				jobs = append(jobs, job{len(cases), c, t})
				cases = append(cases, JudgeCase{PeakMiBps: p, Seed: s, Trace: t.Name})
			}
		}
	}
	// The longest runs first, so that no worker is left with one at the end.
	order := slices.Clone(jobs)
	slices.SortStableFunc(order, func(a, b job) int {
		return -cmpFloat(float64(len(a.t.Load))*a.cfg.PeakMiBps, float64(len(b.t.Load))*b.cfg.PeakMiBps)
	})
	forEach(order, workers, func(j job) { cases[j.i] = judgeCase(j.cfg, j.t) })
	stored := cfg
	stored.PeakMiBps, stored.Seed = 0, 0
	jm := Judgement{Peaks: peaks, Seeds: seeds, Config: stored, Cases: cases}
	jm.Summaries = summarize(jm)
	return jm, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// judgeCase runs trace t under cfg and judges the operator on it.
func judgeCase(cfg Config, t Trace) JudgeCase {
	return newJudgeCase(cfg.PeakMiBps, cfg.Seed, t.Name, RunGoalPolicies(cfg, t))
}

// newJudgeCase judges the operator's results rs on trace name.
func newJudgeCase(peak float64, seed uint64, name string, rs []Result) JudgeCase {
	parts := IssueGoalParts(name, rs)
	op := find(rs, "operator")
	op.Timeline = nil
	c := JudgeCase{PeakMiBps: peak, Seed: seed, Trace: name, Smooth: smoothTraces[name], Operator: op, Parts: parts}
	floor := op.FloorShardHours100
	if c.Smooth {
		floor = op.FloorShardHours
	}
	if floor > 0 {
		c.ShardHoursRatio = op.ShardHours / floor
	}
	return c
}

// PeakSummary is one peak over every seed: how many goal parts each seed
// misses (of Parts per seed), and per trace which seeds miss each part and
// the operator's mean and worst figures.
type PeakSummary struct {
	PeakMiBps float64 `json:"peakMiBps"`
	// Parts is the number of goal parts per seed: four per trace.
	Parts        int            `json:"parts"`
	MissedBySeed []int          `json:"missedBySeed"` // in Judgement.Seeds' order
	Traces       []TraceSummary `json:"traces"`
}

// TraceSummary is one trace at one peak over every seed.
type TraceSummary struct {
	Trace  string `json:"trace"`
	Smooth bool   `json:"smooth"`
	// MissedBy lists, per goal part in IssueGoalParts' order, the seeds
	// whose run misses it.
	MissedBy []PartSeeds `json:"missedBy"`
	// The operator's lost % and shard-hour ratio (JudgeCase.ShardHoursRatio)
	// over the seeds: mean and worst (highest).
	LostMean   float64 `json:"lostPercentMean"`
	LostWorst  float64 `json:"lostPercentWorst"`
	RatioMean  float64 `json:"shardHoursRatioMean"`
	RatioWorst float64 `json:"shardHoursRatioWorst"`
}

// PartSeeds are the seeds whose run misses one goal part.
type PartSeeds struct {
	Part  string   `json:"part"`
	Seeds []uint64 `json:"seeds"`
}

// summarize builds one PeakSummary per peak of jm, from its cases.
func summarize(jm Judgement) []PeakSummary {
	var out []PeakSummary
	for _, p := range jm.Peaks {
		ps := PeakSummary{PeakMiBps: p, MissedBySeed: make([]int, len(jm.Seeds))}
		byTrace := map[string]int{} // index in ps.Traces
		var counts []int            // seeds per trace
		for _, c := range jm.Cases {
			if c.PeakMiBps != p {
				continue
			}
			si := slices.Index(jm.Seeds, c.Seed)
			if si == 0 {
				ps.Parts += len(c.Parts)
			}
			ps.MissedBySeed[si] += c.Missed()
			ti, ok := byTrace[c.Trace]
			if !ok {
				ti = len(ps.Traces)
				byTrace[c.Trace] = ti
				ts := TraceSummary{Trace: c.Trace, Smooth: c.Smooth}
				for _, part := range c.Parts {
					ts.MissedBy = append(ts.MissedBy, PartSeeds{Part: part.Name})
				}
				ps.Traces = append(ps.Traces, ts)
				counts = append(counts, 0)
			}
			addCase(&ps.Traces[ti], c)
			counts[ti]++
		}
		for i := range ps.Traces {
			ps.Traces[i].LostMean /= float64(counts[i])
			ps.Traces[i].RatioMean /= float64(counts[i])
		}
		out = append(out, ps)
	}
	return out
}

// addCase adds one seed's case to ts: its misses, and its figures to the
// sums (divided by the seed count afterwards) and maxima.
func addCase(ts *TraceSummary, c JudgeCase) {
	for i, part := range c.Parts {
		if part.Missed() && i < len(ts.MissedBy) {
			ts.MissedBy[i].Seeds = append(ts.MissedBy[i].Seeds, c.Seed)
		}
	}
	ts.LostMean += c.Operator.LostPercent
	ts.RatioMean += c.ShardHoursRatio
	ts.LostWorst = math.Max(ts.LostWorst, c.Operator.LostPercent)
	ts.RatioWorst = math.Max(ts.RatioWorst, c.ShardHoursRatio)
}
