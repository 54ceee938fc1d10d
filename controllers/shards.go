package controllers

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// reconcileShards moves the open shard count one legal UpdateShardCount call
// towards the target per pass: within 2x / ½, never while UPDATING, at most 10
// calls per rolling 24 hours (the ledger in status.stream.reshards). It
// returns a wait while the stream is UPDATING or the budget is spent.
func (r *StreamProcessorReconciler) reconcileShards(ctx context.Context, p *pass) (result, error) {
	sp, st := p.sp, &p.sp.Status.Stream
	if !p.streamActive {
		return result{}, nil
	}
	now := r.Clock.Now()
	history := make([]time.Time, 0, len(st.Reshards))
	for _, t := range st.Reshards {
		history = append(history, t.Time)
	}
	plan := planShards(shardFacts{
		stream: st.Name, open: p.openShards, target: p.targets.Shards, updating: p.streamUpdating,
		history: history, now: now, dryRun: sp.Spec.Scaling.DryRun,
		budgetWasSpent: conditionReason(sp, ConditionStreamReady) == ReasonReshardBudgetSpent,
		interval:       time.Duration(sp.Spec.Scaling.IntervalSeconds) * time.Second, poll: r.pollInterval(),
	})
	st.Reshards = toMetaTimes(plan.ledger)
	if plan.warn != "" {
		r.warning(sp, EventReshardWaiting, "%s", plan.warn)
	}
	if plan.call == nil {
		r.setCondition(sp, ConditionStreamReady, plan.status, plan.reason, plan.message)
		return result{requeueAfter: plan.requeueAfter}, nil
	}
	step := *plan.call

	// Record the call before making it: a crash between the call and the
	// status write must not give the budget back. If AWS refuses the call,
	// it did not count, and the record is dropped again below — which is
	// only true of a single attempt (callOnceKinesis): a refusal of an SDK
	// retry says nothing of an earlier attempt that timed out.
	st.Reshards = append(st.Reshards, metav1.NewTime(now))
	if err := p.patcher.patch(ctx, sp); err != nil {
		return result{}, fmt.Errorf("record reshard in status: %w", err)
	}
	_, err := p.aws.Kinesis.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{
		StreamName: aws.String(st.Name), TargetShardCount: aws.Int32(step.To), ScalingType: ktypes.ScalingTypeUniformScaling,
	}, callOnceKinesis)
	if err != nil {
		if k := awsapi.Classify(err); k == awsapi.KindInUse || k == awsapi.KindLimit || k == awsapi.KindInvalid {
			st.Reshards = st.Reshards[:len(st.Reshards)-1]
		}
		return result{}, r.streamFailed(sp, fmt.Errorf("update shard count of stream %q from %d to %d: %w", st.Name, p.openShards, step.To, err))
	}
	log.FromContext(ctx).Info("Resharded stream", "stream", st.Name, "from", p.openShards, "to", step.To, "target", step.Target)
	r.event(sp, EventStreamResharded, "Stream %s: %s", st.Name, step.Reason)
	r.setCondition(sp, ConditionStreamReady, metav1.ConditionFalse, ReasonResharding, step.Reason)
	st.Status = string(ktypes.StreamStatusUpdating)
	return result{requeueAfter: r.pollInterval()}, nil
}

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
}

// shardPlan is the reshard decision of one pass: either one UpdateShardCount
// call, or StreamReady as given and a requeue.
type shardPlan struct {
	call            *scaling.ReshardStep
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
// is pending it waits a poll; otherwise it returns the call. Pure.
func planShards(f shardFacts) shardPlan {
	step := scaling.PlanReshard(scaling.ReshardState{Open: f.open, Target: f.target, Updating: f.updating, History: f.history, Now: f.now})
	p := shardPlan{ledger: scaling.PruneHistory(f.history, f.now)}
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
