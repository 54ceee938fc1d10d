package sim

import (
	"math"
	"math/rand/v2"
	"testing"
)

// fourSpikes: load 1 is 2 shards (2000 records/s of 1000 bytes), the calm
// 0.25 (half a shard: 1 shard carries it); 8 calm minutes, then four
// slots of a 20-minute spike to load 1, each followed by 8 calm minutes.
func fourSpikes() (Config, Trace) {
	cfg := DefaultConfig()
	cfg.PeakMiBps = 2e6 / (1 << 20)
	return cfg, spikeTrace("four", 8+4*28, 8, 28, 4)
}

// TestNextSizeByHand: fourSpikes with slots 1–3 a spike or nothing (rise
// ×1 or ×0, ½ each), slot 0 fixed, at μ = ℓ/4 (ℓ one shard-minute of
// records, %). In ℓ: a calm minute costs ¼ at level 1, ½ at 2; a spike met
// at 1 climbs (onset and 3 UPDATING minutes at 1: 4ℓ + 4μ, then 16 at 2:
// 32μ; 13) rather than not (20ℓ + 20μ = 25); met at 2 it costs 40μ = 10; a
// missing spike 20μ = 5 at any level (shedding is free in a slot). Holding
// 2 through 8 calm minutes costs 2 more and saves 3 on a spike: worth it
// when the spike is known (1 saved), not at ½ (1.5 < 2). So, by the
// backward pass: the last calm period 2; each random slot adds 11 when the
// size is not known, 10.5 when it is; slot 0 and the first calm period,
// from 35 (35 / 34, 33.5): level 2, 4 + 10 + 35 = 49 (known: 4 + 10 + 33.5
// = 47.5).
func TestNextSizeByHand(t *testing.T) {
	cfg, tr := fourSpikes()
	cfg = cfg.withDefaults()
	f := NextSizeFamily{Base: tr, Scales: []float64{0, 1}, Calm: []float64{0.25, 0.25, 0.25, 0.25}, Fixed: 0}
	m := newNextSizeModel(cfg, f)
	if len(m.grid) != 2 {
		t.Fatalf("grid %v, want [1 2]", m.grid)
	}
	total := 60 * (80*2000.0 + 40*500)
	ell := 100 * 60 * 1000 / total
	for _, c := range []struct {
		known bool
		want  float64
	}{{false, 49}, {true, 47.5}} {
		if got := m.solve(ell/4, c.known); math.Abs(got.v-c.want*ell) > 1e-9 {
			t.Errorf("knowsSize %v: value %.4f ℓ, want %.4f ℓ", c.known, got.v/ell, c.want)
		}
	}
}

// TestNextSizeSingleCandidate: with one candidate (the trace as it is)
// there is nothing to know, and the bound is OnsetBudgetBound's without a
// call limit, whether or not the size is known.
func TestNextSizeSingleCandidate(t *testing.T) {
	tr := eightRamps()
	cfg := DefaultConfig()
	for _, peak := range []float64{5, 40} {
		cfg.PeakMiBps = peak
		f := NewNextSizeFamily(tr, []float64{1})
		for _, budget := range []float64{20, 60, 200} {
			want := OnsetBudgetBound(cfg, tr, budget, 0).LostPercent
			for _, known := range []bool{false, true} {
				if got := BoundNextSize(cfg, f, budget, known).LostPercent; math.Abs(got-want) > 1e-9 {
					t.Errorf("%g MiB/s, %g shard-h, known %v: bound %.6f %%, want OnsetBudgetBound's %.6f %%", peak, budget, known, got, want)
				}
			}
		}
	}
}

// TestNextSizeKnowingNeverHurts: on the bursts, the value with the size
// known is never above the value without, at any price, and the two
// differ somewhere (the family gives the policy something to not know).
func TestNextSizeKnowingNeverHurts(t *testing.T) {
	cfg := DefaultConfig().withDefaults()
	cfg.PeakMiBps = 40
	var tr Trace
	for _, s := range SyntheticTraces(1) {
		if s.Name == "synthetic-bursts" {
			tr = s
		}
	}
	m := newNextSizeModel(cfg, NewNextSizeFamily(tr, NextSizeScales))
	differ := false
	for _, mu := range []float64{0, 1e-5, 1e-4, 1e-3} {
		known, not := m.solve(mu, true).v, m.solve(mu, false).v
		if known > not+1e-9 {
			t.Errorf("μ=%g: known %.6f above not known %.6f", mu, known, not)
		}
		differ = differ || not > known+1e-9
	}
	if !differ {
		t.Error("knowing the size never helps: the family does not bind")
	}
}

// TestNextSizeFamily: members keep Base outside the slots and its peak;
// a slot's rise is scaled over its calm level and capped at 1; the slot
// holding the peak is fixed.
func TestNextSizeFamily(t *testing.T) {
	l := repeat(0.2, 200)
	for m := 70; m < 80; m++ {
		l[m] = 0.6
	}
	for m := 150; m < 160; m++ {
		l[m] = 1
	}
	tr := Trace{Name: "two", Start: synthStart, Load: l, Surges: []Surge{{70, 80}, {150, 160}}}
	f := NewNextSizeFamily(tr, []float64{0, 1, 3})
	if f.Fixed != 1 || f.Choices(0) != 3 || f.Choices(1) != 1 {
		t.Fatalf("fixed %d, choices %d, %d: want slot 1 fixed, 3 and 1", f.Fixed, f.Choices(0), f.Choices(1))
	}
	if math.Abs(f.Calm[0]-0.2) > 1e-12 {
		t.Errorf("slot 0's calm %.3f, want 0.2", f.Calm[0])
	}
	for _, c := range []struct {
		choice int
		want   float64
	}{{0, 0.2}, {1, 0.6}, {2, 1}} { // 0.2 + 3 × 0.4 = 1.4, capped
		m := f.Member([]int{c.choice, 0})
		if math.Abs(m.Load[75]-c.want) > 1e-12 || m.Load[155] != 1 || m.Load[10] != 0.2 || m.Load[100] != 0.2 {
			t.Errorf("choice %d: minute 75 %.3f (want %.3f), 155 %.3f, 10 %.3f, 100 %.3f", c.choice, m.Load[75], c.want, m.Load[155], m.Load[10], m.Load[100])
		}
	}
	seen := map[int]bool{}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		ch := f.Sample(rng)
		seen[ch[0]] = true
		if ch[1] != 0 {
			t.Fatalf("fixed slot drawn %d", ch[1])
		}
	}
	if len(seen) != 3 {
		t.Errorf("slot 0 drew %v in 50 draws, want all 3", seen)
	}
}

func TestParseScales(t *testing.T) {
	got, err := ParseScales("2, 0,1,1")
	if err != nil || len(got) != 3 || got[0] != 0 || got[2] != 2 {
		t.Errorf("ParseScales = %v, %v; want [0 1 2]", got, err)
	}
	for _, bad := range []string{"", "-1", "x"} {
		if _, err := ParseScales(bad); err == nil {
			t.Errorf("ParseScales(%q): want an error", bad)
		}
	}
}
