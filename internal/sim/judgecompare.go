package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
)

// The acceptance rules for a policy change, judged case by case against a
// baseline (docs/scaling.md, "How a policy change is judged"). Loss is
// compared with a tolerance of lossEpsilon points: the figures are
// deterministic, the tolerance only absorbs float rounding.
const (
	FlagNewlyMissed     = "goal part newly missed"
	FlagSmoothLossAbove = "smooth loss above 0.1 %"
	FlagSmoothLossUp    = "smooth loss up by more than 0.01 points"
	FlagSpikyLossUp     = "spiky loss up"

	smoothLossLimit = 0.1
	smoothLossRise  = 0.01
	lossEpsilon     = 1e-9
)

// Comparison is a Judgement against a baseline Judgement: goal parts newly
// missed and newly met, every case present in both with the operator's
// figures before and after and the acceptance rules it breaks, and the
// cases present in only one of them.
type Comparison struct {
	Baseline string `json:"baseline,omitempty"` // where it was read from
	// Missed is the count of goal parts missed per peak and seed, before
	// and after, over the cases judged in both.
	Missed      []MissedCount `json:"missed"`
	NewlyMissed []PartChange  `json:"newlyMissed"`
	NewlyMet    []PartChange  `json:"newlyMet"`
	Cases       []CaseChange  `json:"cases"`
	// Flagged counts the cases that break at least one acceptance rule.
	Flagged int `json:"flagged"`
	// OnlyBefore and OnlyAfter name the cases ("40 MiB/s seed 1 nyc_taxi") found in
	// one Judgement only: not compared, listed so none is dropped unseen.
	OnlyBefore []string `json:"onlyBefore,omitempty"`
	OnlyAfter  []string `json:"onlyAfter,omitempty"`
	// ConfigChanged lists the model configuration's fields that differ
	// between the two (other than peaks and seeds).
	ConfigChanged []string `json:"configChanged,omitempty"`
}

// MissedCount is how many goal parts are missed at one peak and seed.
type MissedCount struct {
	PeakMiBps float64 `json:"peakMiBps"`
	Seed      uint64  `json:"seed"`
	Before    int     `json:"before"`
	After     int     `json:"after"`
}

// PartChange is one goal part whose verdict changed on one case.
type PartChange struct {
	PeakMiBps float64  `json:"peakMiBps"`
	Seed      uint64   `json:"seed"`
	Trace     string   `json:"trace"`
	Before    GoalPart `json:"before"`
	After     GoalPart `json:"after"`
}

// CaseChange is one case in both Judgements: the operator's lost % and
// shard-hours before and after, and the acceptance rules it breaks.
type CaseChange struct {
	PeakMiBps        float64  `json:"peakMiBps"`
	Seed             uint64   `json:"seed"`
	Trace            string   `json:"trace"`
	Smooth           bool     `json:"smooth"`
	LostBefore       float64  `json:"lostPercentBefore"`
	LostAfter        float64  `json:"lostPercentAfter"`
	ShardHoursBefore float64  `json:"shardHoursBefore"`
	ShardHoursAfter  float64  `json:"shardHoursAfter"`
	Flags            []string `json:"flags,omitempty"`
	FiguresChanged   bool     `json:"figuresChanged"`
	PartsNewlyMissed []string `json:"partsNewlyMissed,omitempty"`
	PartsNewlyMet    []string `json:"partsNewlyMet,omitempty"`
}

// Compare judges after against before, case by case (matched by peak, seed
// and trace).
func Compare(before, after Judgement) Comparison {
	cmp := Comparison{NewlyMissed: []PartChange{}, NewlyMet: []PartChange{}, Cases: []CaseChange{}}
	old := map[caseKey]JudgeCase{}
	for _, c := range before.Cases {
		old[c.key()] = c
	}
	seen := map[caseKey]bool{}
	for _, a := range after.Cases {
		b, ok := old[a.key()]
		if !ok {
			cmp.OnlyAfter = append(cmp.OnlyAfter, a.key().String())
			continue
		}
		seen[a.key()] = true
		cc := compareCase(b, a, &cmp)
		if len(cc.Flags) > 0 {
			cmp.Flagged++
		}
		cmp.Cases = append(cmp.Cases, cc)
	}
	for _, b := range before.Cases {
		if !seen[b.key()] {
			cmp.OnlyBefore = append(cmp.OnlyBefore, b.key().String())
		}
	}
	cmp.ConfigChanged = configChanges(before.Config, after.Config)
	cmp.Missed = missedCounts(before, after)
	return cmp
}

// missedCounts counts the goal parts missed before and after at each peak
// and seed of after, over the cases both judged (matched: a baseline of
// every trace against a run with -only compares the same traces).
func missedCounts(before, after Judgement) []MissedCount {
	old := map[caseKey]JudgeCase{}
	for _, c := range before.Cases {
		old[c.key()] = c
	}
	var out []MissedCount
	for _, p := range after.Peaks {
		for _, s := range after.Seeds {
			m, matched := MissedCount{PeakMiBps: p, Seed: s}, false
			for _, a := range after.Cases {
				if b, ok := old[a.key()]; ok && a.PeakMiBps == p && a.Seed == s {
					m.Before, m.After, matched = m.Before+b.Missed(), m.After+a.Missed(), true
				}
			}
			if matched {
				out = append(out, m)
			}
		}
	}
	return out
}

func (k caseKey) String() string { return fmt.Sprintf("%g MiB/s seed %d %s", k.peak, k.seed, k.trace) }

// compareCase compares one case's parts (adding those whose verdict changed
// to cmp) and figures, and flags the acceptance rules it breaks.
func compareCase(b, a JudgeCase, cmp *Comparison) CaseChange {
	cc := CaseChange{
		PeakMiBps: a.PeakMiBps, Seed: a.Seed, Trace: a.Trace, Smooth: a.Smooth,
		LostBefore: b.Operator.LostPercent, LostAfter: a.Operator.LostPercent,
		ShardHoursBefore: b.Operator.ShardHours, ShardHoursAfter: a.Operator.ShardHours,
	}
	cc.FiguresChanged = cc.LostBefore != cc.LostAfter || cc.ShardHoursBefore != cc.ShardHoursAfter
	for _, ap := range a.Parts {
		i := slices.IndexFunc(b.Parts, func(p GoalPart) bool { return p.Name == ap.Name })
		var bp GoalPart
		if i >= 0 {
			bp = b.Parts[i]
		}
		pc := PartChange{PeakMiBps: a.PeakMiBps, Seed: a.Seed, Trace: a.Trace, Before: bp, After: ap}
		switch {
		case ap.Missed() && !bp.Missed():
			cmp.NewlyMissed = append(cmp.NewlyMissed, pc)
			cc.PartsNewlyMissed = append(cc.PartsNewlyMissed, ap.Name)
		case bp.Missed() && !ap.Missed():
			cmp.NewlyMet = append(cmp.NewlyMet, pc)
			cc.PartsNewlyMet = append(cc.PartsNewlyMet, ap.Name)
		}
	}
	cc.Flags = acceptanceFlags(cc)
	return cc
}

// acceptanceFlags are the acceptance rules cc breaks: a goal part newly
// missed; on a smooth trace, loss above 0.1 % or up by more than 0.01
// points; on a spiky trace, loss up at all.
func acceptanceFlags(cc CaseChange) []string {
	var flags []string
	if len(cc.PartsNewlyMissed) > 0 {
		flags = append(flags, FlagNewlyMissed)
	}
	rise := cc.LostAfter - cc.LostBefore
	if cc.Smooth {
		if cc.LostAfter > smoothLossLimit+lossEpsilon {
			flags = append(flags, FlagSmoothLossAbove)
		}
		if rise > smoothLossRise+lossEpsilon {
			flags = append(flags, FlagSmoothLossUp)
		}
	} else if rise > lossEpsilon {
		flags = append(flags, FlagSpikyLossUp)
	}
	return flags
}

// configChanges names the fields of the model's configuration that differ.
func configChanges(before, after Config) []string {
	var b, a map[string]any
	for _, x := range []struct {
		c Config
		m *map[string]any
	}{{before, &b}, {after, &a}} {
		raw, _ := json.Marshal(x.c)
		_ = json.Unmarshal(raw, x.m)
	}
	var out []string
	for k, v := range a {
		if fmt.Sprint(b[k]) != fmt.Sprint(v) {
			out = append(out, fmt.Sprintf("%s %v → %v", k, b[k], v))
		}
	}
	slices.Sort(out)
	return out
}

// ReadJudgement reads a Judgement that -judge -json wrote.
func ReadJudgement(r io.Reader) (Judgement, error) {
	var jm Judgement
	dec := json.NewDecoder(r)
	if err := dec.Decode(&jm); err != nil {
		return Judgement{}, fmt.Errorf("read judgement: %w", err)
	}
	if len(jm.Cases) == 0 {
		return Judgement{}, fmt.Errorf("read judgement: no cases (not a file -judge -json wrote?)")
	}
	return jm, nil
}
