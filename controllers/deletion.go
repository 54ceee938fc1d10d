package controllers

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	cloudwatchaws "github.com/kdp-io/streamprocessor-operator/internal/aws/cloudwatch"
	ecsaws "github.com/kdp-io/streamprocessor-operator/internal/aws/ecs"
	kinesisaws "github.com/kdp-io/streamprocessor-operator/internal/aws/kinesis"
	logsaws "github.com/kdp-io/streamprocessor-operator/internal/aws/logs"
	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
)

// Deletion is a pass like the others: observeForDeletion reads what the
// object may own, planDeletion decides (purely) what to delete and whether
// the finalizer may go, act runs the deletions, reportDeletion reports them.
//
// The deletions of the pipeline form a chain, in this order: the producer
// service (so no record is written that no consumer reads), the consumer
// service, the operator's log group (their tasks wrote to it; with
// deletionPolicy Delete and this object's tags only), then — with
// deletionPolicy Delete — the stream and its lease table. A link that cannot be observed or fails stops the links after it:
// the stream is never deleted while one of its services may still run.
// Resources that nothing else depends on (the dashboard) are deleted
// independently, whatever became of the chain. Another owned kind goes in
// the chain (planChain) if something must be gone before it, else beside
// the dashboard (planDeletion); its action needs a case in runDeletion,
// deletionStep and deletedEvent.

// deleteService scales one of sp's services to 0 (when it runs tasks) and
// deletes it. Chained.
type deleteService struct {
	workload, cluster, name string
	scaleToZero             bool
}

// deleteStream deletes sp's stream. Chained.
type deleteStream struct{ name string }

// deleteLeaseTable deletes the consumer's lease table. Chained: it holds
// checkpoints into the stream deleted before it.
type deleteLeaseTable struct{ name string }

// deleteDashboard deletes the CloudWatch dashboard. Independent.
type deleteDashboard struct{ name string }

// removeLogGroup deletes the operator's log group. Chained after the
// services (their tasks write to it).
type removeLogGroup struct{ name string }

func (a deleteService) part() string  { return a.name }
func (deleteStream) part() string     { return streamPart }
func (deleteLeaseTable) part() string { return streamPart }
func (deleteDashboard) part() string  { return dashboardPart }
func (removeLogGroup) part() string   { return logsPart }

// chained marks an action that runs only when every chained action before it
// in the same pass succeeded (act skips it otherwise).
type chained interface{ chained() }

func (deleteService) chained()    {}
func (deleteStream) chained()     {}
func (deleteLeaseTable) chained() {}
func (removeLogGroup) chained()   {}

// step says what an action was doing, for the condition of a blocked deletion.
func deletionStep(a action) string {
	switch a := a.(type) {
	case deleteService:
		return "delete service " + a.name
	case deleteStream:
		return "delete stream " + a.name
	case deleteLeaseTable:
		return "delete lease table " + a.name
	case deleteDashboard:
		return "delete dashboard " + a.name
	case removeLogGroup:
		return "delete log group " + a.name
	}
	return a.part()
}

// observedForDeletion is what a deletion pass read. clientsErr: the region's
// clients could not be built (nothing else was read).
type observedForDeletion struct {
	clientsErr error
	// services by workload; the error is the description's.
	services map[string]serviceObservation
	// stream: read only with deletionPolicy Delete; its tags only when it
	// exists and is not being deleted.
	stream streamObservation
	// dashboards: the region has a dashboard client.
	dashboards bool
	// logGroup: the operator's log group, read only when it may be deleted
	// (logGroupToDelete); nil otherwise.
	logGroup *logGroupObservation
}

// blockedStep is a deletion step that could not proceed and why.
type blockedStep struct {
	step string
	err  error
}

// deletionPlan is what a deletion pass decided: the new status (conditions,
// the lease table's ownership), the actions, the events of the decisions,
// the first step that could not even be observed, and whether the finalizer
// may go once every action succeeded.
type deletionPlan struct {
	status  streamingv1alpha1.StreamProcessorStatus
	actions []action
	events  []pendingEvent
	blocked *blockedStep
	finish  bool
}

// observeForDeletion reads, without changing anything, what planDeletion
// needs: both services and, with deletionPolicy Delete, the stream and its
// tags. It never fails: every read keeps its own error.
func observeForDeletion(ctx context.Context, sp *streamingv1alpha1.StreamProcessor, c Clients) observedForDeletion {
	obs := observedForDeletion{services: map[string]serviceObservation{}, dashboards: c.Dashboards != nil}
	names := namesOf(sp)
	svcs, err := ecsaws.Services{API: c.ECS}.DescribeAll(ctx, sp.Spec.ECS.Cluster, names.Producer, names.Consumer)
	for _, w := range []string{producer, consumer} {
		obs.services[w] = serviceObservation{svc: svcs[serviceName(sp, w)], err: err}
	}
	if sp.Spec.Stream.DeletionPolicy != streamingv1alpha1.DeletionPolicyDelete {
		return obs
	}
	if c.Logs != nil && logGroupToDelete(sp) {
		g, err := logsaws.Groups{API: c.Logs}.Describe(ctx, namesOf(sp).LogGroup)
		obs.logGroup = &logGroupObservation{err: err, group: g}
	}
	streams := kinesisaws.Streams{API: c.Kinesis}
	name := names.Stream
	d, err := streams.Describe(ctx, name)
	switch {
	case err != nil:
		obs.stream.err = err
	case d != nil:
		obs.stream.found, obs.stream.summary = true, *d
		if d.StreamStatus != ktypes.StreamStatusDeleting {
			obs.stream.tags, obs.stream.err = streams.Tags(ctx, name)
		}
	}
	return obs
}

// planDeletion decides one deletion pass from sp, what was observed and now.
// Only an answer that a resource does not exist (or is already being
// deleted) counts as gone; any other error — access denied, expired
// credentials, throttling — blocks the chain at that link and keeps the
// finalizer. A resource tagged for another object, or never adopted, is left
// alone. Without clients (an unresolvable region) the finalizer goes only
// when status shows nothing was ever created.
func planDeletion(sp *streamingv1alpha1.StreamProcessor, obs observedForDeletion, now time.Time) (pl deletionPlan) {
	sp = sp.DeepCopy()
	n := &notes{sp: sp, now: now}
	defer func() { pl.status, pl.events = sp.Status, n.events }()
	if obs.clientsErr != nil {
		if createdNothing(sp) {
			pl.finish = true
		} else {
			pl.blocked = &blockedStep{step: "build AWS clients", err: obs.clientsErr}
		}
		return pl
	}
	names, deleteStreamToo := namesOf(sp), sp.Spec.Stream.DeletionPolicy == streamingv1alpha1.DeletionPolicyDelete
	if reason := conditionReason(sp, ConditionReady); reason != ReasonAccessDenied && reason != ReasonDeletionBlocked {
		// A blocked deletion keeps saying why until it moves on.
		msg := "deleting the services"
		if deleteStreamToo {
			msg += " and the stream"
		}
		n.set(ConditionReady, metav1.ConditionFalse, ReasonDeleting, msg)
	}
	pl.finish = planChain(n, &pl, obs, names, deleteStreamToo)
	// Owned resources that nothing else depends on: deleted whatever became
	// of the chain. Another kind (a log group the operator created) goes here.
	if obs.dashboards {
		pl.actions = append(pl.actions, deleteDashboard{name: names.Dashboard})
	}
	return pl
}

// planChain plans the chain of deletions (services, then stream, then lease
// table) and reports whether it reached its end: false when a link could
// not be observed (pl.blocked says which).
func planChain(n *notes, pl *deletionPlan, obs observedForDeletion, names Names, deleteStreamToo bool) bool {
	sp := n.sp
	for _, w := range []string{producer, consumer} {
		a, ok := planServiceDeletion(n, pl, w, obs.services[w])
		if !ok {
			return false
		}
		if a != nil {
			pl.actions = append(pl.actions, *a)
		}
	}
	if !planLogGroupDeletion(n, pl, obs.logGroup, names.LogGroup) {
		return false
	}
	if !deleteStreamToo {
		return true
	}
	o := obs.stream
	switch {
	case o.err != nil && !awsapi.Is(o.err, awsapi.KindNotFound):
		pl.blocked = &blockedStep{step: "delete stream " + names.Stream, err: o.err}
		return false
	case o.err != nil, !o.found, o.summary.StreamStatus == ktypes.StreamStatusDeleting:
		// gone: only the lease table may be left
	default:
		if owner := ownerOf(sp, o.tags); owner.Ownership != Ours {
			n.normal(EventStreamRetained, "Kept stream %s: it is not this StreamProcessor's", names.Stream)
			return true
		}
		pl.actions = append(pl.actions, deleteStream{name: names.Stream})
	}
	// The lease table holds checkpoints into the deleted stream: useless,
	// billed, and harmful to a stream created later under the same name.
	// Only a table this object's consumer used is ours to delete.
	if sp.Status.LeaseTable.Owned {
		pl.actions = append(pl.actions, deleteLeaseTable{name: names.LeaseTable})
	}
	return true
}

// logGroupToDelete: sp may have an operator-created log group that its
// deletionPolicy deletes (a group of the user's, spec.logs.group, is never
// looked at).
func logGroupToDelete(sp *streamingv1alpha1.StreamProcessor) bool {
	return (sp.Status.LogGroupName != "" || operatorLogGroup(sp)) && sp.Spec.Stream.DeletionPolicy == streamingv1alpha1.DeletionPolicyDelete
}

// planLogGroupDeletion plans the deletion of the operator's log group when
// it carries sp's owner tags (deleteLogGroup); one that is not sp's is kept.
// With Retain the group is kept unread. ok is false when it could not be
// read.
func planLogGroupDeletion(n *notes, pl *deletionPlan, o *logGroupObservation, name string) (ok bool) {
	sp := n.sp
	switch {
	case o == nil:
		if sp.Status.LogGroupName != "" && !logGroupToDelete(sp) {
			n.normal(EventLogGroupRetained, "Kept log group %s (deletionPolicy Retain)", name)
		}
		return true
	case o.err != nil:
		pl.blocked = &blockedStep{step: "delete log group " + name, err: o.err}
		return false
	case o.group == nil:
		return true
	}
	if del, why := deleteLogGroup(sp, o.group.Tags); !del {
		n.normal(EventLogGroupRetained, "Kept log group %s: %s", name, why)
		return true
	}
	pl.actions = append(pl.actions, removeLogGroup{name: name})
	return true
}

// planServiceDeletion plans the deletion of one workload's service: none
// when it is gone, its cluster is gone, it is draining already, or it is not
// sp's (kept, with an event). ok is false when it could not be described.
// Finding the consumer's own service marks the lease table sp's.
func planServiceDeletion(n *notes, pl *deletionPlan, w string, o serviceObservation) (a *deleteService, ok bool) {
	sp, name := n.sp, serviceName(n.sp, w)
	switch {
	case awsapi.Code(o.err) == "ClusterNotFoundException": // the cluster is gone: so are its services
		return nil, true
	case o.err != nil:
		pl.blocked = &blockedStep{step: "delete service " + name, err: o.err}
		return nil, false
	case o.svc == nil:
		return nil, true
	}
	if owner := ownerOf(sp, ecsTagMap(o.svc.Tags)); owner.Ownership != Ours {
		n.normalFor(w, EventServiceKept, "Kept service %s: it is not this StreamProcessor's (%s)", name, owner)
		return nil, true
	}
	if w == consumer {
		sp.Status.LeaseTable.Owned = true
	}
	if aws.ToString(o.svc.Status) == "DRAINING" {
		return nil, true
	}
	return &deleteService{workload: w, cluster: sp.Spec.ECS.Cluster, name: name, scaleToZero: o.svc.DesiredCount > 0}, true
}

// runDeletion runs one deletion action; existed reports whether there was
// something to delete.
func runDeletion(ctx context.Context, c Clients, a action) (existed bool, err error) {
	switch a := a.(type) {
	case deleteService:
		services := ecsaws.Services{API: c.ECS}
		if a.scaleToZero {
			if err := services.ScaleToZero(ctx, a.cluster, a.name); err != nil {
				return false, err
			}
		}
		return true, services.Delete(ctx, a.cluster, a.name)
	case deleteStream:
		return kinesisaws.Streams{API: c.Kinesis}.Delete(ctx, a.name)
	case deleteLeaseTable:
		_, err := c.DynamoDB.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(a.name)})
		if awsapi.Is(err, awsapi.KindNotFound) {
			return false, nil
		}
		return err == nil, err
	case deleteDashboard:
		return cloudwatchaws.Dashboards{API: c.Dashboards}.Delete(ctx, a.name)
	case removeLogGroup:
		return logsaws.Groups{API: c.Logs}.Delete(ctx, a.name)
	}
	return false, nil
}

// deletionResult is how a deletion pass ends.
type deletionResult struct {
	removeFinalizer bool
	wait            time.Duration
	err             error
}

// reportDeletion reports the outcomes of a deletion pass on sp (events of
// what was deleted; Ready False naming the first blocked step) and decides
// whether the finalizer goes: only when the plan reached the end of the
// chain and every action succeeded.
func reportDeletion(n *notes, pl deletionPlan, outcomes []outcome) deletionResult {
	blocked := pl.blocked
	for _, o := range outcomes {
		if o.err != nil {
			if !o.notCalled && blocked == nil {
				blocked = &blockedStep{step: deletionStep(o.action), err: o.err}
			}
			continue
		}
		if o.existed {
			deletedEvent(n, o.action)
		}
	}
	if blocked != nil {
		wait, err := blockDeletion(n, blocked.step, blocked.err)
		return deletionResult{wait: wait, err: err}
	}
	if !pl.finish {
		return deletionResult{wait: n.t.poll}
	}
	if n.sp.Spec.Stream.DeletionPolicy != streamingv1alpha1.DeletionPolicyDelete {
		n.normal(EventStreamRetained, "Kept stream %s (deletionPolicy Retain)", namesOf(n.sp).Stream)
	}
	return deletionResult{removeFinalizer: true}
}

// deletedEvent records the event of a deletion made.
func deletedEvent(n *notes, a action) {
	switch a := a.(type) {
	case deleteService:
		n.normalFor(a.workload, EventServiceDeleted, "Deleted service %s", a.name)
	case deleteStream:
		n.normal(EventStreamDeleted, "Deleted stream %s (deletionPolicy Delete)", a.name)
	case deleteLeaseTable:
		n.normal(EventLeaseTableDeleted, "Deleted the consumer's lease table %s", a.name)
	case deleteDashboard:
		n.normal(EventDashboardDeleted, "Deleted CloudWatch dashboard %s", a.name)
	case removeLogGroup:
		n.normal(EventLogGroupDeleted, "Deleted log group %s (deletionPolicy Delete)", a.name)
	}
}

// logDeletion logs a deletion made.
func logDeletion(ctx context.Context, a action) {
	log.FromContext(ctx).Info("Deleted", "what", deletionStep(a)[len("delete "):])
}
