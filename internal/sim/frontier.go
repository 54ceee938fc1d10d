package sim

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// ReactiveParams name one member of the idealised reactive family:
// oracle-reactive (zero metric delay, legal calls through
// scaling.PlanReshard) with its shard target utilization, its scale-down
// window, a floor of shards and the tasks' headroom as parameters. Each member knows
// at a minute's end exactly what that minute needed, so it is at least as
// well informed as any reactive policy with the same parameters that reads
// CloudWatch's late points.
type ReactiveParams struct {
	// Utilization is the shard target (0.7: the operator's default);
	// lower holds more headroom.
	Utilization float64
	// Window is how long the highest need is held before scaling down.
	Window time.Duration
	// FloorShards is the fewest shards held (0: none beyond 1).
	FloorShards int32
	// TaskHeadroom: the tasks get the shards' headroom too (their target
	// CPU × Utilization / 0.7) and are held as long (at least the 5
	// minutes of oracle-reactive); off, they are oracle-reactive's. Tasks
	// are not in the shard-hour goal, so this buys loss at no shard-hour.
	TaskHeadroom bool
	// Lagged: the member reads each minute's need with CloudWatch's lag,
	// the same draws the operator gets in the model (cfg.Seed, or
	// cfg.MetricLagMinutes when set), instead of at the minute's end.
	Lagged bool `json:",omitempty"`
}

// Name is the member's row name, e.g. "u=0.7/15m/k=0" ("…/t" with
// TaskHeadroom, "…/lag" when Lagged).
func (p ReactiveParams) Name() string {
	w := strings.TrimSuffix(strings.TrimSuffix(p.Window.String(), "0s"), "0m")
	n := fmt.Sprintf("u=%.3g/%s/k=%d", p.Utilization, w, p.FloorShards)
	if p.TaskHeadroom {
		n += "/t"
	}
	if p.Lagged {
		n += "/lag"
	}
	return n
}

// OracleReactiveParams are the parameters at which the family's member is
// oracle-reactive.
func OracleReactiveParams(cfg Config) ReactiveParams {
	return ReactiveParams{Utilization: cfg.withDefaults().TargetUtilization, Window: scaling.DefaultShardScaleDown}
}

// NewReactive returns the family's member p for trace t; it starts warm at
// its own utilization and floor.
func NewReactive(cfg Config, t Trace, p ReactiveParams) *OracleReactive {
	o := NewOracleReactive(cfg, t)
	o.name, o.u, o.window, o.floor = p.Name(), p.Utilization, int(p.Window/time.Minute), p.FloorShards
	if p.TaskHeadroom {
		o.taskScale, o.taskWindow = p.Utilization/0.7, max(o.taskWindow, o.window)
	}
	if p.Lagged {
		o.lag = (&cloudWatch{seed: o.cfg.Seed, fixedLag: o.cfg.MetricLagMinutes}).lag
	}
	start := warmStart(o.cfg, p.Utilization)
	o.start = func(l Load) (int32, int32, int32) {
		s, pr, co := start(l)
		return max(s, p.FloorShards), pr, co
	}
	return o
}

// Frontier grid (issue 13's spiky-trace goals): target utilizations from
// the operator's 70 % down to an eighth, scale-down windows from the
// operator's 15 minutes to a day, and floors as shares of the trace's peak
// need at 100 % (spiky traces only).
var (
	FrontierUtilizations = []float64{0.70, 0.50, 0.35, 0.25, 0.18, 0.125}
	FrontierWindows      = []time.Duration{15 * time.Minute, time.Hour, 4 * time.Hour, 24 * time.Hour}
	FrontierFloorShares  = []float64{0, 0.25, 0.5}
)

// frontierFamily is the grid of members for trace t: every utilization and
// window, and on spiky traces every floor share of the peak's need, each
// with and without task headroom; every member Lagged when lagged.
func frontierFamily(cfg Config, t Trace, lagged bool) []ReactiveParams {
	shares, tasks := FrontierFloorShares, []bool{false, true}
	if smoothTraces[t.Name] {
		shares, tasks = []float64{0}, []bool{false}
	}
	peakNeed := needShards(peakLoad(cfg.withDefaults(), t), 1)
	var ps []ReactiveParams
	for _, th := range tasks {
		for _, k := range shares {
			for _, w := range FrontierWindows {
				for _, u := range FrontierUtilizations {
					ps = append(ps, ReactiveParams{Utilization: u, Window: w, FloorShards: int32(math.Round(k * float64(peakNeed))), TaskHeadroom: th, Lagged: lagged})
				}
			}
		}
	}
	return ps
}

// FrontierPoint is one policy's figures the goals judge.
type FrontierPoint struct {
	Name                    string
	LostPercent             float64
	ThrottledPercent        float64
	ProducerRejectedPercent float64
	ShardHours              float64
}

func pointOf(r Result) FrontierPoint {
	return FrontierPoint{Name: r.Policy, LostPercent: r.LostPercent, ThrottledPercent: r.ThrottledPercent,
		ProducerRejectedPercent: r.ProducerRejectedPercent, ShardHours: r.ShardHours}
}

// FrontierPick is what the frontier says about a set of points against a
// loss goal and a shard-hour goal: indexes into the points, -1 for none.
type FrontierPick struct {
	// LeastLoss: the least loss among points within the shard-hour goal
	// (ties: fewer shard-hours).
	LeastLoss int
	// LeastShardHours: the fewest shard-hours among points within the
	// loss goal (ties: less loss).
	LeastShardHours int
	// Both: the points meeting both goals.
	Both []int
}

// PickFrontier judges pts against loss ≤ lossGoal and shard-hours ≤
// shardGoal.
func PickFrontier(pts []FrontierPoint, lossGoal, shardGoal float64) FrontierPick {
	pick := FrontierPick{LeastLoss: -1, LeastShardHours: -1}
	better := func(i, j int, first, second func(FrontierPoint) float64) bool {
		if j < 0 {
			return true
		}
		a, b := pts[i], pts[j]
		return first(a) < first(b) || first(a) == first(b) && second(a) < second(b)
	}
	loss := func(p FrontierPoint) float64 { return p.LostPercent }
	sh := func(p FrontierPoint) float64 { return p.ShardHours }
	for i, p := range pts {
		inLoss, inSh := p.LostPercent <= lossGoal, p.ShardHours <= shardGoal
		if inSh && better(i, pick.LeastLoss, loss, sh) {
			pick.LeastLoss = i
		}
		if inLoss && better(i, pick.LeastShardHours, sh, loss) {
			pick.LeastShardHours = i
		}
		if inLoss && inSh {
			pick.Both = append(pick.Both, i)
		}
	}
	return pick
}

// TraceFrontier is the family's run on one trace at one peak, with issue
// 13's goals for the trace.
type TraceFrontier struct {
	Trace  string
	Spiky  bool
	Oracle FrontierPoint // the member at OracleReactiveParams
	// Operator is the operator's own point (the bench's "operator" row).
	Operator FrontierPoint
	// Floor is the legal floor the shard-hour goal is a multiple of: at
	// 100 % on spiky traces, at the target utilization on smooth ones.
	Floor float64
	// LossGoal and ShardGoal: spiky, 0.5x the oracle's loss and 2x the
	// floor at 100 %; smooth, 0.1 % and 1.3x the floor at the target.
	LossGoal, ShardGoal float64
	Members             []FrontierPoint
	Params              []ReactiveParams // Members' parameters
	Pick                FrontierPick
	// Lagged: the members read with CloudWatch's lag (RunFrontierLagged);
	// Oracle and the goals are still the zero-delay oracle-reactive's.
	Lagged bool `json:",omitempty"`
}

// BothCount counts the members meeting both goals, those among them
// without a floor and those with oracle-reactive's tasks.
func (tf TraceFrontier) BothCount() (all, noFloor, oracleTasks int) {
	for _, i := range tf.Pick.Both {
		all++
		if tf.Params[i].FloorShards == 0 {
			noFloor++
		}
		if !tf.Params[i].TaskHeadroom {
			oracleTasks++
		}
	}
	return all, noFloor, oracleTasks
}

// RunFrontier runs the reactive family and the operator on every trace at
// cfg's peak, on at most workers goroutines (at least 1).
func RunFrontier(cfg Config, traces []Trace, workers int) []TraceFrontier {
	return runFrontier(cfg, traces, workers, false)
}

// RunFrontierLagged is RunFrontier with every member reading the load with
// CloudWatch's lag, as the operator does (ReactiveParams.Lagged). The goals
// stay issue 13's: from the zero-delay oracle-reactive, run alongside.
func RunFrontierLagged(cfg Config, traces []Trace, workers int) []TraceFrontier {
	return runFrontier(cfg, traces, workers, true)
}

// zeroDelayOracle marks RunFrontier's job that runs the zero-delay
// oracle-reactive for the goals of a lagged family.
const zeroDelayOracle = -2

func runFrontier(cfg Config, traces []Trace, workers int, lagged bool) []TraceFrontier {
	cfg = cfg.withDefaults()
	type job struct {
		ti, mi int // member -1: the operator; zeroDelayOracle
		p      ReactiveParams
	}
	out := make([]TraceFrontier, len(traces))
	var jobs []job
	for ti, t := range traces {
		fam := frontierFamily(cfg, t, lagged)
		out[ti] = TraceFrontier{Trace: t.Name, Spiky: !smoothTraces[t.Name], Members: make([]FrontierPoint, len(fam)), Params: fam, Lagged: lagged}
		jobs = append(jobs, job{ti, -1, ReactiveParams{}})
		if lagged {
			jobs = append(jobs, job{ti, zeroDelayOracle, OracleReactiveParams(cfg)})
		}
		for mi, p := range fam {
			jobs = append(jobs, job{ti, mi, p})
		}
	}
	floors := make([]float64, len(traces))
	forEach(jobs, workers, func(j job) {
		t := traces[j.ti]
		switch {
		case j.mi >= 0:
			out[j.ti].Members[j.mi] = pointOf(Run(cfg, t, NewReactive(cfg, t, j.p)))
		case j.mi == zeroDelayOracle:
			out[j.ti].Oracle = pointOf(Run(cfg, t, NewReactive(cfg, t, j.p)))
		default:
			out[j.ti].Operator = pointOf(Run(cfg, t, NewOperator(cfg, scaling.MaxShardsPerStream)))
			u := cfg.TargetUtilization
			if !smoothTraces[t.Name] {
				u = 1
			}
			floors[j.ti] = LegalFloorShardHours(cfg, t, u)
		}
	})
	oracle := OracleReactiveParams(cfg).Name()
	for i := range out {
		tf := &out[i]
		tf.Floor = floors[i]
		for _, m := range tf.Members {
			if m.Name == oracle && !lagged {
				tf.Oracle = m
			}
		}
		tf.LossGoal, tf.ShardGoal = 0.1, 1.3*tf.Floor
		if tf.Spiky {
			tf.LossGoal, tf.ShardGoal = 0.5*tf.Oracle.LostPercent, 2*tf.Floor
		}
		tf.Pick = PickFrontier(tf.Members, tf.LossGoal, tf.ShardGoal)
	}
	return out
}

// WriteFrontier prints one line per trace: the goals, the frontier's two
// picks, whether any member meets both, and the operator's and the
// oracle's points. Shard-hours are shown as multiples of the trace's floor.
func WriteFrontier(w io.Writer, cfg Config, tfs []TraceFrontier) error {
	cfg = cfg.withDefaults()
	delay := "zero metric delay"
	if len(tfs) > 0 && tfs[0].Lagged {
		delay = fmt.Sprintf("CloudWatch's lag as the operator's, seed %d, metric-lag %d (0: 1-3 per minute); goals and oracle-reactive at zero delay", cfg.Seed, cfg.MetricLagMinutes)
	}
	fmt.Fprintf(w, "frontier at %.0f MiB/s (%.0f-byte records): the reactive family (%s, legal calls): u in %v, scale-down window in %v, floor k in %v of the peak's need at 100 %% and tasks as oracle-reactive's or with the same headroom (/t) (both on spiky traces only); shard-h as a multiple of the trace's legal floor (spiky: at 100 %%; smooth: at %.0f %%)\n",
		cfg.PeakMiBps, cfg.RecordBytes, delay, FrontierUtilizations, FrontierWindows, FrontierFloorShares, 100*cfg.TargetUtilization)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "trace\tgoal: lost% ≤\tshard-h ≤\tleast lost within shard-h goal\tleast shard-h within lost goal\tboth met\toperator\toracle-reactive\t")
	for _, tf := range tfs {
		fl := func(p FrontierPoint) string {
			if tf.Floor <= 0 || math.IsInf(tf.Floor, 0) {
				return fmt.Sprintf("%.3f%% %.0fsh", p.LostPercent, p.ShardHours)
			}
			return fmt.Sprintf("%.3f%% (thr %.3f) %.2fx", p.LostPercent, p.ThrottledPercent, p.ShardHours/tf.Floor)
		}
		member := func(i int) string {
			if i < 0 {
				return "none"
			}
			return tf.Members[i].Name + " " + fl(tf.Members[i])
		}
		both := "NO"
		if n, k0, ot := tf.BothCount(); n > 0 {
			both = fmt.Sprintf("yes: %d of %d (%d k=0, %d oracle's tasks)", n, len(tf.Members), k0, ot)
		}
		class := "2x floor@100%"
		if !tf.Spiky {
			class = "1.3x floor"
		}
		fmt.Fprintf(tw, "%s\t%.3f\t%s\t%s\t%s\t%s\t%s\t%s\t\n", tf.Trace, tf.LossGoal, class,
			member(tf.Pick.LeastLoss), member(tf.Pick.LeastShardHours), both, fl(tf.Operator), fl(tf.Oracle))
	}
	return tw.Flush()
}
