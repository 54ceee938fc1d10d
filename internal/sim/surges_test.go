package sim

import (
	"slices"
	"testing"
)

// surgeTrace is a trace of the given minutes' loads, named like a trace
// file (DetectSurges reads the loads relative to each other only).
func surgeTrace(load []float64) Trace {
	return Trace{Name: "file", Start: synthStart, Load: load}
}

// flatThen is n minutes at base, then the loads in tail.
func flatThen(n int, base float64, tail ...float64) []float64 {
	l := make([]float64, n)
	for m := range l {
		l[m] = base
	}
	return append(l, tail...)
}

func repeat(v float64, n int) []float64 {
	l := make([]float64, n)
	for i := range l {
		l[i] = v
	}
	return l
}

// TestDetectSurges: at k = 2, a minute is in a surge when its need
// exceeds twice the mean of the hour before it (every minute counted).
func TestDetectSurges(t *testing.T) {
	for _, c := range []struct {
		name string
		load []float64
		want []Surge
	}{
		// 0.3 over a 0.1 base: the hour's mean reaches 0.15 only after 15
		// minutes, so all ten are up; 0.1 again is calm.
		{"spike and back", slices.Concat(flatThen(120, 0.1, repeat(0.3, 10)...), repeat(0.1, 60)), []Surge{{120, 130}}},
		// ×1.9 stays under twice the calm level.
		{"rise under k", flatThen(120, 0.1, repeat(0.19, 60)...), nil},
		// 1 over 0.1 for good: up while the hour's mean is under 0.5,
		// (6 + 0.9 j)/60 < 0.5, j ≤ 26; from then 1 is the calm level.
		{"level shift", flatThen(120, 0.1, repeat(1, 120)...), []Surge{{120, 147}}},
		// Two 5-minute spikes 10 minutes apart: two surges, the second
		// rising from a calm level that includes the first.
		{"close spikes", slices.Concat(flatThen(120, 0.1, repeat(1, 5)...), repeat(0.1, 10), repeat(1, 5), repeat(0.1, 60)), []Surge{{120, 125}, {135, 140}}},
		// Minute 0 has no hour before it; minute 1's hour is minute 0.
		{"first minute", flatThen(1, 1, repeat(0.1, 60)...), nil},
	} {
		cfg := DefaultConfig()
		cfg.PeakMiBps = 40
		got := DetectSurges(cfg, surgeTrace(c.load), 2)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

// TestDetectSurgesFindsGeneratorOnsets: at SurgeFactor, on the synthetic
// spiky traces (three seeds, every peak), the detector finds one onset
// per surge the generator recorded, each within 2 minutes of it — within 5
// (one sample of the 5-minute bursts) when the generator's previous surge
// ended less than an hour before, whose minutes lift the calm level.
// Ends differ by design: the generator's end is the load back at its base,
// the detector's the load back under k × the hour's mean.
func TestDetectSurgesFindsGeneratorOnsets(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		for _, tr := range SyntheticTraces(seed) {
			if len(tr.Surges) == 0 {
				continue
			}
			for _, peak := range []float64{5, 40, 400} {
				cfg := DefaultConfig()
				cfg.PeakMiBps = peak
				got := DetectSurges(cfg, tr, SurgeFactor)
				if len(got) != len(tr.Surges) {
					t.Errorf("%s seed %d at %v MiB/s: %d surges, generator %d: %v", tr.Name, seed, peak, len(got), len(tr.Surges), got)
					continue
				}
				for i, g := range tr.Surges {
					tol := 2
					if i > 0 && g.Start-tr.Surges[i-1].End < onsetCalmMinutes {
						tol = 5
					}
					if d := got[i].Start - g.Start; d < 0 || d > tol {
						t.Errorf("%s seed %d at %v MiB/s: onset %d at minute %d, generator %d (tolerance %d)", tr.Name, seed, peak, i, got[i].Start, g.Start, tol)
					}
				}
			}
		}
	}
}

// TestOnsetTraces: the onset argument keeps the generator's surges, detects
// them on spiky trace files and leaves smooth traces without.
func TestOnsetTraces(t *testing.T) {
	spike := flatThen(120, 0.1, repeat(1, 5)...)
	in := []Trace{
		{Name: "synthetic-x", Load: spike, Surges: []Surge{{100, 110}}},
		{Name: "Twitter_volume_AAPL", Load: spike},
		{Name: "nyc_taxi", Load: spike},
	}
	out, det := onsetTraces(DefaultConfig(), in)
	want := [][]Surge{{{100, 110}}, {{120, 125}}, nil}
	for i := range in {
		if !slices.Equal(out[i].Surges, want[i]) || det[i] != (i == 1) {
			t.Errorf("%s: surges %v detected %v, want %v detected %v", in[i].Name, out[i].Surges, det[i], want[i], i == 1)
		}
	}
	if in[1].Surges != nil {
		t.Errorf("onsetTraces changed its input: %v", in[1].Surges)
	}
}

// TestRunOnsetGoalsIsRunFrontiers: -onset's goals, without the family,
// are the ones -frontier judges the same spiky trace by.
func TestRunOnsetGoalsIsRunFrontiers(t *testing.T) {
	tr := surgeTrace(slices.Concat(flatThen(240, 0.05, repeat(1, 20)...), repeat(0.05, 200)))
	tr.Name = "spiky"
	cfg := DefaultConfig()
	cfg.PeakMiBps = 40
	want := RunFrontier(cfg, []Trace{tr}, 2)[0]
	got := RunOnsetGoals(cfg, []Trace{tr, {Name: "nyc_taxi", Load: tr.Load}}, 2)
	if len(got) != 1 {
		t.Fatalf("got %d traces, want the spiky one only", len(got))
	}
	g := got[0]
	if g.Trace != want.Trace || g.Oracle != want.Oracle || g.Floor != want.Floor || g.LossGoal != want.LossGoal || g.ShardGoal != want.ShardGoal || g.LossGoal <= 0 {
		t.Errorf("got %s oracle %+v floor %v goals %v %v, want %s oracle %+v floor %v goals %v %v",
			g.Trace, g.Oracle, g.Floor, g.LossGoal, g.ShardGoal, want.Trace, want.Oracle, want.Floor, want.LossGoal, want.ShardGoal)
	}
}
