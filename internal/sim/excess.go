package sim

import (
	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// Excess is the operator's shard-hours on a trace against the legal floor's
// schedule at its target utilization, minute by minute, split by what held
// each minute's count (see ExcessBreakdown).
type Excess struct {
	OperatorShardHours, FloorShardHours float64
	// ByCause: shard-hours above (negative: below) the floor's schedule,
	// keyed by ExcessCauses.
	ByCause map[string]float64
}

// ExcessCauses name the parts of an Excess, in the order they are printed.
var ExcessCauses = []string{
	"updating",    // a scale-down still UPDATING: AWS bills the old count
	"up",          // a scale-up decided this minute or still running
	"down",        // a scale-down decided: the count above the floor's once it lands
	"window",      // the window's highest need is at or above the open count
	"quarter",     // the window's need is below the open count, by less than a quarter
	"trend",       // the window's trend or yesterday's next hour lifts the need
	"rising",      // the need rises hour over hour
	"lastReshard", // within a window of the last reshard
	"climbBack",   // the budget plan: calls kept to climb back to the day's peak
	"lastCall",    // a scale-up held: a call whose step would freeze the stream is kept while 100 % carries the load
	"merging",     // a halving by MergeShards: a merge decided, or the stream UPDATING by one
	"start",       // less than a window of data
	"other",       // read side, bounds, held for missing data
}

// ruleRecorder runs the operator and keeps the cause (excessCause) of
// each pass's shard rule.
type ruleRecorder struct {
	*Operator
	causes  []string
	merging bool // the last rule that was not a hold while UPDATING was ShardMergeDown
}

func (r *ruleRecorder) Control(v View) Command {
	cmd := r.Operator.Control(v)
	var cause string
	cause, r.merging = passCause(r.LastDecision.ShardRule, r.merging)
	r.causes = append(r.causes, cause)
	return cmd
}

// passCause is the cause of a pass's rule and whether a halving by merges
// is still what holds the count: from a ShardMergeDown pass through the
// holds while its merge keeps the stream UPDATING ("merging"), otherwise
// excessCause.
func passCause(rule scaling.ShardRule, merging bool) (string, bool) {
	if rule != scaling.ShardHoldUpdating {
		merging = rule == scaling.ShardMergeDown
	}
	if merging {
		return "merging", true
	}
	return excessCause(rule), false
}

// ExcessBreakdown runs the operator on t at cfg's target utilization and
// compares its billed shards with one schedule that reaches the legal floor
// (scaling.LegalFloorPath), minute by minute. A minute's difference goes
// to the cause of the decision in force (the pass at the end of the minute
// before): "updating" for what AWS bills above the open count while a
// scale-down runs, "merging" while a merge is decided or runs, the rest by
// the rule that set the shard target (Decision.ShardRule). The
// parts sum to the difference of the two shard-hour totals. It is for
// finding which rule costs shard-hours; it decides nothing.
func ExcessBreakdown(cfg Config, t Trace) Excess {
	cfg = cfg.withDefaults()
	cfg.Timeline = true
	rec := &ruleRecorder{Operator: NewOperator(cfg, scaling.MaxShardsPerStream)}
	res := Run(cfg, t, rec)
	needs := make([]int32, t.Minutes())
	for m := range needs {
		needs[m] = needShards(cfg.demand(t, m), cfg.TargetUtilization)
	}
	path, floorMinutes, _ := scaling.LegalFloorPath(needs, scaling.ReshardsPerWindow, dayMinutes)
	ex := Excess{OperatorShardHours: res.ShardHours, FloorShardHours: float64(floorMinutes) / 60, ByCause: map[string]float64{}}
	for m, row := range res.Timeline {
		var floor int32
		if m < len(path) {
			floor = path[m]
		}
		reason := "start"
		if m > 0 {
			reason = rec.causes[m-1]
		}
		ex.ByCause["updating"] += float64(row.BilledShards-row.OpenShards) / 60
		ex.ByCause[reason] += float64(row.OpenShards-floor) / 60
	}
	return ex
}

// excessCause names the part of an Excess a shard rule's minutes go to.
func excessCause(rule scaling.ShardRule) string {
	switch rule {
	case scaling.ShardUp, scaling.ShardDown, scaling.ShardHoldStart, scaling.ShardHoldLastReshard, scaling.ShardHoldRising,
		scaling.ShardHoldClimbBack, scaling.ShardHoldLastCall, scaling.ShardHoldTrend, scaling.ShardHoldWindow, scaling.ShardHoldQuarter:
		return rule.String()
	}
	return "other"
}
