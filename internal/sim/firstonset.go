package sim

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"
)

// The smooth traces' goals in issue 13, which the first-onset argument
// holds a causal policy to on a spiky trace's calm counterfactual.
const (
	smoothShardGoal = 1.3   // shard-hours ≤ 1.3x floorShardHours
	smoothLossGoal  = 0.001 // lostPercent ≤ 0.1
)

// ErrCalmGoalsUnreachable: no schedule meets the calm trace's goals (within
// 1.3x its floor, which ignores bursts within a minute, it loses over
// 0.1 %): the first-onset argument is void there.
var ErrCalmGoalsUnreachable = errors.New("no schedule meets the calm trace's goals")

// FirstOnsetCase is a spiky trace, the surge whose onset the argument
// places (its first), and the calm counterfactual: a trace whose minutes
// before the surge's onset are the spiky trace's own and which stays calm
// after it.
type FirstOnsetCase struct {
	Spiky, Calm Trace
	Surge       Surge
}

// FirstOnsetCases are the synthetic spiky traces whose calm level the
// generator sets (CalmCounterfactuals), among traces, with their first
// surge.
func FirstOnsetCases(cfg Config, traces []Trace) []FirstOnsetCase {
	calm := CalmCounterfactuals(cfg.withDefaults().Seed)
	var out []FirstOnsetCase
	for _, t := range traces {
		if c, ok := calm[t.Name]; ok && len(t.Surges) > 0 {
			out = append(out, FirstOnsetCase{Spiky: t, Calm: c, Surge: t.Surges[0]})
		}
	}
	return out
}

// FirstOnset is the first-onset argument on one case at one peak.
//
// A causal policy picks the count for minute m from minutes before m. On
// the calm trace C it must meet the smooth goals: shard-hours (billed,
// hence also carried) ≤ 1.3x the legal floor of C at the target
// utilization, and at most 0.1 % of C's records lost. Window W is C's
// minutes from onsetCalmMinutes on (an hour of calm before any onset).
// If every minute of W held more than Held shards, C's shard-minutes
// would exceed the budget (leastShardMinutes): so every such policy holds
// at most Held shards at some minute m of W. The spiky trace S_m is C's
// first m minutes followed by the spiky trace from its first surge on; up
// to m the policy sees what it sees on C, so on S_m it meets the surge
// with at most Held shards, and loses at least ForcedLost records (the
// best legal climb from any count ≤ Held, as OnsetLoss climbs). The
// smooth goal and the spiky loss goal on every S_m (≤ 0.5x
// oracle-reactive's loss on S_m) conflict when ForcedLost exceeds half of
// oracle-reactive's lost records on every S_m, m in W.
type FirstOnset struct {
	Trace string
	// CalmNeed is C's mean need at 100 % over W (shards, unrounded).
	CalmNeed float64
	// Floor70 is C's legal floor at the target utilization (shard-hours);
	// Budget is smoothShardGoal times it, in shard-minutes.
	Floor70, Budget float64
	// W is [WFrom, C's length).
	WFrom, WMinutes int
	// Held: every policy meeting C's goals holds at most Held shards at
	// some minute of W; Headroom is Held / CalmNeed.
	Held     int32
	Headroom float64
	// ForcedLost: the least records the first surge's best climb loses
	// from any count ≤ Held at its onset; FromOne from one shard (the most
	// the argument could force, whatever C).
	ForcedLost, FromOne float64
	// Goals: oracle-reactive on S_m for the onsets m checked (every
	// Stride-th minute of W, and the spiky trace's own onset).
	Goals  []FirstOnsetGoal
	Stride int
}

// FirstOnsetGoal is the spiky loss goal on S_m against the forced loss.
type FirstOnsetGoal struct {
	Onset int
	// Records is S_m's demand; OracleLost oracle-reactive's lost records.
	Records, OracleLost float64
}

// GoalPercent is the loss goal on S_m: 0.5x oracle-reactive's lostPercent.
func (g FirstOnsetGoal) GoalPercent() float64 { return 0.5 * pct(g.OracleLost, g.Records) }

// Worst is the checked onset where the forced loss is smallest against
// the goal (the policy's best case), and that ratio (> 1: the goal missed
// there too).
func (f FirstOnset) Worst() (FirstOnsetGoal, float64) {
	var worst FirstOnsetGoal
	ratio := math.Inf(1)
	for _, g := range f.Goals {
		if r := f.ForcedLost / (0.5 * g.OracleLost); r < ratio {
			worst, ratio = g, r
		}
	}
	return worst, ratio
}

// Conflict is whether the forced loss exceeds the loss goal at every
// checked onset.
func (f FirstOnset) Conflict() bool {
	_, r := f.Worst()
	return len(f.Goals) > 0 && r > 1
}

// RunFirstOnset runs the argument on case c, checking oracle-reactive on
// S_m for every stride-th minute of W (1: every minute) on at most
// workers goroutines.
func RunFirstOnset(cfg Config, c FirstOnsetCase, stride, workers int) (FirstOnset, error) {
	cfg = cfg.withDefaults()
	f := FirstOnset{Trace: c.Spiky.Name, WFrom: onsetCalmMinutes, WMinutes: c.Calm.Minutes() - onsetCalmMinutes, Stride: max(stride, 1)}
	if f.WMinutes <= 0 || c.Surge.Start >= c.Surge.End || c.Surge.End > c.Spiky.Minutes() {
		return f, fmt.Errorf("first onset on %s: calm trace of %d minutes, surge %v", f.Trace, c.Calm.Minutes(), c.Surge)
	}
	f.Floor70 = LegalFloorShardHours(cfg, c.Calm, cfg.TargetUtilization)
	f.Budget = smoothShardGoal * f.Floor70 * 60
	held, ok := heldCap(cfg, c.Calm, f.WFrom, f.Budget)
	if !ok {
		return f, fmt.Errorf("first onset on %s: %w", f.Trace, ErrCalmGoalsUnreachable)
	}
	f.Held = held
	for m := f.WFrom; m < c.Calm.Minutes(); m++ {
		f.CalmNeed += exactNeed(cfg.demand(c.Calm, m)) / float64(f.WMinutes)
	}
	f.Headroom = float64(held) / f.CalmNeed
	f.ForcedLost, f.FromOne = forcedLoss(cfg, c.Spiky, c.Surge, held)
	var onsets []int
	for m := f.WFrom; m < c.Calm.Minutes(); m += f.Stride {
		onsets = append(onsets, m)
	}
	if own := c.Surge.Start; own >= f.WFrom && own < c.Calm.Minutes() && !slices.Contains(onsets, own) {
		onsets = append(onsets, own)
		slices.Sort(onsets)
	}
	f.Goals = make([]FirstOnsetGoal, len(onsets))
	forEachIndex(len(onsets), workers, func(i int) {
		s := shiftedSurge(c, onsets[i])
		r := Run(cfg, s, NewReactive(cfg, s, OracleReactiveParams(cfg)))
		total := totalRecords(cfg, s)
		f.Goals[i] = FirstOnsetGoal{Onset: onsets[i], Records: total, OracleLost: r.LostPercent / 100 * total}
	})
	return f, nil
}

// shiftedSurge is S_m: the calm trace's first m minutes, then the spiky
// trace from its first surge's onset to its end (later surges included).
func shiftedSurge(c FirstOnsetCase, m int) Trace {
	load := slices.Concat(c.Calm.Load[:m], c.Spiky.Load[c.Surge.Start:])
	var surges []Surge
	for _, s := range c.Spiky.Surges {
		if s.Start >= c.Surge.Start {
			surges = append(surges, Surge{s.Start - c.Surge.Start + m, s.End - c.Surge.Start + m})
		}
	}
	return Trace{Name: fmt.Sprintf("%s@%d", c.Spiky.Name, m), Start: c.Spiky.Start, Load: load,
		Source: fmt.Sprintf("%s with its first surge moved to minute %d", c.Spiky.Name, m), Surges: surges}
}

// totalRecords is trace t's demand in records.
func totalRecords(cfg Config, t Trace) float64 {
	var total float64
	for m := range t.Minutes() {
		total += cfg.demand(t, m).Records * 60
	}
	return total
}

// heldCap is the largest count n such that holding n at every minute of
// calm from from on still fits budget shard-minutes (leastShardMinutes,
// one shard at least before from): every schedule within the budget and
// the loss goal holds at most n at some minute from from on. false when
// no schedule fits the budget at all.
func heldCap(cfg Config, calm Trace, from int, budget float64) (int32, bool) {
	lower := make([]int32, calm.Minutes())
	fits := func(n int32) bool {
		for m := range lower {
			lower[m] = 1
			if m >= from {
				lower[m] = n
			}
		}
		return leastShardMinutes(cfg, calm, lower, smoothLossGoal*totalRecords(cfg, calm)) <= budget+1e-9
	}
	if !fits(1) {
		return 0, false
	}
	n := int32(1)
	for fits(n + 1) {
		n++
	}
	return n, true
}

// leastShardMinutes is a lower bound on the shard-minutes carried by any
// schedule that holds at least lower[m] shards in minute m of t and loses
// at most lossBudget records (the model's throttling, acceptedFraction).
// Each minute starts at the least count ≥ lower[m] losing nothing; each
// shard taken off a minute saves one shard-minute at the cost of the
// records it loses there; the cheapest of all such steps are taken while
// the loss fits the budget. Taking steps in any order is a relaxation (a
// minute's deeper steps may be taken without its shallower ones), so the
// result is never above the true least; the legal rules (2x / ½, 10 calls
// a day, UPDATING) are ignored, which lowers it too.
func leastShardMinutes(cfg Config, t Trace, lower []int32, lossBudget float64) float64 {
	var total float64
	var steps []float64
	for m := range t.Minutes() {
		d := cfg.demand(t, m)
		lost := func(n int32) float64 { return d.Records * (1 - cfg.acceptedFraction(n, d)) * 60 }
		n := max(lower[m], needShards(d, 1))
		for lost(n) > 0 {
			n++
		}
		total += float64(n)
		for k := n; k > lower[m]; k-- {
			steps = append(steps, lost(k-1)-lost(k))
		}
	}
	slices.Sort(steps)
	for _, s := range steps {
		if s > lossBudget {
			break
		}
		lossBudget -= s
		total--
	}
	return total
}

// forcedLoss is the least records the best legal climb over surge s of t
// loses from any count in [1, held] at its onset (climb.best), and from
// one shard.
func forcedLoss(cfg Config, t Trace, s Surge, held int32) (least, fromOne float64) {
	least = math.Inf(1)
	for n0 := int32(1); n0 <= held; n0++ {
		lost := newClimb(cfg, t, s.Start, s.End, n0).best().lost
		least = min(least, lost)
		if n0 == 1 {
			fromOne = lost
		}
	}
	return least, fromOne
}

// FirstSurgeScreen is the first-onset argument's ceiling on a spiky trace
// without a calm counterfactual: the loss of the first surge's best climb
// from one shard (the most the argument can force, whatever the calm trace
// and its budget) and from the calm need at 100 % (h = 1: a policy holding
// no headroom at all), as percentages of the trace's records; and the
// largest loss from one shard of any single surge that comes at least an
// hour after the last (Largest, at LargestSurge): the ceiling were the
// trace cut to start an hour before that surge, whose first surge it then
// is (still a percentage of the whole trace's records).
type FirstSurgeScreen struct {
	Trace           string
	Surge           Surge
	FromOne, FromH1 float64
	LargestSurge    Surge
	Largest         float64
}

// ScreenFirstSurge is FirstSurgeScreen on t's first surge (t.Surges[0]).
func ScreenFirstSurge(cfg Config, t Trace) (FirstSurgeScreen, bool) {
	cfg = cfg.withDefaults()
	if len(t.Surges) == 0 {
		return FirstSurgeScreen{}, false
	}
	s := t.Surges[0]
	s.End = min(s.End, t.Minutes())
	total := totalRecords(cfg, t)
	one := newClimb(cfg, t, s.Start, s.End, 1).best().lost
	h1 := newClimb(cfg, t, s.Start, s.End, needShards(hourLoad(cfg, t, s.Start), 1)).best().lost
	sc := FirstSurgeScreen{Trace: t.Name, Surge: s, FromOne: pct(one, total), FromH1: pct(h1, total)}
	for i, su := range t.Surges {
		su.End = min(su.End, t.Minutes())
		if su.Start >= su.End || i > 0 && su.Start-t.Surges[i-1].End < onsetCalmMinutes {
			continue // a close onset: an hour before it is not calm
		}
		if l := pct(newClimb(cfg, t, su.Start, su.End, 1).best().lost, total); l > sc.Largest {
			sc.Largest, sc.LargestSurge = l, su
		}
	}
	return sc, true
}

// WriteFirstOnset prints the first-onset argument for the cases among
// traces (FirstOnsetCases) and the screen on the other spiky traces with
// surges (onsetTraces), their loss goals from tfs (by trace name).
func WriteFirstOnset(w io.Writer, cfg Config, traces []Trace, tfs []TraceFrontier, stride, workers int) error {
	cfg = cfg.withDefaults()
	fmt.Fprintf(w, "first onset (the step and the flash crowd): on the calm counterfactual C (the calm level continued, the same noise) a causal policy meeting the smooth goals (shard-h <= %.1fx C's floor at %.0f %%, lost <= %.1f %%) holds at most `held` shards at some minute of W (minutes %d.. of C); the spiky trace S_m (C's first m minutes, then the spiky trace from its first surge) meets it with at most that: the first surge's best legal climb from <= held loses `forced` (%% of S_m's records) against 0.5x oracle-reactive's loss on S_m, checked every %d minutes of W\n",
		smoothShardGoal, 100*cfg.TargetUtilization, 100*smoothLossGoal, onsetCalmMinutes, max(stride, 1))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "trace\tcalm need\tC floor@70%\tW\theld (h*)\tforced (from 1 shard)\tgoal on S_m (checked)\tworst m: forced / goal\tverdict\t")
	cases := FirstOnsetCases(cfg, traces)
	for _, c := range cases {
		f, err := RunFirstOnset(cfg, c, stride, workers)
		if errors.Is(err, ErrCalmGoalsUnreachable) {
			fmt.Fprintf(tw, "%s\t\t\t\t\t\t\t\tvoid: %v\t\n", c.Spiky.Name, ErrCalmGoalsUnreachable)
			continue
		}
		if err != nil {
			return err
		}
		g, ratio := f.Worst()
		lo, hi := math.Inf(1), 0.0
		for _, x := range f.Goals {
			lo, hi = min(lo, x.GoalPercent()), max(hi, x.GoalPercent())
		}
		verdict := "no conflict proved"
		if f.Conflict() {
			verdict = "CONFLICT"
		}
		fmt.Fprintf(tw, "%s\t%.3f sh\t%.1f sh-h\t%d min\t%d (%.2f)\t%.3f%% (%.3f%%)\t%.3f-%.3f%% (%d)\tm=%d: %.3f%% / %.3f%% = %.2f\t%s\t\n",
			f.Trace, f.CalmNeed, f.Floor70, f.WMinutes, f.Held, f.Headroom, pct(f.ForcedLost, g.Records), pct(f.FromOne, g.Records),
			lo, hi, len(f.Goals), g.Onset, pct(f.ForcedLost, g.Records), g.GoalPercent(), ratio, verdict)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "first surge on the other spiky traces (no calm counterfactual): the first surge's best legal climb from 1 shard (the most the argument can force) and from the calm need at 100 % (h = 1), and the largest of any one surge an hour or more after the last, from 1 shard (were the trace cut an hour before it), % of the trace's records, against the trace's loss goal")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "trace\tfirst surge\tfrom 1 shard\tfrom h=1\tlargest single surge from 1 shard\tgoal: lost% ≤\t")
	ts, _ := onsetTraces(cfg, traces)
	for _, t := range ts {
		if slices.ContainsFunc(cases, func(c FirstOnsetCase) bool { return c.Spiky.Name == t.Name }) {
			continue
		}
		j := slices.IndexFunc(tfs, func(tf TraceFrontier) bool { return tf.Trace == t.Name })
		sc, ok := ScreenFirstSurge(cfg, t)
		if !ok || j < 0 {
			continue
		}
		largest := "0 (none loses from 1 shard)"
		if sc.Largest > 0 {
			largest = fmt.Sprintf("%.4f%% (minutes %d-%d)", sc.Largest, sc.LargestSurge.Start, sc.LargestSurge.End)
		}
		fmt.Fprintf(tw, "%s\tminutes %d-%d\t%.4f%%\t%.4f%%\t%s\t%.3f\t\n", t.Name, sc.Surge.Start, sc.Surge.End, sc.FromOne, sc.FromH1, largest, tfs[j].LossGoal)
	}
	return tw.Flush()
}
