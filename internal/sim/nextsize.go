package sim

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// NextSizeScales are the candidates of the next-size argument's default
// family: each surge removed (its rise scaled by 0), as it is, or with its
// rise doubled (capped at the trace's peak).
var NextSizeScales = []float64{0, 1, 2}

// NextSizeFamily is a set of traces built from Base: each surge slot i
// (Base.Surges[i]) carries one of the candidates Scales — the surge's rise
// over its calm level scaled by that factor — independently of the
// others; the minutes outside the surges are Base's in every member. The
// surge holding Base's highest minute (Fixed, -1 when that minute is calm)
// stays as it is, and no minute is raised past 1, so every member peaks at
// 1 as Base does: a trace normalised to its peak, judged at the same
// MiB/s. Members share Base's length and surge slots.
type NextSizeFamily struct {
	Base   Trace
	Scales []float64
	// Calm[i] is slot i's calm level: the mean of Base's Load over the
	// onsetCalmMinutes before its onset (hourLoad's).
	Calm  []float64
	Fixed int
}

// NewNextSizeFamily is the family of t (whose Surges are set) with the
// candidates scales.
func NewNextSizeFamily(t Trace, scales []float64) NextSizeFamily {
	f := NextSizeFamily{Base: t, Scales: slices.Clone(scales), Fixed: -1}
	peak := 0
	for m, l := range t.Load {
		if l > t.Load[peak] {
			peak = m
		}
	}
	for i, s := range t.Surges {
		if s.Start <= peak && peak < s.End {
			f.Fixed = i
		}
		var sum float64
		from := max(0, s.Start-onsetCalmMinutes)
		for m := from; m < s.Start; m++ {
			sum += t.Load[m]
		}
		f.Calm = append(f.Calm, sum/float64(max(1, s.Start-from)))
	}
	return f
}

// Choices is how many candidates slot i has: one (as it is) for Fixed,
// len(Scales) for every other.
func (f NextSizeFamily) Choices(i int) int {
	if i == f.Fixed {
		return 1
	}
	return len(f.Scales)
}

// scale is the factor of slot i's choice c.
func (f NextSizeFamily) scale(i, c int) float64 {
	if i == f.Fixed {
		return 1
	}
	return f.Scales[c]
}

// candidateLoad is slot i's minute m (of Base) under choice c.
func (f NextSizeFamily) candidateLoad(i, c, m int) float64 {
	l, calm := f.Base.Load[m], f.Calm[i]
	return min(1, max(0, calm+f.scale(i, c)*(l-calm)))
}

// Member is the trace with choice[i] at slot i.
func (f NextSizeFamily) Member(choice []int) Trace {
	t := f.Base
	t.Load = slices.Clone(f.Base.Load)
	for i, s := range f.Base.Surges {
		for m := s.Start; m < min(s.End, len(t.Load)); m++ {
			t.Load[m] = f.candidateLoad(i, choice[i], m)
		}
	}
	return t
}

// Sample draws one member's choices, each slot uniform over its
// candidates.
func (f NextSizeFamily) Sample(rng *rand.Rand) []int {
	choice := make([]int, len(f.Base.Surges))
	for i := range choice {
		choice[i] = rng.IntN(f.Choices(i))
	}
	return choice
}

// largest is the member with every slot at its largest candidate: the
// model's grid of counts must reach its need.
func (f NextSizeFamily) largest() Trace {
	top := slices.Index(f.Scales, slices.Max(f.Scales))
	choice := make([]int, len(f.Base.Surges))
	for i := range choice {
		choice[i] = top
	}
	return f.Member(choice)
}

// nextSizeModel is the calls-counted program's model (budgetModel, no call
// limit) with each surge's candidates: their minutes' loss rows (% of
// Base's records) and probabilities.
type nextSizeModel struct {
	*budgetModel
	cands [][]nextSizeCandidate
}

type nextSizeCandidate struct {
	lost [][]float64
	p    float64
}

// newNextSizeModel builds the model of family f: the grid reaches the
// largest member's need; losses are shares of Base's records.
func newNextSizeModel(cfg Config, f NextSizeFamily) *nextSizeModel {
	b := newBudgetModel(cfg, f.largest(), 0)
	b.total = totalRecords(cfg, f.Base)
	m := &nextSizeModel{budgetModel: b}
	for i, s := range f.Base.Surges {
		end := min(s.End, f.Base.Minutes())
		if s.Start >= end {
			continue
		}
		n := f.Choices(i)
		var cs []nextSizeCandidate
		for c := range n {
			var lost [][]float64
			for k := s.Start; k < end; k++ {
				l := f.candidateLoad(i, c, k)
				by := l * cfg.PeakMiBps * scaling.MiB
				lost = append(lost, surgeMinuteLoss(cfg, Load{Bytes: by, Records: by / cfg.RecordBytes}, m.total))
			}
			cs = append(cs, nextSizeCandidate{lost: lost, p: 1 / float64(n)})
		}
		m.cands = append(m.cands, cs)
	}
	return m
}

// expCell is an expected budgetCell: the least expected value (loss % +
// μ × shard-minutes) and the expected parts of the path reaching it.
type expCell struct{ v, loss, shardMinutes, climbs float64 }

var noExpCell = expCell{v: math.Inf(1)}

func (c expCell) add(o expCell) expCell {
	return expCell{c.v + o.v, c.loss + o.loss, c.shardMinutes + o.shardMinutes, c.climbs + o.climbs}
}

func (c expCell) scaled(p float64) expCell {
	return expCell{p * c.v, p * c.loss, p * c.shardMinutes, p * c.climbs}
}

func (c *expCell) improve(n expCell) {
	if n.v < c.v {
		*c = n
	}
}

func fromBudget(c budgetCell) expCell {
	return expCell{c.v, c.loss, c.shardMinutes, float64(c.climbs)}
}

// solve is the least expected loss % + mu × shard-minutes of any policy of
// the model when each slot's candidate is drawn independently, as its
// probabilities say. Unless knowsSize, the level held through the calm
// period before a slot is fixed before its candidate is drawn (a causal
// policy's); with knowsSize it is chosen knowing the candidate (the
// calls-counted program's reading, for comparison). It runs backwards over
// the slots: after[h] is the expected value from the end of slot i's
// surge with top h; each candidate's climb from level k takes the best top
// for it (the policy sees the surge as it climbs).
func (m *nextSizeModel) solve(mu float64, knowsSize bool) expCell {
	n := len(m.grid)
	after := m.settle(len(m.cands), nil, mu) // the last calm period, nothing after it
	for i := len(m.cands) - 1; i >= 0; i-- {
		var wait, known []expCell
		for _, c := range m.cands[i] {
			wc := m.climbCandidate(c, after, mu)
			if knowsSize {
				known = addScaled(known, m.settle(i, wc, mu), c.p)
			} else {
				wait = addScaled(wait, wc, c.p)
			}
		}
		if knowsSize {
			after = known
		} else {
			after = m.settle(i, wait, mu)
		}
	}
	return after[n-1] // before the first calm period every level is open
}

// climbCandidate is, for each level k held at the onset, the least value
// of candidate c's climb from k to a top h ≥ k and after[h].
func (m *nextSizeModel) climbCandidate(c nextSizeCandidate, after []expCell, mu float64) []expCell {
	n := len(m.grid)
	phi := surgePhi(c.lost, mu)
	out := make([]expCell, n)
	for k := range n {
		best := noExpCell
		for h := k; h < n; h++ {
			j := fromBudget(m.climb(phi, m.grid[k], m.grid[h])).add(after[h])
			if h > k {
				j.climbs++
			}
			best.improve(j)
		}
		out[k] = best
	}
	return out
}

// addScaled is acc + p × xs, element by element (acc nil: zeros).
func addScaled(acc, xs []expCell, p float64) []expCell {
	if acc == nil {
		acc = make([]expCell, len(xs))
	}
	for i, x := range xs {
		acc[i] = acc[i].add(x.scaled(p))
	}
	return acc
}

// settle is, for each top h reached before calm period i, the least of
// holding a level g ≤ h through it and wait[g] after it (wait nil: the
// trace ends). A calm period of no minutes keeps the top as the level.
// For i = 0 every level is open, and settle's last entry is the least.
func (m *nextSizeModel) settle(i int, wait []expCell, mu float64) []expCell {
	n := len(m.grid)
	at := func(g int) expCell {
		if wait == nil {
			return expCell{}
		}
		return wait[g]
	}
	out := make([]expCell, n)
	if m.calm[i].minutes <= 0 && i > 0 {
		for h := range n {
			out[h] = at(h)
		}
		return out
	}
	costs := m.calmCosts(i, mu)
	best := noExpCell
	for h := range n {
		best.improve(fromBudget(costs[h]).add(at(h)))
		out[h] = best
	}
	return out
}

// NextSizeBound is the least expected loss (% of Base's records) of any
// policy of the model spending at most shardBudget expected shard-hours on
// family f: the Lagrangian dual of nextSizeModel.solve over the price, as
// OnsetBudgetBound's. Path* are the model's cheapest path at the best
// price (expected loss, shard-hours, climbs): not a bound.
type NextSizeBound struct {
	ShardBudget                     float64
	LostPercent, Lambda             float64
	PathLostPercent, PathShardHours float64
	PathClimbs                      float64
	Levels                          int
}

// BoundNextSize computes NextSizeBound on family f; knowsSize lets the
// level before each slot be chosen knowing its candidate (not a bound on
// causal policies: the calls-counted program's reading, to compare).
func BoundNextSize(cfg Config, f NextSizeFamily, shardBudget float64, knowsSize bool) NextSizeBound {
	cfg = cfg.withDefaults()
	return newNextSizeModel(cfg, f).bound(shardBudget, knowsSize)
}

func (m *nextSizeModel) bound(shardBudget float64, knowsSize bool) NextSizeBound {
	b := NextSizeBound{ShardBudget: shardBudget, Levels: len(m.grid)}
	if len(m.cands) == 0 || shardBudget <= 0 {
		return b
	}
	best := math.Inf(-1)
	maximiseDual(func(lambda float64) float64 {
		p := m.solve(lambda/(60*shardBudget), knowsSize)
		g := p.v - lambda
		if g > best {
			best = g
			b.LostPercent, b.Lambda = max(g, 0), lambda
			b.PathLostPercent, b.PathShardHours, b.PathClimbs = p.loss, p.shardMinutes/60, p.climbs
		}
		return g
	})
	return b
}
