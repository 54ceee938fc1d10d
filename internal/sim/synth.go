package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

var synthStart = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) // a Monday

// jitter multiplies each minute by 1 + noise·N(0,1) (clipped at 0), from a
// fixed seed so a run is reproducible.
func jitter(load []float64, noise float64, seed uint64) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := range load {
		load[i] = max(0, load[i]*(1+noise*r.NormFloat64()))
	}
}

// SyntheticTraces returns the benchmark's synthetic shapes: a ×10 step up
// and back, a slow ramp, flash crowds on a quiet base, a week of diurnal
// traffic with noise, and three shapes sampled every 5 minutes as metrics
// often are (a flat noisy load, 10× bursts on a quiet base, a random walk),
// on which a policy must not read noise as a trend.
func SyntheticTraces(seed uint64) []Trace {
	const day = 24 * 60

	step, stepSurges := stepShape(stepHigh)
	jitter(step, stepNoise, seed+1)

	ramp := make([]float64, 4*day)
	for m := range ramp {
		// Up over two days from 2 % to 100 %, down over the next two.
		x := float64(m) / float64(2*day)
		if x > 1 {
			x = 2 - x
		}
		ramp[m] = 0.02 + 0.98*x
	}
	jitter(ramp, 0.02, seed+2)

	flash, flashSurges := flashShape(true)
	jitter(flash, flashNoise, seed+3)

	diurnal := make([]float64, 7*day)
	for m := range diurnal {
		h := float64(m%day) / 60
		// Trough at 04:00, peak at 16:00; weekends (days 5, 6) at 60 %.
		v := 0.55 - 0.45*math.Cos(2*math.Pi*(h-4)/24)
		if d := m / day; d >= 5 {
			v *= 0.6
		}
		diurnal[m] = v
	}
	jitter(diurnal, 0.08, seed+4)

	r := rand.New(rand.NewPCG(seed+5, seed^0x5bd1e995))
	const week5 = 7 * day / 5 // 5-minute samples in a week
	flat := fiveMinutely(week5, func(int) float64 { return 40 + 3*r.NormFloat64() })
	burst := 0
	var burstSurges []Surge
	bursts := fiveMinutely(week5, func(i int) float64 {
		if burst == 0 && r.Float64() < 3.0/288 { // about three a day
			burst = 2 + r.IntN(5) // 10–30 minutes
			// Sample i is minute 5i; the interpolation rises from the
			// minute after the sample before and falls back by the sample
			// after the burst.
			burstSurges = addSurge(burstSurges, Surge{max(0, 5*(i-1)+1), 5 * (i + burst)})
		}
		v := 5 + r.Float64()
		if burst > 0 {
			v *= 10
			burst--
		}
		return v
	})
	x := 10.0
	walk := fiveMinutely(week5, func(int) float64 {
		x = min(max(x*math.Exp(0.05*r.NormFloat64()), 0.5), 200)
		return x
	})

	mk := func(name, what string, load []float64, surges ...Surge) Trace {
		return Trace{Name: name, Start: synthStart, Load: normalise(load),
			Source: fmt.Sprintf("synthetic %s, seed %d", what, seed), Surges: surges}
	}
	return []Trace{
		mk("synthetic-step-x10", "10 % → 100 % step for a day, 2 % noise", step, stepSurges...),
		mk("synthetic-slow-ramp", "2 % → 100 % over 2 days and back, 2 % noise", ramp),
		mk("synthetic-flash-crowd", "8 % base, three crowds to 100 % in 3 min, 3 % noise", flash, flashSurges...),
		mk("synthetic-diurnal", "week, daily 10–100 %, weekends 60 %, 8 % noise", diurnal),
		mk("synthetic-flat-noisy", "week, 40 ± 3 every 5 min (a CPU-like metric)", flat),
		mk("synthetic-bursts", "week, 5–6 base, 10× bursts of 10–30 min about 3 a day, every 5 min", bursts, burstSurges...),
		mk("synthetic-random-walk", "week, multiplicative random walk, 5 % per 5 min, 0.5–200", walk),
	}
}

// The step's and the flash crowd's levels before noise and normalisation,
// and their noise (jitter's).
const (
	stepCalm, stepHigh = 0.1, 1.0
	stepNoise          = 0.02
	flashBase          = 0.08
	flashNoise         = 0.03
)

// stepShape is the step trace before noise: two days at stepCalm, the
// middle day (from noon) at high, and that day as its surge.
func stepShape(high float64) ([]float64, []Surge) {
	const day = 24 * 60
	step := make([]float64, 2*day)
	for m := range step {
		step[m] = stepCalm
		if m >= day/2 && m < day/2+day {
			step[m] = high
		}
	}
	return step, []Surge{{day / 2, day/2 + day}}
}

// flashShape is the flash-crowd trace before noise: three days at
// flashBase and, with crowds, three crowds (rise to the peak in 3 minutes,
// hold 20, decay over an hour), each a 3-hour surge.
func flashShape(crowds bool) ([]float64, []Surge) {
	const day = 24 * 60
	flash := make([]float64, 3*day)
	for m := range flash {
		flash[m] = flashBase
	}
	if !crowds {
		return flash, nil
	}
	var surges []Surge
	for _, at := range []int{9 * 60, day + 14*60, 2*day + 20*60} {
		surges = append(surges, Surge{at, min(at+3*60, len(flash))})
		for k := 0; k < 3*60 && at+k < len(flash); k++ {
			var v float64
			switch {
			case k < 3:
				v = float64(k+1) / 3
			case k < 23:
				v = 1
			default:
				v = math.Exp(-float64(k-23) / 30)
			}
			flash[at+k] = max(flash[at+k], v)
		}
	}
	return flash, surges
}

// CalmCounterfactuals are the synthetic spiky traces of SyntheticTraces(seed)
// whose calm level the generator sets (the step and the flash crowd), each
// with its surges removed: the calm level continued through every minute,
// with the very noise draws the spiky trace has (jitter draws one number
// per minute, whatever the level) and divided by the spiky trace's
// normaliser, so minute m of the result is the spiky trace's minute m
// wherever that minute is calm, and the load is the spiky trace's scale
// (at -peak-mibps P its calm minutes carry what they carry in the spiky
// trace at P; the result's own maximum is about a tenth of P). Keyed by
// the spiky trace's name.
func CalmCounterfactuals(seed uint64) map[string]Trace {
	mk := func(name string, spiky, calm []float64, noise float64, salt uint64) Trace {
		jitter(spiky, noise, seed+salt)
		jitter(calm, noise, seed+salt)
		peak := slices.Max(spiky)
		for i := range calm {
			calm[i] /= peak
		}
		return Trace{Name: name + "-calm", Start: synthStart, Load: calm,
			Source: fmt.Sprintf("the calm level of %s continued, seed %d", name, seed)}
	}
	step, _ := stepShape(stepHigh)
	stepCalmOnly, _ := stepShape(stepCalm)
	flash, _ := flashShape(true)
	flashCalm, _ := flashShape(false)
	return map[string]Trace{
		"synthetic-step-x10":    mk("synthetic-step-x10", step, stepCalmOnly, stepNoise, 1),
		"synthetic-flash-crowd": mk("synthetic-flash-crowd", flash, flashCalm, flashNoise, 3),
	}
}

// addSurge appends s to surges, merged with the last one when they touch.
func addSurge(surges []Surge, s Surge) []Surge {
	if n := len(surges); n > 0 && s.Start <= surges[n-1].End {
		surges[n-1].End = max(surges[n-1].End, s.End)
		return surges
	}
	return append(surges, s)
}

// fiveMinutely samples f every 5 minutes, n times, and interpolates
// linearly to one-minute steps, as a trace file with a 5-minute step is.
func fiveMinutely(n int, f func(i int) float64) []float64 {
	pts := make([]float64, n)
	for i := range pts {
		pts[i] = f(i)
	}
	out := make([]float64, 0, 5*(n-1)+1)
	for i := 0; i+1 < n; i++ {
		for k := range 5 {
			out = append(out, pts[i]+(pts[i+1]-pts[i])*float64(k)/5)
		}
	}
	return append(out, pts[n-1])
}
