package controllers

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	etypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	logsaws "github.com/kdp-io/streamprocessor-operator/internal/aws/logs"
	"github.com/kdp-io/streamprocessor-operator/internal/dashboard"
	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// The plan of one pass from plain observed structs: no API server, no
// emulator. Every decision the envtest suite makes against kinesis-local and
// moto is here as a row.

var planNow = time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC)

var planTiming = passSettings{poll: 5 * time.Second, invalidSpecRetry: 5 * time.Minute, limitRetry: 2 * time.Minute}

// planObject is a StreamProcessor after its names are recorded, as the
// reconciler hands it to planPass.
func planObject() *streamingv1alpha1.StreamProcessor {
	sp := unitSample()
	sp.UID, sp.Generation = "uid-1", 1
	sp.Spec.Scaling.IntervalSeconds = 60
	sp.Spec.Stream.Encryption.Type = streamingv1alpha1.EncryptionNone
	recordNames(sp)
	return sp
}

// activeStream is sp's own ACTIVE provisioned stream with open shards and
// AWS's defaults (24 h, not encrypted).
func activeStream(sp *streamingv1alpha1.StreamProcessor, open int32) streamObservation {
	tags := desiredStreamTags(sp)
	return streamObservation{
		found: true, tags: tags, owner: ownerOf(sp, tags),
		summary: ktypes.StreamDescriptionSummary{
			StreamName: aws.String(sp.Status.Stream.Name), StreamARN: aws.String("arn:aws:kinesis:us-east-1:123456789012:stream/" + sp.Status.Stream.Name),
			StreamStatus: ktypes.StreamStatusActive, OpenShardCount: aws.Int32(open), RetentionPeriodHours: aws.Int32(24),
			EncryptionType: ktypes.EncryptionTypeNone, StreamModeDetails: &ktypes.StreamModeDetails{StreamMode: ktypes.StreamModeProvisioned},
		},
	}
}

// runningService is sp's service of workload w, converged to the spec with
// desired tasks all running, and its registered task definition.
func runningService(sp *streamingv1alpha1.StreamProcessor, w workload, desired int32) serviceObservation {
	td := registered(sp, w)
	td.TaskDefinitionArn = aws.String(fmt.Sprintf("arn:aws:ecs:us-east-1:123456789012:task-definition/%s:3", serviceName(sp, w.name)))
	svc := &etypes.Service{
		ServiceName: aws.String(serviceName(sp, w.name)), ServiceArn: aws.String("arn:svc/" + w.name), Status: aws.String("ACTIVE"),
		TaskDefinition: td.TaskDefinitionArn, DesiredCount: desired, RunningCount: desired,
		NetworkConfiguration: networkConfiguration(sp), LoadBalancers: loadBalancers(w), Tags: ecsOwnerTags(sp),
		Deployments: []etypes.Deployment{{}},
	}
	return serviceObservation{svc: svc, taskDefs: []taskDefObservation{{def: td, tags: ecsTagMap(ecsOwnerTags(sp))}}}
}

// convergedPass is a pass over a pipeline at its targets: 1 shard, 1 task each.
func convergedPass(sp *streamingv1alpha1.StreamProcessor) observed {
	st := &sp.Status
	st.Stream.TargetShards, st.Stream.OpenShards, st.Stream.ManagedTagKeys = 1, 1, slices.Sorted(maps.Keys(desiredStreamTags(sp)))
	for _, w := range []*streamingv1alpha1.ServiceStatus{&st.Producer, &st.Consumer} {
		w.ServiceARN, w.TargetTasks, w.DesiredTasks = "arn:svc", 1, 1
	}
	return observed{
		region: "us-east-1", stream: activeStream(sp, 1), refused: map[string]error{},
		services: map[string]serviceObservation{
			producer: runningService(sp, producerWorkload(sp, "us-east-1"), 1),
			consumer: runningService(sp, consumerWorkload(sp, "us-east-1"), 1),
		},
	}
}

func apiError(code string) error {
	return fmt.Errorf("call: %w", &smithy.GenericAPIError{Code: code, Message: "m"})
}

// describe writes an action in a few words, for comparing plans.
func describe(a action) string {
	switch a := a.(type) {
	case createStream:
		if a.onDemand {
			return "create stream on-demand"
		}
		return fmt.Sprintf("create stream %d shards", a.shards)
	case switchMode:
		return fmt.Sprintf("switch %s→%s", a.from, a.to)
	case tagStream:
		return fmt.Sprintf("tag stream +%d -%d", len(a.add), len(a.remove))
	case changeRetention:
		return fmt.Sprintf("retention %d→%d", a.from, a.to)
	case startEncryption:
		return "encrypt " + a.key
	case stopEncryption:
		return "stop encryption"
	case reshard:
		return fmt.Sprintf("reshard %d→%d", a.from, a.step.To)
	case deployService:
		var parts []string
		if a.register != nil {
			parts = append(parts, "register")
		}
		if a.create != nil {
			parts = append(parts, fmt.Sprintf("create %d", aws.ToInt32(a.create.DesiredCount)))
		}
		if a.update != nil {
			parts = append(parts, "update "+strings.Join(a.changes, ", "))
		}
		if a.restored {
			parts = append(parts, "restored")
		}
		return a.workload + ": " + strings.Join(parts, " + ")
	case putDashboard:
		if a.created {
			return "create dashboard " + a.name
		}
		return "update dashboard " + a.name
	case createLogGroup:
		return fmt.Sprintf("create log group %s %dd owner %s", a.name, a.retention, a.tags[TagOwnerUID])
	case setLogRetention:
		return fmt.Sprintf("log retention %d→%d", a.from, a.to)
	}
	return fmt.Sprintf("%T", a)
}

// dashboardName is planObject's dashboard.
var dashboardName = defaultNames(planObject().Namespace, planObject().Name).Dashboard

// dashboardBody is sp's dashboard body in us-east-1, changed by change.
func dashboardBody(sp *streamingv1alpha1.StreamProcessor, change func(*dashboard.Input)) string {
	in := dashboardInput(sp, "us-east-1")
	if change != nil {
		change(&in)
	}
	return dashboard.JSON(in)
}

// errKind writes a part error as part:kind (wait, invalid, other).
func errKind(e partError) string {
	var w *waitError
	var inv *invalidSpecError
	switch {
	case errors.As(e.err, &w):
		return fmt.Sprintf("%s:wait %s", e.part, w.after)
	case errors.As(e.err, &inv):
		return e.part + ":invalid"
	}
	return e.part + ":other"
}

func TestPlanPass(t *testing.T) {
	type expect struct {
		actions    []string
		conditions map[string]string // type → reason; only these are checked
		errs       []string
		events     []string // reasons that must be among the events
		noEvents   []string // reasons that must not
		wait       time.Duration
		incomplete bool
	}
	logGroup := defaultNames(planObject().Namespace, planObject().Name).LogGroup
	tests := []struct {
		name  string
		setup func(sp *streamingv1alpha1.StreamProcessor, obs *observed)
		want  expect
	}{
		{
			name: "log group missing: created first, with the owner tags and spec.logs.retentionDays",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Logs = &streamingv1alpha1.LogsSpec{RetentionDays: 14}
				obs.logGroup = &logGroupObservation{}
			},
			want: expect{actions: []string{"create log group " + logGroup + " 14d owner " + string(planObject().UID)}},
		},
		{
			name: "log group missing while the stream is created: created all the same, before anything else",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				*obs = observed{region: "us-east-1", stream: streamObservation{}, logGroup: &logGroupObservation{}}
			},
			want: expect{actions: []string{"create log group " + logGroup + " 7d owner " + string(planObject().UID), "create stream 1 shards"},
				conditions: map[string]string{ConditionStreamReady: ReasonCreating}, wait: 5 * time.Second, incomplete: true},
		},
		{
			name: "log group exists, ours, retention as the spec's default: LogsReady",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				obs.logGroup = &logGroupObservation{group: &logsaws.Group{Name: logGroup, RetentionDays: 7, Tags: ownerTags(sp)}}
			},
			want: expect{conditions: map[string]string{ConditionLogsReady: ReasonReady, ConditionProducerReady: ReasonReady}},
		},
		{
			name: "log group not read this pass (found as wanted recently): nothing planned, LogsReady kept",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				obs.logGroup = &logGroupObservation{skipped: true}
			},
			want: expect{conditions: map[string]string{ConditionProducerReady: ReasonReady}},
		},
		{
			name: "log group retention changed outside the operator: set back",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				obs.logGroup = &logGroupObservation{group: &logsaws.Group{Name: logGroup, RetentionDays: 0, Tags: ownerTags(sp)}}
			},
			want: expect{actions: []string{"log retention 0→7"}},
		},
		{
			name: "log group of the operator's name owned by another object: logged to, never changed",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				other := ownerTags(sp)
				other[TagOwnerUID] = "uid-0"
				obs.logGroup = &logGroupObservation{group: &logsaws.Group{Name: logGroup, RetentionDays: 30, Tags: other}}
			},
			want: expect{conditions: map[string]string{ConditionLogsReady: ReasonLogGroupNotOwned}},
		},
		{
			name: "log group unreadable (access denied): LogsReady says so, the pass goes on",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				obs.logGroup = &logGroupObservation{err: apiError("AccessDeniedException")}
			},
			want: expect{conditions: map[string]string{ConditionLogsReady: ReasonAccessDenied, ConditionProducerReady: ReasonReady},
				events: []string{EventAccessDenied}},
		},
		{
			name: "log group read throttled: a wait for the logs part",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				obs.logGroup = &logGroupObservation{err: apiError("ThrottlingException")}
			},
			want: expect{conditions: map[string]string{ConditionLogsReady: ReasonThrottled}, errs: []string{"logs:wait 10s"}},
		},
		{
			name: "spec.logs.group: the user's group, reported, not managed",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Logs = &streamingv1alpha1.LogsSpec{Group: "/streamprocessor/streaming"}
				*obs = convergedPass(sp)
			},
			want: expect{conditions: map[string]string{ConditionLogsReady: ReasonUserLogGroup, ConditionProducerReady: ReasonReady}},
		},
		{
			name: "no execution role: nothing collected, LogsReady False, warned",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.ECS.ExecutionRoleARN = ""
				*obs = convergedPass(sp)
			},
			want: expect{conditions: map[string]string{ConditionLogsReady: ReasonNoExecutionRole, ConditionProducerReady: ReasonReady},
				events: []string{EventLogsNotCollected}},
		},
		{
			name: "converged: nothing to do, all ready",
			want: expect{conditions: map[string]string{ConditionStreamReady: ReasonReady, ConditionProducerReady: ReasonReady, ConditionConsumerReady: ReasonReady},
				noEvents: []string{EventTargetsChanged}},
		},
		{
			name: "create: no stream yet, nothing else planned",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				*sp = *planObject()
				*obs = observed{region: "us-east-1", stream: streamObservation{}}
			},
			want: expect{actions: []string{"create stream 1 shards"}, conditions: map[string]string{ConditionStreamReady: ReasonCreating},
				wait: 5 * time.Second, incomplete: true},
		},
		{
			name: "stream CREATING: wait, nothing else planned",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				obs.stream.summary.StreamStatus = ktypes.StreamStatusCreating
			},
			want: expect{conditions: map[string]string{ConditionStreamReady: ReasonCreating}, wait: 5 * time.Second, incomplete: true},
		},
		{
			name: "stream deleted outside: wait for it to go, then create",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				obs.stream.summary.StreamStatus = ktypes.StreamStatusDeleting
			},
			want: expect{conditions: map[string]string{ConditionStreamReady: ReasonStreamDeleting}, wait: 5 * time.Second, incomplete: true},
		},
		{
			name: "first pass on an existing own stream: create both services",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Status.Producer, sp.Status.Consumer = streamingv1alpha1.ServiceStatus{ServiceName: sp.Status.Producer.ServiceName}, streamingv1alpha1.ServiceStatus{ServiceName: sp.Status.Consumer.ServiceName}
				obs.services = map[string]serviceObservation{producer: {}, consumer: {}}
			},
			want: expect{actions: []string{"producer: register + create 1", "consumer: register + create 1"}},
		},
		{
			name: "adopt: untagged stream with spec.stream.adopt is tagged and used",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Stream.Adopt = true
				obs.stream.tags, obs.stream.owner = map[string]string{}, owner{Ownership: Unowned}
			},
			want: expect{actions: []string{"tag stream +4 -0"}, events: []string{EventStreamAdopted},
				conditions: map[string]string{ConditionProducerReady: ReasonReady}},
		},
		{
			name: "adopt while UPDATING: tagged at once, the services are planned in the same pass",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Stream.Adopt = true
				obs.stream.tags, obs.stream.owner = map[string]string{}, owner{Ownership: Unowned}
				obs.stream.summary.StreamStatus = ktypes.StreamStatusUpdating
				obs.services = map[string]serviceObservation{producer: {}, consumer: {}}
			},
			want: expect{actions: []string{"tag stream +4 -0", "producer: register + create 1", "consumer: register + create 1"},
				events: []string{EventStreamAdopted}, conditions: map[string]string{ConditionStreamReady: ReasonUpdating}, wait: 5 * time.Second},
		},
		{
			name: "adoption required: untagged stream without adopt is refused on all three conditions",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				obs.stream.tags, obs.stream.owner = map[string]string{}, owner{Ownership: Unowned}
			},
			want: expect{errs: []string{"stream:invalid"}, events: []string{EventAdoptionRequired},
				conditions: map[string]string{ConditionStreamReady: ReasonAdoptionRequired, ConditionProducerReady: ReasonAdoptionRequired, ConditionConsumerReady: ReasonAdoptionRequired}},
		},
		{
			name: "owned by another living StreamProcessor: refused even with adopt",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Stream.Adopt = true
				obs.stream.owner = owner{Ownership: Others, Namespace: "a", Name: "first", UID: "uid-0"}
			},
			want: expect{errs: []string{"stream:invalid"}, events: []string{EventOwnedByAnother},
				conditions: map[string]string{ConditionStreamReady: ReasonOwnedByAnother, ConditionConsumerReady: ReasonOwnedByAnother}},
		},
		{
			name: "owner gone, no adopt: adoption required",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				obs.stream.owner, obs.stream.ownerGone = owner{Ownership: Others, Namespace: "a", Name: "first", UID: "uid-0"}, true
			},
			want: expect{errs: []string{"stream:invalid"}, conditions: map[string]string{ConditionStreamReady: ReasonAdoptionRequired}},
		},
		{
			name: "owner gone, adopt: taken over",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Stream.Adopt = true
				obs.stream.tags = map[string]string{TagOwnerUID: "uid-0", TagOwnerNamespace: "a", TagOwnerName: "first", TagManagedBy: managedByValue}
				obs.stream.owner, obs.stream.ownerGone = ownerOf(sp, obs.stream.tags), true
			},
			want: expect{actions: []string{"tag stream +3 -0"}, events: []string{EventStreamAdopted}},
		},
		{
			// Was refused before spec.stream.capacityMode: the default
			// Provisioned now switches it (capacity_test.go has the rest).
			name: "ON_DEMAND stream, capacityMode Provisioned: switched, the services still converge",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				obs.stream.summary.StreamModeDetails.StreamMode = ktypes.StreamModeOnDemand
			},
			want: expect{actions: []string{"switch ON_DEMAND→PROVISIONED"}, conditions: map[string]string{ConditionStreamReady: ReasonUpdating, ConditionProducerReady: ReasonReady},
				wait: 5 * time.Second},
		},
		{
			name: "reshard: one legal step (2x) towards the target, recorded in the ledger",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Stream.MinShards = 4
			},
			want: expect{actions: []string{"reshard 1→2"}, events: []string{EventTargetsChanged}},
		},
		{
			name: "reshard budget spent: wait (at most an interval) and warn",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Stream.MinShards = 4
				for i := range 10 {
					sp.Status.Stream.Reshards = append(sp.Status.Stream.Reshards, metav1.NewTime(planNow.Add(-time.Duration(i+1)*time.Hour)))
				}
			},
			want: expect{conditions: map[string]string{ConditionStreamReady: ReasonReshardBudgetSpent, ConditionProducerReady: ReasonReady},
				events: []string{EventReshardWaiting}, wait: time.Minute},
		},
		{
			name: "UPDATING: no reshard while busy, the services still converge",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Stream.MinShards = 4
				sp.Spec.Producer.Image = "p:2"
				obs.stream.summary.StreamStatus = ktypes.StreamStatusUpdating
			},
			want: expect{actions: []string{"producer: register + update task definition (new revision)"},
				conditions: map[string]string{ConditionStreamReady: ReasonResharding}, wait: 5 * time.Second},
		},
		{
			name: "retention drift: changed back, and no reshard in the same pass",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Stream.RetentionHours, sp.Spec.Stream.MinShards = 48, 4
			},
			want: expect{actions: []string{"retention 24→48"}, conditions: map[string]string{ConditionStreamReady: ReasonResharding}, wait: 5 * time.Second},
		},
		{
			name: "encryption drift: started with the default key",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Stream.Encryption.Type = streamingv1alpha1.EncryptionKMS
			},
			want: expect{actions: []string{"encrypt alias/aws/kinesis"}, conditions: map[string]string{ConditionStreamReady: ReasonUpdating}, wait: 5 * time.Second},
		},
		{
			name: "encryption turned on by hand: stopped",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Stream.Encryption.Type = streamingv1alpha1.EncryptionNone
				obs.stream.summary.EncryptionType, obs.stream.summary.KeyId = ktypes.EncryptionTypeKms, aws.String("alias/aws/kinesis")
			},
			want: expect{actions: []string{"stop encryption"}, wait: 5 * time.Second},
		},
		{
			name: "tag removed from the spec: removed from the stream",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				obs.stream.tags["team"] = "x"
				sp.Status.Stream.ManagedTagKeys = append(sp.Status.Stream.ManagedTagKeys, "team")
			},
			want: expect{actions: []string{"tag stream +0 -1"}},
		},
		{
			name: "desiredCount changed by hand: set back, with a warning",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				obs.services[producer].svc.DesiredCount, obs.services[producer].svc.RunningCount = 3, 3
			},
			want: expect{actions: []string{"producer: update desiredCount 3→1 + restored"}},
		},
		{
			name: "network changed by hand: set back",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				obs.services[consumer].svc.NetworkConfiguration.AwsvpcConfiguration.Subnets = []string{"subnet-other"}
			},
			want: expect{actions: []string{"consumer: update network configuration"}},
		},
		{
			name: "dry run: neither reshard nor desiredCount, reported ready",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Scaling.DryRun, sp.Spec.Stream.MinShards = true, 4
				obs.services[producer].svc.DesiredCount, obs.services[producer].svc.RunningCount = 3, 3
			},
			want: expect{conditions: map[string]string{ConditionStreamReady: ReasonReady, ConditionProducerReady: ReasonReady}},
		},
		{
			name: "paused: targets are the current counts; nothing scales",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Scaling.Paused, sp.Spec.Stream.MinShards = true, 4
				obs.services[producer].svc.DesiredCount, obs.services[producer].svc.RunningCount = 3, 3
			},
			want: expect{conditions: map[string]string{ConditionStreamReady: ReasonReady, ConditionProducerReady: ReasonReady}},
		},
		{
			name: "new image: a new revision, the service rolls onto it",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Consumer.Image = "c:2"
			},
			want: expect{actions: []string{"consumer: register + update task definition (new revision)"}},
		},
		{
			name: "processor set: a new consumer revision, the producer untouched",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Consumer.Processor = &streamingv1alpha1.ProcessorSpec{Command: "/app/record_processor.py"}
			},
			want: expect{actions: []string{"consumer: register + update task definition (new revision)"}},
		},
		{
			name: "tasks still starting: a short wait",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				obs.services[consumer].svc.RunningCount = 0
			},
			want: expect{conditions: map[string]string{ConditionConsumerReady: ReasonTasksPending}, wait: 5 * time.Second},
		},
		{
			name: "invalid spec refused this generation: not asked again; the others still act",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Stream.MinShards = 4
				sp.Spec.Consumer.Image = "c:2"
				obs.refused[producer] = errors.New("InvalidParameterException: subnet")
				obs.services[producer] = serviceObservation{}
			},
			want: expect{actions: []string{"reshard 1→2", "consumer: register + update task definition (new revision)"}, errs: []string{"producer:invalid"}},
		},
		{
			name: "service of another StreamProcessor: refused; the other workload converges",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				other := planObject()
				other.UID, other.Namespace = "uid-0", "a"
				obs.services[producer].svc.Tags = ecsOwnerTags(other)
				obs.services[consumer].svc.DesiredCount = 2
			},
			want: expect{actions: []string{"consumer: update desiredCount 2→1 + restored"}, errs: []string{"producer:invalid"},
				conditions: map[string]string{ConditionProducerReady: ReasonOwnedByAnother}},
		},
		{
			name: "service being deleted outside: wait, then create again",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				obs.services[producer].svc.Status = aws.String("DRAINING")
			},
			want: expect{conditions: map[string]string{ConditionProducerReady: ReasonDeleting}, wait: 5 * time.Second},
		},
		{
			name: "stream throttled: a wait of two polls, nothing else planned",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				obs.stream = streamObservation{err: apiError("ThrottlingException")}
			},
			want: expect{errs: []string{"stream:wait 10s"}, conditions: map[string]string{ConditionStreamReady: ReasonThrottled}},
		},
		{
			name: "stream access denied: terminal until the long retry",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				obs.stream = streamObservation{err: apiError("AccessDeniedException")}
			},
			want: expect{errs: []string{"stream:invalid"}, conditions: map[string]string{ConditionStreamReady: ReasonAccessDenied}, events: []string{EventAccessDenied}},
		},
		{
			name: "stream: unknown error goes to the backoff",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				obs.stream = streamObservation{err: apiError("InternalFailure")}
			},
			want: expect{errs: []string{"stream:other"}, conditions: map[string]string{ConditionStreamReady: ReasonAWSError}},
		},
		{
			name: "producer description throttled: its own wait; consumer and reshard go on",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Stream.MinShards = 4
				obs.services[producer] = serviceObservation{err: apiError("ThrottlingException")}
				obs.services[consumer].svc.DesiredCount = 2
			},
			want: expect{actions: []string{"reshard 1→2", "consumer: update desiredCount 2→1 + restored"}, errs: []string{"producer:wait 10s"},
				conditions: map[string]string{ConditionProducerReady: ReasonThrottled}},
		},
		{
			name: "task definition lookup denied: the workload's refusal is remembered",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				o := obs.services[consumer]
				o.taskDefErr = apiError("AccessDeniedException")
				obs.services[consumer] = o
			},
			want: expect{errs: []string{"consumer:invalid"}, conditions: map[string]string{ConditionConsumerReady: ReasonAccessDenied, ConditionProducerReady: ReasonReady}},
		},
		{
			name: "limit exceeded: minutes, said in the condition",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				obs.stream = streamObservation{err: apiError("LimitExceededException")}
			},
			want: expect{errs: []string{"stream:wait 2m0s"}, conditions: map[string]string{ConditionStreamReady: ReasonLimitExceeded}, events: []string{EventLimitExceeded}},
		},
		{
			name: "dashboard missing: created, whatever else the pass does",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Producer.Image = "p:2"
				obs.dashboard = &dashboardObservation{}
			},
			want: expect{actions: []string{"producer: register + update task definition (new revision)", "create dashboard " + dashboardName}},
		},
		{
			name: "dashboard missing while the stream is created: created too",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				*sp = *planObject()
				*obs = observed{region: "us-east-1", stream: streamObservation{}, dashboard: &dashboardObservation{}}
			},
			want: expect{actions: []string{"create stream 1 shards", "create dashboard " + dashboardName}, conditions: map[string]string{ConditionStreamReady: ReasonCreating},
				wait: 5 * time.Second, incomplete: true},
		},
		{
			name: "dashboard current: no action, DashboardReady",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				obs.dashboard = &dashboardObservation{found: true, body: dashboardBody(sp, nil)}
			},
			want: expect{conditions: map[string]string{ConditionDashboardReady: ReasonReady, ConditionProducerReady: ReasonReady}},
		},
		{
			name: "dashboard current, re-encoded by CloudWatch: no action",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				var v any
				_ = json.Unmarshal([]byte(dashboardBody(sp, nil)), &v)
				b, _ := json.MarshalIndent(v, "", "  ")
				obs.dashboard = &dashboardObservation{found: true, body: string(b)}
			},
			want: expect{conditions: map[string]string{ConditionDashboardReady: ReasonReady}},
		},
		{
			name: "dashboard shows another cluster (spec.ecs.cluster changed): put",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				obs.dashboard = &dashboardObservation{found: true, body: dashboardBody(sp, func(in *dashboard.Input) { in.Cluster = "old" })}
			},
			want: expect{actions: []string{"update dashboard " + dashboardName}},
		},
		{
			name: "dashboard shows other names (an older operator's body): put",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				obs.dashboard = &dashboardObservation{found: true, body: dashboardBody(sp, func(in *dashboard.Input) { in.Consumer, in.Application = "x-consumer", "x-consumer" })}
			},
			want: expect{actions: []string{"update dashboard " + dashboardName}},
		},
		{
			name: "dashboard shows old bounds (spec.stream.maxShards changed): put",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				obs.dashboard = &dashboardObservation{found: true, body: dashboardBody(sp, nil)}
				sp.Spec.Stream.MaxShards++
			},
			want: expect{actions: []string{"update dashboard " + dashboardName}},
		},
		{
			name: "dashboard not readable (access denied): own condition, the rest planned, the pass not failed",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				sp.Spec.Stream.MinShards = 4
				obs.dashboard = &dashboardObservation{err: apiError("AccessDenied")}
			},
			want: expect{actions: []string{"reshard 1→2"}, events: []string{EventAccessDenied},
				conditions: map[string]string{ConditionDashboardReady: ReasonAccessDenied, ConditionProducerReady: ReasonReady}},
		},
		{
			name: "dashboard read throttled: a wait of the dashboard's own",
			setup: func(sp *streamingv1alpha1.StreamProcessor, obs *observed) {
				obs.dashboard = &dashboardObservation{err: apiError("Throttling")}
			},
			want: expect{errs: []string{"dashboard:wait 10s"}, conditions: map[string]string{ConditionDashboardReady: ReasonThrottled, ConditionStreamReady: ReasonReady}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := planObject()
			obs := convergedPass(sp)
			if tt.setup != nil {
				tt.setup(sp, &obs)
			}
			before := sp.DeepCopy()
			pl := planPass(sp, obs, planNow, planTiming)

			checkActions(t, pl.actions, tt.want.actions)
			var errs []string
			for _, e := range pl.errs {
				errs = append(errs, errKind(e))
			}
			if !slices.Equal(errs, tt.want.errs) {
				t.Errorf("errors = %q, want %q", errs, tt.want.errs)
			}
			checkConditions(t, pl.status, tt.want.conditions)
			var reasons []string
			for _, e := range pl.events {
				reasons = append(reasons, e.reason)
			}
			for _, r := range tt.want.events {
				if !slices.Contains(reasons, r) {
					t.Errorf("events %q lack %s", reasons, r)
				}
			}
			for _, r := range tt.want.noEvents {
				if slices.Contains(reasons, r) {
					t.Errorf("events %q include %s", reasons, r)
				}
			}
			if pl.wait != tt.want.wait {
				t.Errorf("wait = %s, want %s", pl.wait, tt.want.wait)
			}
			if pl.incomplete != tt.want.incomplete {
				t.Errorf("incomplete = %v, want %v", pl.incomplete, tt.want.incomplete)
			}
			if !equalObjects(before, sp) {
				t.Error("planPass changed its input object")
			}
		})
	}
}

// equalObjects compares values, pointers' targets included (printing with %+v
// would compare a pointer field's addresses, never equal in a deep copy).
func equalObjects(a, b *streamingv1alpha1.StreamProcessor) bool {
	return equality.Semantic.DeepEqual(a, b)
}

// TestOutcomes: an action's outcome is reported on its own part's condition,
// and its error kind chooses the requeue; a reshard AWS refused (or never
// made) leaves the ledger, a reshard made keeps it.
func TestOutcomes(t *testing.T) {
	step := reshard{name: "s", from: 1, step: scalingStep(2)}
	deploy := deployService{workload: consumer, condition: ConditionConsumerReady, service: "svc", target: 2, taskDef: "td:1",
		create: &ecs.CreateServiceInput{}}
	tests := []struct {
		name       string
		o          outcome
		wantCond   string // condition type
		wantReason string
		wantErr    string // "", "wait", "invalid", "other"
		wantWait   time.Duration
		wantLedger int // entries left of the one the plan added (1)
		wantEvent  string
	}{
		{"reshard made", outcome{action: step}, ConditionStreamReady, ReasonResharding, "", 5 * time.Second, 1, EventStreamResharded},
		{"reshard refused: limit", outcome{action: step, err: apiError("LimitExceededException")}, ConditionStreamReady, ReasonLimitExceeded, "wait", 0, 0, EventLimitExceeded},
		{"reshard refused: stream busy", outcome{action: step, err: apiError("ResourceInUseException")}, ConditionStreamReady, ReasonUpdating, "wait", 0, 0, ""},
		{"reshard lost on the wire: counts", outcome{action: step, err: errors.New("connection reset")}, ConditionStreamReady, ReasonAWSError, "other", 0, 1, ""},
		{"reshard not made: the ledger write failed", outcome{action: step, err: errors.New("conflict"), notCalled: true}, ConditionStreamReady, "", "other", 0, 0, ""},
		{"stream created meanwhile by another pass: no error", outcome{action: createStream{name: "s"}, err: apiError("ResourceInUseException")}, "", "", "", 0, 1, ""},
		{"service refused: invalid subnet", outcome{action: deploy, err: apiError("InvalidParameterException")}, ConditionConsumerReady, ReasonInvalidSpec, "invalid", 0, 1, EventInvalidSpec},
		{"dashboard put", outcome{action: putDashboard{name: "d", created: true}}, ConditionDashboardReady, ReasonReady, "", 0, 1, EventDashboardUpdated},
		{"dashboard refused (invalid body): its own condition, no error for the pass", outcome{action: putDashboard{name: "d"}, err: apiError("InvalidParameterInput")}, ConditionDashboardReady, ReasonInvalidSpec, "", 0, 1, EventInvalidSpec},
		{"dashboard refused (access denied): its own condition, no error for the pass", outcome{action: putDashboard{name: "d"}, err: apiError("AccessDenied")}, ConditionDashboardReady, ReasonAccessDenied, "", 0, 1, EventAccessDenied},
		{"dashboard throttled: a wait", outcome{action: putDashboard{name: "d"}, err: apiError("Throttling")}, ConditionDashboardReady, ReasonThrottled, "wait", 0, 1, ""},
		{"log group created", outcome{action: createLogGroup{name: "g", retention: 7}}, ConditionLogsReady, ReasonReady, "", 0, 1, EventLogGroupCreated},
		{"log group existed already: nothing reported, read next pass", outcome{action: createLogGroup{name: "g", retention: 7}, existed: true}, ConditionLogsReady, "", "", 0, 1, ""},
		{"log group create denied: its own condition, no error for the pass", outcome{action: createLogGroup{name: "g"}, err: apiError("AccessDeniedException")}, ConditionLogsReady, ReasonAccessDenied, "", 0, 1, EventAccessDenied},
		{"log retention set back: warned", outcome{action: setLogRetention{name: "g", from: 30, to: 7}}, ConditionLogsReady, ReasonReady, "", 0, 1, EventLogRetentionRestored},
		{"log retention throttled: a wait", outcome{action: setLogRetention{name: "g", from: 30, to: 7}, err: apiError("ThrottlingException")}, ConditionLogsReady, ReasonThrottled, "wait", 0, 1, ""},
		{"service created, tasks starting", outcome{action: deploy, taskDef: "td:1", svc: &etypes.Service{DesiredCount: 2, Deployments: []etypes.Deployment{{}}}}, ConditionConsumerReady, ReasonTasksPending, "", 5 * time.Second, 1, EventServiceCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := planObject()
			sp.Status.Stream.Reshards = []metav1.Time{metav1.NewTime(planNow)}
			n := &notes{sp: sp, now: planNow.Add(time.Second), t: planTiming}
			wait, err := tt.o.apply(n)
			got := ""
			var w *waitError
			var inv *invalidSpecError
			switch {
			case err == nil:
			case errors.As(err, &w):
				got = "wait"
			case errors.As(err, &inv):
				got = "invalid"
			default:
				got = "other"
			}
			if got != tt.wantErr {
				t.Errorf("error %v is %q, want %q", err, got, tt.wantErr)
			}
			if wait != tt.wantWait {
				t.Errorf("wait = %s, want %s", wait, tt.wantWait)
			}
			if tt.wantCond != "" {
				c := findCondition(sp, tt.wantCond)
				switch {
				case tt.wantReason == "" && c != nil:
					t.Errorf("%s = %+v, want unset", tt.wantCond, c)
				case tt.wantReason != "" && (c == nil || c.Reason != tt.wantReason):
					t.Errorf("%s = %+v, want reason %s", tt.wantCond, c, tt.wantReason)
				}
			}
			if got := len(sp.Status.Stream.Reshards); got != tt.wantLedger {
				t.Errorf("ledger has %d entries, want %d", got, tt.wantLedger)
			}
			if tt.wantEvent != "" && !slices.ContainsFunc(n.events, func(e pendingEvent) bool { return e.reason == tt.wantEvent }) {
				t.Errorf("events %+v lack %s", n.events, tt.wantEvent)
			}
		})
	}
}

func scalingStep(to int32) scaling.ReshardStep {
	return scaling.ReshardStep{Action: scaling.ReshardNow, To: to, Target: to, Reason: fmt.Sprintf("scaling to %d", to)}
}

// checkActions fails t unless actions, described, are want in order.
func checkActions(t *testing.T, actions []action, want []string) {
	t.Helper()
	var got []string
	for _, a := range actions {
		got = append(got, describe(a))
	}
	if !slices.Equal(got, want) {
		t.Errorf("actions = %q, want %q", got, want)
	}
}

// checkConditions fails t unless status has each condition type of want
// with its reason.
func checkConditions(t *testing.T, status streamingv1alpha1.StreamProcessorStatus, want map[string]string) {
	t.Helper()
	planned := &streamingv1alpha1.StreamProcessor{Status: status}
	for ct, reason := range want {
		if c := findCondition(planned, ct); c == nil || c.Reason != reason {
			t.Errorf("%s = %+v, want reason %s", ct, c, reason)
		}
	}
}
