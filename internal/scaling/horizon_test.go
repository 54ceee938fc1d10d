package scaling

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func flatEnv(steps int, lo, hi float64) envelope {
	e := envelope{lo: make([]float64, steps), hi: make([]float64, steps)}
	for j := range steps {
		e.lo[j], e.hi[j] = lo, hi
	}
	return e
}

func TestExpectedShortfall(t *testing.T) {
	tests := []struct {
		n, lo, hi, want float64
	}{
		{10, 5, 8, 0},   // above the envelope
		{8, 8, 8, 0},    // at a certain need
		{5, 8, 8, 3},    // below a certain need
		{4, 6, 10, 4},   // below the envelope: mean − n
		{8, 6, 10, 0.5}, // inside: (10−8)²/(2·4)
		{6, 6, 10, 2},   // at its bottom: the mean's distance
		{9.5, 9, 9, 0},  // n above a degenerate envelope
		{3, 10, 4, 4},   // hi < lo is a point at (lo+hi)/2 = 7 … minus 3
	}
	for _, tc := range tests {
		if got := expectedShortfall(tc.n, tc.lo, tc.hi); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("expectedShortfall(%v, %v, %v) = %v, want %v", tc.n, tc.lo, tc.hi, got, tc.want)
		}
	}
}

// hourPeaks returns hourly peaks: vals[i] for the hour i+1 hours before
// now's hour, plus the current hour at cur (0: none).
func hourPeaks(now time.Time, cur int32, vals ...int32) []Rec {
	h := now.Truncate(time.Hour)
	var out []Rec
	for i := len(vals) - 1; i >= 0; i-- {
		out = append(out, Rec{At: h.Add(-time.Duration(i+1) * time.Hour).Unix(), N: vals[i]})
	}
	if cur > 0 {
		out = append(out, Rec{At: h.Unix(), N: cur})
	}
	return out
}

func TestHourlyTrend(t *testing.T) {
	tests := []struct {
		name          string
		peaks         []Rec
		slope, sigmaP float64 // sigmaP < 0: sigma must be > 0
	}{
		{"no history", nil, 0, 0},
		{"two hours are not a trend", hourPeaks(now0, 0, 10, 8), 0, 0},
		{"flat", hourPeaks(now0, 30, 10, 10, 10, 10), 0, 0},
		{"rising 2 an hour", hourPeaks(now0, 0, 20, 18, 16, 14, 12, 10), 2, 0},
		{"falling 3 an hour, older than 6 h ignored", hourPeaks(now0, 0, 10, 13, 16, 19, 22, 25, 90), -3, 0},
		{"noisy", hourPeaks(now0, 0, 10, 14, 10, 14, 10, 14), -0.34285714285714286, -1},
	}
	for _, tc := range tests {
		slope, se, sigma := hourlyTrend(tc.peaks, now0.Add(10*time.Minute))
		if math.Abs(slope-tc.slope) > 1e-9 || (tc.sigmaP >= 0 && (sigma != tc.sigmaP || se != 0)) || (tc.sigmaP < 0 && !(sigma > 0 && se > 0)) {
			t.Errorf("%s: slope %v se %v sigma %v, want slope %v sigma %v", tc.name, slope, se, sigma, tc.slope, tc.sigmaP)
		}
	}
}

func TestForecastNeeds(t *testing.T) {
	now := now0.Add(10 * time.Minute)
	t.Run("starts at base and follows a rising trend", func(t *testing.T) {
		e := forecastNeeds(20, 20, history{peaks: hourPeaks(now, 0, 20, 18, 16, 14, 12, 10)}, now, 13, 10*time.Minute, 0)
		if e.lo[0] != 20 || e.hi[0] != 20 {
			t.Fatalf("step 0: [%v, %v], want [20, 20]", e.lo[0], e.hi[0])
		}
		if math.Abs(e.lo[12]-24) > 1e-9 || math.Abs(e.hi[12]-24) > 1e-9 {
			t.Fatalf("2 h ahead: [%v, %v], want the line's 24", e.lo[12], e.hi[12])
		}
	})
	t.Run("noise widens it both ways", func(t *testing.T) {
		e := forecastNeeds(14, 14, history{peaks: hourPeaks(now, 0, 10, 14, 10, 14, 10, 14)}, now, 7, 10*time.Minute, 0)
		if !(e.lo[6] < 14 && e.hi[6] > 14) {
			t.Fatalf("1 h ahead: [%v, %v], want around 14", e.lo[6], e.hi[6])
		}
	})
	t.Run("a rise seen now lifts hi", func(t *testing.T) {
		e := forecastNeeds(10, 10, history{}, now, 7, 10*time.Minute, 6)
		if e.lo[6] != 10 || e.hi[6] != 16 {
			t.Fatalf("1 h ahead: [%v, %v], want [10, 16]", e.lo[6], e.hi[6])
		}
	})
	t.Run("hi stops at twice the day's peak", func(t *testing.T) {
		e := forecastNeeds(10, 12, history{}, now, 25, 10*time.Minute, 100)
		if e.hi[24] != 24 {
			t.Fatalf("4 h ahead: hi %v, want 24", e.hi[24])
		}
	})
	t.Run("yesterday's next hours when today matches", func(t *testing.T) {
		// Yesterday: 10 at this hour, 30 two hours later; today 12 now.
		h := now.Truncate(time.Hour)
		peaks := []Rec{{At: h.Add(-24 * time.Hour).Unix(), N: 10}, {At: h.Add(-22 * time.Hour).Unix(), N: 30}, {At: h.Unix(), N: 12}}
		e := forecastNeeds(12, 30, history{peaks: peaks}, now, 13, 10*time.Minute, 0)
		if e.hi[12] != 36 || e.lo[12] != 12 {
			t.Fatalf("2 h ahead: [%v, %v], want [12, 36] (yesterday's 30 × 1.2)", e.lo[12], e.hi[12])
		}
		// Today three times yesterday: not the same day shape.
		e = forecastNeeds(30, 30, history{peaks: peaks}, now, 13, 10*time.Minute, 0)
		if e.hi[12] != 30 {
			t.Fatalf("unlike yesterday: hi %v, want 30", e.hi[12])
		}
	})
}

// weekAgo returns WeekPeaks for hours of the previous week: at[i] hours
// after the hour a week before now's, demand shards[i] (at 100 %).
func weekAgo(now time.Time, hours []int, shards []float64) []Rec {
	h := now.Truncate(time.Hour).Add(-weekHours * time.Hour)
	var out []Rec
	for i, k := range hours {
		out = append(out, Rec{At: h.Add(time.Duration(k) * time.Hour).Unix(), N: int32(shards[i] * DemandPerShard)})
	}
	return out
}

func TestForecastNeedsWeek(t *testing.T) {
	now := now0.Add(10 * time.Minute) // 12:10; steps of 10 minutes, step 12 is 14:10
	const u = 0.5                     // the week's demand at 100 % is twice the shards at u
	hday := now.Truncate(time.Hour)
	tests := []struct {
		name        string
		base        float64
		peaks, week []Rec
		lo12, hi12  float64
		lo6, hi6    float64 // an hour ahead
		withoutWeek [2]float64
	}{
		{
			// Last week's Saturday: 10 shards at u now, 4 two hours later;
			// yesterday (a Friday at 20 now) does not match today's 10.
			name: "a weekend dip seen last week", base: 10,
			peaks: []Rec{{At: hday.Add(-24 * time.Hour).Unix(), N: 20}, {At: hday.Add(-22 * time.Hour).Unix(), N: 40}, {At: hday.Unix(), N: 10}},
			week:  weekAgo(now, []int{0, 1, 2}, []float64{5, 3.5, 2}),
			lo12:  4, hi12: 10, lo6: 7, hi6: 10,
			withoutWeek: [2]float64{10, 10},
		},
		{
			// Yesterday (a Friday) matches today at this hour but rose to
			// 30 two hours later; last Saturday, also matching, fell to 4:
			// the same weekday is followed, not yesterday.
			name: "last week's dip, not the day before's rise", base: 10,
			peaks: []Rec{{At: hday.Add(-24 * time.Hour).Unix(), N: 10}, {At: hday.Add(-22 * time.Hour).Unix(), N: 30}, {At: hday.Unix(), N: 10}},
			week:  weekAgo(now, []int{0, 1, 2}, []float64{5, 3.5, 2}),
			lo12:  4, hi12: 10, lo6: 7, hi6: 10,
			withoutWeek: [2]float64{10, 30},
		},
		{
			// Yesterday (Sunday) flat at 10; last Monday 10 now, 30 two
			// hours later; today 12 now: ×1.2.
			name: "a Monday surge seen last week", base: 12,
			peaks: []Rec{{At: hday.Add(-24 * time.Hour).Unix(), N: 10}, {At: hday.Add(-23 * time.Hour).Unix(), N: 10}, {At: hday.Add(-22 * time.Hour).Unix(), N: 10}, {At: hday.Unix(), N: 12}},
			week:  weekAgo(now, []int{0, 1, 2}, []float64{5, 10, 15}),
			lo12:  12, hi12: 36, lo6: 12, hi6: 24,
			withoutWeek: [2]float64{12, 12},
		},
		{
			// Last week ran at a third of today's level: not the same
			// shape, so not used.
			name: "a week unlike today is not used", base: 30,
			week: weekAgo(now, []int{0, 1, 2}, []float64{5, 10, 15}),
			lo12: 30, hi12: 30, lo6: 30, hi6: 30,
			withoutWeek: [2]float64{30, 30},
		},
		{
			name: "hours missing from the week are not zero", base: 10,
			week: weekAgo(now, []int{0}, []float64{5}),
			lo12: 10, hi12: 10, lo6: 10, hi6: 10,
			withoutWeek: [2]float64{10, 10},
		},
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	for _, tc := range tests {
		e := forecastNeeds(tc.base, int32(tc.base), history{peaks: tc.peaks, week: tc.week, u: u}, now, 13, 10*time.Minute, 0)
		if !near(e.lo[12], tc.lo12) || !near(e.hi[12], tc.hi12) || !near(e.lo[6], tc.lo6) || !near(e.hi[6], tc.hi6) {
			t.Errorf("%s: 1 h ahead [%v, %v], 2 h ahead [%v, %v]; want [%v, %v], [%v, %v]",
				tc.name, e.lo[6], e.hi[6], e.lo[12], e.hi[12], tc.lo6, tc.hi6, tc.lo12, tc.hi12)
		}
		if e.lo[0] != tc.base || e.hi[0] != tc.base {
			t.Errorf("%s: now [%v, %v], want base %v", tc.name, e.lo[0], e.hi[0], tc.base)
		}
		// Without a week the forecast is the day's alone.
		e = forecastNeeds(tc.base, int32(tc.base), history{peaks: tc.peaks, u: u}, now, 13, 10*time.Minute, 0)
		if !near(e.lo[12], tc.withoutWeek[0]) || !near(e.hi[12], tc.withoutWeek[1]) {
			t.Errorf("%s without the week: 2 h ahead [%v, %v], want %v", tc.name, e.lo[12], e.hi[12], tc.withoutWeek)
		}
	}
}

func TestCallPenalties(t *testing.T) {
	pen := callPenalties(10, 4, 5)
	// Calls 1..4 of 4 left: 10·10/4, 10·10/3, 10·10/2, 10·10/1.
	want := []float64{0, 25, 25 + 100.0/3, 25 + 100.0/3 + 50, 25 + 100.0/3 + 150}
	for k := range pen {
		if got := pen[k] >> labelBits; got != int64(math.Round(want[k]*costUnits)) {
			t.Errorf("k=%d: %d, want %v", k, got, want[k]*costUnits)
		}
	}
}

func TestHistoryFrees(t *testing.T) {
	now := now0
	h := []time.Time{now.Add(-23*time.Hour - 55*time.Minute), now.Add(-23*time.Hour - 35*time.Minute), now.Add(-time.Hour), now.Add(-25 * time.Hour)}
	got := historyFrees(h, now, 4, 10*time.Minute)
	want := []int{0, 1, 1, 2}
	for j := range want {
		if got[j] != want[j] {
			t.Fatalf("frees %v, want %v", got, want)
		}
	}
}

func problemOf(open int32, env envelope, budget int) horizonProblem {
	return horizonProblem{open: open, atLeast: 1, lo: 1, hi: 1000, env: env, budget: budget,
		frees: make([]int, len(env.lo)), climbTo: 0, stepMins: 10, callCost: 30 * float64(open)}
}

func TestPlanFirst(t *testing.T) {
	rising := flatEnv(24, 10, 10)
	for j := range rising.lo {
		rising.lo[j], rising.hi[j] = 10+float64(j), 10+float64(j)
	}
	tests := []struct {
		name string
		p    horizonProblem
		want int32
	}{
		{"need at the open count: hold", problemOf(20, flatEnv(24, 20, 20), 10), 20},
		{"need far below for hours: one call down, as far as a call goes", problemOf(40, flatEnv(24, 10, 10), 10), 20},
		{"need a little below: a call costs more than it saves", problemOf(40, flatEnv(24, 38, 38), 10), 40},
		{"no calls left: hold", problemOf(40, flatEnv(24, 10, 10), 0), 40},
		{"reactive: at least the need, and past it when it keeps rising", func() horizonProblem {
			p := problemOf(10, rising, 10)
			p.atLeast = 12
			return p
		}(), 17},
		{"down only as far as the calls left can climb back", func() horizonProblem {
			p := problemOf(40, flatEnv(24, 10, 10), 1)
			p.climbTo = 40
			return p
		}(), 40},
		{"bounds hold", func() horizonProblem {
			p := problemOf(40, flatEnv(24, 10, 10), 10)
			p.lo = 30
			return p
		}(), 30},
	}
	for _, tc := range tests {
		if got := planFirst(tc.p); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

// bruteFirst tries every schedule of counts in [1, top] over the problem's
// steps and returns the least cost of all and of those starting at first.
func bruteFirst(p horizonProblem, top int32, first int32) (best, bestAt int64) {
	const inf = math.MaxInt64
	allowed := func(j int) int { return min(ReshardsPerWindow, p.budget+p.frees[j]) }
	last := allowed(len(p.frees) - 1)
	pen := callPenalties(p.callCost, last, last+1)
	best, bestAt = inf, inf
	anyClimb := false
	type res struct{ all, at int64 }
	var walk func(j int, prev int32, k int, cost int64, c0 int32, climbOnly bool) res
	walk = func(j int, prev int32, k int, cost int64, c0 int32, climbOnly bool) res {
		if j == len(p.env.lo) {
			if climbOnly && last-k < callsUp(prev, min(p.climbTo, p.hi)) {
				return res{inf, inf}
			}
			v := cost + pen[k]>>labelBits
			if c0 == first {
				return res{v, v}
			}
			return res{v, inf}
		}
		r := res{inf, inf}
		for c := max(p.lo, 1); c <= min(top, p.hi); c++ {
			kk := k
			if c != prev {
				if CheckStep(prev, c) != nil {
					continue
				}
				kk++
			}
			if kk > allowed(j) || (j == 0 && c < p.atLeast) {
				continue
			}
			start := c0
			if j == 0 {
				start = c
			}
			q := walk(j+1, c, kk, cost+p.stepCost(j, c), start, climbOnly)
			r.all, r.at = min(r.all, q.all), min(r.at, q.at)
		}
		return r
	}
	r := walk(0, p.open, 0, 0, 0, true)
	if r.all < inf {
		anyClimb = true
	}
	if !anyClimb {
		r = walk(0, p.open, 0, 0, 0, false)
	}
	return r.all, r.at
}

// TestPlanFirstAgainstEnumeration: the count planFirst picks for now starts
// a schedule as cheap as the cheapest of all, on small random problems.
func TestPlanFirstAgainstEnumeration(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 300 {
		checkPlanFirst(t, i, randomProblem(r))
	}
}

func randomProblem(r *rand.Rand) horizonProblem {
	steps := 1 + r.IntN(4)
	env := envelope{lo: make([]float64, steps), hi: make([]float64, steps)}
	for j := range steps {
		env.lo[j] = float64(r.IntN(9))
		env.hi[j] = env.lo[j] + float64(r.IntN(4))
	}
	frees := make([]int, steps)
	for j := 1; j < steps; j++ {
		frees[j] = frees[j-1] + r.IntN(2)
	}
	// As decideShardsHorizon asks: open within the bounds, atLeast within
	// one call of it.
	lo, hi := 1+r.Int32N(2), 6+r.Int32N(6)
	open := lo + r.Int32N(hi-lo+1)
	return horizonProblem{open: open, atLeast: min(1+r.Int32N(6), MaxLegalStep(open), hi), lo: lo, hi: hi,
		env: env, budget: r.IntN(3), frees: frees, climbTo: r.Int32N(10), stepMins: 1 + float64(r.IntN(10)), callCost: float64(r.IntN(20))}
}

func checkPlanFirst(t *testing.T, i int, p horizonProblem) {
	t.Helper()
	got := planFirst(p)
	top := int32(12)
	best, at := bruteFirst(p, top, got)
	if got == p.open && best == math.MaxInt64 {
		return // no legal schedule at all (e.g. open outside the bounds): holds
	}
	if at != best {
		t.Fatalf("case %d: %+v: first count %d costs %d, the best schedule %d", i, p, got, at, best)
	}
}

// FuzzPlanFirst is TestPlanFirstAgainstEnumeration on the fuzzer's seeds.
func FuzzPlanFirst(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Add(uint64(7), uint64(99))
	f.Fuzz(func(t *testing.T, a, b uint64) {
		checkPlanFirst(t, 0, randomProblem(rand.New(rand.NewPCG(a, b))))
	})
}

func TestDecideHorizon(t *testing.T) {
	horizon := func(in Inputs) Inputs { in.Stream.Planner = PlannerHorizon; return in }
	// A stabilization window of passes at a steady 10 MiB/s (15 shards at
	// 70 %) on 40 open shards, ending at now0.
	steady := func(open int32, calls []time.Time) (Decision, State) {
		var st State
		var d Decision
		for m := 20; m >= 0; m-- {
			now := now0.Add(-time.Duration(m) * time.Minute)
			in := horizon(baseInputs(now, open, 10))
			in.ReshardHistory = calls
			d, st = Decide(in, st, now)
		}
		return d, st
	}
	tests := []struct {
		name   string
		d      func() Decision
		want   int32
		reason string
	}{
		{"needs more: up at once, at least the need", func() Decision {
			d, _ := Decide(horizon(baseInputs(now0, 4, 10)), State{}, now0)
			return d
		}, 15, "scaling up 4→"},
		{"far below need: the need, the reshard planner makes the steps", func() Decision {
			d, _ := Decide(horizon(baseInputs(now0, 1, 30)), State{}, now0)
			return d
		}, 45, "scaling up 1→45"},
		{"no data: held", func() Decision {
			in := horizon(baseInputs(now0, 7, 10))
			in.Metrics = StreamMetrics{}
			d, _ := Decide(in, State{}, now0)
			return d
		}, 7, "holding at 7: no IncomingBytes"},
		{"a window of low load: down", func() Decision { d, _ := steady(40, nil); return d }, 20, "scaling down 40→20"},
		{"a reshard within the window: hold", func() Decision {
			d, _ := steady(40, []time.Time{now0.Add(-5 * time.Minute)})
			return d
		}, 40, "last reshard"},
		{"no calls left: hold", func() Decision { d, _ := steady(40, calls(10, now0.Add(-time.Hour))); return d }, 40, "0 of 10 reshard calls left"},
	}
	for _, tc := range tests {
		d := tc.d()
		if d.Shards < tc.want || (d.Shards != tc.want && !strings.HasPrefix(tc.reason, "scaling up 4")) || !strings.Contains(d.ShardReason, tc.reason) {
			t.Errorf("%s: %d (%s), want %d (%q)", tc.name, d.Shards, d.ShardReason, tc.want, tc.reason)
		}
	}
}

// TestDecideHorizonWeek: on a window of low load (15 shards needed, 40
// open) the horizon planner steps down, unless the same hours of the
// previous week (State.WeekPeaks, as Decide recorded them) rose to 39
// shards within two hours.
func TestDecideHorizonWeek(t *testing.T) {
	run := func(week []Rec) Decision {
		st := State{WeekPeaks: week}
		var d Decision
		for m := 20; m >= 0; m-- {
			now := now0.Add(-time.Duration(m) * time.Minute)
			in := baseInputs(now, 40, 10)
			in.Stream.Planner = PlannerHorizon
			d, st = Decide(in, st, now)
		}
		return d
	}
	if d := run(nil); d.Shards != 20 {
		t.Fatalf("without a week: %d (%s), want 20", d.Shards, d.ShardReason)
	}
	// A week ago: 10.5 shards at 100 % at this hour (today's level), 20 an
	// hour later, 27 (39 at 70 %) two and three hours later.
	d := run(weekAgo(now0, []int{0, 1, 2, 3}, []float64{10.5, 20, 27, 27}))
	if d.Shards != 40 || !strings.Contains(d.ShardReason, "holding at 40") {
		t.Fatalf("with last week's surge ahead: %d (%s), want to hold 40", d.Shards, d.ShardReason)
	}
}
