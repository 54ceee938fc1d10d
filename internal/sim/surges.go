package sim

import (
	"fmt"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// SurgeFactor is the rise over the calm level that DetectSurges calls a
// surge: the least headroom of the onset argument (OnsetHeadrooms[0],
// oracle-reactive's 1/0.7). A policy holding h × the calm level with h ≥
// SurgeFactor carries every rise the detector leaves unlabelled without a
// call, so on a detected trace the onset argument misses no loss at any of
// its headrooms; a higher factor would leave rises between SurgeFactor and
// it uncounted at the low headrooms, a lower one would label rises no
// headroom of the argument loses on.
var SurgeFactor = OnsetHeadrooms[0]

// DetectSurges labels the surges of a trace whose generator did not record
// them (the NAB files), by a rule stated from the policy's side: a minute
// is in a surge when its need at 100 % (in shards, unrounded) exceeds k ×
// the calm level, a rise that no policy holding less than k × the calm
// level carries without a call; a surge is a run of such minutes. The calm
// level is the onset argument's (hourLoad): the mean load of the hour
// before the minute, every minute counted, as a causal policy sees it. So
// a level that stays up ends its surge once the hour's mean has risen to
// it (from then it is the calm level), and a surge soon after another
// rises from a calm level that includes the other (SurgeSummary.Close).
// There is no floor of one shard, though one shard carries a rise below
// it: a policy targeting 70 % calls at 0.7 of a shard, and an onset
// labelled after such a call would over-state the onset argument's loss.
// Minute 0 is calm (no hour before it).
func DetectSurges(cfg Config, t Trace, k float64) []Surge {
	cfg = cfg.withDefaults()
	var surges []Surge
	rising := false
	for m := 1; m < t.Minutes(); m++ {
		up := exactNeed(cfg.demand(t, m)) > k*exactNeed(hourLoad(cfg, t, m))
		switch {
		case up && !rising:
			surges = append(surges, Surge{Start: m, End: m + 1})
		case up:
			surges[len(surges)-1].End = m + 1
		}
		rising = up
	}
	return surges
}

// hourLoad is the mean load of the onsetCalmMinutes before minute m
// (fewer at the trace's start), surge minutes included.
func hourLoad(cfg Config, t Trace, m int) Load {
	var sum Load
	n := 0
	for k := max(0, m-onsetCalmMinutes); k < m; k++ {
		d := cfg.demand(t, k)
		sum.Bytes += d.Bytes
		sum.Records += d.Records
		n++
	}
	return Load{sum.Bytes / float64(max(n, 1)), sum.Records / float64(max(n, 1))}
}

// exactNeed is the shards a load needs at 100 %, unrounded.
func exactNeed(l Load) float64 {
	return max(l.Bytes/scaling.ShardWriteBytesPerSec, l.Records/scaling.ShardWriteRecordsPerSec)
}

// onsetTraces are the traces the onset argument runs on: the synthetic
// spiky ones with their generator's surges, and every other spiky trace
// (the NAB files) with DetectSurges' at SurgeFactor. Smooth traces get
// none (their goals are not the spiky ones). detected[i] says whether
// trace i's surges were detected.
func onsetTraces(cfg Config, traces []Trace) (out []Trace, detected []bool) {
	for _, t := range traces {
		det := len(t.Surges) == 0 && !smoothTraces[t.Name]
		if det {
			t.Surges = DetectSurges(cfg, t, SurgeFactor)
		}
		out = append(out, t)
		detected = append(detected, det)
	}
	return out, detected
}

// SurgeSummary describes a trace's surges where they weaken the onset
// argument or its reading: Close counts onsets less than onsetCalmMinutes
// after the previous surge's end (their calm level includes that surge's
// minutes, and a policy may still hold that surge's shards: at such an
// onset it can hold more than h × calm, so the loss counted there binds
// only in the minimax reading, where the surge could as well have come at
// a quiet minute); SurgeMinutes is the share of the trace's minutes in
// surges (billed at their need at 100 %, not at h: the calm time's
// shard-hours shrink as it grows).
type SurgeSummary struct {
	Count, Close int
	SurgeMinutes float64
}

// SummariseSurges is t.Surges' SurgeSummary.
func SummariseSurges(t Trace) SurgeSummary {
	var s SurgeSummary
	minutes := 0
	for i, su := range t.Surges {
		s.Count++
		if i > 0 && su.Start-t.Surges[i-1].End < onsetCalmMinutes {
			s.Close++
		}
		minutes += min(su.End, t.Minutes()) - su.Start
	}
	if t.Minutes() > 0 {
		s.SurgeMinutes = float64(minutes) / float64(t.Minutes())
	}
	return s
}

// String is e.g. "41 (12 close, 9 % of minutes)".
func (s SurgeSummary) String() string {
	return fmt.Sprintf("%d (%d close, %.0f %% of minutes)", s.Count, s.Close, 100*s.SurgeMinutes)
}

// RunOnsetGoals is what the onset argument needs of RunFrontier, without
// the family: for each spiky trace, oracle-reactive's point (the family's
// member at OracleReactiveParams, as RunFrontier runs it), the legal floor
// at 100 % and the goals (0.5x the oracle's loss, 2x the floor). Smooth
// traces are left out. It runs on at most workers goroutines.
func RunOnsetGoals(cfg Config, traces []Trace, workers int) []TraceFrontier {
	cfg = cfg.withDefaults()
	var spiky []Trace
	for _, t := range traces {
		if !smoothTraces[t.Name] {
			spiky = append(spiky, t)
		}
	}
	out := make([]TraceFrontier, len(spiky))
	forEachIndex(len(spiky), workers, func(i int) {
		t := spiky[i]
		oracle := pointOf(Run(cfg, t, NewReactive(cfg, t, OracleReactiveParams(cfg))))
		floor := LegalFloorShardHours(cfg, t, 1)
		out[i] = TraceFrontier{Trace: t.Name, Spiky: true, Oracle: oracle, Floor: floor,
			LossGoal: 0.5 * oracle.LostPercent, ShardGoal: 2 * floor}
	})
	return out
}
