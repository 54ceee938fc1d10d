package controllers

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/capacity"
	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// loadWeek is 8 days of 5-minute write samples up to planNow at rate(m)
// MiB/s (m: minutes from the first sample) in 1000-byte records.
func loadWeek(rate func(m int) float64) []capacity.Sample {
	start := planNow.Add(-8 * 24 * time.Hour)
	var out []capacity.Sample
	for m := 0; m < 8*24*60; m += 5 {
		b := rate(m) * scaling.MiB * 300
		out = append(out, capacity.Sample{Start: start.Add(time.Duration(m) * time.Minute), Period: 5 * time.Minute, Bytes: b, Records: b / 1000})
	}
	return out
}

// TestPlanCapacity: the capacity-mode rows of the plan (TestPlanPass has
// the others, with the same helpers).
func TestPlanCapacity(t *testing.T) {
	steady := loadWeek(func(int) float64 { return 5 })
	bursty := loadWeek(func(m int) float64 { // a burst every 6 h on a near-idle stream
		if m%(6*60) == 0 {
			return 200
		}
		return 0.001
	})
	onDemand := func(obs *observed) { obs.stream.summary.StreamModeDetails.StreamMode = ktypes.StreamModeOnDemand }
	switches := func(ago ...time.Duration) []metav1.Time {
		var out []metav1.Time
		for _, a := range ago {
			out = append(out, metav1.NewTime(planNow.Add(-a)))
		}
		return out
	}
	type expect struct {
		actions      []string
		conditions   map[string]string
		events       []string
		wait         time.Duration
		modeSwitches int    // entries in status.stream.modeSwitches after the plan
		mode         string // status.stream.mode
		costMode     string // status.cost.mode; "" for no status.cost
		targetShards int32
	}
	tests := []struct {
		name  string
		setup func(sp *streamingv1alpha1.StreamProcessor, obs *observed)
		want  expect
	}{
		{
			name: "create on-demand: no shard count, nothing else planned",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Stream.CapacityMode = streamingv1alpha1.CapacityOnDemand
				*obs = observed{region: "us-east-1", stream: streamObservation{}}
			},
			want: expect{actions: []string{"create stream on-demand"}, conditions: map[string]string{ConditionStreamReady: ReasonCreating},
				wait: 5 * time.Second, mode: "ON_DEMAND"},
		},
		{
			name: "create Auto: provisioned (no load history yet)",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Stream.CapacityMode = streamingv1alpha1.CapacityAuto
				*obs = observed{region: "us-east-1", stream: streamObservation{}}
			},
			want: expect{actions: []string{"create stream 1 shards"}, conditions: map[string]string{ConditionStreamReady: ReasonCreating},
				wait: 5 * time.Second, mode: "PROVISIONED"},
		},
		{
			name: "OnDemand stream at OnDemand: no reshard whatever minShards says, tasks only, ready",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Stream.CapacityMode, sp.Spec.Stream.MinShards = streamingv1alpha1.CapacityOnDemand, 8
				onDemand(obs)
				obs.stream.summary.OpenShardCount = new(int32(4))
				sp.Spec.Producer.MinTasks = 2
			},
			want: expect{actions: []string{"producer: update desiredCount 1→2"},
				conditions: map[string]string{ConditionStreamReady: ReasonReady}, mode: "ON_DEMAND", targetShards: 4},
		},
		{
			name: "switch allowed: one counted switch in the ledger, one aged out",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Stream.CapacityMode = streamingv1alpha1.CapacityOnDemand
				sp.Status.Stream.ModeSwitches = switches(25*time.Hour, time.Hour)
			},
			want: expect{actions: []string{"switch PROVISIONED→ON_DEMAND"}, conditions: map[string]string{ConditionStreamReady: ReasonUpdating},
				wait: 5 * time.Second, modeSwitches: 2, mode: "PROVISIONED", targetShards: 1},
		},
		{
			name: "switch refused by the ledger: wait, warn, keep scaling the current mode",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Stream.CapacityMode = streamingv1alpha1.CapacityOnDemand
				sp.Status.Stream.ModeSwitches = switches(3*time.Hour, time.Hour)
				sp.Spec.Stream.MinShards = 2
			},
			want: expect{actions: []string{"reshard 1→2"}, conditions: map[string]string{ConditionStreamReady: ReasonModeSwitchBudgetSpent, ConditionProducerReady: ReasonReady},
				events: []string{EventModeSwitchWaiting}, wait: time.Minute, modeSwitches: 2, mode: "PROVISIONED", targetShards: 2},
		},
		{
			name: "UPDATING: the switch waits for ACTIVE",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Stream.CapacityMode = streamingv1alpha1.CapacityOnDemand
				obs.stream.summary.StreamStatus = ktypes.StreamStatusUpdating
			},
			want: expect{conditions: map[string]string{ConditionStreamReady: ReasonUpdating}, wait: 5 * time.Second, mode: "PROVISIONED", targetShards: 1},
		},
		{
			name: "Auto, steady load: stays provisioned, both estimates in status.cost",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Stream.CapacityMode = streamingv1alpha1.CapacityAuto
				sp.Spec.Stream.MaxShards = 100
				obs.stream.load = loadObservation{samples: steady}
			},
			want: expect{conditions: map[string]string{ConditionStreamReady: ReasonReady}, mode: "PROVISIONED", costMode: "PROVISIONED", targetShards: 1},
		},
		{
			name: "Auto, rare bursts: switches to on-demand",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Stream.CapacityMode = streamingv1alpha1.CapacityAuto
				obs.stream.load = loadObservation{samples: bursty}
			},
			want: expect{actions: []string{"switch PROVISIONED→ON_DEMAND"}, conditions: map[string]string{ConditionStreamReady: ReasonUpdating},
				wait: 5 * time.Second, modeSwitches: 1, mode: "PROVISIONED", costMode: "ON_DEMAND", targetShards: 1},
		},
		{
			name: "Auto, rare bursts, dry run: reported, not switched",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Stream.CapacityMode, sp.Spec.Scaling.DryRun = streamingv1alpha1.CapacityAuto, true
				obs.stream.load = loadObservation{samples: bursty}
			},
			want: expect{conditions: map[string]string{ConditionStreamReady: ReasonReady}, mode: "PROVISIONED", costMode: "PROVISIONED", targetShards: 1},
		},
		{
			name: "Auto, rare bursts, paused: not switched",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Stream.CapacityMode, sp.Spec.Scaling.Paused = streamingv1alpha1.CapacityAuto, true
				obs.stream.load = loadObservation{samples: bursty}
			},
			want: expect{mode: "PROVISIONED", costMode: "PROVISIONED"},
		},
		{
			name: "Auto, CloudWatch failed: keeps the current mode",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Stream.CapacityMode = streamingv1alpha1.CapacityAuto
				onDemand(obs)
				obs.stream.load = loadObservation{err: errors.New("throttled")}
			},
			want: expect{conditions: map[string]string{ConditionStreamReady: ReasonReady}, mode: "ON_DEMAND", costMode: "ON_DEMAND", targetShards: 1},
		},
		{
			name: "adopted ON_DEMAND stream at OnDemand: tagged, kept on-demand",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Stream.Adopt, sp.Spec.Stream.CapacityMode = true, streamingv1alpha1.CapacityOnDemand
				obs.stream.tags, obs.stream.owner = map[string]string{}, owner{Ownership: Unowned}
				onDemand(obs)
			},
			want: expect{actions: []string{"tag stream +4 -0"}, events: []string{EventStreamAdopted},
				conditions: map[string]string{ConditionStreamReady: ReasonReady}, mode: "ON_DEMAND", targetShards: 1},
		},
		{
			name: "adopted ON_DEMAND stream at Provisioned: switched and tagged",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Stream.Adopt = true
				obs.stream.tags, obs.stream.owner = map[string]string{}, owner{Ownership: Unowned}
				onDemand(obs)
			},
			want: expect{actions: []string{"switch ON_DEMAND→PROVISIONED", "tag stream +4 -0"}, events: []string{EventStreamAdopted},
				conditions: map[string]string{ConditionStreamReady: ReasonUpdating}, wait: 5 * time.Second, modeSwitches: 1, mode: "ON_DEMAND", targetShards: 1},
		},
		{
			name: "switch and a retention change: the switch first, retention next pass",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Stream.CapacityMode, sp.Spec.Stream.RetentionHours = streamingv1alpha1.CapacityOnDemand, 48
			},
			want: expect{actions: []string{"switch PROVISIONED→ON_DEMAND"}, conditions: map[string]string{ConditionStreamReady: ReasonUpdating},
				wait: 5 * time.Second, modeSwitches: 1, mode: "PROVISIONED", targetShards: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := planObject()
			obs := convergedPass(sp)
			tt.setup(sp, &obs)
			pl := planPass(sp, obs, planNow, planTiming)
			checkActions(t, pl.actions, tt.want.actions)
			checkConditions(t, pl.status, tt.want.conditions)
			for _, r := range tt.want.events {
				if !slices.ContainsFunc(pl.events, func(e pendingEvent) bool { return e.reason == r }) {
					t.Errorf("events %+v lack %s", pl.events, r)
				}
			}
			if pl.wait != tt.want.wait {
				t.Errorf("wait = %s, want %s", pl.wait, tt.want.wait)
			}
			st := pl.status.Stream
			if len(st.ModeSwitches) != tt.want.modeSwitches || st.Mode != tt.want.mode {
				t.Errorf("mode %q, ledger %v; want %q, %d entries", st.Mode, st.ModeSwitches, tt.want.mode, tt.want.modeSwitches)
			}
			switch c := pl.status.Cost; {
			case tt.want.costMode == "" && c != nil:
				t.Errorf("status.cost = %+v, want none", c)
			case tt.want.costMode != "" && (c == nil || c.Mode != tt.want.costMode || c.ProvisionedPerHour == "" || c.OnDemandPerHour == "" || c.Reason == ""):
				t.Errorf("status.cost = %+v, want mode %s with both estimates and a reason", c, tt.want.costMode)
			}
			if tt.want.targetShards != 0 && st.TargetShards != tt.want.targetShards {
				t.Errorf("target shards %d, want %d", st.TargetShards, tt.want.targetShards)
			}
		})
	}
}

// TestModeSwitchOutcomes: a switch made keeps its ledger entry and leaves
// the stream UPDATING with an event; one AWS refused (or never made) leaves
// the ledger; one lost on the wire counts.
func TestModeSwitchOutcomes(t *testing.T) {
	a := switchMode{name: "s", arn: "arn", from: capacity.Provisioned, to: capacity.OnDemand, reason: "spec"}
	tests := []struct {
		name       string
		o          outcome
		wantReason string
		wantErr    bool
		wantLedger int
		wantEvent  string
	}{
		{"made", outcome{action: a}, ReasonSwitchingMode, false, 1, EventModeSwitched},
		{"refused: limit (switched outside the operator)", outcome{action: a, err: apiError("LimitExceededException")}, ReasonLimitExceeded, true, 0, EventLimitExceeded},
		{"refused: busy", outcome{action: a, err: apiError("ResourceInUseException")}, ReasonUpdating, true, 0, ""},
		{"refused: invalid", outcome{action: a, err: apiError("InvalidArgumentException")}, ReasonInvalidSpec, true, 0, EventInvalidSpec},
		{"lost on the wire: counts", outcome{action: a, err: errors.New("connection reset")}, ReasonAWSError, true, 1, ""},
		{"not made: the ledger write failed", outcome{action: a, err: errors.New("conflict"), notCalled: true}, "", true, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := planObject()
			sp.Status.Stream.ModeSwitches = []metav1.Time{metav1.NewTime(planNow)}
			n := &notes{sp: sp, now: planNow, t: planTiming}
			_, err := tt.o.apply(n)
			if (err != nil) != tt.wantErr {
				t.Errorf("error %v, want error %v", err, tt.wantErr)
			}
			if c := findCondition(sp, ConditionStreamReady); tt.wantReason != "" && (c == nil || c.Reason != tt.wantReason) {
				t.Errorf("StreamReady = %+v, want %s", c, tt.wantReason)
			}
			if got := len(sp.Status.Stream.ModeSwitches); got != tt.wantLedger {
				t.Errorf("ledger has %d entries, want %d", got, tt.wantLedger)
			}
			if tt.wantEvent != "" && !slices.ContainsFunc(n.events, func(e pendingEvent) bool { return e.reason == tt.wantEvent }) {
				t.Errorf("events %+v lack %s", n.events, tt.wantEvent)
			}
		})
	}
}

// fakeLoadCloudWatch answers GetMetricData with two pages of the load
// queries and counts the calls.
type fakeLoadCloudWatch struct {
	calls int
	ins   []*cloudwatch.GetMetricDataInput
}

func (f *fakeLoadCloudWatch) GetMetricData(_ context.Context, in *cloudwatch.GetMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	f.calls++
	cp := *in
	f.ins = append(f.ins, &cp)
	t1, t2 := planNow.Add(-10*time.Minute), planNow.Add(-5*time.Minute)
	if in.NextToken == nil {
		return &cloudwatch.GetMetricDataOutput{NextToken: aws.String("p2"), MetricDataResults: []cwtypes.MetricDataResult{
			{Id: aws.String("bytes"), Timestamps: []time.Time{t2, t1}, Values: []float64{2000, 1000}},
		}}, nil
	}
	return &cloudwatch.GetMetricDataOutput{MetricDataResults: []cwtypes.MetricDataResult{
		{Id: aws.String("records"), Timestamps: []time.Time{t1, t2}, Values: []float64{1, 2}},
	}}, nil
}

// TestLoadHistory: a week of 5-minute IncomingBytes and IncomingRecords
// sums, merged by time over pages, oldest first; read once per MaxAge.
func TestLoadHistory(t *testing.T) {
	cw := &fakeLoadCloudWatch{}
	h := NewLoadHistory(time.Hour)
	got, err := h.Read(context.Background(), cw, "us-east-1", "s", planNow)
	if err != nil {
		t.Fatal(err)
	}
	want := []capacity.Sample{
		{Start: planNow.Add(-10 * time.Minute), Period: 5 * time.Minute, Bytes: 1000, Records: 1},
		{Start: planNow.Add(-5 * time.Minute), Period: 5 * time.Minute, Bytes: 2000, Records: 2},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("samples %+v, want %+v", got, want)
	}
	in := cw.ins[0]
	if d := aws.ToTime(in.EndTime).Sub(aws.ToTime(in.StartTime)); d != capacity.Week || aws.ToInt32(in.MetricDataQueries[0].MetricStat.Period) != 300 {
		t.Fatalf("asked for %s in periods of %d s, want a week of 300 s", d, aws.ToInt32(in.MetricDataQueries[0].MetricStat.Period))
	}
	if _, err := h.Read(context.Background(), cw, "us-east-1", "s", planNow.Add(59*time.Minute)); err != nil || cw.calls != 2 {
		t.Fatalf("within MaxAge: %d calls (want the 2 pages of the first read only), err %v", cw.calls, err)
	}
	if _, err := h.Read(context.Background(), cw, "us-east-1", "s", planNow.Add(time.Hour)); err != nil || cw.calls != 4 {
		t.Fatalf("after MaxAge: %d calls, want a new read", cw.calls)
	}
}
