package controllers

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	etypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"sigs.k8s.io/controller-runtime/pkg/log"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	ecsaws "github.com/kdp-io/streamprocessor-operator/internal/aws/ecs"
	kinesisaws "github.com/kdp-io/streamprocessor-operator/internal/aws/kinesis"
)

// observed is everything one pass read before deciding anything: the stream,
// both services with their task definitions, the metrics, and the refusals
// the reconciler remembers. Every part keeps its own error, so a part that
// could not be read fails alone.
type observed struct {
	// region the clients call (the workloads' AWS_REGION).
	region string
	stream streamObservation
	// services by workload (producer, consumer); empty while the stream
	// cannot be used.
	services map[string]serviceObservation
	// metrics of the pipeline, or metricsErr: read only while scaling.
	metrics    pipelineMetrics
	metricsErr error
	// refused are the workloads whose last service call AWS refused as a
	// mistake in this generation's spec, with that refusal.
	refused map[string]error
	// dashboard as read; nil when there is no dashboard client (nothing is
	// planned for it then).
	dashboard *dashboardObservation
	// logGroup is the operator's log group as read; nil when there is none
	// to manage (see observeLogGroup).
	logGroup *logGroupObservation
}

// dashboardObservation is the CloudWatch dashboard as read in this pass.
// skipped: not read, as the body last put is the one wanted and was checked
// recently (dashboardReadNeeded).
type dashboardObservation struct {
	err     error
	found   bool
	body    string
	skipped bool
	// operatorMetrics: the operator publishes its own metrics
	// (--cloudwatch-metrics), so the dashboard plots them.
	operatorMetrics bool
}

// streamObservation is the stream as described in this pass.
type streamObservation struct {
	// err: the description, its tags or its owner could not be read.
	err error
	// found is false when no stream of that name exists.
	found   bool
	summary ktypes.StreamDescriptionSummary
	// tags and their owner verdict; read only for an ACTIVE or UPDATING stream.
	tags  map[string]string
	owner owner
	// remembered: tags come from an earlier pass (streamOwners), not read
	// in this one; nothing that changes the stream is planned on them.
	remembered bool
	// ownerGone: the StreamProcessor the tags name no longer exists.
	ownerGone bool
	// load is the write load history, read for capacityMode Auto only.
	load loadObservation
}

// serviceObservation is a service as described in this pass.
type serviceObservation struct {
	svc *etypes.Service // nil: no such service
	err error           // the description failed
	// taskDefs are the registered task definitions looked at, in order (the
	// service's own, then the family's latest), up to the first one that is
	// this object's and matches the spec; taskDefErr ended the look-up.
	taskDefs   []taskDefObservation
	taskDefErr error
}

// taskDefObservation is a registered task definition revision and its tags.
type taskDefObservation struct {
	def  *etypes.TaskDefinition
	tags map[string]string
}

// running is the service's runningCount, 0 when unknown.
func (o serviceObservation) running() int32 {
	if o.svc == nil {
		return 0
	}
	return o.svc.RunningCount
}

// desired is the service's desiredCount, or initial before it exists.
func (o serviceObservation) desired(initial int32) int32 {
	if o.svc == nil {
		return initial
	}
	return o.svc.DesiredCount
}

// observe reads, without changing anything, what the plan of this pass needs:
// the dashboard's body (unless it is known current); the stream (summary,
// tags — remembered when recently found to be sp's, see streamOwners —
// whether its owner still exists); once the stream can be used, both
// services and their task definitions, and the metrics unless scaling is
// paused. Nothing after the stream is read while
// the stream is missing, busy being created or deleted, or not this object's.
func (r *StreamProcessorReconciler) observe(ctx context.Context, sp *streamingv1alpha1.StreamProcessor, names Names, c Clients) observed {
	obs := observed{region: c.Region, services: map[string]serviceObservation{}, refused: map[string]error{}}
	// Read whatever the stream's state: the dashboard depends only on names.
	obs.dashboard = observeDashboard(ctx, sp, c, names.Dashboard, r.Publisher != nil, r.Clock.Now(), r.driftRecheck())
	obs.logGroup = observeLogGroup(ctx, sp, c, r.Clock.Now(), r.driftRecheck())
	obs.stream = r.observeStream(ctx, sp, c.Kinesis, names.Stream)
	obs.stream.load = r.observeLoad(ctx, sp, c, obs.stream)
	if !streamUsable(sp, obs.stream) {
		return obs
	}
	now := r.Clock.Now()
	// Both services in one DescribeServices call.
	svcs, err := ecsaws.Services{API: c.ECS}.DescribeAll(ctx, sp.Spec.ECS.Cluster, names.Producer, names.Consumer)
	for _, w := range []workload{producerWorkload(sp, c.Region), consumerWorkload(sp, c.Region)} {
		if err := r.refused.active(refusalKey{uid: sp.UID, step: w.name}, sp.Generation, now); err != nil {
			obs.refused[w.name] = err
		}
		o := serviceObservation{svc: svcs[serviceName(sp, w.name)], err: err}
		if o.err == nil && obs.refused[w.name] == nil && (o.svc == nil || ownerOf(sp, ecsTagMap(o.svc.Tags)).Ownership == Ours) {
			o.taskDefs, o.taskDefErr = observeTaskDefinitions(ctx, c.ECS, sp, w, o.svc)
		}
		obs.services[w.name] = o
	}
	if r.Metrics != nil && c.CloudWatch != nil && !sp.Spec.Scaling.Paused {
		spec := &sp.Spec
		obs.metrics, obs.metricsErr = r.Metrics.Fetch(ctx, c.CloudWatch, metricsKey{
			region: c.Region, stream: names.Stream, cluster: spec.ECS.Cluster,
			producer: names.Producer, consumer: names.Consumer, application: applicationName(sp),
		}, now)
		if obs.metricsErr != nil && !errors.Is(obs.metricsErr, errMetricsPending) {
			log.FromContext(ctx).Info("Reading CloudWatch metrics failed; holding targets", "error", obs.metricsErr.Error())
		}
	}
	return obs
}

// observeStream describes the stream, and for one that is ACTIVE or
// UPDATING takes its tags from memory, when they were read recently and
// named sp (streamOwners), or reads them and, when they name another
// StreamProcessor, whether that one still exists (readStreamOwner).
func (r *StreamProcessorReconciler) observeStream(ctx context.Context, sp *streamingv1alpha1.StreamProcessor, k KinesisAPI, name string) streamObservation {
	d, err := kinesisaws.Streams{API: k}.Describe(ctx, name)
	switch {
	case err != nil:
		return streamObservation{err: err}
	case d == nil:
		return streamObservation{}
	}
	o := streamObservation{found: true, summary: *d}
	if s := o.summary.StreamStatus; s != ktypes.StreamStatusActive && s != ktypes.StreamStatusUpdating {
		return o
	}
	if tags, ok := r.owners.recall(sp, o.summary, r.Clock.Now(), r.driftRecheck()); ok {
		o.tags, o.owner, o.remembered = tags, ownerOf(sp, tags), true
		return o
	}
	return r.readStreamOwner(ctx, sp, k, name, o)
}

// observeTaskDefinitions describes the task definitions a service could run
// — the service's current one, then the family's latest — and stops at the
// first that is sp's and matches the spec. ECS answers a family with no
// active revision with ClientException: no candidate, not an error.
func observeTaskDefinitions(ctx context.Context, e ECSAPI, sp *streamingv1alpha1.StreamProcessor, w workload, svc *etypes.Service) ([]taskDefObservation, error) {
	want := taskDefinitionInput(sp, w)
	refs := []string{aws.ToString(want.Family)}
	if svc != nil && aws.ToString(svc.TaskDefinition) != "" {
		refs = []string{aws.ToString(svc.TaskDefinition), refs[0]}
	}
	var found []taskDefObservation
	for _, ref := range refs {
		def, tags, err := ecsaws.Services{API: e}.TaskDefinition(ctx, ref)
		if err != nil {
			return found, err
		}
		if def == nil {
			continue
		}
		td := taskDefObservation{def: def, tags: ecsTagMap(tags)}
		found = append(found, td)
		if ownerOf(sp, td.tags).Ownership == Ours && taskDefinitionDiff(want, td.def) == "" {
			break
		}
	}
	return found, nil
}

// streamUsable reports whether the services and the scaling may act on the
// stream seen in o: it exists, is ACTIVE or UPDATING (in either capacity
// mode), and is sp's or is being adopted. Pure.
func streamUsable(sp *streamingv1alpha1.StreamProcessor, o streamObservation) bool {
	if o.err != nil || !o.found {
		return false
	}
	if s := o.summary.StreamStatus; s != ktypes.StreamStatusActive && s != ktypes.StreamStatusUpdating {
		return false
	}
	return o.owner.Ownership == Ours || adoptable(sp, o)
}

// adoptable: the stream is not (or no longer) anyone's, and spec.stream.adopt asks to take it.
func adoptable(sp *streamingv1alpha1.StreamProcessor, o streamObservation) bool {
	return sp.Spec.Stream.Adopt && (o.owner.Ownership == Unowned || (o.owner.Ownership == Others && o.ownerGone))
}
