package controllers

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

func toMetaTimes(ts []time.Time) []metav1.Time {
	out := make([]metav1.Time, 0, len(ts))
	for _, t := range ts {
		out = append(out, metav1.NewTime(t))
	}
	return out
}

// shardFacts are what the reshard decision depends on.
type shardFacts struct {
	stream         string
	open, target   int32
	updating       bool
	history        []time.Time // UpdateShardCount calls, from the ledger
	now            time.Time
	dryRun         bool
	budgetWasSpent bool // StreamReady already says ReshardBudgetSpent
	interval, poll time.Duration
	// byMerge: the policy reaches target by MergeShards
	// (scaling.Decision.ByMerge), not UpdateShardCount.
	byMerge bool
}

// shardPlan is the reshard decision of one pass: either one UpdateShardCount
// call, or one merge (then StreamReady, if given, is the dry run's), or
// StreamReady as given and a requeue.
type shardPlan struct {
	call *scaling.ReshardStep
	// merge: merge one adjacent pair of open shards (mergeShards).
	merge           bool
	status          metav1.ConditionStatus
	reason, message string
	requeueAfter    time.Duration
	warn            string      // a Warning event, only when the budget runs out
	ledger          []time.Time // the ledger without calls older than 24 h
}

// planShards decides the pass's reshard from f with scaling.PlanReshard: at
// the target it reports ready (or UPDATING, a wait); in dry run it reports
// the step it would take; with the budget spent it waits until a call ages
// out of the 24 h window (at most one interval) and warns once; while a step
// is pending it waits a poll; otherwise it returns the call. A scale-down
// by merges goes to planMerge instead. Pure.
func planShards(f shardFacts) shardPlan {
	step := scaling.PlanReshard(scaling.ReshardState{Open: f.open, Target: f.target, Updating: f.updating, History: f.history, Now: f.now})
	p := shardPlan{ledger: scaling.PruneHistory(f.history, f.now)}
	if f.byMerge && f.open > f.target {
		return planMerge(f, p)
	}
	switch {
	case step.Action == scaling.ReshardNone && f.updating:
		// At the target count, but a settings change (retention,
		// encryption) or a reshard is still being applied.
		p.status, p.reason, p.requeueAfter = metav1.ConditionFalse, ReasonUpdating, f.poll
		p.message = fmt.Sprintf("stream %s is UPDATING with %d open shards", f.stream, f.open)
	case step.Action == scaling.ReshardNone:
		p.status, p.reason = metav1.ConditionTrue, ReasonReady
		p.message = fmt.Sprintf("stream %s is ACTIVE with %d open shards", f.stream, f.open)
	case f.dryRun:
		p.status, p.reason = metav1.ConditionTrue, ReasonReady
		p.message = fmt.Sprintf("dry run: stream %s has %d open shards; would be %s", f.stream, f.open, step.Reason)
	case step.Action == scaling.ReshardWait && !step.WaitUntil.IsZero():
		if !f.budgetWasSpent {
			p.warn = step.Reason
		}
		p.status, p.reason, p.message = metav1.ConditionFalse, ReasonReshardBudgetSpent, step.Reason
		p.requeueAfter = min(step.WaitUntil.Sub(f.now), f.interval)
	case step.Action == scaling.ReshardWait:
		p.status, p.reason, p.message, p.requeueAfter = metav1.ConditionFalse, ReasonResharding, step.Reason, f.poll
	default:
		p.call = &step
	}
	return p
}

// planMerge decides a pass of a scale-down by MergeShards: while the stream
// is UPDATING (the last merge, or anything else, being applied) a wait of a
// poll, MergingShards; else one merge, which the dry run only names. The
// ledger is left as it is: merges spend no UpdateShardCount call. Pure.
func planMerge(f shardFacts, p shardPlan) shardPlan {
	switch {
	case f.updating:
		p.status, p.reason, p.requeueAfter = metav1.ConditionFalse, ReasonMergingShards, f.poll
		p.message = fmt.Sprintf("stream %s is UPDATING; one merge at a time: %s", f.stream, mergeProgress(f.open, f.target))
	case f.dryRun:
		p.merge = true // lists the shards to name the pair
		p.status, p.reason = metav1.ConditionTrue, ReasonReady
		p.message = fmt.Sprintf("dry run: stream %s has %d open shards; would merge two adjacent shards (%s)", f.stream, f.open, mergeProgress(f.open, f.target))
	default:
		p.merge = true
	}
	return p
}
