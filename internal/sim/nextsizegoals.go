package sim

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// NextSizePoint is a policy's figures on one member: its lost records
// (throttled and refused at the producers: at least what the model's
// throttling at the same counts loses, so the bound must stay under it) as
// a share of Base's records, so that members' figures add, and its
// shard-hours.
type NextSizePoint struct {
	LostPercent, ShardHours float64
}

// NextSizeSample is one member drawn from a NextSizeFamily: its goals
// (0.5x oracle-reactive's lost records, as a share of Base's records; 2x
// its legal floor at 100 %) and what oracle-reactive and the operator
// reach on it.
type NextSizeSample struct {
	LossGoal, ShardGoal float64
	Oracle, Operator    NextSizePoint
}

// NextSizeRow is the next-size argument on one trace: the family, the
// members drawn, the expected goals estimated from them, the bound at the
// expected shard-hour goal (and, to compare, the same program with the
// size known), and the checks at the two policies' mean shard-hours.
type NextSizeRow struct {
	Trace    string
	Detected bool
	Slots    int
	Fixed    int
	Samples  []NextSizeSample
	// Bound: BoundNextSize at the mean ShardGoal; Known the same with the
	// level chosen knowing the size.
	Bound, Known NextSizeBound
	// AtOracle and AtOperator: BoundNextSize at each policy's mean
	// shard-hours, to hold against its mean loss.
	AtOracle, AtOperator NextSizeBound
}

// mean is the sample mean of f over the samples and its standard error.
func (r NextSizeRow) mean(f func(NextSizeSample) float64) (mean, se float64) {
	n := float64(len(r.Samples))
	for _, s := range r.Samples {
		mean += f(s) / n
	}
	if n < 2 {
		return mean, math.Inf(1)
	}
	var ss float64
	for _, s := range r.Samples {
		ss += (f(s) - mean) * (f(s) - mean)
	}
	return mean, math.Sqrt(ss / (n - 1) / n)
}

// LossGoal is the expected loss goal's estimate and standard error.
func (r NextSizeRow) LossGoal() (float64, float64) {
	return r.mean(func(s NextSizeSample) float64 { return s.LossGoal })
}

// ShardGoal is the expected shard-hour goal's estimate.
func (r NextSizeRow) ShardGoal() float64 {
	m, _ := r.mean(func(s NextSizeSample) float64 { return s.ShardGoal })
	return m
}

// Conflict is whether the bound exceeds the expected loss goal by more than
// three standard errors of its estimate.
func (r NextSizeRow) Conflict() bool {
	g, se := r.LossGoal()
	return r.Bound.LostPercent > g+3*se
}

// RunNextSize is the next-size argument on every spiky trace of traces
// with surges (onsetTraces), each surge's candidates scales: samples
// members drawn per trace (seeded by cfg.Seed), each run under
// oracle-reactive and the operator and its floor at 100 % computed, on at
// most workers goroutines.
func RunNextSize(cfg Config, traces []Trace, scales []float64, samples, workers int) []NextSizeRow {
	cfg = cfg.withDefaults()
	traces, detected := onsetTraces(cfg, traces)
	var rows []NextSizeRow
	var fams []NextSizeFamily
	for i, t := range traces {
		if len(t.Surges) == 0 || smoothTraces[t.Name] {
			continue
		}
		f := NewNextSizeFamily(t, scales)
		fams = append(fams, f)
		rows = append(rows, NextSizeRow{Trace: t.Name, Detected: detected[i], Slots: len(t.Surges), Fixed: f.Fixed,
			Samples: make([]NextSizeSample, samples)})
	}
	type job struct{ row, sample int }
	var jobs []job
	for i := range rows {
		for k := range samples {
			jobs = append(jobs, job{i, k})
		}
	}
	forEachIndex(len(jobs), workers, func(j int) {
		r, k := jobs[j].row, jobs[j].sample
		f := fams[r]
		m := f.Member(f.Sample(rand.New(rand.NewPCG(cfg.Seed, uint64(k)))))
		rows[r].Samples[k] = sampleNextSize(cfg, m, totalRecords(cfg, f.Base))
	})
	forEachIndex(len(rows), workers, func(i int) {
		r := &rows[i]
		model := newNextSizeModel(cfg, fams[i])
		r.Bound = model.bound(r.ShardGoal(), false)
		r.Known = model.bound(r.ShardGoal(), true)
		op, _ := r.mean(func(s NextSizeSample) float64 { return s.Operator.ShardHours })
		or, _ := r.mean(func(s NextSizeSample) float64 { return s.Oracle.ShardHours })
		r.AtOperator = model.bound(op, false)
		r.AtOracle = model.bound(or, false)
	})
	return rows
}

// sampleNextSize runs oracle-reactive and the operator on member m and
// computes its goals, losses as shares of base records.
func sampleNextSize(cfg Config, m Trace, base float64) NextSizeSample {
	total := totalRecords(cfg, m)
	point := func(r Result) NextSizePoint {
		return NextSizePoint{LostPercent: r.LostPercent * total / base, ShardHours: r.ShardHours}
	}
	oracle := point(Run(cfg, m, NewReactive(cfg, m, OracleReactiveParams(cfg))))
	op := point(Run(cfg, m, NewOperator(cfg, scaling.MaxShardsPerStream)))
	return NextSizeSample{LossGoal: 0.5 * oracle.LostPercent, ShardGoal: 2 * LegalFloorShardHours(cfg, m, 1), Oracle: oracle, Operator: op}
}

// WriteNextSize prints rows: per trace the family, the expected goals, the
// bound (and the size-known program's value), the two checks and the
// verdict.
func WriteNextSize(w io.Writer, cfg Config, rows []NextSizeRow, scales []float64) error {
	fmt.Fprintf(w, "next size (BoundNextSize): each surge's rise over its calm level scaled by one of %v, drawn independently and uniformly (the surge holding the peak kept), a level held through each calm period fixed before the next surge's size is drawn; no call limit, every relaxation of -onset-budget for the policy; losses as %% of the trace's own records, expectations over the family estimated from the members drawn (± one standard error)\n", scales)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "trace\tslots (the peak's, kept)\tmembers\tE[loss goal]\tE[shard-h goal]\tbound at E[shard-h goal] (λ; path lost, shard-h / E[floor], climbs)\tsize known\toracle-reactive: lost, shard-h / E[floor]; bound there\toperator: lost, shard-h / E[floor]; bound there\tverdict\t")
	for _, r := range rows {
		g, se := r.LossGoal()
		sg := r.ShardGoal()
		check := func(name string, f func(NextSizeSample) NextSizePoint, b NextSizeBound) string {
			lost, _ := r.mean(func(s NextSizeSample) float64 { return f(s).LostPercent })
			sh, _ := r.mean(func(s NextSizeSample) float64 { return f(s).ShardHours })
			ok := "ok"
			if b.LostPercent > lost+1e-9 {
				ok = "BOUND ABOVE " + name
			}
			return fmt.Sprintf("%.3f%%, %.2fx; %.3f%% %s", lost, sh/(sg/2), b.LostPercent, ok)
		}
		verdict := "no conflict proved"
		if r.Conflict() {
			verdict = "CONFLICT (3 s.e.)"
		}
		src := "gen"
		if r.Detected {
			src = "det"
		}
		b := r.Bound
		fmt.Fprintf(tw, "%s\t%s %d (%d)\t%d\t%.3f ± %.3f%%\t%.0f sh-h\t%.3f%% (λ=%.3g; %.3f%%, %.2fx, %.1f)\t%.3f%%\t%s\t%s\t%s\t\n",
			r.Trace, src, r.Slots, r.Fixed, len(r.Samples), g, se, sg, b.LostPercent, b.Lambda, b.PathLostPercent, b.PathShardHours/(sg/2), b.PathClimbs,
			r.Known.LostPercent,
			check("ORACLE", func(s NextSizeSample) NextSizePoint { return s.Oracle }, r.AtOracle),
			check("OPERATOR", func(s NextSizeSample) NextSizePoint { return s.Operator }, r.AtOperator), verdict)
	}
	return tw.Flush()
}

// ParseScales reads a comma-separated list of non-negative factors.
func ParseScales(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		var x float64
		if _, err := fmt.Sscanf(f, "%g", &x); err != nil || x < 0 || math.IsInf(x, 0) {
			return nil, fmt.Errorf("scale %q: want a factor ≥ 0", f)
		}
		out = append(out, x)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no scales in %q", s)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
