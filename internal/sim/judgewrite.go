package sim

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteJudgement prints jm: per peak, with one seed each trace's goal parts
// (figure ≤ bound, met or MISSED) and the count of parts missed; with
// several seeds the count per seed and, per trace, which seeds miss each
// part and the operator's mean and worst lost % and shard-hour ratio. Then
// the comparison with the baseline, when jm has one.
func WriteJudgement(w io.Writer, jm Judgement) error {
	fmt.Fprintln(w, "issue 13's goals for the operator, each part as figure ≤ bound:")
	fmt.Fprintln(w, "  loss: lost % ≤ 0.1 (smooth) or ≤ 0.5x oracle-reactive's (spiky); shard-hours: shard-h over the legal floor (smooth: at the target utilization ≤ 1.3x; spiky: at 100 % ≤ 2x);")
	fmt.Fprintln(w, "  seed: lost % ≤ a fifth of the seed's, where the seed loses > 0.1 %; cost: operator-auto's stream $ ≤ 1.1x the cheaper of operator and on-demand; - : does not apply")
	for _, ps := range jm.Summaries {
		var err error
		if len(jm.Seeds) == 1 {
			err = writePeakOneSeed(w, jm, ps)
		} else {
			err = writePeakSeeds(w, jm, ps)
		}
		if err != nil {
			return err
		}
	}
	if jm.Comparison != nil {
		return WriteComparison(w, *jm.Comparison)
	}
	return nil
}

// writePeakOneSeed prints one peak's cases at jm's one seed.
func writePeakOneSeed(w io.Writer, jm Judgement, ps PeakSummary) error {
	fmt.Fprintf(w, "%g MiB/s, seed %d: %d of %d goal parts missed\n", ps.PeakMiBps, jm.Seeds[0], ps.MissedBySeed[0], ps.Parts)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  trace\tloss\tshard-hours\tseed\tcost")
	for _, c := range jm.Cases {
		if c.PeakMiBps != ps.PeakMiBps {
			continue
		}
		cells := []string{"  " + c.Trace}
		for _, p := range c.Parts {
			cells = append(cells, partVerdict(p))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// writePeakSeeds prints one peak over several seeds.
func writePeakSeeds(w io.Writer, jm Judgement, ps PeakSummary) error {
	counts := make([]string, len(ps.MissedBySeed))
	sum := 0
	for i, n := range ps.MissedBySeed {
		counts[i] = fmt.Sprintf("%d (seed %d)", n, jm.Seeds[i])
		sum += n
	}
	fmt.Fprintf(w, "%g MiB/s, %d seeds: goal parts missed of %d: %s; mean %.2f\n", ps.PeakMiBps, len(jm.Seeds), ps.Parts, strings.Join(counts, ", "), float64(sum)/float64(len(jm.Seeds)))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  trace\tloss\tshard-hours\tseed\tcost\tlost % mean\tworst\tshard-h/floor mean\tworst")
	for _, ts := range ps.Traces {
		fmt.Fprintf(tw, "  %s\t", ts.Trace)
		for _, m := range ts.MissedBy {
			fmt.Fprintf(tw, "%s\t", seedsMissing(m.Seeds, len(jm.Seeds)))
		}
		fmt.Fprintf(tw, "%.3f\t%.3f\t%.2fx\t%.2fx\n", ts.LostMean, ts.LostWorst, ts.RatioMean, ts.RatioWorst)
	}
	return tw.Flush()
}

// seedsMissing says how many of n seeds miss a part, naming them when not
// all or none do.
func seedsMissing(seeds []uint64, n int) string {
	switch len(seeds) {
	case 0:
		return fmt.Sprintf("0/%d", n)
	case n:
		return fmt.Sprintf("%d/%d MISSED", n, n)
	}
	names := make([]string, len(seeds))
	for i, s := range seeds {
		names[i] = fmt.Sprint(s)
	}
	return fmt.Sprintf("%d/%d (seed %s)", len(seeds), n, strings.Join(names, ","))
}

// partVerdict is "figure ≤ bound met|MISSED" for a part that applies, "-"
// otherwise.
func partVerdict(p GoalPart) string {
	if !p.Applies {
		return "-"
	}
	v := "met"
	if !p.Met {
		v = "MISSED"
	}
	return fmt.Sprintf("%s ≤ %s %s", partFigure(p.Name, p.Figure), partFigure(p.Name, p.Bound), v)
}

// partFigure formats a figure in its part's unit.
func partFigure(part string, x float64) string {
	switch part {
	case GoalShardHours:
		return fmt.Sprintf("%.2fx", x)
	case GoalCost:
		return fmt.Sprintf("$%.2f", x)
	}
	return fmt.Sprintf("%.3f%%", x)
}

// WriteComparison prints cmp: parts missed before → after per peak and
// seed, the parts newly missed and newly met, the cases whose operator
// figures changed or that break an acceptance rule, and the verdict.
func WriteComparison(w io.Writer, cmp Comparison) error {
	fmt.Fprintf(w, "against the baseline %s:\n", cmp.Baseline)
	for _, c := range cmp.ConfigChanged {
		fmt.Fprintf(w, "  model configuration differs: %s\n", c)
	}
	for _, m := range cmp.Missed {
		fmt.Fprintf(w, "  %g MiB/s, seed %d: goal parts missed %d → %d\n", m.PeakMiBps, m.Seed, m.Before, m.After)
	}
	for _, l := range []struct {
		title string
		pcs   []PartChange
	}{{"goal parts newly missed", cmp.NewlyMissed}, {"goal parts newly met", cmp.NewlyMet}} {
		fmt.Fprintf(w, "%s: %d\n", l.title, len(l.pcs))
		for _, pc := range l.pcs {
			fmt.Fprintf(w, "  %g MiB/s seed %d %s %s: %s → %s\n", pc.PeakMiBps, pc.Seed, pc.Trace, pc.After.Name, partVerdict(pc.Before), partVerdict(pc.After))
		}
	}
	if err := writeCaseChanges(w, cmp); err != nil {
		return err
	}
	for _, l := range []struct {
		title string
		keys  []string
	}{{"only in the baseline (not compared)", cmp.OnlyBefore}, {"not in the baseline (not compared)", cmp.OnlyAfter}} {
		if len(l.keys) > 0 {
			fmt.Fprintf(w, "%s: %s\n", l.title, strings.Join(l.keys, "; "))
		}
	}
	rules := strings.Join([]string{FlagNewlyMissed, FlagSmoothLossAbove, FlagSmoothLossUp, FlagSpikyLossUp}, "; ")
	if cmp.Flagged == 0 {
		fmt.Fprintf(w, "verdict: no case breaks an acceptance rule (%s)\n", rules)
		return nil
	}
	fmt.Fprintf(w, "verdict: %d of %d cases break an acceptance rule (%s)\n", cmp.Flagged, len(cmp.Cases), rules)
	return nil
}

// writeCaseChanges prints the cases whose figures changed or that are
// flagged, and how many are neither.
func writeCaseChanges(w io.Writer, cmp Comparison) error {
	fmt.Fprintln(w, "the operator per case, before → after (relative change), where a figure changed or a rule flags it:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  peak\tseed\ttrace\tlost %\t\tshard-h\t\tflags")
	quiet := 0
	for _, cc := range cmp.Cases {
		if !cc.FiguresChanged && len(cc.Flags) == 0 {
			quiet++
			continue
		}
		fmt.Fprintf(tw, "  %g\t%d\t%s\t%.3f → %.3f\t%s\t%.0f → %.0f\t%s\t%s\n", cc.PeakMiBps, cc.Seed, cc.Trace,
			cc.LostBefore, cc.LostAfter, relChange(cc.LostBefore, cc.LostAfter),
			cc.ShardHoursBefore, cc.ShardHoursAfter, relChange(cc.ShardHoursBefore, cc.ShardHoursAfter), strings.Join(cc.Flags, "; "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "  %d of %d cases unchanged and not flagged\n", quiet, len(cmp.Cases))
	return nil
}

// relChange is after's change relative to before, as a signed percentage.
func relChange(before, after float64) string {
	switch {
	case before == after:
		return "="
	case before == 0:
		return "(from 0)"
	}
	return fmt.Sprintf("%+.1f%%", 100*(after-before)/before)
}
