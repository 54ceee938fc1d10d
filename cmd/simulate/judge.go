package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/kdp-io/streamprocessor-operator/internal/sim"
)

// judgeOptions are -judge's flags.
type judgeOptions struct {
	on                 bool
	peaksArg, seedsArg string
	workers            int
	baseline, judged   string
	peaks              []float64 // parsed from peaksArg
	seeds              []uint64  // parsed from seedsArg
}

// register adds -judge's flags to fs.
func (j *judgeOptions) register(fs *flag.FlagSet) {
	fs.BoolVar(&j.on, "judge", false, "judge the operator on issue 13's goals: every trace in -traces (and -only) plus the synthetic ones at every -peaks and -seeds, each goal part met or missed with its figure, the parts missed per peak; with -baseline, what changed")
	fs.StringVar(&j.peaksArg, "peaks", "5,40,400", "with -judge: the peak loads, MiB/s, comma- or space-separated")
	fs.StringVar(&j.seedsArg, "seeds", "1", "with -judge: the seeds (CloudWatch's delays, the synthetic traces' noise), comma- or space-separated, ranges as 1-4")
	fs.IntVar(&j.workers, "workers", runtime.GOMAXPROCS(0), "with -judge: runs at once (the output does not depend on it)")
	fs.StringVar(&j.baseline, "baseline", "", "with -judge: a file an earlier -judge -json wrote; print the parts newly missed and met and each case's change, and flag the acceptance rules")
	fs.StringVar(&j.judged, "judged", "", "with -judge: read the judgement from this file (an earlier -judge -json) instead of running the traces, e.g. to compare two stored runs with -baseline")
}

// validate parses the peaks and seeds and refuses flags that -judge
// ignores or that only -judge reads.
func (j *judgeOptions) validate(fs *flag.FlagSet, o options) error {
	var judgeOnly, conflicting, runOnly []string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "peaks", "seeds", "workers", "baseline", "judged":
			judgeOnly = append(judgeOnly, "-"+f.Name)
		case "peak-mibps", "seed", "compare-util", "trace":
			conflicting = append(conflicting, "-"+f.Name)
		}
		switch f.Name {
		case "peaks", "seeds", "workers", "only", "traces":
			runOnly = append(runOnly, "-"+f.Name)
		}
	})
	if !j.on {
		if len(judgeOnly) > 0 {
			return fmt.Errorf("%s: only with -judge", strings.Join(judgeOnly, ", "))
		}
		return nil
	}
	if len(conflicting) > 0 {
		return fmt.Errorf("-judge: %s not read (use -peaks and -seeds; the judge runs no comparison row)", strings.Join(conflicting, ", "))
	}
	if j.judged != "" && len(runOnly) > 0 {
		return fmt.Errorf("-judged: %s not read (the file holds the runs)", strings.Join(runOnly, ", "))
	}
	if j.workers < 1 {
		return fmt.Errorf("-workers %d: want at least 1", j.workers)
	}
	var err error
	if j.peaks, err = parsePeaks(j.peaksArg); err != nil {
		return err
	}
	j.seeds, err = parseSeeds(j.seedsArg)
	return err
}

// listFields splits a comma- or space-separated list.
func listFields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

// parsePeaks parses -peaks: positive MiB/s, each once.
func parsePeaks(s string) ([]float64, error) {
	var out []float64
	for _, f := range listFields(s) {
		p, err := strconv.ParseFloat(f, 64)
		if err != nil || !(p > 0) || p > 1e6 {
			return nil, fmt.Errorf("-peaks %q: %q is not a peak in MiB/s (a positive number)", s, f)
		}
		if slices.Contains(out, p) {
			return nil, fmt.Errorf("-peaks %q: %g twice", s, p)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-peaks %q: no peak", s)
	}
	return out, nil
}

// parseSeeds parses -seeds: seeds and ranges a-b (a ≤ b), each seed once.
func parseSeeds(s string) ([]uint64, error) {
	var out []uint64
	for _, f := range listFields(s) {
		lo, hi, isRange := strings.Cut(f, "-")
		a, errA := strconv.ParseUint(lo, 10, 64)
		b, errB := a, error(nil)
		if isRange {
			b, errB = strconv.ParseUint(hi, 10, 64)
		}
		if errA != nil || errB != nil || b < a || b-a > 1000 {
			return nil, fmt.Errorf("-seeds %q: %q is not a seed or a range a-b of at most 1000 seeds", s, f)
		}
		for x := a; x <= b; x++ {
			if slices.Contains(out, x) {
				return nil, fmt.Errorf("-seeds %q: seed %d twice", s, x)
			}
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-seeds %q: no seed", s)
	}
	return out, nil
}

// runJudge judges the operator at every peak and seed, compares with the
// baseline when one is given, and prints the judgement (or writes it as
// JSON).
func runJudge(o options) error {
	var base *sim.Judgement
	if o.judge.baseline != "" {
		b, err := readBaseline(o.judge.baseline)
		if err != nil {
			return err
		}
		base = &b
	}
	jm, err := o.judge.judgement(o)
	if err != nil {
		return err
	}
	if base != nil {
		cmp := sim.Compare(*base, jm)
		cmp.Baseline = o.judge.baseline
		jm.Comparison = &cmp
	}
	if o.asJSON {
		return writeJSON(jm)
	}
	return sim.WriteJudgement(os.Stdout, jm)
}

// judgement runs the judge, or reads the judgement -judged names.
func (j *judgeOptions) judgement(o options) (sim.Judgement, error) {
	if j.judged == "" {
		return sim.Judge(o.cfg, j.peaks, j.seeds, sim.BenchJudgeTraces(o.cfg, o.traces, o.only), j.workers)
	}
	f, err := os.Open(j.judged)
	if err != nil {
		return sim.Judgement{}, fmt.Errorf("-judged: %w", err)
	}
	defer f.Close()
	jm, err := sim.ReadJudgement(f)
	if err != nil {
		return sim.Judgement{}, fmt.Errorf("-judged %s: %w", j.judged, err)
	}
	jm.Comparison = nil
	return jm, nil
}

// readBaseline reads the Judgement in file (before the runs, so that a bad
// file fails at once).
func readBaseline(file string) (sim.Judgement, error) {
	f, err := os.Open(file)
	if err != nil {
		return sim.Judgement{}, fmt.Errorf("-baseline: %w", err)
	}
	defer f.Close()
	jm, err := sim.ReadJudgement(f)
	if err != nil {
		return sim.Judgement{}, fmt.Errorf("-baseline %s: %w", file, err)
	}
	return jm, nil
}
