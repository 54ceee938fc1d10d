package sim

import (
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// OnsetHeadrooms are the capacities held at a surge's onset, as multiples
// of the calm level's need at 100 %: 1/0.7 is what oracle-reactive holds.
var OnsetHeadrooms = []float64{1 / 0.7, 2, 3, 4, 6, 8}

// onsetCalmMinutes is how far before a surge the calm level is averaged.
const onsetCalmMinutes = 60

// OnsetRow is the onset argument for one trace at one headroom h.
type OnsetRow struct {
	Headroom float64
	// LostPercent: records the best legal climb loses over all the
	// trace's surges, as a share of the trace's demand.
	LostPercent float64
	// ShardHours: holding h × each calm minute's need at 100 % through the
	// calm time, the climb's billed shards in each surge until it is done,
	// then each surge minute's need at 100 %.
	ShardHours float64
	// CalmShardHours is the calm part of ShardHours alone: a lower bound
	// on the shard-hours of any policy holding h at every calm minute.
	CalmShardHours float64
	// BusiestDayCalls: the calls of the climbs and of the descents back to
	// the count held at onset (each at least ½) that fall in the busiest
	// 24 hours, counted at each surge's onset. Above
	// scaling.ReshardsPerWindow the climbs are not all legal and the loss
	// is under-stated.
	BusiestDayCalls int
}

// OnsetLoss is the onset argument on a trace whose surges are known
// (Trace.Surges). A causal policy does not know when a surge starts: at a
// surge's first minute it holds what it would hold had the surge not come.
// For each headroom h it takes the stream at onset to hold h × the calm
// level's need at 100 % (hourLoad: the mean load of the onsetCalmMinutes
// before the onset, every minute counted, as a causal policy sees it) and
// climbs as fast as the law and the model allow: the first call at the end of the onset minute (zero metric
// delay), each call legal (at most 2× the open count) and made as soon as
// the stream is ACTIVE again, each UPDATING as long as the model's
// (UpdatingMinutes × Config.UpdatingScale, carrying the old count), to the
// surge's highest need at 100 %, by the sequence of targets that loses
// least (bestClimb). Throttling is the model's (acceptedFraction); the
// producers are taken to carry everything and the 10 calls a day are not
// counted: both favour the policy, so the loss is a lower bound for any
// policy holding h at onsets that does not know them in advance.
func OnsetLoss(cfg Config, t Trace, headrooms []float64) []OnsetRow {
	cfg = cfg.withDefaults()
	inSurge := make([]bool, t.Minutes())
	for _, s := range t.Surges {
		for m := s.Start; m < min(s.End, t.Minutes()); m++ {
			inSurge[m] = true
		}
	}
	total := totalRecords(cfg, t)
	var rows []OnsetRow
	for _, h := range headrooms {
		row := OnsetRow{Headroom: h}
		var lost float64
		var calls []int // per surge, at its onset
		for m := range t.Minutes() {
			if !inSurge[m] {
				row.CalmShardHours += float64(needShards(cfg.demand(t, m), 1/h)) / 60
			}
		}
		row.ShardHours = row.CalmShardHours
		for _, s := range t.Surges {
			end := min(s.End, t.Minutes())
			if s.Start >= end {
				continue
			}
			c := newClimb(cfg, t, s.Start, end, needShards(hourLoad(cfg, t, s.Start), 1/h))
			r := c.best()
			lost += r.lost
			row.ShardHours += r.billedMinutes / 60
			calls = append(calls, r.calls+descentCalls(max(c.n0, c.target), c.n0))
		}
		row.LostPercent = pct(lost, total)
		row.BusiestDayCalls = busiestDay(t.Surges, calls)
		rows = append(rows, row)
	}
	return rows
}

// climb is one surge's best legal climb from the count held at onset.
type climb struct {
	cfg        Config
	t          Trace
	start, end int
	n0, target int32
	memo       map[[2]int32]climbCost
}

type climbCost struct {
	lost, billedMinutes float64
	calls               int
}

func newClimb(cfg Config, t Trace, start, end int, n0 int32) *climb {
	var target int32
	for m := start; m < end; m++ {
		target = max(target, needShards(cfg.demand(t, m), 1))
	}
	return &climb{cfg: cfg, t: t, start: start, end: end, n0: n0, target: min(target, scaling.MaxShardsPerStream), memo: map[[2]int32]climbCost{}}
}

// lostAt is the records lost in minute m with n shards carrying.
func (c *climb) lostAt(m int, n int32) float64 {
	d := c.cfg.demand(c.t, m)
	return d.Records * (1 - c.cfg.acceptedFraction(n, d)) * 60
}

// best is the least loss of any legal climb over the surge, with the
// billed shard-minutes of that climb (each surge minute's need at 100 %
// once the climb is done) and its calls.
func (c *climb) best() climbCost {
	r := c.from(c.start, c.n0)
	r.lost += c.lostAt(c.start, c.n0)
	r.billedMinutes += float64(c.n0)
	return r
}

// descentCalls is the fewest calls from n back down to n0 (each at least
// half the open count).
func descentCalls(n, n0 int32) int {
	k := 0
	for ; n > n0; k++ {
		n = scaling.MinLegalStep(n)
	}
	return k
}

// busiestDay is the most calls in any 24 hours, calls[i] counted at
// surges[i].Start.
func busiestDay(surges []Surge, calls []int) int {
	best := 0
	for i, s := range surges {
		n := 0
		for j := i; j < len(surges) && surges[j].Start < s.Start+dayMinutes; j++ {
			n += calls[j]
		}
		best = max(best, n)
	}
	return best
}

// from is the best climb after minute m, whose end may see a call, with n
// open (minute m already counted).
func (c *climb) from(m int, n int32) climbCost {
	if n >= c.target || m+1 >= c.end {
		var r climbCost
		for k := m + 1; k < c.end; k++ {
			r.billedMinutes += float64(needShards(c.cfg.demand(c.t, k), 1))
		}
		return r
	}
	key := [2]int32{int32(m), n}
	if r, ok := c.memo[key]; ok {
		return r
	}
	best := climbCost{lost: math.Inf(1)}
	for _, to := range climbTargets(n, c.target) {
		dur := int(math.Ceil(float64(UpdatingMinutes(n, to)) * c.cfg.UpdatingScale))
		r := climbCost{calls: 1}
		// UPDATING: the old count carries, the larger is billed.
		k := m + 1
		for ; k <= m+dur && k < c.end; k++ {
			r.lost += c.lostAt(k, n)
			r.billedMinutes += float64(to)
		}
		if k < c.end {
			r.lost += c.lostAt(k, to)
			r.billedMinutes += float64(to)
			rest := c.from(k, to)
			r.lost += rest.lost
			r.billedMinutes += rest.billedMinutes
			r.calls += rest.calls
		}
		if r.lost < best.lost || r.lost == best.lost && r.billedMinutes < best.billedMinutes {
			best = r
		}
	}
	c.memo[key] = best
	return best
}

// climbTargets are the calls worth making from n towards target: the
// legal counts above n that are multiples of a quarter of n (the model's
// shortest UPDATING), and min(target, 2n).
func climbTargets(n, target int32) []int32 {
	hi := scaling.MaxLegalStep(n)
	ts := []int32{min(target, hi)}
	for to := n + 1; to <= min(hi, target); to++ {
		if (4*int64(to))%int64(n) == 0 && to != ts[0] {
			ts = append(ts, to)
		}
	}
	return ts
}

// OnsetVerdict is the onset argument's conclusion for one trace: the
// least headroom whose loss is within lossGoal (0: none of OnsetHeadrooms)
// and whether the shard-hour goal holds there, with the surges' climbs
// counted (ShardHoursMet) and on the calm time alone (CalmMet: when false,
// no policy holding that headroom meets it).
type OnsetVerdict struct {
	Headroom      float64
	ShardHoursMet bool
	CalmMet       bool
	// Calls is BusiestDayCalls at Headroom; CalmShardHours its calm part.
	Calls          int
	CalmShardHours float64
}

// JudgeOnset finds the least headroom in rows meeting lossGoal and checks
// its shard-hours against shardGoal.
func JudgeOnset(rows []OnsetRow, lossGoal, shardGoal float64) OnsetVerdict {
	for _, r := range rows {
		if r.LostPercent <= lossGoal {
			return OnsetVerdict{Headroom: r.Headroom, ShardHoursMet: r.ShardHours <= shardGoal, CalmMet: r.CalmShardHours <= shardGoal, Calls: r.BusiestDayCalls, CalmShardHours: r.CalmShardHours}
		}
	}
	return OnsetVerdict{}
}

// onsetStep is the resolution of RefineOnset's headroom.
const onsetStep = 0.05

// RefineOnset is JudgeOnset on trace t with the headroom found to
// onsetStep: between the grid's last headroom that misses lossGoal and its
// first that meets it (loss falls and shard-hours rise with h, so the
// least h meeting the loss goal settles whether the two goals conflict).
func RefineOnset(cfg Config, t Trace, lossGoal, shardGoal float64) OnsetVerdict {
	rows := OnsetLoss(cfg, t, OnsetHeadrooms)
	v := JudgeOnset(rows, lossGoal, shardGoal)
	i := slices.IndexFunc(rows, func(r OnsetRow) bool { return r.Headroom == v.Headroom })
	if v.Headroom == 0 || i == 0 {
		return v
	}
	var hs []float64
	for h := rows[i-1].Headroom + onsetStep; h < v.Headroom; h += onsetStep {
		hs = append(hs, h)
	}
	if fine := JudgeOnset(OnsetLoss(cfg, t, hs), lossGoal, shardGoal); fine.Headroom > 0 {
		return fine
	}
	return v
}

// WriteOnset prints the onset argument for every spiky trace in traces:
// the synthetic ones with their generator's surges, the others with
// DetectSurges' (onsetTraces), against the goals in tfs, found by trace
// name (RunFrontier or RunOnsetGoals at the same peak: 0.5x
// oracle-reactive's loss, 2x the floor at 100 %).
func WriteOnset(w io.Writer, cfg Config, traces []Trace, tfs []TraceFrontier) error {
	fmt.Fprintf(w, "onset argument (spiky traces; surges: the generator's on synthetic ones, DetectSurges' at k = %.3g on the others, marked det): at each onset the stream holds h x the calm need at 100 %%, then the best legal climb (zero delay, the model's UPDATING, <= 2x per call, call budget ignored, producers ignored) -- lost%% and shard-h (h x need through calm time) as a multiple of the floor at 100 %%, and the climbs' and descents' calls in the busiest 24 h (c; over 10: not all legal, loss under-stated)\n", SurgeFactor)
	traces, detected := onsetTraces(cfg, traces)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	hdr := "trace\tsurges\tgoal: lost% ≤\tshard-h ≤"
	for _, h := range OnsetHeadrooms {
		hdr += fmt.Sprintf("\th=%.3g", h)
	}
	fmt.Fprintln(tw, hdr+"\tleast h meeting lost goal (to 0.05)\t")
	for i, t := range traces {
		j := slices.IndexFunc(tfs, func(tf TraceFrontier) bool { return tf.Trace == t.Name })
		if len(t.Surges) == 0 || j < 0 || tfs[j].Floor <= 0 {
			continue
		}
		tf := tfs[j]
		rows := OnsetLoss(cfg, t, OnsetHeadrooms)
		src := "gen"
		if detected[i] {
			src = "det"
		}
		line := fmt.Sprintf("%s\t%s %s\t%.3f\t%.2fx", t.Name, src, SummariseSurges(t), tf.LossGoal, tf.ShardGoal/tf.Floor)
		for _, r := range rows {
			line += fmt.Sprintf("\t%.3f%% %.2fx %dc", r.LostPercent, r.ShardHours/tf.Floor, r.BusiestDayCalls)
		}
		v := RefineOnset(cfg, t, tf.LossGoal, tf.ShardGoal)
		switch {
		case v.Headroom == 0:
			line += fmt.Sprintf("\tnone up to %.3g (calm time alone at h=%.3g: %.2fx)", rows[len(rows)-1].Headroom, rows[len(rows)-1].Headroom, rows[len(rows)-1].CalmShardHours/tf.Floor)
		case v.ShardHoursMet:
			line += fmt.Sprintf("\th=%.3g, shard-h goal met", v.Headroom)
		default:
			line += fmt.Sprintf("\th=%.3g, shard-h goal MISSED", v.Headroom)
		}
		if v.Headroom > 0 {
			line += fmt.Sprintf(" (calm time alone %.2fx)", v.CalmShardHours/tf.Floor)
		}
		if v.Calls > scaling.ReshardsPerWindow {
			line += fmt.Sprintf(" (%d calls a day: not all legal)", v.Calls)
		}
		fmt.Fprintln(tw, line+"\t")
	}
	return tw.Flush()
}
