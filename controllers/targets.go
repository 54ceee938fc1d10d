package controllers

import (
	"time"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// Targets are the counts the operator converges to.
type Targets struct {
	Shards, ProducerTasks, ConsumerTasks int32
}

// pausedTargets are the current counts, as observed in this pass: paused
// changes nothing.
func pausedTargets(sp *streamingv1alpha1.StreamProcessor, open int32, services map[string]serviceObservation) (Targets, string) {
	spec := &sp.Spec
	return Targets{open, services[producer].desired(spec.Producer.MinTasks), services[consumer].desired(spec.Consumer.MinTasks)},
		"scaling is paused: targets are the current counts"
}

// scalingInputs are the scaling policy's inputs from the spec, the reshard
// ledger and this pass's observations. Metrics that could not be read are
// missing data, which the policy answers by holding the targets, never by
// scaling down.
func scalingInputs(sp *streamingv1alpha1.StreamProcessor, obs observed, s streamState) scaling.Inputs {
	spec, st, m := &sp.Spec, &sp.Status, obs.metrics
	// Zero windows mean the policy's defaults; an explicit 0 for tasks means
	// no stabilization, which the policy spells as a nanosecond.
	taskScaleDown := time.Duration(0)
	if w := spec.Scaling.TaskScaleDownSeconds; w != nil {
		taskScaleDown = max(seconds(*w), time.Nanosecond)
	}
	return scaling.Inputs{
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
		OpenShards:     s.open,
		StreamUpdating: s.updating,
		ReshardHistory: ledger(st.Stream.Reshards),
		Metrics:        m.Stream,
		// The operator's own previous target is the current count: a
		// desiredCount changed by hand is not taken as the new normal.
		ProducerTasks: scaling.TaskObservation{Desired: currentTarget(st.Producer, spec.Producer.MinTasks), Running: obs.services[producer].running(), CPUPercent: m.ProducerCPU, Requests: m.ProducerRecords, Refused: m.ProducerRefused},
		ConsumerTasks: scaling.TaskObservation{Desired: currentTarget(st.Consumer, spec.Consumer.MinTasks), Running: obs.services[consumer].running(), CPUPercent: m.ConsumerCPU},
	}
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
		if len(rs) == 0 {
			return nil // an empty list round-trips as none
		}
		out := make([]streamingv1alpha1.ScalingRecord, 0, len(rs))
		for _, r := range rs {
			out = append(out, streamingv1alpha1.ScalingRecord{At: r.At, N: r.N})
		}
		return out
	}
	return &streamingv1alpha1.ScalingState{Shards: conv(s.Shards), ShardPeaks: conv(s.ShardPeaks), Producer: conv(s.Producer), Consumer: conv(s.Consumer),
		ProducerRunning: conv(s.ProducerRunning), ConsumerRunning: conv(s.ConsumerRunning), WeekPeaks: conv(s.WeekPeaks),
		ProducerSurges: conv(s.ProducerSurges), MergeFrom: s.MergeFrom, MergeSince: s.MergeSince, UpdatingSeen: s.UpdatingSeen}
}

func fromAPIState(s *streamingv1alpha1.ScalingState) scaling.State {
	if s == nil {
		return scaling.State{}
	}
	conv := func(rs []streamingv1alpha1.ScalingRecord) []scaling.Rec {
		if len(rs) == 0 {
			return nil // an empty list round-trips as none
		}
		out := make([]scaling.Rec, 0, len(rs))
		for _, r := range rs {
			out = append(out, scaling.Rec{At: r.At, N: r.N})
		}
		return out
	}
	return scaling.State{Shards: conv(s.Shards), ShardPeaks: conv(s.ShardPeaks), Producer: conv(s.Producer), Consumer: conv(s.Consumer),
		ProducerRunning: conv(s.ProducerRunning), ConsumerRunning: conv(s.ConsumerRunning), WeekPeaks: conv(s.WeekPeaks),
		ProducerSurges: conv(s.ProducerSurges), MergeFrom: s.MergeFrom, MergeSince: s.MergeSince, UpdatingSeen: s.UpdatingSeen}
}

// seconds converts a spec field in seconds to a duration.
func seconds(s int32) time.Duration { return time.Duration(s) * time.Second }
