package sim

import (
	"math"
	"reflect"
	"testing"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// handShifted is handOnsetCase's S_m with 600 calm minutes: m calm
// minutes at one shard (1 MiB/s), the 30-minute surge to ten shards (10
// MiB/s), 150 calm minutes; m + 450 MiB/s-minutes of records in all.
func handShifted(m int) (Config, Trace) {
	cfg, c := handOnsetCase(600)
	return cfg, shiftedSurge(c, m)
}

// TestOnsetBudgetFirstCapBinds: with a shard budget too large to bind
// (λ = 0: the bound is the model's least loss) the uncapped bound is 0
// (hold ten shards through the calm time), and the first surge met at
// most 2 shards loses the climb 2 → 4 → 8 → 10, 64 MiB/s-minutes (as
// TestFirstOnsetByHand works it), at most 1 shard 1 → 2 → 4 → 8 → 10,
// 100, at most 3 shards 3 → 6 → 10, 7·4 + 4·4 = 44; a cap at or above
// 10 binds nothing.
func TestOnsetBudgetFirstCapBinds(t *testing.T) {
	const m = 300
	cfg, s := handShifted(m)
	total := float64(m + 450)
	for _, c := range []struct {
		cap    int32
		lostMi float64
	}{{0, 0}, {1, 100}, {2, 64}, {3, 44}, {10, 0}, {math.MaxInt32, 0}} {
		b := OnsetBudgetBoundFirst(cfg, s, 1e9, scaling.ReshardsPerWindow, FirstCalm{MaxLevel: c.cap})
		if want := 100 * c.lostMi / total; math.Abs(b.LostPercent-want) > 1e-9 {
			t.Errorf("first level ≤ %d: bound %.6f %%, want %.6f %% (%v MiB/s-minutes of %v)", c.cap, b.LostPercent, want, c.lostMi, total)
		}
	}
}

// TestOnsetBudgetFirstFrom: at a price low enough that the model holds
// ten shards through the calm time, the first hour held to one shard
// (From 60) costs 60 × 9 shard-minutes less than held to ten.
func TestOnsetBudgetFirstFrom(t *testing.T) {
	cfg, s := handShifted(300)
	const mu = 1e-9
	value := func(first FirstCalm) budgetCell {
		m := newBudgetModel(cfg.withDefaults(), s, scaling.ReshardsPerWindow)
		m.first = first
		return m.solve(mu)
	}
	all, hour := value(FirstCalm{MaxLevel: 10}), value(FirstCalm{MaxLevel: 10, From: 60})
	if all.loss != 0 || hour.loss != 0 {
		t.Fatalf("losses %v and %v, want 0 (ten shards held)", all.loss, hour.loss)
	}
	if d := all.shardMinutes - hour.shardMinutes; d != 540 || math.Abs(all.v-hour.v-540*mu) > 1e-15 {
		t.Errorf("From 60 saves %v shard-minutes (value %g), want 540 (%g)", d, all.v-hour.v, 540*mu)
	}
}

// TestOnsetBudgetFirstUncappedIdentical: no cap, or a cap above every
// count, is OnsetBudgetBound to the bit, on the flash crowd at 5 MiB/s.
func TestOnsetBudgetFirstUncappedIdentical(t *testing.T) {
	cfg := DefaultConfig()
	cfg.PeakMiBps = 5
	for _, tr := range SyntheticTraces(1) {
		if tr.Name != "synthetic-flash-crowd" {
			continue
		}
		budget := 2 * LegalFloorShardHours(cfg, tr, 1)
		want := OnsetBudgetBound(cfg, tr, budget, scaling.ReshardsPerWindow)
		for _, first := range []FirstCalm{{}, {MaxLevel: math.MaxInt32}, {MaxLevel: scaling.MaxShardsPerStream}} {
			if got := OnsetBudgetBoundFirst(cfg, tr, budget, scaling.ReshardsPerWindow, first); !reflect.DeepEqual(got, want) {
				t.Errorf("%+v: %+v, want %+v", first, got, want)
			}
		}
		capped := OnsetBudgetBoundFirst(cfg, tr, budget, scaling.ReshardsPerWindow, FirstCalm{MaxLevel: 1})
		if capped.LostPercent <= want.LostPercent {
			t.Errorf("first level ≤ 1: %.4f %%, not above the uncapped %.4f %%", capped.LostPercent, want.LostPercent)
		}
	}
}

// TestFirstOnsetBudgetByHand: on handOnsetCase (held 2) the capped bound
// on every S_m is the climb from 2 shards, 64 MiB/s-minutes of m + 450,
// above half oracle-reactive's loss there (TestFirstOnsetByHand): a
// conflict, which the uncapped bound (under the goal: it holds more
// shards through the calm time) does not show.
func TestFirstOnsetBudgetByHand(t *testing.T) {
	cfg, c := handOnsetCase(600)
	f, err := RunFirstOnsetBudget(cfg, c, 60, scaling.ReshardsPerWindow, 1)
	if err != nil {
		t.Fatal(err)
	}
	if f.First.Held != 2 || len(f.Onsets) != 9 {
		t.Fatalf("held %d, %d onsets; want 2 and 9", f.First.Held, len(f.Onsets))
	}
	for _, o := range f.Onsets {
		if want := 100 * 64 / float64(o.Goal.Onset+450); math.Abs(o.Capped.LostPercent-want) > 1e-9 {
			t.Errorf("S_%d: capped bound %.6f %%, want %.6f %%", o.Goal.Onset, o.Capped.LostPercent, want)
		}
	}
	if r := f.Onsets[f.Worst].Ratio(); !f.Conflict() || r <= 1 || r > 2 {
		t.Errorf("worst onset %d: ratio %v, conflict %v; want a conflict with ratio in (1, 2]", f.Onsets[f.Worst].Goal.Onset, r, f.Conflict())
	}
	if w := f.Onsets[f.Worst]; f.Uncapped.LostPercent >= w.Goal.GoalPercent() {
		t.Errorf("uncapped bound at the worst onset %.6f %%, want it under the goal %.6f %%", f.Uncapped.LostPercent, w.Goal.GoalPercent())
	}
}
