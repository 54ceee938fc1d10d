package scaling

import (
	"fmt"
	"math"
	"time"
)

// Demand-adjusted CPU. A producer short of tasks runs at 100 % CPU and
// refuses the rest (HTTP 429/503), so its CPU understates what it was asked
// to do and the HPA rule on it steps at most running × 100 ÷ target per
// pass (1.54× at 65 %). In a minute with refusals the tasks were saturated,
// and the CPU they would have needed is
//
//	cpu × (accepted + refused) ÷ accepted
//
// (accepted = TaskObservation.Requests, refused = TaskObservation.Refused,
// both Sums of the same minute). The CPU rule runs on that value, so one
// step covers the demand seen, with no target rate to configure: it scales
// with the task size and the record size by itself.
//
// Edges, each on purpose:
//   - Refusals and no accepted record (0, or no valid point) give no
//     ratio: the demand is taken as unmeasuredDemand × the CPU, at least a
//     doubling per pass while it lasts, faster than the CPU rule's 1.54×
//     and bounded by MaxTasks. A minute with refusals and a low CPU (tasks
//     not ready, draining) stays low: the factor multiplies the CPU the
//     tasks used.
//   - A minute with no Refused point, or a NaN, infinite or negative Sum,
//     refused nothing that can be counted: its CPU is used as observed.
//   - Refusals without a CPU point in their minute change nothing: there
//     is no CPU to scale, and a missing CPU metric still holds the target.
//   - A minute still being published (younger than CompleteAfter) has
//     partial Sums and a partial Average: it is used only when it refused
//     records, and only to raise the answer (as hpaRate does), never to
//     lower it.

// unmeasuredDemand is the factor for a minute with refusals and no
// accepted record: its demand is unknown but above what the tasks carried.
const unmeasuredDemand = 2.0

// cpuMinute is one minute of a service's CPU and the CPU its demand needs.
type cpuMinute struct {
	at      time.Time
	cpu     float64 // AWS/ECS CPUUtilization, Average, as observed
	demand  float64 // CPU for the accepted and the refused records; cpu when none were refused
	refused float64 // records refused per second in the minute; 0: none
}

// cpuAnswer is the CPU rule's recommendation and the minute it rests on.
type cpuAnswer struct {
	rec  int32
	used cpuMinute
	ok   bool // a CPU point decided (held otherwise)
}

// demandMinutes joins a service's CPU with its accepted and refused
// records by minute.
func demandMinutes(obs TaskObservation) []cpuMinute {
	accepted, refused := countsByMinute(obs.Requests), countsByMinute(obs.Refused)
	out := make([]cpuMinute, 0, len(obs.CPUPercent))
	for _, p := range obs.CPUPercent {
		if math.IsNaN(p.Value) {
			continue
		}
		m := cpuMinute{at: p.Time, cpu: p.Value, demand: p.Value}
		k := minuteOf(p.Time)
		if r := refused[k]; r > 0 && p.Value > 0 && !math.IsInf(p.Value, 0) {
			m.refused = r / 60
			m.demand = p.Value * demandFactor(accepted[k], r)
		}
		out = append(out, m)
	}
	return out
}

// demandFactor is (accepted + refused) ÷ accepted, or unmeasuredDemand
// when nothing was accepted.
func demandFactor(accepted, refused float64) float64 {
	if accepted > 0 {
		return (accepted + refused) / accepted
	}
	return unmeasuredDemand
}

// countsByMinute keys the usable Sums (finite, ≥ 0) by minute. CloudWatch
// gives one point a minute per query; should a minute come twice, the
// higher value is kept.
func countsByMinute(ps []Point) map[int64]float64 {
	out := make(map[int64]float64, len(ps))
	for _, p := range ps {
		if !(p.Value >= 0) || math.IsInf(p.Value, 1) {
			continue
		}
		k := minuteOf(p.Time)
		out[k] = max(out[k], p.Value)
	}
	return out
}

// hpaDemand applies the HPA's rule to the CPU the tasks' demand needs: the
// newest complete minutes decide (the highest of them, as newestComplete),
// and a younger minute that refused records may only raise the answer.
func hpaDemand(cfg TaskConfig, obs TaskObservation, now time.Time) cpuAnswer {
	ms := demandMinutes(obs)
	used, ok := highestDemand(ms, now, CompleteAfter+3*time.Minute, true)
	a := cpuAnswer{rec: obs.Desired, used: used, ok: ok}
	if obs.Running < 1 {
		return a
	}
	target := cpuTarget(cfg)
	if ok {
		a.rec = hpaRule(obs.Running, obs.Desired, used.demand, target)
	}
	if p, pok := highestDemand(ms, now, CompleteAfter, false); pok && p.refused > 0 {
		if up := hpaRule(obs.Running, obs.Desired, p.demand, target); up > max(a.rec, obs.Desired) {
			a.rec, a.used, a.ok = up, p, true
		}
	}
	return a
}

// highestDemand is the minute of highest demand among those started within
// the last d before now that are complete (or, with complete false,
// partial ones that refused records).
func highestDemand(ms []cpuMinute, now time.Time, d time.Duration, complete bool) (cpuMinute, bool) {
	var best cpuMinute
	ok := false
	for _, m := range ms {
		if m.at.After(now) || now.Sub(m.at) > d || isComplete(m.at, now) != complete {
			continue
		}
		if !complete && m.refused <= 0 {
			continue
		}
		if !ok || m.demand > best.demand {
			best, ok = m, true
		}
	}
	return best, ok
}

// cpuTarget is cfg's target CPU, 65 % when unset or out of (0, 100].
func cpuTarget(cfg TaskConfig) float64 {
	if t := cfg.TargetCPUPercent; t > 0 && t <= 100 {
		return t
	}
	return 65
}

// demandReason says what the CPU rule decided when the minute it rests on
// refused records: the CPU counting them, and the CPU observed.
func demandReason(from, to int32, m cpuMinute, target float64, now time.Time) string {
	verb := "holding at %[2]d"
	switch {
	case to > from:
		verb = "scaling up %[1]d→%[2]d"
	case to < from:
		verb = "scaling down %[1]d→%[2]d"
	}
	partial := ""
	if !isComplete(m.at, now) {
		partial = " in a minute still being published"
	}
	return fmt.Sprintf(verb+": CPU %.0f%% counting %.0f refused records/s%s (%.0f%% observed) against a target of %.0f%%",
		from, to, m.demand, m.refused, partial, m.cpu, target)
}
