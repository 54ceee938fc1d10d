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
//   - The factor applies to the tasks that ran in the minute measured
//     (State.ProducerRunning, runningDuring), not to those running now:
//     the minute is 2–6 minutes old when it decides, and scaling the tasks
//     started since by its factor again on every pass would compound (a
//     saturated minute at 3× asks for 3× the tasks, then 3× those once they
//     run, ...). With no record of that minute (a new object), the tasks
//     running now are taken, as the plain CPU rule does.
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

// runningKept is how long State.ProducerRunning keeps a pass's running
// count: as far back as a minute that decides (highestDemand's windows).
const runningKept = CompleteAfter + 4*time.Minute

// runningDuring is the number of tasks that ran in the minute starting at
// at: the highest count a pass recorded within it or at its end, or now
// when no pass did.
func runningDuring(recs []Rec, at time.Time, now int32) int32 {
	from, to := at.Unix(), at.Add(MetricPeriod).Unix()
	n := int32(0)
	for _, r := range recs {
		if r.At > from && r.At <= to {
			n = max(n, r.N)
		}
	}
	if n < 1 {
		return now
	}
	return n
}

// hpaDemand applies the HPA's rule to the producer's CPU twice and takes
// the higher answer: on the CPU observed (the plain rule: the highest
// complete minute of the newest, times the tasks running now), and on the
// CPU counting the refused records of each newest minute that refused any,
// times the tasks that ran in that minute (running: State.ProducerRunning;
// nil or no record: the tasks running now). A minute still being published
// counts only if it refused records, and only to raise the answer. So
// counting refusals never lowers what the plain rule asks for.
func hpaDemand(cfg TaskConfig, obs TaskObservation, running []Rec, now time.Time) cpuAnswer {
	ms := demandMinutes(obs)
	plain, ok := highestCPU(ms, now)
	plain.demand, plain.refused = plain.cpu, 0
	a := cpuAnswer{rec: obs.Desired, used: plain, ok: ok}
	if obs.Running < 1 {
		return a
	}
	target := cpuTarget(cfg)
	if ok {
		a.rec = hpaRule(obs.Running, obs.Desired, plain.cpu, target)
	}
	for _, m := range ms {
		age := now.Sub(m.at)
		complete := isComplete(m.at, now)
		if m.refused <= 0 || m.at.After(now) || (complete && age > CompleteAfter+3*time.Minute) || (!complete && age > CompleteAfter) {
			continue
		}
		r := hpaRule(runningDuring(running, m.at, obs.Running), obs.Desired, m.demand, target)
		if floor := a.rec; complete && (!a.ok || r > floor) || !complete && r > max(floor, obs.Desired) {
			a = cpuAnswer{rec: r, used: m, ok: true}
		}
	}
	return a
}

// highestCPU is the complete minute of highest observed CPU among the
// newest (as newestComplete).
func highestCPU(ms []cpuMinute, now time.Time) (cpuMinute, bool) {
	var best cpuMinute
	ok := false
	for _, m := range ms {
		if m.at.After(now) || now.Sub(m.at) > CompleteAfter+3*time.Minute || !isComplete(m.at, now) {
			continue
		}
		if !ok || m.cpu > best.cpu {
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
	partial := ""
	if !isComplete(m.at, now) {
		partial = " in a minute still being published"
	}
	return fmt.Sprintf("%s: CPU %.0f%% counting %.0f refused records/s%s (%.0f%% observed) against a target of %.0f%%",
		scaleVerb(from, to), m.demand, m.refused, partial, m.cpu, target)
}
