package controllers

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

// Targets are the counts the operator converges to.
type Targets struct {
	Shards, ProducerTasks, ConsumerTasks int32
}

// reconcileTargets decides the shard and task targets for this pass and
// records them, with the reason, in status (and an event when they change).
// It needs the open shard count, so it does nothing before the stream exists.
func (r *StreamProcessorReconciler) reconcileTargets(_ context.Context, p *pass) (result, error) {
	sp := p.sp
	if !p.streamActive {
		return result{}, nil
	}
	t, reason := boundedTargets(sp)
	st := &sp.Status
	prev := Targets{st.Stream.TargetShards, st.Producer.TargetTasks, st.Consumer.TargetTasks}
	st.Stream.TargetShards, st.Producer.TargetTasks, st.Consumer.TargetTasks = t.Shards, t.ProducerTasks, t.ConsumerTasks
	if t != prev || st.LastDecision == nil {
		st.LastDecision = &streamingv1alpha1.ScalingDecision{
			Time:          metav1.NewTime(r.Clock.Now()),
			Shards:        t.Shards,
			ProducerTasks: t.ProducerTasks,
			ConsumerTasks: t.ConsumerTasks,
			Reason:        reason,
			DryRun:        sp.Spec.Scaling.DryRun,
			Inputs: map[string]string{
				"openShards":           fmt.Sprint(st.Stream.OpenShards),
				"producerDesiredTasks": fmt.Sprint(st.Producer.DesiredTasks),
				"consumerDesiredTasks": fmt.Sprint(st.Consumer.DesiredTasks),
			},
		}
		r.event(sp, EventTargetsChanged, "Targets: %d shards, %d producer tasks, %d consumer tasks: %s",
			t.Shards, t.ProducerTasks, t.ConsumerTasks, reason)
	}
	return result{}, nil
}

// boundedTargets are the targets before metric-driven scaling: the current
// counts kept within the spec's bounds. Shards start from the open count (a
// reshard made by hand within the bounds is kept); tasks start from the
// previous target, so a desiredCount changed by hand is set back. Paused
// changes no count: the targets are what runs now.
func boundedTargets(sp *streamingv1alpha1.StreamProcessor) (Targets, string) {
	st, spec := &sp.Status, &sp.Spec
	if spec.Scaling.Paused {
		t := Targets{st.Stream.OpenShards, current(st.Producer, spec.Producer.MinTasks), current(st.Consumer, spec.Consumer.MinTasks)}
		return t, "scaling is paused: targets are the current counts"
	}
	shards := clamp(st.Stream.OpenShards, spec.Stream.MinShards, spec.Stream.MaxShards)
	producerTasks := clamp(st.Producer.TargetTasks, spec.Producer.MinTasks, spec.Producer.MaxTasks)
	if st.Producer.ServiceARN == "" && st.Producer.TargetTasks == 0 {
		producerTasks = spec.Producer.MinTasks
	}
	consumerTasks := clamp(st.Consumer.TargetTasks, spec.Consumer.MinTasks, spec.Consumer.MaxTasks)
	if st.Consumer.ServiceARN == "" && st.Consumer.TargetTasks == 0 {
		consumerTasks = spec.Consumer.MinTasks
	}
	reason := fmt.Sprintf("within bounds: shards %d in [%d, %d], producer tasks %d in [%d, %d], consumer tasks %d in [%d, %d]",
		shards, spec.Stream.MinShards, spec.Stream.MaxShards,
		producerTasks, spec.Producer.MinTasks, spec.Producer.MaxTasks,
		consumerTasks, spec.Consumer.MinTasks, spec.Consumer.MaxTasks)
	return Targets{shards, producerTasks, consumerTasks}, reason
}

func clamp(v, lo, hi int32) int32 {
	return max(lo, min(v, hi))
}

// current is a service's desiredCount, or initial before the service exists.
func current(s streamingv1alpha1.ServiceStatus, initial int32) int32 {
	if s.ServiceARN == "" {
		return initial
	}
	return s.DesiredTasks
}
