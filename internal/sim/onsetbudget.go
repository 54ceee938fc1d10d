package sim

import (
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// BudgetBound is OnsetBudgetBound's answer for one trace, call limit and
// shard-hour budget.
type BudgetBound struct {
	// CallsPerDay is the limit per calendar day (UTC); 0: none.
	CallsPerDay int
	// ShardBudget is the shard-hours a policy may spend.
	ShardBudget float64
	// LostPercent is the lower bound: no policy of the model (see
	// OnsetBudgetBound) spending at most ShardBudget loses less.
	LostPercent float64
	// Lambda is the price of ShardBudget's shard-hours (loss points per
	// ShardBudget) at which LostPercent was found.
	Lambda float64
	// The model's cheapest path at Lambda (least loss + Lambda ×
	// shard-hours / ShardBudget): its loss, its shard-hours, the surges it
	// climbs for and its calls. Not a bound: what the bound's best policy
	// looks like.
	PathLostPercent, PathShardHours float64
	PathClimbs, PathCalls           int
	// WithinLostPercent and WithinShardHours: of the model's cheapest
	// paths at the prices tried, the one losing least within ShardBudget
	// (+Inf: none): an upper end for LostPercent in the model's reading, a
	// policy of the model (not of AWS) meeting the budget.
	WithinLostPercent, WithinShardHours float64
	// Levels is the size of the model's grid of shard counts.
	Levels int
}

// budgetExactLevels: the grid holds every count up to this, then counts
// budgetGridRatio apart.
const (
	budgetExactLevels = 32
	budgetGridRatio   = 1.05
)

// OnsetBudgetBound is the onset argument with the calls counted: a lower
// bound on the loss of any policy that spends at most shardBudget
// shard-hours on trace t (whose Surges are set) and makes at most
// callsPerDay UpdateShardCount calls in each calendar day (0: no limit).
//
// The policies it covers are read as the onset argument reads them
// (minimax): a policy does not know when a surge comes, so surge i meets it
// at the least count it held through the calm time before it (the surge
// could have come at any calm minute). That level is a choice per calm
// period (the state of a dynamic program over the surges): after a surge
// the policy comes down from the top of its climb to the next level, each
// call at most halving, or stays there (no call). Every surge is climbed
// as the law and the model allow at best: first call at the end of the
// onset minute, each ≤ 2x, the next when ACTIVE. The level is chosen per
// calm period, so the policy is taken to know how large the next surge
// will be, though not when: the bound covers causal policies and more.
//
// Every simplification favours the policy, so the bound stays one:
//   - calls are counted per UTC calendar day (a rolling-24 h-legal schedule
//     is legal per calendar day), those of a surge's climb and of the
//     descent after it on any of the days from its onset to the next
//     onset, as early as the days' counts allow;
//   - every UPDATING lasts the model's shortest, ceil(3 × UpdatingScale)
//     minutes, whatever the target and size;
//   - the producers carry everything; loss is the model's throttling;
//   - a calm minute costs the least of loss + price × count over counts at
//     or above the level (following the need above it is free of calls),
//     from the surge's end (descents take no time);
//   - a surge minute costs the least over counts up to the one carrying
//     (shedding shards within a surge is free and immediate);
//   - counts are on a grid (every count to budgetExactLevels, then
//     budgetGridRatio apart), rounded for the policy: a level is billed
//     at the least count of its cell and climbs from the greatest, a
//     climb's top counts the calls to the least count of its cell and
//     carries the greatest, a descent goes to the greatest count of its
//     target's cell.
//
// The least loss within the budget is bounded by Lagrangian duality: for
// every price λ ≥ 0, min over the model's policies of loss + λ ×
// (shard-hours / shardBudget − 1) is at most the loss of any policy within
// the budget; the answer is the largest such value over a search of λ
// (any λ gives a valid bound; the search only tightens it).
func OnsetBudgetBound(cfg Config, t Trace, shardBudget float64, callsPerDay int) BudgetBound {
	return OnsetBudgetBoundFirst(cfg, t, shardBudget, callsPerDay, FirstCalm{})
}

// FirstCalm is what is known of the level held through the first calm
// period (before t's first surge), from outside the trace's own minimax
// reading (the first-onset argument): MaxLevel caps it (0: no cap), and
// only the minutes from From on are held to it (the minutes before bill
// at least one shard). The zero value adds nothing.
type FirstCalm struct {
	MaxLevel int32
	From     int
}

// OnsetBudgetBoundFirst is OnsetBudgetBound with the first calm period's
// level bounded by first: the first surge climbs from a grid level whose
// cell holds a count ≤ first.MaxLevel (the cell's greatest count, for the
// policy), and the calm minutes before first.From cost the least of any
// count. OnsetBudgetBoundFirst(…, FirstCalm{}) is OnsetBudgetBound.
func OnsetBudgetBoundFirst(cfg Config, t Trace, shardBudget float64, callsPerDay int, first FirstCalm) BudgetBound {
	cfg = cfg.withDefaults()
	m := newBudgetModel(cfg, t, callsPerDay)
	m.first = first
	b := BudgetBound{CallsPerDay: callsPerDay, ShardBudget: shardBudget, Levels: len(m.grid), WithinLostPercent: math.Inf(1)}
	if len(m.surges) == 0 || shardBudget <= 0 {
		return b
	}
	best := math.Inf(-1)
	maximiseDual(func(lambda float64) float64 {
		p := m.solve(lambda / (60 * shardBudget))
		g := p.v - lambda
		if p.shardMinutes/60 <= shardBudget && p.loss < b.WithinLostPercent {
			b.WithinLostPercent, b.WithinShardHours = p.loss, p.shardMinutes/60
		}
		if g > best {
			best = g
			b.LostPercent, b.Lambda = max(g, 0), lambda
			b.PathLostPercent, b.PathShardHours = p.loss, p.shardMinutes/60
			b.PathClimbs, b.PathCalls = int(p.climbs), int(p.calls)
		}
		return g
	})
	return b
}

// maximiseDual searches the price λ ≥ 0 for the largest dual value g(λ)
// (try returns it; the caller keeps the best it saw). g is concave (a
// minimum of lines in λ): a coarse log grid, then a golden-section search
// between the best point's neighbours. Any λ gives a valid bound; the
// search only tightens it.
func maximiseDual(try func(lambda float64) float64) {
	lambdas := []float64{0}
	for e := -3.0; e <= 4; e += 0.5 {
		lambdas = append(lambdas, math.Pow(10, e))
	}
	gs := make([]float64, len(lambdas))
	for i, l := range lambdas {
		gs[i] = try(l)
	}
	i := slices.Index(gs, slices.Max(gs))
	lo, hi := lambdas[max(i-1, 0)], lambdas[min(i+1, len(lambdas)-1)]
	const phi = 0.6180339887498949
	x1, x2 := hi-phi*(hi-lo), lo+phi*(hi-lo)
	g1, g2 := try(x1), try(x2)
	for range 14 {
		if g1 < g2 {
			lo, x1, g1 = x1, x2, g2
			x2 = lo + phi*(hi-lo)
			g2 = try(x2)
		} else {
			hi, x2, g2 = x2, x1, g1
			x1 = hi - phi*(hi-lo)
			g1 = try(x1)
		}
	}
}

// budgetModel is what OnsetBudgetBound's dynamic program needs of a trace,
// independent of the price λ.
type budgetModel struct {
	cfg    Config
	total  float64 // the trace's records
	grid   []int32 // counts, ascending from 1
	surges []budgetSurge
	calm   []budgetCalm // before surge 0, between surges, after the last
	k      int          // calls per calendar day, 0: no limit
	upd    int          // minutes of every UPDATING
	first  FirstCalm    // the first calm period's level, bounded
}

// budgetSurge is one surge: each minute's loss (% of the trace's records)
// at 1 … c0 shards (c0 carries the minute whole), and the calendar days
// from its onset to the next onset (or the trace's last minute), the days
// its calls and the next descent's may fall in.
type budgetSurge struct {
	lost [][]float64
	gap  int
}

// budgetCalm is one calm period: its minutes' loads. A policy holds
// through it a level, a cell (grid[g-1], grid[g]] of the grid: billed at
// its least count (calmCosts), climbing from and descending to its
// greatest. After a surge the level is at most the top of the surge's
// climb (the least count held in the calm time is at most the first calm
// minute's); before the first surge every level is open.
type budgetCalm struct {
	minutes int
	loads   []Load
}

func newBudgetModel(cfg Config, t Trace, callsPerDay int) *budgetModel {
	total := totalRecords(cfg, t)
	m := &budgetModel{cfg: cfg, total: total, k: max(callsPerDay, 0), upd: int(math.Ceil(3 * cfg.UpdatingScale))}
	var surges []Surge
	for _, s := range t.Surges {
		if e := min(s.End, t.Minutes()); s.Start < e {
			surges = append(surges, Surge{s.Start, e})
		}
	}
	top := int32(1)
	for _, s := range surges {
		bs := budgetSurge{}
		for i := s.Start; i < s.End; i++ {
			row := surgeMinuteLoss(cfg, cfg.demand(t, i), total)
			top = max(top, int32(len(row)))
			bs.lost = append(bs.lost, row)
		}
		m.surges = append(m.surges, bs)
	}
	m.grid = budgetGrid(top)
	day := utcDays(t)
	for i, s := range surges {
		next := t.Minutes() - 1
		if i+1 < len(surges) {
			next = surges[i+1].Start
		}
		m.surges[i].gap = max(0, day(next)-day(s.Start))
	}
	from := 0
	for i := 0; i <= len(surges); i++ {
		to := t.Minutes()
		if i < len(surges) {
			to = surges[i].Start
		}
		c := budgetCalm{minutes: to - from}
		for j := from; j < to; j++ {
			c.loads = append(c.loads, cfg.demand(t, j))
		}
		m.calm = append(m.calm, c)
		if i < len(surges) {
			from = surges[i].End
		}
	}
	return m
}

// surgeMinuteLoss is minute load d's loss at 1, 2, … shards, as a share
// (%) of total records, up to the first count that carries it whole.
func surgeMinuteLoss(cfg Config, d Load, total float64) []float64 {
	var row []float64
	for c := int32(1); c <= scaling.MaxShardsPerStream; c++ {
		a := cfg.acceptedFraction(c, d)
		row = append(row, pct(d.Records*(1-a)*60, total))
		if a >= 1-1e-12 {
			break
		}
	}
	return row
}

// budgetGrid is every count to budgetExactLevels, then counts
// budgetGridRatio apart, ending at top.
func budgetGrid(top int32) []int32 {
	var g []int32
	for c := int32(1); c <= min(top, budgetExactLevels); c++ {
		g = append(g, c)
	}
	for c := g[len(g)-1]; c < top; {
		c = min(top, max(c+1, int32(math.Ceil(float64(c)*budgetGridRatio))))
		g = append(g, c)
	}
	return g
}

// utcDays returns the UTC calendar day of a trace minute.
func utcDays(t Trace) func(int) int {
	start := t.Start.UTC()
	base := int(math.Floor(float64(start.Unix()) / 86400))
	offset := int(start.Sub(time.Unix(int64(base)*86400, 0).UTC()) / time.Minute)
	return func(m int) int { return base + (offset+m)/dayMinutes }
}

// roundUp is the grid index of the least grid count ≥ n (the top index
// past the grid).
func (m *budgetModel) roundUp(n float64) int {
	i, _ := slices.BinarySearchFunc(m.grid, n, func(g int32, n float64) int {
		if float64(g) < n {
			return -1
		}
		return 1
	})
	return min(i, len(m.grid)-1)
}

// cellLow is the least count of grid cell i: (grid[i-1], grid[i]].
func (m *budgetModel) cellLow(i int) int32 {
	if i == 0 {
		return 1
	}
	return m.grid[i-1] + 1
}

// budgetCell is one state of the dynamic program: the least value (loss %
// + μ × shard-minutes) and its parts.
type budgetCell struct {
	v, loss, shardMinutes float64
	climbs, calls         int32
}

var noCell = budgetCell{v: math.Inf(1)}

// add is c followed by o: values, losses, shard-minutes, climbs and calls
// summed.
func (c budgetCell) add(o budgetCell) budgetCell {
	return budgetCell{v: c.v + o.v, loss: c.loss + o.loss, shardMinutes: c.shardMinutes + o.shardMinutes,
		climbs: c.climbs + o.climbs, calls: c.calls + o.calls}
}

func (c *budgetCell) improve(n budgetCell) {
	if n.v < c.v {
		*c = n
	}
}

// climbCalls is the fewest calls from n up to at least y, each at most 2x.
func climbCalls(n, y int32) int {
	k := 0
	for ; n < y; k++ {
		n = scaling.MaxLegalStep(n)
	}
	return k
}

// solve is the dynamic program over the surges at price mu per
// shard-minute: state (grid index the next climb starts from, calls
// already made on the current calendar day).
func (m *budgetModel) solve(mu float64) budgetCell {
	l := m.layout()
	desc := m.descents()
	cur := m.firstCalm(l, mu)
	for i, s := range m.surges {
		limit := m.k * (s.gap + 1) // most calls from the onset's day to the next onset's
		mid := m.climbSurge(l, cur, s, limit, mu)
		cur = m.calmAfter(l, mid, i, s, limit, desc, mu)
	}
	best := noCell
	for _, c := range cur {
		best.improve(c)
	}
	return best
}

// surgeCalls is how many calls one surge's climb and the descent after it
// may add to a day's count in solve's layout.
const surgeCalls = 64

// budgetLayout is how solve lays out its states: a grid level × the calls
// already made that day, w wide between surges (0…k) and wm while a
// surge's climb and descent add theirs; one column without a call limit.
type budgetLayout struct{ n, w, wm int }

func (m *budgetModel) layout() budgetLayout {
	l := budgetLayout{n: len(m.grid), w: 1, wm: 1}
	if m.k > 0 {
		l.w = m.k + 1
		l.wm = l.w + surgeCalls
	}
	return l
}

// descents is the calls from each level's least count down to each grid
// count (descentCalls), [from][to].
func (m *budgetModel) descents() [][]int {
	n := len(m.grid)
	desc := make([][]int, n)
	for h := range n {
		desc[h] = make([]int, n)
		for g := range n {
			desc[h][g] = descentCalls(m.cellLow(h), m.grid[g])
		}
	}
	return desc
}

// firstCalm is the states before the first surge: each level held through
// the first calm period, no call made, and none above FirstCalm.MaxLevel
// when it is set (the first surge meets at most that).
func (m *budgetModel) firstCalm(l budgetLayout, mu float64) []budgetCell {
	cur := fill(l.n*l.w, noCell)
	for g, c := range m.calmCosts(0, mu) {
		if m.first.MaxLevel > 0 && m.cellLow(g) > m.first.MaxLevel {
			break
		}
		cur[g*l.w] = c
	}
	return cur
}

// climbSurge is the states after surge s: from each level held (and calls
// made that day), the best climb to each top at or above it, its calls
// counted against limit.
func (m *budgetModel) climbSurge(l budgetLayout, cur []budgetCell, s budgetSurge, limit int, mu float64) []budgetCell {
	phi := surgePhi(s.lost, mu)
	mid := fill(l.n*l.wm, noCell)
	for k := range l.n {
		for u := range l.w {
			c := cur[k*l.w+u]
			if math.IsInf(c.v, 1) {
				continue
			}
			for h := k; h < l.n; h++ {
				a := climbCalls(m.grid[k], m.cellLow(h))
				if m.k > 0 && (u+a > limit || u+a >= l.wm) {
					break
				}
				j := c.add(m.climb(phi, m.grid[k], m.grid[h]))
				j.calls += int32(a)
				if h > k {
					j.climbs++
				}
				if m.k == 0 {
					mid[h].improve(j)
				} else {
					mid[h*l.wm+u+a].improve(j)
				}
			}
		}
	}
	return mid
}

// calmAfter is the states before the next surge: from each top reached in
// surge i (s), a descent to each level at or below it (its calls counted;
// none when the next surge follows at once) and that level held through
// calm period i+1; the day's count carried past the days the calm spans.
func (m *budgetModel) calmAfter(l budgetLayout, mid []budgetCell, i int, s budgetSurge, limit int, desc [][]int, mu float64) []budgetCell {
	calm := m.calm[i+1]
	costs := m.calmCosts(i+1, mu)
	next := fill(l.n*l.w, noCell)
	for h := range l.n {
		for u := range l.wm {
			c := mid[h*l.wm+u]
			if math.IsInf(c.v, 1) {
				continue
			}
			place := func(start, b int, cost budgetCell) {
				used := u + b
				if m.k > 0 && used > limit {
					return
				}
				left := 0
				if m.k > 0 {
					left = max(0, used-m.k*s.gap)
				}
				nc := c.add(cost)
				nc.calls += int32(b)
				next[start*l.w+left].improve(nc)
			}
			if calm.minutes <= 0 {
				place(h, 0, budgetCell{}) // the next surge follows at once: from this top
				continue
			}
			for g := 0; g <= h; g++ {
				place(g, desc[h][g], costs[g])
			}
		}
	}
	return next
}

// calmCosts is, for every grid level g, what holding at least the least
// count of its cell through calm period i costs at price mu: each minute
// at its cheapest count at or above it (calmMinute); in the first calm
// period the minutes before first.From at their cheapest count of all.
func (m *budgetModel) calmCosts(i int, mu float64) []budgetCell {
	out := make([]budgetCell, len(m.grid))
	var best []float64
	var arg []int32
	for j, d := range m.calm[i].loads {
		best, arg = m.calmMinute(d, mu, best[:0], arg[:0])
		for g := range m.grid {
			l := m.cellLow(g)
			if i == 0 && j < m.first.From {
				l = 1
			}
			c := &out[g]
			if int(l) > len(best) {
				c.v += mu * float64(l)
				c.shardMinutes += float64(l)
				continue
			}
			c.v += best[l-1]
			c.shardMinutes += float64(arg[l-1])
			c.loss += best[l-1] - mu*float64(arg[l-1])
		}
	}
	return out
}

// calmMinute is, for a calm minute's load d at price mu, the least loss +
// mu × count over counts at or above each count c (index c-1), up to the
// first count carrying d whole (past it, mu × c), and that count: a
// policy holding at least c through the calm time pays at least that.
func (m *budgetModel) calmMinute(d Load, mu float64, best []float64, arg []int32) ([]float64, []int32) {
	for c := int32(1); c <= scaling.MaxShardsPerStream; c++ {
		a := m.cfg.acceptedFraction(c, d)
		best = append(best, pct(d.Records*(1-a)*60, m.total)+mu*float64(c))
		arg = append(arg, c)
		if a >= 1-1e-12 {
			break
		}
	}
	for c := len(best) - 2; c >= 0; c-- {
		if best[c+1] < best[c] {
			best[c], arg[c] = best[c+1], arg[c+1]
		}
	}
	return best, arg
}

// fill is n copies of c.
func fill(n int, c budgetCell) []budgetCell {
	s := make([]budgetCell, n)
	for i := range s {
		s[i] = c
	}
	return s
}

// phiMinute is, for one surge minute, the best count at or under each
// carrying count (1-based index c-1): the policy may bill any count up to
// what carries.
type phiMinute struct {
	v, loss []float64
	arg     []int32
}

// surgePhi prices every surge minute at mu per shard-minute.
func surgePhi(lost [][]float64, mu float64) []phiMinute {
	out := make([]phiMinute, len(lost))
	for i, row := range lost {
		p := phiMinute{v: make([]float64, len(row)), loss: make([]float64, len(row)), arg: make([]int32, len(row))}
		for c := range row {
			v := row[c] + mu*float64(c+1)
			if c > 0 && p.v[c-1] <= v {
				p.v[c], p.loss[c], p.arg[c] = p.v[c-1], p.loss[c-1], p.arg[c-1]
			} else {
				p.v[c], p.loss[c], p.arg[c] = v, row[c], int32(c+1)
			}
		}
		out[i] = p
	}
	return out
}

// climb is a surge's value on the fastest climb from n0 to y: the onset
// minute at n0, then each call as soon as the stream is ACTIVE (the first
// at the end of the onset minute), each doubling (never past y), each
// UPDATING m.upd minutes carrying the old count.
func (m *budgetModel) climb(phi []phiMinute, n0, y int32) budgetCell {
	var r budgetCell
	carry, change := n0, 1+m.upd
	for i, p := range phi {
		if carry < y && i == change {
			carry = min(scaling.MaxLegalStep(carry), y)
			change = i + 1 + m.upd
		}
		c := min(int(carry), len(p.v)) - 1
		r.v += p.v[c]
		r.loss += p.loss[c]
		r.shardMinutes += float64(p.arg[c])
	}
	return r
}

// OnsetBudgetRow is OnsetBudgetBound on one spiky trace against issue
// 13's goals: the bound within 2x the floor at 100 % with the calls
// counted and without, and the bound at oracle-reactive's own shard-hours
// (a check: it must not exceed oracle-reactive's throttling).
type OnsetBudgetRow struct {
	Trace     string
	Detected  bool
	Surges    SurgeSummary
	LossGoal  float64
	ShardGoal float64
	Floor     float64
	Counted   BudgetBound // at ShardGoal, CallsPerDay
	Unlimited BudgetBound // at ShardGoal, no call limit
	AtOracle  BudgetBound // at the oracle's shard-hours, CallsPerDay
	Oracle    FrontierPoint
}

// Conflict says whether the bound proves the two goals conflict: the
// least loss of any policy within the shard-hour goal is above the loss
// goal.
func (r OnsetBudgetRow) Conflict() bool { return r.Counted.LostPercent > r.LossGoal }

// RunOnsetBudget is OnsetBudgetBound on every spiky trace of traces that
// has surges (onsetTraces: the generator's or DetectSurges') and goals in
// tfs, with callsPerDay calls per calendar day, on at most workers
// goroutines.
func RunOnsetBudget(cfg Config, traces []Trace, tfs []TraceFrontier, callsPerDay, workers int) []OnsetBudgetRow {
	traces, detected := onsetTraces(cfg, traces)
	var rows []OnsetBudgetRow
	var ts []Trace
	for i, t := range traces {
		j := slices.IndexFunc(tfs, func(tf TraceFrontier) bool { return tf.Trace == t.Name })
		if len(t.Surges) == 0 || j < 0 || tfs[j].Floor <= 0 {
			continue
		}
		tf := tfs[j]
		rows = append(rows, OnsetBudgetRow{Trace: t.Name, Detected: detected[i], Surges: SummariseSurges(t),
			LossGoal: tf.LossGoal, ShardGoal: tf.ShardGoal, Floor: tf.Floor, Oracle: tf.Oracle})
		ts = append(ts, t)
	}
	forEachIndex(len(rows), workers, func(i int) {
		r := &rows[i]
		r.Counted = OnsetBudgetBound(cfg, ts[i], r.ShardGoal, callsPerDay)
		r.Unlimited = OnsetBudgetBound(cfg, ts[i], r.ShardGoal, 0)
		r.AtOracle = OnsetBudgetBound(cfg, ts[i], r.Oracle.ShardHours, callsPerDay)
	})
	return rows
}

// WriteOnsetBudget prints rows: per trace the goals, the bound within the
// shard-hour goal with the calls counted (and the model's cheapest path
// there), the same without a call limit, the check at oracle-reactive's
// shard-hours and the verdict.
func WriteOnsetBudget(w io.Writer, cfg Config, rows []OnsetBudgetRow, callsPerDay int) error {
	fmt.Fprintf(w, "onset argument with the calls counted (OnsetBudgetBound; %d calls per UTC day, UPDATING %d min, every relaxation for the policy): the least loss of any policy within the shard-hour goal, in the minimax reading (a surge meets the level held through the calm time before it); surges as in -onset (gen / det at k = %.3g)\n",
		callsPerDay, int(math.Ceil(3*cfg.withDefaults().UpdatingScale)), SurgeFactor)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "trace\tsurges\tgoal: lost% ≤\tshard-h ≤\tbound, calls counted (λ; cheapest path there: lost, shard-h, climbs, calls)\tmodel path within shard-h goal\tbound, no call limit\tcheck at oracle's shard-h: bound ≤ oracle's throttled\tverdict\t")
	for _, r := range rows {
		src := "gen"
		if r.Detected {
			src = "det"
		}
		c := r.Counted
		verdict := "open"
		if r.Conflict() {
			verdict = "CONFLICT PROVED"
		}
		check := "ok"
		if r.AtOracle.LostPercent > r.Oracle.ThrottledPercent+1e-9 {
			check = "BOUND ABOVE ORACLE"
		}
		within := "none found"
		if !math.IsInf(c.WithinLostPercent, 1) {
			within = fmt.Sprintf("%.3f%% at %.2fx", c.WithinLostPercent, c.WithinShardHours/r.Floor)
		}
		fmt.Fprintf(tw, "%s\t%s %s\t%.3f\t%.2fx\t%.3f%% (λ=%.3g; %.3f%%, %.2fx, %d, %d)\t%s\t%.3f%%\t%.3f%% at %.2fx ≤ %.3f%%: %s\t%s\t\n",
			r.Trace, src, r.Surges, r.LossGoal, r.ShardGoal/r.Floor, c.LostPercent, c.Lambda, c.PathLostPercent, c.PathShardHours/r.Floor, c.PathClimbs, c.PathCalls,
			within, r.Unlimited.LostPercent, r.AtOracle.LostPercent, r.Oracle.ShardHours/r.Floor, r.Oracle.ThrottledPercent, check, verdict)
	}
	return tw.Flush()
}
