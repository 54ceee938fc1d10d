package controllers

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// Targets are the counts the operator converges to.
type Targets struct {
	Shards, ProducerTasks, ConsumerTasks int32
}

// reconcileTargets decides the shard and task targets for this pass and
// records them in status: with the policy of internal/scaling on CloudWatch
// metrics, or, when paused, the current counts. status.lastDecision explains
// every decision; an event marks every change of a target. It needs the open
// shard count, so it does nothing before the stream exists.
func (r *StreamProcessorReconciler) reconcileTargets(ctx context.Context, p *pass) (result, error) {
	sp := p.sp
	if !p.streamActive {
		return result{}, nil
	}
	now := r.Clock.Now()
	st := &sp.Status
	var (
		t      Targets
		reason string
		inputs map[string]string
	)
	if sp.Spec.Scaling.Paused {
		t, reason = pausedTargets(p)
	} else {
		d, next := r.decide(ctx, p, now)
		t, reason, inputs = Targets{d.Shards, d.ProducerTasks, d.ConsumerTasks}, d.Reason, d.Used.Map()
		st.Scaling = toAPIState(next)
	}
	p.targets = t
	prev := Targets{st.Stream.TargetShards, st.Producer.TargetTasks, st.Consumer.TargetTasks}
	st.Stream.TargetShards, st.Producer.TargetTasks, st.Consumer.TargetTasks = t.Shards, t.ProducerTasks, t.ConsumerTasks
	st.LastDecision = &streamingv1alpha1.ScalingDecision{
		Time: metav1.NewTime(now), Shards: t.Shards, ProducerTasks: t.ProducerTasks, ConsumerTasks: t.ConsumerTasks,
		Reason: reason, Inputs: inputs, DryRun: sp.Spec.Scaling.DryRun,
	}
	if t != prev {
		verb := "Targets"
		if sp.Spec.Scaling.DryRun {
			verb = "Dry run targets"
		}
		r.event(sp, EventTargetsChanged, "%s: %d shards, %d producer tasks, %d consumer tasks: %s",
			verb, t.Shards, t.ProducerTasks, t.ConsumerTasks, reason)
	}
	return result{}, nil
}

// decide runs the scaling policy on this pass's observations. Metrics that
// cannot be read are missing data, which the policy answers by holding the
// targets, never by scaling down.
func (r *StreamProcessorReconciler) decide(ctx context.Context, p *pass, now time.Time) (scaling.Decision, scaling.State) {
	sp := p.sp
	spec, st := &sp.Spec, &sp.Status
	var m pipelineMetrics
	var fetchErr error
	if r.Metrics != nil && p.aws.CloudWatch != nil {
		m, fetchErr = r.Metrics.Fetch(ctx, p.aws.CloudWatch, metricsKey{
			region: p.aws.Region, stream: streamName(sp), cluster: spec.ECS.Cluster,
			producer: serviceName(sp, producer), consumer: serviceName(sp, consumer), application: applicationName(sp),
		}, now)
		if fetchErr != nil {
			log.FromContext(ctx).Info("Reading CloudWatch metrics failed; holding targets", "error", fetchErr.Error())
		}
	}
	history := make([]time.Time, 0, len(st.Stream.Reshards))
	for _, t := range st.Stream.Reshards {
		history = append(history, t.Time)
	}
	// Zero windows mean the policy's defaults; an explicit 0 for tasks means
	// no stabilization, which the policy spells as a nanosecond.
	taskScaleDown := time.Duration(0)
	if w := spec.Scaling.TaskScaleDownSeconds; w != nil {
		taskScaleDown = max(seconds(*w), time.Nanosecond)
	}
	in := scaling.Inputs{
		Stream: scaling.StreamConfig{
			MinShards: spec.Stream.MinShards, MaxShards: spec.Stream.MaxShards,
			TargetUtilization:      float64(spec.Stream.TargetUtilizationPercent) / 100,
			ScaleDownStabilization: seconds(spec.Scaling.ShardScaleDownSeconds),
		},
		Producer: scaling.TaskConfig{
			MinTasks: spec.Producer.MinTasks, MaxTasks: spec.Producer.MaxTasks,
			TargetCPUPercent:       float64(spec.Producer.TargetCPUPercent),
			TargetRequestsPerTask:  float64(spec.Producer.TargetRecordsPerSecondPerTask),
			ScaleDownStabilization: taskScaleDown,
		},
		Consumer: scaling.TaskConfig{
			MinTasks: spec.Consumer.MinTasks, MaxTasks: spec.Consumer.MaxTasks,
			TargetCPUPercent:       float64(spec.Consumer.TargetCPUPercent),
			MaxIteratorAgeSeconds:  float64(spec.Consumer.MaxIteratorAgeSeconds),
			ScaleDownStabilization: taskScaleDown,
		},
		OpenShards:     p.openShards,
		StreamUpdating: p.streamUpdating,
		ReshardHistory: history,
		Metrics:        m.Stream,
		// The operator's own previous target is the current count: a
		// desiredCount changed by hand is not taken as the new normal.
		ProducerTasks: scaling.TaskObservation{Desired: currentTarget(st.Producer, spec.Producer.MinTasks), Running: p.services[producer].running(), CPUPercent: m.ProducerCPU, Requests: m.ProducerRecords},
		ConsumerTasks: scaling.TaskObservation{Desired: currentTarget(st.Consumer, spec.Consumer.MinTasks), Running: p.services[consumer].running(), CPUPercent: m.ConsumerCPU},
	}
	d, next := scaling.Decide(in, fromAPIState(st.Scaling), now)
	if fetchErr != nil {
		d.Reason = "CloudWatch unavailable (" + awsapi.Message(fetchErr) + "); " + d.Reason
	}
	return d, next
}

// pausedTargets are the current counts, as observed in this pass: paused
// changes nothing.
func pausedTargets(p *pass) (Targets, string) {
	spec := &p.sp.Spec
	return Targets{p.openShards, p.services[producer].desired(spec.Producer.MinTasks), p.services[consumer].desired(spec.Consumer.MinTasks)},
		"scaling is paused: targets are the current counts"
}

// currentTarget is the operator's last target for a service, or initial
// before the service exists.
func currentTarget(s streamingv1alpha1.ServiceStatus, initial int32) int32 {
	if s.ServiceARN == "" && s.TargetTasks == 0 {
		return initial
	}
	return s.TargetTasks
}

func toAPIState(s scaling.State) *streamingv1alpha1.ScalingState {
	conv := func(rs []scaling.Rec) []streamingv1alpha1.ScalingRecord {
		out := make([]streamingv1alpha1.ScalingRecord, 0, len(rs))
		for _, r := range rs {
			out = append(out, streamingv1alpha1.ScalingRecord{At: r.At, N: r.N})
		}
		return out
	}
	return &streamingv1alpha1.ScalingState{Shards: conv(s.Shards), ShardPeaks: conv(s.ShardPeaks), Producer: conv(s.Producer), Consumer: conv(s.Consumer)}
}

func fromAPIState(s *streamingv1alpha1.ScalingState) scaling.State {
	if s == nil {
		return scaling.State{}
	}
	conv := func(rs []streamingv1alpha1.ScalingRecord) []scaling.Rec {
		out := make([]scaling.Rec, 0, len(rs))
		for _, r := range rs {
			out = append(out, scaling.Rec{At: r.At, N: r.N})
		}
		return out
	}
	return scaling.State{Shards: conv(s.Shards), ShardPeaks: conv(s.ShardPeaks), Producer: conv(s.Producer), Consumer: conv(s.Consumer)}
}

// seconds converts a spec field in seconds to a duration.
func seconds(s int32) time.Duration { return time.Duration(s) * time.Second }
