package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	etypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	ecsaws "github.com/kdp-io/streamprocessor-operator/internal/aws/ecs"
	kinesisaws "github.com/kdp-io/streamprocessor-operator/internal/aws/kinesis"
	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// action is one change to AWS that a plan asks for. Actions are independent:
// each is run whatever became of the others, and its outcome is reported on
// the condition of its part.
type action interface {
	// part is the part of the pass the action belongs to: streamPart,
	// producer, consumer, dashboardPart or logsPart.
	part() string
}

// createStream creates the stream, born with its tags: provisioned with
// shards shards, or on-demand.
type createStream struct {
	name     string
	shards   int32
	onDemand bool
	tags     map[string]string
}

// tagStream adds and removes stream tags; managed are the keys the operator
// manages once it is done.
type tagStream struct {
	name    string
	add     map[string]string
	remove  []string
	managed []string
}

// changeRetention changes the stream's retention period.
type changeRetention struct {
	name     string
	from, to int32
}

// startEncryption encrypts the stream with a KMS key.
type startEncryption struct{ name, key string }

// stopEncryption stops the stream's encryption with key.
type stopEncryption struct{ name, key string }

// reshard is one UpdateShardCount call; the plan has put it in the ledger.
type reshard struct {
	name string
	from int32
	step scaling.ReshardStep
}

// deployService registers the workload's task definition (register non-nil),
// then creates (create) or updates (update) its service. An update planned
// with a registration runs the revision registered.
type deployService struct {
	workload, condition, service string
	register                     *ecs.RegisterTaskDefinitionInput
	registerReason               string
	// taskDef the service is to run; pendingTaskDefinition with register.
	taskDef string
	create  *ecs.CreateServiceInput
	update  *ecs.UpdateServiceInput
	// changes of the update in words; restored: its desiredCount was set
	// by hand; from: the desiredCount before; inUse: the revision it runs.
	changes      []string
	restored     bool
	from, target int32
	inUse        string
	dryRun       bool
}

func (createStream) part() string    { return streamPart }
func (tagStream) part() string       { return streamPart }
func (changeRetention) part() string { return streamPart }
func (startEncryption) part() string { return streamPart }
func (stopEncryption) part() string  { return streamPart }
func (reshard) part() string         { return streamPart }
func (a deployService) part() string { return a.workload }

// outcome is what became of one action.
type outcome struct {
	action action
	err    error
	// deployService: the service after the call, the revision it runs, and
	// the revision registered for it ("" for none).
	svc                 *etypes.Service
	taskDef, registered string
	// reshard: the call was not made (its ledger entry is dropped); a
	// chained action: skipped after an earlier link failed.
	notCalled bool
	// createLogGroup: the group existed already; nothing was created.
	// deletions: there was something to delete.
	existed bool
	// mergeShards: the pair chosen (nil when the shards could not be
	// listed or held no pair).
	pair *shardPair
}

// errChainBroken is the outcome of a chained action skipped because an
// earlier one failed.
var errChainBroken = errors.New("not attempted: an earlier step failed")

// act runs every action, each whatever became of the others — except a
// chained one (deletion.go) after a chained one failed — and returns
// their outcomes in order. sp's status is the plan's: a reshard writes it
// before its call.
func (r *StreamProcessorReconciler) act(ctx context.Context, sp *streamingv1alpha1.StreamProcessor, patcher *statusPatcher, c Clients, actions []action) []outcome {
	streams := kinesisaws.Streams{API: c.Kinesis}
	out := make([]outcome, 0, len(actions))
	chainBroken := false
	for _, a := range actions {
		o := outcome{action: a}
		if _, ok := a.(chained); ok && chainBroken {
			o.err, o.notCalled = errChainBroken, true
			out = append(out, o)
			continue
		}
		switch a := a.(type) {
		case createStream:
			if o.err = streams.Create(ctx, a.name, a.shards, a.onDemand, a.tags); o.err == nil {
				log.FromContext(ctx).Info("Created stream", "stream", a.name, "shards", a.shards, "onDemand", a.onDemand)
			}
		case tagStream:
			o.err = streams.SetTags(ctx, a.name, a.add, a.remove)
		case changeRetention:
			o.err = streams.SetRetention(ctx, a.name, a.from, a.to)
		case startEncryption:
			o.err = streams.StartEncryption(ctx, a.name, a.key)
		case stopEncryption:
			o.err = streams.StopEncryption(ctx, a.name, a.key)
		case reshard:
			// The ledger is written before the call: a crash between the
			// call and the pass's status write must not give the budget back.
			if err := patcher.patch(ctx, sp); err != nil {
				o.err, o.notCalled = fmt.Errorf("record reshard in status: %w", err), true
				break
			}
			o.err = streams.Reshard(ctx, a.name, a.from, a.step.To)
			if o.err == nil {
				log.FromContext(ctx).Info("Resharded stream", "stream", a.name, "from", a.from, "to", a.step.To, "target", a.step.Target)
			}
		case mergeShards:
			o = r.mergeOutcome(ctx, sp, streams, a)
		case switchMode:
			o = switchModeOutcome(ctx, sp, patcher, streams, a)
		case deployService:
			o = r.deploy(ctx, sp, c.ECS, a)
		case putDashboard:
			o = putDashboardOutcome(ctx, c, a)
		case createLogGroup, setLogRetention:
			o = logGroupOutcome(ctx, c, a)
		case deleteService, deleteStream, deleteLeaseTable, deleteDashboard, removeLogGroup:
			if o.existed, o.err = runDeletion(ctx, c, a); o.err == nil && o.existed {
				logDeletion(ctx, a)
			}
		}
		if _, ok := a.(chained); ok && o.err != nil {
			chainBroken = true
		}
		out = append(out, o)
	}
	return out
}

// deploy runs a deployService action.
func (r *StreamProcessorReconciler) deploy(ctx context.Context, sp *streamingv1alpha1.StreamProcessor, e ECSAPI, a deployService) outcome {
	o := outcome{action: a, taskDef: a.taskDef}
	services := ecsaws.Services{API: e}
	if a.register != nil {
		if o.taskDef, o.err = services.Register(ctx, a.register); o.err != nil {
			return o
		}
		o.registered = o.taskDef
		log.FromContext(ctx).Info("Registered task definition", "workload", a.workload, "taskDefinition", o.taskDef, "change", a.registerReason)
		pruneTaskDefinitions(ctx, services, sp, aws.ToString(a.register.Family), a.inUse)
	}
	switch {
	case a.create != nil:
		in := *a.create
		in.TaskDefinition = aws.String(o.taskDef)
		if o.svc, o.err = services.Create(ctx, &in); o.err == nil {
			log.FromContext(ctx).Info("Created service", "service", a.service, "desiredCount", a.target)
		}
	case a.update != nil:
		in := *a.update
		if aws.ToString(in.TaskDefinition) == pendingTaskDefinition {
			in.TaskDefinition = aws.String(o.taskDef)
		}
		if o.svc, o.err = services.Update(ctx, &in); o.err == nil {
			log.FromContext(ctx).Info("Updated service", "service", a.service, "changes", a.changes)
		}
	}
	return o
}

// apply reports the outcome on its part's condition and in events, and
// returns the wait it asks for and its error, classified for the requeue.
func (o outcome) apply(n *notes) (time.Duration, error) {
	st := &n.sp.Status
	switch a := o.action.(type) {
	case createStream:
		switch {
		case awsapi.Is(o.err, awsapi.KindInUse): // created meanwhile; its tags decide next pass
		case o.err != nil:
			return 0, n.failed(ConditionStreamReady, o.err)
		case a.onDemand:
			n.normal(EventStreamCreated, "Created stream %s in on-demand mode", a.name)
		default:
			n.normal(EventStreamCreated, "Created stream %s with %d shards", a.name, a.shards)
		}
	case tagStream:
		if o.err != nil {
			return 0, n.failed(ConditionStreamReady, o.err)
		}
		n.normal(EventTagsChanged, "Set %d and removed %d tags of stream %s", len(a.add), len(a.remove), a.name)
		st.Stream.ManagedTagKeys = a.managed
	case changeRetention:
		if o.err != nil {
			return 0, n.failed(ConditionStreamReady, o.err)
		}
		n.normal(EventRetentionChanged, "Changed retention of stream %s from %dh to %dh", a.name, a.from, a.to)
	case startEncryption:
		if o.err != nil {
			return 0, n.failed(ConditionStreamReady, o.err)
		}
		n.normal(EventEncryptionChanged, "Encrypted stream %s with KMS key %s", a.name, a.key)
	case stopEncryption:
		if o.err != nil {
			return 0, n.failed(ConditionStreamReady, o.err)
		}
		n.normal(EventEncryptionChanged, "Stopped encryption of stream %s", a.name)
	case reshard:
		return o.applyReshard(n, a)
	case mergeShards:
		return o.applyMerge(n, a)
	case switchMode:
		return o.applyModeSwitch(n, a)
	case deployService:
		return o.applyDeploy(n, a)
	case putDashboard:
		return 0, o.applyDashboard(n, a)
	case createLogGroup, setLogRetention:
		return 0, o.applyLogGroup(n)
	}
	return 0, nil
}

// applyReshard reports a reshard: Resharding and UPDATING when made; when AWS
// refused it (busy, limit, invalid) or it was not made (the ledger write
// failed, or it was paced on the operator's side), the call did not count
// and leaves the ledger.
func (o outcome) applyReshard(n *notes, a reshard) (time.Duration, error) {
	st := &n.sp.Status.Stream
	if o.err != nil {
		_, paced := pacedDelay(o.err)
		if k := awsapi.Classify(o.err); o.notCalled || paced || k == awsapi.KindInUse || k == awsapi.KindLimit || k == awsapi.KindInvalid {
			st.Reshards = st.Reshards[:max(0, len(st.Reshards)-1)] // the plan appended it last
		}
		if o.notCalled {
			return 0, o.err
		}
		return 0, n.failed(ConditionStreamReady, o.err)
	}
	n.normal(EventStreamResharded, "Stream %s: %s", a.name, a.step.Reason)
	n.set(ConditionStreamReady, metav1.ConditionFalse, ReasonResharding, a.step.Reason)
	st.Status = string(ktypes.StreamStatusUpdating)
	return n.t.poll, nil
}

// applyDeploy reports a deployService: the registration, the create or
// update with its events, and the service's counts and condition.
func (o outcome) applyDeploy(n *notes, a deployService) (time.Duration, error) {
	if o.registered != "" {
		n.normalFor(a.workload, EventTaskDefinitionCreated, "Registered %s for the %s (%s)", o.registered, a.workload, a.registerReason)
	}
	if o.err != nil {
		return 0, n.failed(a.condition, o.err)
	}
	svc := o.svc
	switch {
	case a.create != nil:
		n.normalFor(a.workload, EventServiceCreated, "Created %s service %s with %d tasks", a.workload, a.service, a.target)
		if a.workload == consumer { // its tasks create the lease table for this object
			n.sp.Status.LeaseTable.Owned = true
		}
	case a.update != nil:
		changes := slices.Clone(a.changes)
		for i, c := range changes {
			if c == "task definition "+pendingTaskDefinition {
				changes[i] = "task definition " + o.taskDef
			}
		}
		switch {
		case a.restored:
			n.warnFor(a.workload, EventDesiredCountRestored, "Service %s had desiredCount %d set outside the operator; set back to %d", a.service, a.from, a.target)
		case a.update.DesiredCount != nil && len(changes) == 1:
			n.normalFor(a.workload, EventServiceScaled, "Scaled %s service %s from %d to %d tasks", a.workload, a.service, a.from, a.target)
		default:
			n.normalFor(a.workload, EventServiceUpdated, "Updated %s service %s: %v", a.workload, a.service, changes)
		}
	}
	if svc == nil {
		return 0, nil // registered only: the service is reported next pass
	}
	w := workload{name: a.workload, condition: a.condition}
	if serviceReport(n, w, a.service, svc, o.taskDef, a.target) {
		return n.t.poll, nil
	}
	return 0, nil
}
