package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	etypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	logsaws "github.com/kdp-io/streamprocessor-operator/internal/aws/logs"
)

// Deletion as a plan, from plain observed structs: no API server, no
// emulator.

// deletionObject is planObject being deleted with policy, after a pass that
// created its pipeline.
func deletionObject(policy streamingv1alpha1.DeletionPolicy) *streamingv1alpha1.StreamProcessor {
	sp := planObject()
	sp.Spec.Stream.DeletionPolicy = policy
	sp.Status.Stream.ARN, sp.Status.Producer.ServiceARN = "arn:stream", "arn:svc"
	return sp
}

// liveForDeletion is what a deletion pass reads of sp's running pipeline.
func liveForDeletion(sp *streamingv1alpha1.StreamProcessor) observedForDeletion {
	return observedForDeletion{
		services: map[string]serviceObservation{
			producer: runningService(sp, producerWorkload(sp, "us-east-1"), 2),
			consumer: runningService(sp, consumerWorkload(sp, "us-east-1"), 1),
		},
		stream:     activeStream(sp, 1),
		dashboards: true,
	}
}

// describeDeletion writes a deletion action in a few words.
func describeDeletion(a action) string {
	if a, ok := a.(deleteService); ok && a.scaleToZero {
		return "scale to 0 and " + deletionStep(a)
	}
	return deletionStep(a)
}

func TestPlanDeletion(t *testing.T) {
	sp := planObject()
	prod, cons, stream, table, dash := serviceName(sp, producer), serviceName(sp, consumer), sp.Status.Stream.Name, sp.Status.LeaseTable.Name, dashboardName
	if table == "" {
		table = namesOf(sp).LeaseTable
	}
	logs := namesOf(sp).LogGroup
	other := func(sp *streamingv1alpha1.StreamProcessor) map[string]string {
		o := sp.DeepCopy()
		o.UID, o.Namespace = "uid-other", "other"
		return desiredStreamTags(o)
	}
	tests := []struct {
		name    string
		policy  streamingv1alpha1.DeletionPolicy
		change  func(sp *streamingv1alpha1.StreamProcessor, o *observedForDeletion)
		actions []string
		blocked string // the step, "" for none
		finish  bool
		events  []string
		owned   bool // the lease table is marked this object's
	}{
		{name: "Retain: the services (producer first) and the dashboard go, the stream stays",
			policy:  streamingv1alpha1.DeletionPolicyRetain,
			actions: []string{"scale to 0 and delete service " + prod, "scale to 0 and delete service " + cons, "delete dashboard " + dash},
			finish:  true, owned: true},
		{name: "Delete: then the stream and the lease table its consumer used",
			policy: streamingv1alpha1.DeletionPolicyDelete,
			actions: []string{"scale to 0 and delete service " + prod, "scale to 0 and delete service " + cons,
				"delete stream " + stream, "delete lease table " + table, "delete dashboard " + dash},
			finish: true, owned: true},
		{name: "services already draining: the stream may go now",
			policy: streamingv1alpha1.DeletionPolicyDelete,
			change: func(_ *streamingv1alpha1.StreamProcessor, o *observedForDeletion) {
				for _, s := range o.services {
					s.svc.Status = aws.String("DRAINING")
				}
			},
			actions: []string{"delete stream " + stream, "delete lease table " + table, "delete dashboard " + dash},
			finish:  true, owned: true},
		{name: "a service at 0 tasks is deleted without scaling",
			policy: streamingv1alpha1.DeletionPolicyRetain,
			change: func(_ *streamingv1alpha1.StreamProcessor, o *observedForDeletion) {
				o.services[producer].svc.DesiredCount = 0
			},
			actions: []string{"delete service " + prod, "scale to 0 and delete service " + cons, "delete dashboard " + dash},
			finish:  true, owned: true},
		{name: "a stream owned by another object is left alone, and so is the lease table",
			policy: streamingv1alpha1.DeletionPolicyDelete,
			change: func(sp *streamingv1alpha1.StreamProcessor, o *observedForDeletion) {
				o.stream.tags = other(sp)
			},
			actions: []string{"scale to 0 and delete service " + prod, "scale to 0 and delete service " + cons, "delete dashboard " + dash},
			finish:  true, owned: true, events: []string{EventStreamRetained}},
		{name: "a stream never adopted (no owner tags) is left alone",
			policy: streamingv1alpha1.DeletionPolicyDelete,
			change: func(_ *streamingv1alpha1.StreamProcessor, o *observedForDeletion) {
				o.stream.tags = map[string]string{"team": "a"}
			},
			actions: []string{"scale to 0 and delete service " + prod, "scale to 0 and delete service " + cons, "delete dashboard " + dash},
			finish:  true, owned: true, events: []string{EventStreamRetained}},
		{name: "a service owned by another object is left alone; its lease table is not this object's",
			policy: streamingv1alpha1.DeletionPolicyDelete,
			change: func(sp *streamingv1alpha1.StreamProcessor, o *observedForDeletion) {
				o.services[consumer].svc.Tags = nil
			},
			actions: []string{"scale to 0 and delete service " + prod, "delete stream " + stream, "delete dashboard " + dash},
			finish:  true, events: []string{EventServiceKept}},
		{name: "not found means gone: no services, no stream; the table the consumer used still goes",
			policy: streamingv1alpha1.DeletionPolicyDelete,
			change: func(sp *streamingv1alpha1.StreamProcessor, o *observedForDeletion) {
				sp.Status.LeaseTable.Owned = true
				o.services[producer], o.services[consumer], o.stream = serviceObservation{}, serviceObservation{}, streamObservation{}
			},
			actions: []string{"delete lease table " + table, "delete dashboard " + dash},
			finish:  true, owned: true},
		{name: "the cluster is gone: so are its services",
			policy: streamingv1alpha1.DeletionPolicyRetain,
			change: func(_ *streamingv1alpha1.StreamProcessor, o *observedForDeletion) {
				o.services[producer] = serviceObservation{err: apiError("ClusterNotFoundException")}
				o.services[consumer] = serviceObservation{err: apiError("ClusterNotFoundException")}
			},
			actions: []string{"delete dashboard " + dash}, finish: true},
		{name: "a stream being deleted is gone (its tags are not read)",
			policy: streamingv1alpha1.DeletionPolicyDelete,
			change: func(_ *streamingv1alpha1.StreamProcessor, o *observedForDeletion) {
				o.stream.summary.StreamStatus, o.stream.tags = ktypes.StreamStatusDeleting, nil
			},
			actions: []string{"scale to 0 and delete service " + prod, "scale to 0 and delete service " + cons, "delete lease table " + table, "delete dashboard " + dash},
			finish:  true, owned: true},
		{name: "the stream vanished between its description and its tags: gone",
			policy: streamingv1alpha1.DeletionPolicyDelete,
			change: func(_ *streamingv1alpha1.StreamProcessor, o *observedForDeletion) {
				o.stream.tags, o.stream.err = nil, apiError("ResourceNotFoundException")
			},
			actions: []string{"scale to 0 and delete service " + prod, "scale to 0 and delete service " + cons, "delete lease table " + table, "delete dashboard " + dash},
			finish:  true, owned: true},
		{name: "Delete: the operator's log group with this object's tags goes after the services, before the stream",
			policy: streamingv1alpha1.DeletionPolicyDelete,
			change: func(sp *streamingv1alpha1.StreamProcessor, o *observedForDeletion) {
				sp.Status.LogGroupName = logs
				o.logGroup = &logGroupObservation{group: &logsaws.Group{Name: logs, Tags: ownerTags(sp)}}
			},
			actions: []string{"scale to 0 and delete service " + prod, "scale to 0 and delete service " + cons, "delete log group " + logs,
				"delete stream " + stream, "delete lease table " + table, "delete dashboard " + dash},
			finish: true, owned: true},
		{name: "a log group without this object's tags is kept",
			policy: streamingv1alpha1.DeletionPolicyDelete,
			change: func(sp *streamingv1alpha1.StreamProcessor, o *observedForDeletion) {
				sp.Status.LogGroupName = logs
				o.logGroup = &logGroupObservation{group: &logsaws.Group{Name: logs, Tags: map[string]string{"team": "a"}}}
			},
			actions: []string{"scale to 0 and delete service " + prod, "scale to 0 and delete service " + cons,
				"delete stream " + stream, "delete lease table " + table, "delete dashboard " + dash},
			finish: true, owned: true, events: []string{EventLogGroupRetained}},
		{name: "Retain keeps the log group unread",
			policy: streamingv1alpha1.DeletionPolicyRetain,
			change: func(sp *streamingv1alpha1.StreamProcessor, o *observedForDeletion) {
				sp.Status.LogGroupName = logs
			},
			actions: []string{"scale to 0 and delete service " + prod, "scale to 0 and delete service " + cons, "delete dashboard " + dash},
			finish:  true, owned: true, events: []string{EventLogGroupRetained}},
		{name: "the log group cannot be read: the stream waits",
			policy: streamingv1alpha1.DeletionPolicyDelete,
			change: func(sp *streamingv1alpha1.StreamProcessor, o *observedForDeletion) {
				sp.Status.LogGroupName = logs
				o.logGroup = &logGroupObservation{err: apiError("AccessDeniedException")}
			},
			actions: []string{"scale to 0 and delete service " + prod, "scale to 0 and delete service " + cons, "delete dashboard " + dash},
			blocked: "delete log group " + logs, owned: true},
		{name: "AccessDenied describing the producer blocks the chain; the dashboard still goes",
			policy: streamingv1alpha1.DeletionPolicyDelete,
			change: func(_ *streamingv1alpha1.StreamProcessor, o *observedForDeletion) {
				o.services[producer] = serviceObservation{err: apiError("AccessDeniedException")}
			},
			actions: []string{"delete dashboard " + dash}, blocked: "delete service " + prod},
		{name: "expired credentials reading the stream: services go, the stream waits",
			policy: streamingv1alpha1.DeletionPolicyDelete,
			change: func(_ *streamingv1alpha1.StreamProcessor, o *observedForDeletion) {
				o.stream = streamObservation{err: apiError("ExpiredTokenException")}
			},
			actions: []string{"scale to 0 and delete service " + prod, "scale to 0 and delete service " + cons, "delete dashboard " + dash},
			blocked: "delete stream " + stream, owned: true},
		{name: "throttled reading the stream's tags: not gone",
			policy: streamingv1alpha1.DeletionPolicyDelete,
			change: func(_ *streamingv1alpha1.StreamProcessor, o *observedForDeletion) {
				o.stream.tags, o.stream.err = nil, apiError("ThrottlingException")
			},
			actions: []string{"scale to 0 and delete service " + prod, "scale to 0 and delete service " + cons, "delete dashboard " + dash},
			blocked: "delete stream " + stream, owned: true},
		{name: "no dashboard client: no dashboard call",
			policy: streamingv1alpha1.DeletionPolicyRetain,
			change: func(_ *streamingv1alpha1.StreamProcessor, o *observedForDeletion) {
				o.dashboards = false
			},
			actions: []string{"scale to 0 and delete service " + prod, "scale to 0 and delete service " + cons},
			finish:  true, owned: true},
		{name: "region unresolvable, something created: blocked, nothing called",
			policy: streamingv1alpha1.DeletionPolicyDelete,
			change: func(_ *streamingv1alpha1.StreamProcessor, o *observedForDeletion) {
				*o = observedForDeletion{clientsErr: errors.New("no endpoint for region zz-nowhere-1")}
			},
			blocked: "build AWS clients"},
		{name: "region unresolvable, nothing ever created: the finalizer goes",
			policy: streamingv1alpha1.DeletionPolicyDelete,
			change: func(sp *streamingv1alpha1.StreamProcessor, o *observedForDeletion) {
				sp.Status.Stream.ARN, sp.Status.Producer.ServiceARN = "", ""
				*o = observedForDeletion{clientsErr: errors.New("no endpoint for region zz-nowhere-1")}
			},
			finish: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := deletionObject(tt.policy)
			obs := liveForDeletion(sp)
			if tt.change != nil {
				tt.change(sp, &obs)
			}
			before := sp.DeepCopy()
			pl := planDeletion(sp, obs, planNow)
			if fmt.Sprint(sp.Status) != fmt.Sprint(before.Status) {
				t.Error("planDeletion changed the object it was given")
			}
			var got []string
			for _, a := range pl.actions {
				got = append(got, describeDeletion(a))
			}
			if !slices.Equal(got, tt.actions) {
				t.Errorf("actions\n got %q\nwant %q", got, tt.actions)
			}
			switch {
			case tt.blocked == "" && pl.blocked != nil:
				t.Errorf("blocked at %q (%v), want not blocked", pl.blocked.step, pl.blocked.err)
			case tt.blocked != "" && (pl.blocked == nil || pl.blocked.step != tt.blocked):
				t.Errorf("blocked = %+v, want at %q", pl.blocked, tt.blocked)
			}
			if pl.finish != tt.finish {
				t.Errorf("finish = %v, want %v", pl.finish, tt.finish)
			}
			if pl.status.LeaseTable.Owned != tt.owned {
				t.Errorf("lease table owned = %v, want %v", pl.status.LeaseTable.Owned, tt.owned)
			}
			for _, ev := range tt.events {
				if !slices.ContainsFunc(pl.events, func(e pendingEvent) bool { return e.reason == ev }) {
					t.Errorf("events %+v lack %s", pl.events, ev)
				}
			}
		})
	}
}

// TestReportDeletion: the finalizer goes only when the chain was planned to
// its end and every action succeeded; a blocked step keeps it, with Ready
// naming the step and what is missing, and the error's kind choosing the
// requeue.
func TestReportDeletion(t *testing.T) {
	svc := deleteService{cluster: "c", name: "p-producer"}
	tests := []struct {
		name       string
		pl         deletionPlan
		outcomes   []outcome
		wantRemove bool
		wantReason string
		wantMsg    string
		wantErr    bool
		wantEvents []string
	}{
		{name: "all deleted", pl: deletionPlan{finish: true},
			outcomes:   []outcome{{action: svc, existed: true}, {action: deleteDashboard{name: "d"}}},
			wantRemove: true, wantEvents: []string{EventServiceDeleted, EventStreamRetained}},
		{name: "DeleteService denied: kept, AccessDenied names the step", pl: deletionPlan{finish: true},
			outcomes:   []outcome{{action: svc, err: apiError("AccessDeniedException")}, {action: deleteStream{name: "s"}, err: errChainBroken, notCalled: true}},
			wantReason: ReasonAccessDenied, wantMsg: "delete service p-producer", wantEvents: []string{EventDeletionBlocked}},
		{name: "dashboard throttled: kept, a wait", pl: deletionPlan{finish: true},
			outcomes:   []outcome{{action: svc, existed: true}, {action: deleteDashboard{name: "d"}, err: apiError("Throttling")}},
			wantReason: ReasonDeletionBlocked, wantMsg: "delete dashboard d", wantEvents: []string{EventServiceDeleted, EventDeletionBlocked}},
		{name: "observation blocked: kept", pl: deletionPlan{blocked: &blockedStep{step: "delete stream s", err: apiError("ExpiredTokenException")}},
			wantReason: ReasonAccessDenied, wantMsg: "delete stream s", wantEvents: []string{EventDeletionBlocked}},
		{name: "unknown error: returned for the backoff", pl: deletionPlan{finish: true},
			outcomes:   []outcome{{action: deleteLeaseTable{name: "t"}, err: errors.New("connection reset")}},
			wantReason: ReasonDeletionBlocked, wantMsg: "delete lease table t", wantErr: true, wantEvents: []string{EventDeletionBlocked}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := deletionObject(streamingv1alpha1.DeletionPolicyRetain)
			n := &notes{sp: sp, now: planNow, t: planTiming}
			res := reportDeletion(n, tt.pl, tt.outcomes)
			if res.removeFinalizer != tt.wantRemove {
				t.Errorf("removeFinalizer = %v, want %v", res.removeFinalizer, tt.wantRemove)
			}
			if (res.err != nil) != tt.wantErr {
				t.Errorf("err = %v, want error %v", res.err, tt.wantErr)
			}
			if !tt.wantRemove && !tt.wantErr && res.wait <= 0 {
				t.Errorf("a kept finalizer without an error needs a requeue; wait = %s", res.wait)
			}
			if tt.wantReason != "" {
				c := findCondition(sp, ConditionReady)
				if c == nil || c.Status != metav1.ConditionFalse || c.Reason != tt.wantReason || !strings.Contains(c.Message, tt.wantMsg) {
					t.Errorf("Ready = %+v, want False/%s naming %q", c, tt.wantReason, tt.wantMsg)
				}
			}
			var got []string
			for _, e := range n.events {
				got = append(got, e.reason)
			}
			if !slices.Equal(got, tt.wantEvents) {
				t.Errorf("events %q, want %q", got, tt.wantEvents)
			}
		})
	}
}

// chainECS answers only the calls a deletion makes (the embedded nil API
// panics on any other).
// DeleteService of the producer is denied; every call is recorded.
type chainECS struct {
	ECSAPI
	calls *[]string
}

func (e chainECS) UpdateService(_ context.Context, in *ecs.UpdateServiceInput, _ ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error) {
	*e.calls = append(*e.calls, "UpdateService "+aws.ToString(in.Service))
	return &ecs.UpdateServiceOutput{Service: &etypes.Service{}}, nil
}

func (e chainECS) DeleteService(_ context.Context, in *ecs.DeleteServiceInput, _ ...func(*ecs.Options)) (*ecs.DeleteServiceOutput, error) {
	*e.calls = append(*e.calls, "DeleteService "+aws.ToString(in.Service))
	if strings.HasSuffix(aws.ToString(in.Service), "producer") {
		return nil, apiError("AccessDeniedException")
	}
	return &ecs.DeleteServiceOutput{}, nil
}

type chainDashboards struct {
	*countingDashboards
	calls *[]string
}

func (d chainDashboards) DeleteDashboards(_ context.Context, in *cloudwatch.DeleteDashboardsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.DeleteDashboardsOutput, error) {
	*d.calls = append(*d.calls, "DeleteDashboards")
	return &cloudwatch.DeleteDashboardsOutput{}, nil
}

// TestDeletionChainStopsAtTheFirstFailure: act runs the deletions in order;
// once the producer's deletion fails, the consumer and the stream are not
// touched (no record may be written that no consumer reads, no stream goes
// while a service may run), and the dashboard, independent, still goes.
func TestDeletionChainStopsAtTheFirstFailure(t *testing.T) {
	var calls []string
	c := Clients{ECS: chainECS{calls: &calls}, Dashboards: chainDashboards{countingDashboards: &countingDashboards{}, calls: &calls}}
	actions := []action{
		deleteService{cluster: "c", name: "x-producer"}, deleteService{cluster: "c", name: "x-consumer"},
		deleteStream{name: "x"}, deleteDashboard{name: "d"},
	}
	r := &StreamProcessorReconciler{}
	out := r.act(context.Background(), deletionObject(streamingv1alpha1.DeletionPolicyDelete), nil, c, actions)
	if want := []string{"DeleteService x-producer", "DeleteDashboards"}; !slices.Equal(calls, want) {
		t.Errorf("calls %q, want %q", calls, want)
	}
	for i, o := range out[1:3] {
		if !o.notCalled || !errors.Is(o.err, errChainBroken) {
			t.Errorf("outcome %d = %+v, want skipped", i+1, o)
		}
	}
}
