package sim

import (
	"math"
	"reflect"
	"slices"
	"testing"
	"time"
)

// TestReactiveFamilyHoldsOracleReactive: the family's member at the
// operator's 70 % and 15-minute window, no floor, is oracle-reactive, to
// the last figure, on a spiky and a smooth trace.
func TestReactiveFamilyHoldsOracleReactive(t *testing.T) {
	cfg := DefaultConfig()
	p := OracleReactiveParams(cfg)
	if p.Utilization != 0.70 || p.Window != 15*time.Minute || p.FloorShards != 0 {
		t.Fatalf("OracleReactiveParams = %+v, want u=0.70, 15m, no floor", p)
	}
	for _, tr := range SyntheticTraces(1) {
		if tr.Name != "synthetic-flash-crowd" && tr.Name != "synthetic-diurnal" {
			continue
		}
		want := Run(cfg, tr, NewOracleReactive(cfg, tr))
		got := Run(cfg, tr, NewReactive(cfg, tr, p))
		if got.Policy != "u=0.7/15m/k=0" {
			t.Errorf("%s: member named %q, want u=0.7/15m/k=0", tr.Name, got.Policy)
		}
		got.Policy = want.Policy
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: member %+v\nwant oracle-reactive %+v", tr.Name, got, want)
		}
	}
}

// stepTrace is a clean ×10 step: 2 hours at 10 %, 4 at 100 %, 4 at 10 %.
func stepTrace() Trace {
	l := make([]float64, 10*60)
	for m := range l {
		l[m] = 0.1
		if m >= 120 && m < 360 {
			l[m] = 1
		}
	}
	return Trace{Name: "step", Start: synthStart, Load: l, Surges: []Surge{{120, 360}}}
}

// TestReactiveHeadroomCosts: on a step, a member with more headroom (a
// lower utilization, a longer window, a floor) loses no more and holds no
// fewer shard-hours; lower utilization loses strictly less and a longer
// window holds strictly more, so a parameter the family ignored would show.
func TestReactiveHeadroomCosts(t *testing.T) {
	cfg := DefaultConfig()
	tr := stepTrace()
	run := func(u float64, w time.Duration, k int32) Result {
		return Run(cfg, tr, NewReactive(cfg, tr, ReactiveParams{Utilization: u, Window: w, FloorShards: k}))
	}
	base := run(0.7, 15*time.Minute, 0)
	for _, c := range []struct {
		name           string
		r              Result
		lessLoss, more bool // strictly
	}{
		{"u=0.35", run(0.35, 15*time.Minute, 0), true, true},
		{"u=0.125", run(0.125, 15*time.Minute, 0), true, true},
		{"window 4h", run(0.7, 4*time.Hour, 0), false, true},
		{"floor 21", run(0.7, 15*time.Minute, 21), true, true},
	} {
		if c.r.LostPercent > base.LostPercent || c.lessLoss && !(c.r.LostPercent < base.LostPercent) {
			t.Errorf("%s: lost %.4f%%, base %.4f%%: want less", c.name, c.r.LostPercent, base.LostPercent)
		}
		if c.r.ShardHours < base.ShardHours || c.more && !(c.r.ShardHours > base.ShardHours) {
			t.Errorf("%s: %.2f shard-h, base %.2f: want more", c.name, c.r.ShardHours, base.ShardHours)
		}
	}
	// Task headroom cuts the producers' refusals and leaves the shards.
	shards := run(0.35, time.Hour, 0)
	both := Run(cfg, tr, NewReactive(cfg, tr, ReactiveParams{Utilization: 0.35, Window: time.Hour, TaskHeadroom: true}))
	if !(both.ProducerRejectedPercent < shards.ProducerRejectedPercent) || both.ShardHours != shards.ShardHours {
		t.Errorf("task headroom: refused %.4f%% at %.2f shard-h, without %.4f%% at %.2f: want fewer refusals, the same shard-h",
			both.ProducerRejectedPercent, both.ShardHours, shards.ProducerRejectedPercent, shards.ShardHours)
	}
}

// TestPickFrontier: on a hand-made set the picks are the least loss within
// the shard-hour goal, the fewest shard-hours within the loss goal (ties
// broken by the other figure), and the points meeting both.
func TestPickFrontier(t *testing.T) {
	pts := []FrontierPoint{
		{Name: "a", LostPercent: 4, ShardHours: 50},  // cheap, lossy
		{Name: "b", LostPercent: 2, ShardHours: 90},  // within both
		{Name: "c", LostPercent: 2, ShardHours: 80},  // within both, cheaper than b
		{Name: "d", LostPercent: 1, ShardHours: 150}, // least loss, too dear
		{Name: "e", LostPercent: 3, ShardHours: 100}, // on the shard edge, loss over
	}
	for _, c := range []struct {
		name               string
		loss, shard        float64
		leastLoss, leastSh int
		both               []int
	}{
		{"both reachable", 2.5, 100, 2, 2, []int{1, 2}},
		{"conflict", 1.5, 100, 2, 3, nil},
		{"nothing within shard-h", 5, 40, -1, 0, nil},
		{"edges count", 3, 100, 2, 2, []int{1, 2, 4}},
	} {
		got := PickFrontier(pts, c.loss, c.shard)
		if got.LeastLoss != c.leastLoss || got.LeastShardHours != c.leastSh || !slices.Equal(got.Both, c.both) {
			t.Errorf("%s: got %+v, want least loss %d, least shard-h %d, both %v", c.name, got, c.leastLoss, c.leastSh, c.both)
		}
	}
}

// TestOnsetClimb: a calm need of 1 shard and a step to 8 (records bind:
// 1000-byte records, 1000 and 8000 records/s). Holding 1 shard, the
// best climb calls at the end of the onset minute, 1→2→4→8, each UPDATING
// 3 minutes with the old count carrying: 4 minutes at 1, 4 at 2, 4 at 4.
// Holding 2, it skips the first call.
func TestOnsetClimb(t *testing.T) {
	l := make([]float64, 180)
	for m := range l {
		l[m] = 0.125
		if m >= 60 && m < 120 {
			l[m] = 1
		}
	}
	tr := Trace{Name: "x8", Start: synthStart, Load: l, Surges: []Surge{{60, 120}}}
	cfg := DefaultConfig()
	cfg.PeakMiBps = 8e6 / (1 << 20)
	rows := OnsetLoss(cfg, tr, []float64{1, 2})
	demand := 60.0 * (60*1000 + 60*8000 + 60*1000)
	want := []OnsetRow{
		{Headroom: 1, LostPercent: 100 * 60 * (4*7000 + 4*6000 + 4*4000) / demand,
			// calm 120 × 1; onset 1; 3 UPDATING + 1 at 2, at 4, at 8; 47 at 8.
			ShardHours: float64(120+1+4*2+4*4+4*8+47*8) / 60, BusiestDayCalls: 3 + 3},
		{Headroom: 2, LostPercent: 100 * 60 * (4*6000 + 4*4000) / demand,
			ShardHours: float64(120*2+2+4*4+4*8+51*8) / 60, BusiestDayCalls: 2 + 2},
	}
	if len(rows) != len(want) {
		t.Fatalf("got %d rows, want %d", len(rows), len(want))
	}
	for i, r := range rows {
		w := want[i]
		if calm := float64(120*w.Headroom) / 60; math.Abs(r.CalmShardHours-calm) > 1e-9 {
			t.Errorf("h=%v: calm part %.4f shard-h, want %.4f", w.Headroom, r.CalmShardHours, calm)
		}
		r.CalmShardHours = 0
		if math.Abs(r.LostPercent-w.LostPercent) > 1e-9 || math.Abs(r.ShardHours-w.ShardHours) > 1e-9 || r.BusiestDayCalls != w.BusiestDayCalls {
			t.Errorf("h=%v: got %+v, want %+v", w.Headroom, r, w)
		}
	}
	if v := JudgeOnset(rows, 8, 12); v.Headroom != 2 || !v.ShardHoursMet || !v.CalmMet || v.Calls != 4 {
		t.Errorf("JudgeOnset(lost ≤ 8 %%, ≤ 12 shard-h) = %+v, want h=2 within shard-h, 4 calls", v)
	}
	if v := JudgeOnset(rows, 1, 100); v.Headroom != 0 {
		t.Errorf("JudgeOnset(lost ≤ 1 %%) = %+v, want none", v)
	}
}

// TestSyntheticSurges: the generator's surges cover the minutes its
// spiky shapes rise above their calm level, and only those.
func TestSyntheticSurges(t *testing.T) {
	for _, tr := range SyntheticTraces(1) {
		switch tr.Name {
		case "synthetic-step-x10", "synthetic-flash-crowd", "synthetic-bursts":
		default:
			if len(tr.Surges) != 0 {
				t.Errorf("%s: surges %v, want none", tr.Name, tr.Surges)
			}
			continue
		}
		if len(tr.Surges) == 0 {
			t.Fatalf("%s: no surges", tr.Name)
		}
		in := make([]bool, tr.Minutes())
		for i, s := range tr.Surges {
			if s.Start >= s.End || i > 0 && s.Start <= tr.Surges[i-1].End {
				t.Errorf("%s: surge %d %v overlaps or is empty", tr.Name, i, s)
			}
			for m := s.Start; m < min(s.End, tr.Minutes()); m++ {
				in[m] = true
			}
		}
		for m, v := range tr.Load {
			// Calm levels are at most 0.12 of the peak with noise (step
			// 0.1, flash 0.08, bursts 6/66).
			if v > 0.2 && !in[m] {
				t.Errorf("%s: minute %d at %.2f of the peak is in no surge", tr.Name, m, v)
				break
			}
		}
	}
}

// TestReactiveLagLosesMoreOnAJump: a member that reads the load with
// CloudWatch's lag loses more on the step's ×10 jump than the same member
// at zero delay, more the later it reads (lag 1 < lag 3), and holds no more
// shards than it reads (it learns the jump late). It fails if the family
// ignores the lag or its length.
func TestReactiveLagLosesMoreOnAJump(t *testing.T) {
	tr := stepTrace()
	run := func(lag int, p ReactiveParams) Result {
		cfg := DefaultConfig()
		cfg.MetricLagMinutes = lag
		return Run(cfg, tr, NewReactive(cfg, tr, p))
	}
	for _, p := range []ReactiveParams{
		{Utilization: 0.7, Window: 15 * time.Minute},
		{Utilization: 0.35, Window: time.Hour, TaskHeadroom: true},
	} {
		zero := run(3, p) // MetricLagMinutes does not reach an unlagged member
		lp := p
		lp.Lagged = true
		lag1, lag3 := run(1, lp), run(3, lp)
		for _, c := range []struct {
			name       string
			less, more Result
		}{
			{"zero delay < lag 1", zero, lag1},
			{"lag 1 < lag 3", lag1, lag3},
		} {
			if !(c.less.LostPercent < c.more.LostPercent) {
				t.Errorf("%s, %s: lost %.4f%% and %.4f%%: want the later reader to lose more", p.Name(), c.name, c.less.LostPercent, c.more.LostPercent)
			}
		}
		if lag3.Policy != p.Name()+"/lag" {
			t.Errorf("lagged member named %q, want %q", lag3.Policy, p.Name()+"/lag")
		}
	}
}

// TestReactiveLagDrawsAreTheModels: a lagged member reads each minute's
// need when the model's CloudWatch publishes it: with the random lag (seed
// 1), a one-minute spike at minute k is first read at the end of minute
// k+lag(k), never earlier. It fails if the member draws its own lags.
func TestReactiveLagDrawsAreTheModels(t *testing.T) {
	cfg := DefaultConfig()
	cw := &cloudWatch{seed: cfg.Seed}
	for _, k := range []int{30, 31, 32, 33, 34, 35} {
		l := make([]float64, 60)
		for m := range l {
			l[m] = 0.1
		}
		l[k] = 1
		tr := Trace{Name: "spike", Start: synthStart, Load: l}
		o := NewReactive(cfg, tr, ReactiveParams{Utilization: 0.7, Window: 15 * time.Minute, Lagged: true})
		Run(cfg, tr, o)
		want := needShards(cfg.demand(tr, k), 0.7)
		first := slices.Index(o.shards, want) // o.shards[m]: the reading at minute m's end
		if first != k+cw.lag(k) {
			t.Errorf("spike at minute %d (lag %d): first read at minute %d, want %d", k, cw.lag(k), first, k+cw.lag(k))
		}
	}
}
