package sim

import (
	"math"
	"testing"
)

// twelveSpikes is one UTC day at 0.5 shard of need, with 12 spikes to 2
// shards (exactly) of 20 minutes, one every 120 minutes from minute 60.
func twelveSpikes() (Config, Trace) {
	cfg := DefaultConfig()
	cfg.PeakMiBps = 2e6 / (1 << 20) // load 1: 2000 records/s, 2 shards
	return cfg, spikeTrace("spikes", dayMinutes, 60, 120, 12)
}

// spikeTrace is a trace of minutes at load 0.25 with n 20-minute spikes to
// load 1, the first at minute first and one every `every` minutes after it.
func spikeTrace(name string, minutes, first, every, n int) Trace {
	l := repeat(0.25, minutes)
	var surges []Surge
	for i := range n {
		s := first + every*i
		for m := s; m < s+20; m++ {
			l[m] = 1
		}
		surges = append(surges, Surge{s, s + 20})
	}
	return Trace{Name: name, Start: synthStart, Load: l, Surges: surges}
}

// TestOnsetBudgetTwelveSpikes: with a shard-minute priced at half the
// records it carries, climbing a spike (1 call up, 1 down) gains 8
// shard-minutes of records (by hand: no climb, 20 minutes losing 1 shard's
// records and billing 1 = 30ℓ; the climb, the onset minute and 3 minutes
// of UPDATING at 1, then 16 at 2 = 4 × 1.5ℓ + 16ℓ = 22ℓ) and holding 2
// shards through a calm period of 100 minutes costs 50ℓ: so the model
// climbs for every spike without a limit (24 calls) and for exactly 5 with
// 10 calls a day.
func TestOnsetBudgetTwelveSpikes(t *testing.T) {
	cfg, tr := twelveSpikes()
	cfg = cfg.withDefaults()
	total := 60 * (240*2000.0 + 1200*500)
	ell := 100 * 60 * 1000 / total // one shard-minute of records, in %
	calm := 1200 * ell / 2         // 1200 calm minutes at 1 shard
	for _, c := range []struct {
		perDay, climbs, calls int
	}{{0, 12, 24}, {10, 5, 10}, {4, 2, 4}, {1, 0, 0}} {
		m := newBudgetModel(cfg, tr, c.perDay)
		if len(m.grid) != 2 {
			t.Fatalf("grid %v, want [1 2]", m.grid)
		}
		got := m.solve(ell / 2)
		wantLoss := float64(12-c.climbs)*20*ell + float64(c.climbs)*4*ell
		wantShardMin := 1200 + float64(12-c.climbs)*20 + float64(c.climbs)*(4+16*2)
		wantV := 12*30*ell + calm - float64(c.climbs)*8*ell
		if math.Abs(got.v-wantV) > 1e-9 || math.Abs(got.loss-wantLoss) > 1e-9 || math.Abs(got.shardMinutes-wantShardMin) > 1e-9 ||
			int(got.climbs) != c.climbs || int(got.calls) != c.calls {
			t.Errorf("%d calls a day: got value %.6f loss %.6f %% %.0f shard-min, %d climbs, %d calls; want %.6f, %.6f %%, %.0f, %d, %d",
				c.perDay, got.v, got.loss, got.shardMinutes, got.climbs, got.calls, wantV, wantLoss, wantShardMin, c.climbs, c.calls)
		}
	}
}

// TestOnsetBudgetTighterNeverLower: fewer calls a day never lower the
// model's value at any price, nor the bound.
func TestOnsetBudgetTighterNeverLower(t *testing.T) {
	if testing.Short() {
		t.Skip("5-30 s")
	}
	cfg := DefaultConfig()
	cfg.PeakMiBps = 40
	for _, tr := range SyntheticTraces(1) {
		if tr.Name != "synthetic-bursts" && tr.Name != "synthetic-flash-crowd" {
			continue
		}
		floor := LegalFloorShardHours(cfg, tr, 1)
		for _, mu := range []float64{0, 1e-4, 1e-3, 1e-2} {
			last := math.Inf(-1)
			for _, k := range []int{0, 20, 10, 5, 2} {
				v := newBudgetModel(cfg.withDefaults(), tr, k).solve(mu).v
				if v < last-1e-9 {
					t.Errorf("%s μ=%g: %d calls a day give %.6f, below %.6f with more", tr.Name, mu, k, v, last)
				}
				last = v
			}
		}
		var bounds []float64
		for _, k := range []int{0, 10, 2} {
			b := OnsetBudgetBound(cfg, tr, 2*floor, k)
			if len(bounds) > 0 && b.LostPercent < bounds[len(bounds)-1]-1e-6 {
				t.Errorf("%s: bound %.4f %% at %d calls a day, below %.4f %% with more", tr.Name, b.LostPercent, k, bounds[len(bounds)-1])
			}
			bounds = append(bounds, b.LostPercent)
		}
		if bounds[2] <= bounds[0] {
			t.Errorf("%s: bound at 2 calls a day %.4f %%, want above the unlimited %.4f %% (the limit must bind)", tr.Name, bounds[2], bounds[0])
		}
	}
}

// TestOnsetBudgetUnderOnsetLoss: without a call limit, the bound at the
// shard-hours of OnsetLoss's policy holding h is at most its loss, for
// every h of the onset argument, on a trace whose calm time is flat (there
// OnsetLoss's level, h × the hour's mean, is the level held through the
// calm time, the bound's reading; the model holds that policy, climbing
// faster).
func TestOnsetBudgetUnderOnsetLoss(t *testing.T) {
	tr := eightRamps()
	cfg := DefaultConfig()
	for _, peak := range []float64{5, 40} {
		cfg.PeakMiBps = peak
		for _, r := range OnsetLoss(cfg, tr, OnsetHeadrooms) {
			b := OnsetBudgetBound(cfg, tr, r.ShardHours, 0)
			if b.LostPercent > r.LostPercent+1e-9 || r.LostPercent <= 0 && r.Headroom < 3 {
				t.Errorf("%g MiB/s, h=%.3g: bound %.4f %% above OnsetLoss's %.4f %% at %.1f shard-h", peak, r.Headroom, b.LostPercent, r.LostPercent, r.ShardHours)
			}
		}
	}
}

// TestOnsetBudgetUnderOracle: at oracle-reactive's own shard-hours and 10
// calls a day, the bound is at most oracle-reactive's throttling (it makes
// legal calls, its surges are the generator's), at 5, 40 and 400 MiB/s.
func TestOnsetBudgetUnderOracle(t *testing.T) {
	if testing.Short() {
		t.Skip("about 30 s")
	}
	cfg := DefaultConfig()
	for _, peak := range []float64{5, 40, 400} {
		cfg.PeakMiBps = peak
		for _, tr := range SyntheticTraces(1) {
			if len(tr.Surges) == 0 {
				continue
			}
			o := pointOf(Run(cfg, tr, NewReactive(cfg, tr, OracleReactiveParams(cfg))))
			b := OnsetBudgetBound(cfg, tr, o.ShardHours, 10)
			if b.LostPercent > o.ThrottledPercent+1e-9 {
				t.Errorf("%s at %g MiB/s: bound %.4f %% above oracle-reactive's throttling %.4f %% at its %.1f shard-h", tr.Name, peak, b.LostPercent, o.ThrottledPercent, o.ShardHours)
			}
		}
	}
}

func TestBudgetGrid(t *testing.T) {
	g := budgetGrid(100)
	if g[0] != 1 || g[budgetExactLevels-1] != budgetExactLevels || g[len(g)-1] != 100 {
		t.Fatalf("grid %v: want 1 … %d every count, ending at 100", g, budgetExactLevels)
	}
	for i := 1; i < len(g); i++ {
		if g[i] <= g[i-1] || i >= budgetExactLevels && float64(g[i]) > math.Ceil(float64(g[i-1])*budgetGridRatio)+1e-9 && g[i] != 100 {
			t.Errorf("grid %v: step %d → %d", g, g[i-1], g[i])
		}
	}
	if c := climbCalls(1, 8); c != 3 {
		t.Errorf("climbCalls(1, 8) = %d, want 3", c)
	}
	if c := climbCalls(5, 5); c != 0 {
		t.Errorf("climbCalls(5, 5) = %d, want 0", c)
	}
}

// eightRamps is two days at load 0.05 with eight 25-minute surges of
// different peaks (0.2–1), each ramping from 0.8 of its peak to the peak,
// one every 360 minutes from minute 120.
func eightRamps() Trace {
	l := repeat(0.05, 2*dayMinutes)
	var surges []Surge
	for i, peak := range []float64{0.3, 0.6, 1, 0.45, 0.2, 0.8, 0.5, 0.9} {
		s := 120 + 360*i
		for m := s; m < s+25; m++ {
			l[m] = peak * (0.8 + 0.2*float64(m-s)/25)
		}
		surges = append(surges, Surge{s, s + 25})
	}
	return Trace{Name: "spikes", Start: synthStart, Load: l, Surges: surges}
}
