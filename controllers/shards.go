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
	step := scaling.PlanReshard(scaling.ReshardState{
		Open: p.openShards, Target: p.targets.Shards, Updating: p.streamUpdating, History: history, Now: now,
	})
	st.Reshards = toMetaTimes(scaling.PruneHistory(history, now))

	switch {
	case step.Action == scaling.ReshardNone && p.streamUpdating:
		// At the target count, but a settings change (retention,
		// encryption) or a reshard is still being applied.
		r.setCondition(sp, ConditionStreamReady, metav1.ConditionFalse, ReasonUpdating,
			fmt.Sprintf("stream %s is UPDATING with %d open shards", st.Name, p.openShards))
		return result{requeueAfter: r.pollInterval()}, nil
	case step.Action == scaling.ReshardNone:
		r.setCondition(sp, ConditionStreamReady, metav1.ConditionTrue, ReasonReady,
			fmt.Sprintf("stream %s is ACTIVE with %d open shards", st.Name, p.openShards))
		return result{}, nil
	case sp.Spec.Scaling.DryRun:
		r.setCondition(sp, ConditionStreamReady, metav1.ConditionTrue, ReasonReady,
			fmt.Sprintf("dry run: stream %s has %d open shards; would be %s", st.Name, p.openShards, step.Reason))
		return result{}, nil
	case step.Action == scaling.ReshardWait && !step.WaitUntil.IsZero():
		if conditionReason(sp, ConditionStreamReady) != ReasonReshardBudgetSpent {
			r.warning(sp, EventReshardWaiting, "%s", step.Reason)
		}
		r.setCondition(sp, ConditionStreamReady, metav1.ConditionFalse, ReasonReshardBudgetSpent, step.Reason)
		return result{requeueAfter: min(step.WaitUntil.Sub(now), time.Duration(sp.Spec.Scaling.IntervalSeconds)*time.Second)}, nil
	case step.Action == scaling.ReshardWait:
		r.setCondition(sp, ConditionStreamReady, metav1.ConditionFalse, ReasonResharding, step.Reason)
		return result{requeueAfter: r.pollInterval()}, nil
	}

	// Record the call before making it: a crash between the call and the
	// status write must not give the budget back. If AWS refuses the call,
	// it did not count, and the record is dropped again below.
	st.Reshards = append(st.Reshards, metav1.NewTime(now))
	if err := p.patcher.patch(ctx, sp); err != nil {
		return result{}, fmt.Errorf("record reshard in status: %w", err)
	}
	_, err := p.aws.Kinesis.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{
		StreamName: aws.String(st.Name), TargetShardCount: aws.Int32(step.To), ScalingType: ktypes.ScalingTypeUniformScaling,
	})
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
