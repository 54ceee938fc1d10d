package scaling

import (
	"fmt"
	"math"
	"slices"
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

// runningKept is how long State.ProducerRunning and State.ConsumerRunning
// keep a pass's running count: as far back as a minute that decides
// (highestDemand's windows); one entry a minute, so at most 8.
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

// hpaDemand applies the HPA's rule to a service's CPU twice and takes
// the higher answer: on the CPU observed (the plain rule: the complete
// minute of the newest whose tasks did the most work, CPU × the tasks that
// ran in it), and on the CPU counting the refused records of each newest
// minute that refused any, times the tasks that ran in that minute
// (running: State.ProducerRunning or State.ConsumerRunning; nil or no
// record: the tasks running now). The consumer reports no refused records:
// for it only the plain rule applies. A minute still being published counts only if it refused records,
// and only to raise the answer. So counting refusals never lowers what the
// plain rule asks for.
//
// Both rules scale the tasks that ran in the minute measured, not those
// running now: the minute is 4–6 minutes old, and the count changes within
// that time. The HPA's own rule (CPU × pods now) assumes a fresh metric;
// on a late one it reads a saturated minute at 6 tasks as a reason to take
// the 8, 13 and 20 started since to 13, 20 and 31 (each pass finding
// another old 100 % minute), and the idle minutes at 31 as a reason to go
// down through 23, 15 and 10 to 6 — below the 10 the load needs (flat
// noisy at 40 MiB/s, docs/scaling.md "Producer refusals: where they come
// from"; the consumer's overshoot, "The consumer's CPU rule: the tasks that
// ran").
// The tolerance is judged, as the HPA's, on the CPU the tasks running now
// would show for that work (cpuNow).
func hpaDemand(cfg TaskConfig, obs TaskObservation, running []Rec, now time.Time) cpuAnswer {
	ms := demandMinutes(obs)
	plain, ok := busiestMinute(ms, running, obs.Running, now)
	plain.demand, plain.refused = plain.cpu, 0
	a := cpuAnswer{rec: obs.Desired, used: plain, ok: ok}
	if obs.Running < 1 {
		return a
	}
	target := cpuTarget(cfg)
	if ok {
		a.rec = hpaRule(obs.Running, obs.Desired, cpuNow(plain.cpu, runningDuring(running, plain.at, obs.Running), obs.Running), target)
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

// busiestMinute is the complete minute among the newest (as
// newestComplete) whose tasks did the most work: the highest CPU × the
// tasks that ran in it (runningDuring; with no record, the tasks running
// now, so that without State.ProducerRunning it is the highest CPU).
func busiestMinute(ms []cpuMinute, running []Rec, runningNow int32, now time.Time) (cpuMinute, bool) {
	var best cpuMinute
	work, ok := 0.0, false
	for _, m := range ms {
		if !newestCompleteMinute(m.at, now) {
			continue
		}
		if w := m.cpu * float64(runningDuring(running, m.at, runningNow)); !ok || w > work {
			best, work, ok = m, w, true
		}
	}
	return best, ok
}

// cpuNow is the CPU the tasks running now would show for the work that
// ran tasks did at cpu: cpu × ran ÷ now.
func cpuNow(cpu float64, ran, now int32) float64 {
	if ran == now || now < 1 {
		return cpu
	}
	return cpu * float64(ran) / float64(now)
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

// risingAnswer is the HPA's rule on the producer's work projected to now
// along the trend of the newest complete minutes, while it still rises.
// The newest complete minute is 4–6 minutes old (CompleteAfter plus
// CloudWatch's lag), and a load that rose through the minutes before it
// and in it has most likely kept rising since: sizing for the minute
// itself leaves the tasks a rise behind on every pass of a climb (Twitter's
// and elb's; docs/scaling.md "Producer refusals: where they come from").
//
// Work is the CPU counting refused records × the tasks that ran
// (runningDuring), so minutes at different task counts compare and a
// saturated minute counts its demand. The trend is the newest complete
// minute's work against the oldest's of the newest (at most four, the
// minutes the CPU rule reads), per minute, projected from the newest
// minute's middle to now and no further: tasks asked for now start later
// still, which the rule does not guess. It applies only while the load
// rose over those minutes and in the newest one: noise that rises and
// falls back within them projects nothing, and a climb that has stopped is
// left to the CPU rule. ok is false with fewer than two complete minutes
// or no task running. The answer only ever raises the CPU rule's
// (decideProducer); the scale-down window takes back a rise that stops.
func risingAnswer(cfg TaskConfig, obs TaskObservation, ws []minuteWork, now time.Time) (cpuAnswer, float64, bool) {
	n := len(ws)
	if n < 2 || obs.Running < 1 {
		return cpuAnswer{}, 0, false
	}
	first, prev, last := ws[0], ws[n-2], ws[n-1]
	span := last.m.at.Sub(first.m.at).Minutes()
	if span <= 0 || last.w <= first.w || last.w <= prev.w {
		return cpuAnswer{}, 0, false
	}
	ahead := now.Sub(last.m.at.Add(MetricPeriod / 2)).Minutes()
	projected := (last.w + (last.w-first.w)/span*ahead) / float64(obs.Running)
	return cpuAnswer{rec: hpaRule(obs.Running, obs.Desired, projected, cpuTarget(cfg)), used: last.m, ok: true}, projected, true
}

// minuteWork is one complete minute and its work: the CPU counting refused
// records × the tasks that ran in it.
type minuteWork struct {
	m cpuMinute
	w float64
}

// newestWork is the work of the complete minutes the CPU rule reads, oldest
// first.
func newestWork(obs TaskObservation, running []Rec, now time.Time) []minuteWork {
	var ws []minuteWork
	for _, m := range demandMinutes(obs) {
		if !newestCompleteMinute(m.at, now) {
			continue
		}
		ws = append(ws, minuteWork{m, m.demand * float64(runningDuring(running, m.at, obs.Running))})
	}
	slices.SortFunc(ws, func(a, b minuteWork) int { return a.m.at.Compare(b.m.at) })
	return ws
}

// risingReason says what the trend rule decided: the CPU the tasks running
// now would need, projected, and the newest complete minute's.
func risingReason(from, to int32, m cpuMinute, projected, target float64) string {
	return fmt.Sprintf("%s: CPU rising, %.0f%% projected to now from %.0f%% in the newest complete minute, against a target of %.0f%%",
		scaleVerb(from, to), projected, m.demand, target)
}

// newestCompleteMinute reports whether the minute starting at at is one of
// the complete minutes the CPU rule reads (as newestComplete).
func newestCompleteMinute(at, now time.Time) bool {
	return !at.After(now) && now.Sub(at) <= CompleteAfter+3*time.Minute && isComplete(at, now)
}

// producerScaleDown is the producer's scale-down window: the one set
// (TaskConfig.ScaleDownStabilization), else the shards' (StreamConfig's,
// DefaultShardScaleDown when zero). The producers are the shards' only way
// in: shards held through a lull for the load's return are no use if the
// producers in front of them were let go after the HPA's 5 minutes; the
// return then meets too few tasks for the 4–6 minutes the CPU rule needs to
// see it plus a task's start (docs/scaling.md "Producer refusals: where
// they come from": a third to a half of the refused records on elb, ec2
// and the smooth traces came within 15 minutes of a scale-down that
// would have carried them).
func producerScaleDown(in Inputs) time.Duration {
	if w := in.Producer.ScaleDownStabilization; w > 0 {
		return w
	}
	if w := in.Stream.ScaleDownStabilization; w > 0 {
		return w
	}
	return DefaultShardScaleDown
}
