package sim

import (
	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// Refusals is where the operator's producers refused records on a trace:
// the run's figures and, per cause, the share of the records refused at
// the producers (RefusalCauses).
type Refusals struct {
	LostPercent, ProducerRejectedPercent, TaskHours float64
	// ByCause: share of the records refused at the producers, 0–1.
	ByCause map[string]float64
}

// RefusalCauses name the parts of a Refusals, in the order they are
// printed. Each minute that refused records goes to the first that holds.
var RefusalCauses = []string{
	"starting",      // tasks asked for were still starting and the count asked carries the minute
	"startingShort", // tasks were starting, and even the count asked is too few
	"scaledDown",    // a count running within the last refusalLookback would have carried the minute
	"belowHourHigh", // the load was no higher than 15–60 minutes before: too little headroom for it
	"newHigh",       // the load was above anything 15–60 minutes before, and no task was asked yet
}

// refusalLookback is how far back a count that would have carried the
// minute makes the refusal a scale-down's.
const refusalLookback = 15

// RefusalBreakdown runs the operator on t and splits the records its
// producers refused by cause, minute by minute. It is for finding which
// part of the task rules loses records; it decides nothing.
func RefusalBreakdown(cfg Config, t Trace) Refusals {
	cfg = cfg.withDefaults()
	cfg.Timeline = true
	res := Run(cfg, t, NewOperator(cfg, scaling.MaxShardsPerStream))
	out := Refusals{LostPercent: res.LostPercent, ProducerRejectedPercent: res.ProducerRejectedPercent, TaskHours: res.TaskHours, ByCause: map[string]float64{}}
	total := 0.0
	for m, row := range res.Timeline {
		refused := row.OfferedMiBps * row.ProducerRejectedPercent / 100
		if refused <= 0 {
			continue
		}
		total += refused
		out.ByCause[refusalCause(res.Timeline, m, cfg.ProducerMiBpsPerTask)] += refused
	}
	for c := range out.ByCause {
		out.ByCause[c] /= total
	}
	return out
}

// refusalCause names the cause of minute m's refusals (RefusalCauses),
// with perTask MiB/s carried by a running producer task.
func refusalCause(tl []Minute, m int, perTask float64) string {
	row := tl[m]
	carries := func(n int32) bool { return float64(n)*perTask >= row.OfferedMiBps }
	if row.ProducerDesired > row.ProducerRunning {
		if carries(row.ProducerDesired) {
			return "starting"
		}
		return "startingShort"
	}
	var ran int32
	for k := max(0, m-refusalLookback); k < m; k++ {
		ran = max(ran, tl[k].ProducerRunning)
	}
	if ran > row.ProducerRunning && carries(ran) {
		return "scaledDown"
	}
	// The load of 15 to 60 minutes before: a surge's own first minutes
	// are not a level the tasks had time to be sized for.
	high := 0.0
	for k := max(0, m-60); k < m-refusalLookback; k++ {
		high = max(high, tl[k].OfferedMiBps)
	}
	if row.OfferedMiBps <= high {
		return "belowHourHigh"
	}
	return "newHigh"
}
