package sim

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"
)

// FirstOnsetBudget is the first-onset argument and the calls-counted bound
// together on one case at one peak. The first-onset argument (FirstOnset)
// shows that a causal policy meeting the smooth goals on the calm
// counterfactual C bills at most Held shards at some minute m* of W; take
// m* the first minute of W where it bills its least over W. On S_m* the
// first surge then meets at most Held at its onset, every minute of W
// before the onset billed at least that (minutes before W: one shard or
// more). OnsetBudgetBoundFirst with that first calm period (MaxLevel Held,
// From W's start) bounds the policy's loss on S_m* within the spiky
// shard-hour goal (2x S_m*'s floor at 100 %), the later surges in the
// bound's own minimax reading (each meets the least count held through
// the calm time before it, its level chosen knowing its size), so a
// policy that learned from the first surge is covered. m* is the policy's:
// the goals conflict when the bound exceeds the loss goal on S_m (0.5x
// oracle-reactive's there) at every m of W.
type FirstOnsetBudget struct {
	First FirstOnset
	// Onsets: one per onset checked (First.Goals'), in order.
	Onsets []FirstOnsetBudgetOnset
	// Worst indexes Onsets: the least bound / goal; Uncapped is
	// OnsetBudgetBound (no cap) on S_m there.
	Worst    int
	Uncapped BudgetBound
}

// FirstOnsetBudgetOnset is the capped bound on S_m against the loss goal.
type FirstOnsetBudgetOnset struct {
	Goal FirstOnsetGoal
	// Floor is S_m's legal floor at 100 % (shard-hours); the bound is
	// within 2x it.
	Floor  float64
	Capped BudgetBound
}

// Ratio is the capped bound over the loss goal on S_m (+Inf: a positive
// bound against a goal of 0).
func (o FirstOnsetBudgetOnset) Ratio() float64 {
	g := o.Goal.GoalPercent()
	if g <= 0 {
		if o.Capped.LostPercent > 0 {
			return math.Inf(1)
		}
		return 0
	}
	return o.Capped.LostPercent / g
}

// Conflict is whether the capped bound exceeds the loss goal at every
// onset checked.
func (f FirstOnsetBudget) Conflict() bool {
	return len(f.Onsets) > 0 && f.Onsets[f.Worst].Ratio() > 1
}

// RunFirstOnsetBudget runs the first-onset argument on c (RunFirstOnset,
// oracle-reactive on S_m for every stride-th minute of W and c's own
// onset) and the capped bound on each S_m, with callsPerDay calls per UTC
// day, on at most workers goroutines.
func RunFirstOnsetBudget(cfg Config, c FirstOnsetCase, stride, callsPerDay, workers int) (FirstOnsetBudget, error) {
	cfg = cfg.withDefaults()
	first, err := RunFirstOnset(cfg, c, stride, workers)
	if err != nil {
		return FirstOnsetBudget{}, err
	}
	f := FirstOnsetBudget{First: first, Onsets: make([]FirstOnsetBudgetOnset, len(first.Goals))}
	firstCalm := FirstCalm{MaxLevel: first.Held, From: first.WFrom}
	forEachIndex(len(first.Goals), workers, func(i int) {
		g := first.Goals[i]
		s := shiftedSurge(c, g.Onset)
		floor := LegalFloorShardHours(cfg, s, 1)
		f.Onsets[i] = FirstOnsetBudgetOnset{Goal: g, Floor: floor,
			Capped: OnsetBudgetBoundFirst(cfg, s, 2*floor, callsPerDay, firstCalm)}
	})
	for i, o := range f.Onsets {
		if o.Ratio() < f.Onsets[f.Worst].Ratio() {
			f.Worst = i
		}
	}
	if len(f.Onsets) > 0 {
		w := f.Onsets[f.Worst]
		f.Uncapped = OnsetBudgetBound(cfg, shiftedSurge(c, w.Goal.Onset), 2*w.Floor, callsPerDay)
	}
	return f, nil
}

// WriteFirstOnsetBudget prints RunFirstOnsetBudget for the cases among
// traces (FirstOnsetCases) and, for the bursts (no calm counterfactual),
// the most a cap can add at the folder's onset: the bound capped at one
// shard on the trace itself (its goal from tfs); calls per UTC day.
func WriteFirstOnsetBudget(w io.Writer, cfg Config, traces []Trace, tfs []TraceFrontier, stride, calls, workers int) error {
	cfg = cfg.withDefaults()
	fmt.Fprintf(w, "first onset with the calls counted: OnsetBudgetBound (%d calls per UTC day, UPDATING %d min) on S_m within 2x S_m's floor at 100 %%, the first surge met at most `held` shards (the first-onset argument; minutes %d.. of the calm before it at least that), later surges as -onset-budget reads them; against 0.5x oracle-reactive's loss on S_m, every %d minutes of W and the trace's own onset\n",
		calls, int(math.Ceil(3*cfg.UpdatingScale)), onsetCalmMinutes, max(stride, 1))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "trace\theld\tonsets checked\tcapped bound on S_m\tgoal on S_m\tworst m: capped bound / goal (λ; path lost, shard-h / floor, climbs, calls)\tuncapped bound there\ttrace's own onset: capped / goal\tverdict\t")
	for _, c := range FirstOnsetCases(cfg, traces) {
		f, err := RunFirstOnsetBudget(cfg, c, stride, calls, workers)
		if errors.Is(err, ErrCalmGoalsUnreachable) {
			fmt.Fprintf(tw, "%s\t\t\t\t\t\t\t\tvoid: %v\t\n", c.Spiky.Name, ErrCalmGoalsUnreachable)
			continue
		}
		if err != nil {
			return err
		}
		bLo, bHi, gLo, gHi := math.Inf(1), 0.0, math.Inf(1), 0.0
		for _, o := range f.Onsets {
			bLo, bHi = min(bLo, o.Capped.LostPercent), max(bHi, o.Capped.LostPercent)
			gLo, gHi = min(gLo, o.Goal.GoalPercent()), max(gHi, o.Goal.GoalPercent())
		}
		o := f.Onsets[f.Worst]
		b := o.Capped
		verdict := "no conflict proved"
		if f.Conflict() {
			verdict = "CONFLICT PROVED"
		}
		own := "not in W"
		if i := slices.IndexFunc(f.Onsets, func(o FirstOnsetBudgetOnset) bool { return o.Goal.Onset == c.Surge.Start }); i >= 0 {
			x := f.Onsets[i]
			own = fmt.Sprintf("m=%d: %.3f%% / %.3f%% = %.2f", x.Goal.Onset, x.Capped.LostPercent, x.Goal.GoalPercent(), x.Ratio())
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.3f-%.3f%%\t%.3f-%.3f%%\tm=%d: %.3f%% / %.3f%% = %.2f (λ=%.3g; %.3f%%, %.2fx, %d, %d)\t%.3f%%\t%s\t%s\t\n",
			c.Spiky.Name, f.First.Held, len(f.Onsets), bLo, bHi, gLo, gHi, o.Goal.Onset, b.LostPercent, o.Goal.GoalPercent(), o.Ratio(),
			b.Lambda, b.PathLostPercent, b.PathShardHours/o.Floor, b.PathClimbs, b.PathCalls, f.Uncapped.LostPercent, own, verdict)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, t := range traces {
		if t.Name != "synthetic-bursts" {
			continue
		}
		for _, tf := range tfs {
			if tf.Trace != t.Name {
				continue
			}
			capped := OnsetBudgetBoundFirst(cfg, t, tf.ShardGoal, calls, FirstCalm{MaxLevel: 1})
			plain := OnsetBudgetBound(cfg, t, tf.ShardGoal, calls)
			fmt.Fprintf(w, "%s (no calm counterfactual): the bound with its first surge met at 1 shard (the most any cap adds, at the trace's own onset) %.3f%%, uncapped %.3f%%, goal %.3f%%\n",
				t.Name, capped.LostPercent, plain.LostPercent, tf.LossGoal)
		}
	}
	return nil
}
