package controllers

import (
	"cmp"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	etypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
	"github.com/kdp-io/streamprocessor-operator/internal/capacity"
)

// streamPart names the stream's part of a pass in errors and actions; the
// workloads' parts are producer and consumer.
const streamPart = "stream"

// pendingTaskDefinition stands, in a planned UpdateService, for the revision
// the same action registers first.
const pendingTaskDefinition = "(new revision)"

// plan is what one pass decided from what it observed: the new status (with
// the conditions the decisions set), the actions to take, the events of the
// decisions, the wait the parts asked for, and the errors of the parts that
// failed already in observation (each reported on its own condition).
type plan struct {
	status  streamingv1alpha1.StreamProcessorStatus
	actions []action
	events  []pendingEvent
	wait    time.Duration
	errs    []partError
	// incomplete: the stream is not usable yet (being created or deleted),
	// so nothing after it was planned; observedGeneration is not set.
	incomplete bool
	// deployed are the workloads planned through to their service, whose
	// remembered refusal is forgotten when their action (if any) succeeds.
	deployed map[string]bool
}

func (pl *plan) waitFor(d time.Duration) { pl.wait = minPositive(pl.wait, d) }

func (pl *plan) fail(part string, err error, remember bool) {
	pl.errs = append(pl.errs, partError{part: part, err: err, remember: remember})
}

// streamState is what the plan of the stream tells the plans after it.
type streamState struct {
	usable   bool // the services and the scaling may act
	updating bool // UPDATING now, or made so by a planned settings change or mode switch
	open     int32
	onDemand bool           // ON_DEMAND: Kinesis scales the shards (planCapacity)
	modeHold *heldCondition // StreamReady while a wanted mode switch waits
}

// planPass decides one pass. It is a pure function of the object (spec and
// the status of earlier passes), what this pass observed, and now: the stream
// first (create, adopt or refuse, tags, retention, encryption); once the
// stream can be used, the targets (scaling.Decide, or the current counts
// when paused), one reshard step (PlanReshard, within the 24 h budget) and
// each workload's task definition and service. The workloads are planned
// independently: one that cannot proceed does not hold back the other or the
// reshard. The dashboard is planned last, whatever became of the rest.
func planPass(sp *streamingv1alpha1.StreamProcessor, obs observed, now time.Time, t passSettings) plan {
	sp = sp.DeepCopy()
	n := &notes{sp: sp, now: now, t: t}
	pl := plan{deployed: map[string]bool{}}
	planLogGroup(n, &pl, obs.logGroup) // first: its create comes before the services' tasks log to it
	if s := planStream(n, &pl, obs.stream); s.usable {
		targets, byMerge := planTargets(n, obs, s)
		planStreamCapacity(n, &pl, s, targets, byMerge) // planReshard, unless on-demand
		for _, w := range []workload{producerWorkload(sp, obs.region), consumerWorkload(sp, obs.region)} {
			planService(n, &pl, w, obs, targets)
		}
	}
	planDashboard(n, &pl, obs.dashboard, obs.region)
	pl.status, pl.events = sp.Status, n.events
	return pl
}

// planStream plans the stream: a create when it is missing; a wait while it
// is being created or deleted; a refusal, on all three conditions, of a
// stream that is another StreamProcessor's or was not adopted; else the
// capacity mode (planCapacity: one UpdateStreamMode), the tags (only tags
// while UPDATING, and only when adopting) and, with no switch planned, one
// retention or encryption change.
func planStream(n *notes, pl *plan, o streamObservation) streamState {
	sp, st := n.sp, &n.sp.Status.Stream
	name := st.Name
	if o.err != nil {
		pl.fail(streamPart, n.failed(ConditionStreamReady, o.err), false)
		return streamState{}
	}
	if !o.found {
		pl.actions = append(pl.actions, createStream{name: name, shards: sp.Spec.Stream.MinShards, onDemand: createMode(sp) == capacity.OnDemand, tags: desiredStreamTags(sp)})
		st.Status, st.OpenShards, st.Mode = string(ktypes.StreamStatusCreating), 0, string(createMode(sp))
	}
	switch {
	case !o.found || o.summary.StreamStatus == ktypes.StreamStatusCreating:
		n.set(ConditionStreamReady, metav1.ConditionFalse, ReasonCreating, "stream "+name+" is being created")
		pl.waitFor(n.t.poll)
		pl.incomplete = true
		return streamState{}
	case o.summary.StreamStatus == ktypes.StreamStatusDeleting:
		n.set(ConditionStreamReady, metav1.ConditionFalse, ReasonStreamDeleting, "stream "+name+" is being deleted outside the operator; it will be created again")
		st.Status = ""
		pl.waitFor(n.t.poll)
		pl.incomplete = true
		return streamState{}
	}
	adopting := o.owner.Ownership != Ours
	if adopting && !adoptable(sp, o) {
		reason, ev := ReasonAdoptionRequired, EventAdoptionRequired
		if o.owner.Ownership == Others && !o.ownerGone {
			reason, ev = ReasonOwnedByAnother, EventOwnedByAnother
		}
		err := n.refuse(reason, ev, refusal("stream", name, o.owner, o.ownerGone), ConditionStreamReady, ConditionProducerReady, ConditionConsumerReady)
		pl.fail(streamPart, err, false)
		return streamState{}
	}
	d := o.summary
	st.ARN, st.Status, st.OpenShards = aws.ToString(d.StreamARN), string(d.StreamStatus), aws.ToInt32(d.OpenShardCount)
	if adopting {
		n.normal(EventStreamAdopted, "Adopted existing stream %s (%d open shards, %s; spec.stream.adopt)", name, st.OpenShards, observedMode(d))
	}
	cp := planCapacity(n, pl, o)
	s := streamState{usable: true, open: st.OpenShards, updating: d.StreamStatus == ktypes.StreamStatusUpdating || cp.switching,
		onDemand: cp.onDemand, modeHold: cp.hold}
	if !s.updating || adopting { // adopting: tag it now, the services may be created in this pass
		planStreamTags(n, pl, name, o.tags)
	}
	if !s.updating {
		if a := planStreamSettings(sp, d); a != nil {
			pl.actions = append(pl.actions, a)
			s.updating = true // a settings change leaves the stream UPDATING
		}
	}
	if s.updating {
		pl.waitFor(n.t.poll)
	}
	return s
}

// planStreamTags plans the tags the stream lacks (the spec's and the owner
// tags) and the removal of tags the operator set before that the spec no
// longer lists. With nothing to change it records the managed keys.
func planStreamTags(n *notes, pl *plan, name string, have map[string]string) {
	st := &n.sp.Status.Stream
	want := desiredStreamTags(n.sp)
	a := tagStream{name: name, add: map[string]string{}, managed: slices.Sorted(maps.Keys(want))}
	for key, v := range want {
		if hv, ok := have[key]; !ok || hv != v {
			a.add[key] = v
		}
	}
	for _, key := range st.ManagedTagKeys {
		if _, ok := want[key]; !ok {
			if _, ok := have[key]; ok {
				a.remove = append(a.remove, key)
			}
		}
	}
	if len(a.add) == 0 && len(a.remove) == 0 {
		st.ManagedTagKeys = a.managed
		return
	}
	pl.actions = append(pl.actions, a)
}

// planStreamSettings returns the one retention or encryption change that
// brings the stream d towards the spec (each leaves it UPDATING), or nil.
func planStreamSettings(sp *streamingv1alpha1.StreamProcessor, d ktypes.StreamDescriptionSummary) action {
	name := sp.Status.Stream.Name
	if want, have := sp.Spec.Stream.RetentionHours, aws.ToInt32(d.RetentionPeriodHours); want > 0 && want != have {
		return changeRetention{name: name, from: have, to: want}
	}
	enc := sp.Spec.Stream.Encryption
	switch {
	case enc.Type == streamingv1alpha1.EncryptionNone && d.EncryptionType == ktypes.EncryptionTypeKms:
		return stopEncryption{name: name, key: aws.ToString(d.KeyId)}
	case enc.Type != streamingv1alpha1.EncryptionNone && (d.EncryptionType != ktypes.EncryptionTypeKms || !sameKMSKey(aws.ToString(d.KeyId), kmsKeyID(enc))):
		return startEncryption{name: name, key: kmsKeyID(enc)}
	}
	return nil
}

// planTargets decides the shard and task targets and records them in status:
// with the policy of internal/scaling on the observed metrics and counts, or,
// when paused, the current counts. status.lastDecision explains every
// decision; an event marks every change of a target. byMerge says the policy
// reaches the shard target by MergeShards (scaling.Decision.ByMerge); never
// when paused or on-demand.
func planTargets(n *notes, obs observed, s streamState) (t Targets, byMerge bool) {
	sp, st := n.sp, &n.sp.Status
	var (
		reason string
		inputs map[string]string
	)
	if sp.Spec.Scaling.Paused {
		t, reason = pausedTargets(sp, s.open, obs.services)
	} else {
		d, next := n.t.policy()(scalingInputs(sp, obs, s), fromAPIState(st.Scaling), n.now)
		switch {
		case errors.Is(obs.metricsErr, errMetricsPending):
			d.Reason = "no metrics read yet (" + obs.metricsErr.Error() + "); " + d.Reason
		case obs.metricsErr != nil:
			d.Reason = "CloudWatch unavailable (" + awsapi.Message(obs.metricsErr) + "); " + d.Reason
		}
		t, reason, inputs = Targets{d.Shards, d.ProducerTasks, d.ConsumerTasks}, d.Reason, d.Used.Map()
		byMerge = d.ByMerge
		st.Scaling = toAPIState(next)
	}
	if s.onDemand { // Kinesis scales an on-demand stream: only the tasks are the operator's
		t.Shards, reason, byMerge = s.open, "ON_DEMAND stream, shards scaled by Kinesis; tasks: "+reason, false
	}
	prev := Targets{st.Stream.TargetShards, st.Producer.TargetTasks, st.Consumer.TargetTasks}
	st.Stream.TargetShards, st.Producer.TargetTasks, st.Consumer.TargetTasks = t.Shards, t.ProducerTasks, t.ConsumerTasks
	st.LastDecision = &streamingv1alpha1.ScalingDecision{
		Time: metav1.NewTime(n.now), Shards: t.Shards, ProducerTasks: t.ProducerTasks, ConsumerTasks: t.ConsumerTasks,
		Reason: reason, Inputs: inputs, DryRun: sp.Spec.Scaling.DryRun,
	}
	if t != prev {
		verb := "Targets"
		if sp.Spec.Scaling.DryRun {
			verb = "Dry run targets"
		}
		n.normal(EventTargetsChanged, "%s: %d shards, %d producer tasks, %d consumer tasks: %s",
			verb, t.Shards, t.ProducerTasks, t.ConsumerTasks, reason)
	}
	return t, byMerge
}

// planReshard plans at most one legal UpdateShardCount call towards the
// target (planShards), or, when the policy scales down byMerge, at most one
// merge of two adjacent open shards (mergeShards: no ledger entry; its
// outcome sets StreamReady). A planned call is already in the status's
// ledger: act writes the ledger before the call, so a crash between the two
// does not give the budget back.
func planReshard(n *notes, pl *plan, s streamState, t Targets, byMerge bool) {
	sp, st := n.sp, &n.sp.Status.Stream
	sh := planShards(shardFacts{
		stream: st.Name, open: s.open, target: t.Shards, updating: s.updating,
		history: ledger(st.Reshards), now: n.now, dryRun: sp.Spec.Scaling.DryRun,
		budgetWasSpent: conditionReason(sp, ConditionStreamReady) == ReasonReshardBudgetSpent,
		interval:       seconds(sp.Spec.Scaling.IntervalSeconds), poll: n.t.poll, byMerge: byMerge,
	})
	st.Reshards = toMetaTimes(sh.ledger)
	if sh.merge {
		if sh.reason != "" { // the dry run's, until its outcome names the pair
			n.set(ConditionStreamReady, sh.status, sh.reason, sh.message)
		}
		pl.actions = append(pl.actions, mergeShards{name: st.Name, from: s.open, to: t.Shards, dryRun: sp.Spec.Scaling.DryRun})
		return
	}
	if sh.warn != "" {
		n.warn(EventReshardWaiting, "%s", sh.warn)
	}
	if sh.call == nil {
		n.set(ConditionStreamReady, sh.status, sh.reason, sh.message)
		pl.waitFor(sh.requeueAfter)
		return
	}
	st.Reshards = append(st.Reshards, metav1.NewTime(n.now))
	pl.actions = append(pl.actions, reshard{name: st.Name, from: s.open, step: *sh.call})
}

// planService plans one workload: nothing but a refusal for a service that is
// not this object's, a wait while it drains, nothing while AWS's refusal of
// this generation's spec stands; else the task definition to register (when
// no registered revision of its own matches the spec) and the service to
// create or update (task definition, network, load balancer, desiredCount;
// a desiredCount changed by hand is set back). With nothing to change it
// reports the service's task counts.
func planService(n *notes, pl *plan, w workload, obs observed, t Targets) {
	sp := n.sp
	name, o := serviceName(sp, w.name), obs.services[w.name]
	switch {
	case o.err != nil:
		pl.fail(w.name, n.failed(w.condition, o.err), false)
		return
	case o.svc != nil && ownerOf(sp, ecsTagMap(o.svc.Tags)).Ownership != Ours:
		pl.fail(w.name, refuseService(n, w, name, ownerOf(sp, ecsTagMap(o.svc.Tags))), false)
		return
	}
	svc := o.svc
	if svc != nil && w.name == consumer {
		sp.Status.LeaseTable.Owned = true
	}
	switch {
	case svc != nil && aws.ToString(svc.Status) == "DRAINING":
		n.set(w.condition, metav1.ConditionFalse, ReasonDeleting, "service "+name+" is being deleted; it will be created again")
		pl.waitFor(n.t.poll)
		return
	case obs.refused[w.name] != nil:
		// Refused in this generation: not asked again before the long
		// retry, however often other parts poll; the condition says why.
		pl.fail(w.name, &invalidSpecError{err: obs.refused[w.name]}, false)
		return
	case o.taskDefErr != nil:
		pl.fail(w.name, n.failed(w.condition, o.taskDefErr), true)
		return
	}
	pl.deployed[w.name] = true
	target := t.ProducerTasks
	if w.name == consumer {
		target = t.ConsumerTasks
	}
	want := taskDefinitionInput(sp, w)
	a := deployService{workload: w.name, condition: w.condition, service: name, target: target, dryRun: sp.Spec.Scaling.DryRun}
	var diff string
	if a.taskDef, diff = chooseTaskDefinition(sp, want, o.taskDefs); a.taskDef == "" {
		a.register, a.registerReason, a.taskDef = want, cmp.Or(diff, "first revision"), pendingTaskDefinition
	}
	if svc == nil {
		a.create = createServiceInput(sp, w, name, a.taskDef, target)
	} else {
		a.from, a.inUse = svc.DesiredCount, aws.ToString(svc.TaskDefinition)
		a.update, a.changes, a.restored = planServiceUpdate(sp, w, svc, a.taskDef, target)
	}
	if a.register == nil && a.create == nil && a.update == nil {
		if serviceReport(n, w, name, svc, a.taskDef, target) {
			pl.waitFor(n.t.poll)
		}
		return
	}
	pl.actions = append(pl.actions, a)
}

// chooseTaskDefinition returns the ARN of the first observed revision that is
// sp's and matches want, or "" and how the last of sp's differs.
func chooseTaskDefinition(sp *streamingv1alpha1.StreamProcessor, want *ecs.RegisterTaskDefinitionInput, tds []taskDefObservation) (arn, diff string) {
	for _, td := range tds {
		if ownerOf(sp, td.tags).Ownership != Ours {
			continue // another's revision: register one of our own
		}
		if diff = taskDefinitionDiff(want, td.def); diff == "" {
			return aws.ToString(td.def.TaskDefinitionArn), ""
		}
	}
	return "", diff
}

// serviceReport records the service's counts in status and sets the
// workload's condition from them; it reports whether to look again soon.
func serviceReport(n *notes, w workload, name string, svc *etypes.Service, taskDef string, target int32) bool {
	st := serviceStatus(n.sp, w.name)
	st.ServiceARN, st.TaskDefinitionARN = aws.ToString(svc.ServiceArn), taskDef
	st.DesiredTasks, st.RunningTasks, st.PendingTasks = svc.DesiredCount, svc.RunningCount, svc.PendingCount
	status, reason, msg, wait := serviceCondition(name, svc, taskDef, target, n.sp.Spec.Scaling.DryRun)
	n.set(w.condition, status, reason, msg)
	return wait
}

// serviceStatus is the status of the named workload.
func serviceStatus(sp *streamingv1alpha1.StreamProcessor, workload string) *streamingv1alpha1.ServiceStatus {
	if workload == consumer {
		return &sp.Status.Consumer
	}
	return &sp.Status.Producer
}

// ledger is the reshard ledger of status as times.
func ledger(ts []metav1.Time) []time.Time {
	out := make([]time.Time, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.Time)
	}
	return out
}
