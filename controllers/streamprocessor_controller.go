// Package controllers holds the StreamProcessor reconciler: for each
// StreamProcessor it owns one Kinesis data stream and two ECS services on
// Fargate (producer and consumer) and converges them to their targets.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	ecsaws "github.com/kdp-io/streamprocessor-operator/internal/aws/ecs"
)

// Finalizer keeps a StreamProcessor until its services (and, with
// deletionPolicy Delete, its stream) are gone.
const Finalizer = "streaming.kdp.io/finalizer"

// Defaults for the reconciler's timing; tests shorten them.
const (
	// DefaultPollInterval is how soon a pass that waits on AWS (a stream
	// CREATING or UPDATING, tasks starting) looks again.
	DefaultPollInterval = 5 * time.Second
	// DefaultInvalidSpecRetry is how soon a spec that AWS refused is tried
	// again without a change: the fix may be outside the spec (a subnet created
	// later), but a user mistake must not become a hot loop.
	DefaultInvalidSpecRetry = 5 * time.Minute
	// DefaultLimitRetry is how soon a call that hit an AWS limit (the reshard
	// budget, the account's shard quota) is tried again.
	DefaultLimitRetry = 2 * time.Minute
	// DefaultDriftRecheck is how often a resource found as wanted, whose
	// wanted state has not changed since, is read again to repair a change
	// made outside the operator (the dashboard, the log group).
	DefaultDriftRecheck = 10 * time.Minute
)

// StreamProcessorReconciler reconciles StreamProcessor objects.
type StreamProcessorReconciler struct {
	client.Client
	// Recorder emits Kubernetes events on transitions.
	Recorder recorder.EventRecorder
	// AWS returns the AWS clients of a region.
	AWS ClientFactory
	// Metrics reads CloudWatch for the scaler, batched across
	// StreamProcessors; nil reads nothing (targets held within bounds).
	Metrics *MetricsBatcher
	// Publisher sends each pass's decisions (shards, reshard budget, target
	// tasks) to CloudWatch, batched per region; nil publishes nothing.
	Publisher *MetricsPublisher
	// LoadHistory reads the stream's week of write load for capacityMode
	// Auto; nil reads nothing (Auto then keeps the current mode).
	LoadHistory *LoadHistory
	// Clock is the time source for the reshard ledger and conditions.
	Clock clock.PassiveClock
	// PollInterval overrides DefaultPollInterval when non-zero.
	PollInterval time.Duration
	// InvalidSpecRetry overrides DefaultInvalidSpecRetry when non-zero.
	InvalidSpecRetry time.Duration
	// LimitRetry overrides DefaultLimitRetry when non-zero.
	LimitRetry time.Duration
	// DriftRecheck overrides DefaultDriftRecheck when non-zero.
	DriftRecheck time.Duration
	// ShardMerges counts the MergeShards calls Kinesis accepted
	// (NewShardMergesCounter); nil counts nothing.
	ShardMerges *prometheus.CounterVec
	// decide replaces the scaling policy (scaling.Decide) in envtests that
	// need a decision the policy does not make on their inputs (a scale-down
	// by merges); nil in the manager.
	decide decideFunc

	// refused holds the service calls AWS refused, not to be made again
	// before InvalidSpecRetry unless the spec changes.
	refused refusals
	// taskDefs holds the descriptions of task definition revisions (which
	// never change) for every pass; set up by SetupWithManager.
	taskDefs *ecsaws.TaskDefinitionCache
	// owners remembers the stream tags found to name their object, so that
	// steady passes skip ListTagsForStream; set up by SetupWithManager.
	owners *streamOwners
}

// taskDefinitionCacheSize bounds the cached revisions: two per object, and
// the ones replaced recently, for a few thousand objects.
const taskDefinitionCacheSize = 8192

// +kubebuilder:rbac:groups=streaming.kdp.io,resources=streamprocessors,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=streaming.kdp.io,resources=streamprocessors/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=streaming.kdp.io,resources=streamprocessors/finalizers,verbs=update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// Leader election's leases are granted by config/rbac/leader_election_role.yaml,
// a Role in the manager's own namespace, not cluster-wide here.

// Reconcile moves one StreamProcessor a step towards its spec. After the get,
// the deferred status patch, deletion (before any AWS client is built) and
// the finalizer, one pass is observe → plan → act → report: observe reads
// the stream, both services, their task definitions and the metrics into
// one struct; planPass decides, purely, the new status and the actions (a
// plan that would change the stream on remembered owner tags is made again
// on tags read now: observeAndPlan);
// act runs every action, each whatever became of the others; report sets
// the conditions and events of the outcomes and chooses the requeue. Every
// step is idempotent, so a crash anywhere is repaired by the next pass.
func (r *StreamProcessorReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	// AWS calls of this pass never hold the worker for their client-side
	// token: a long wait requeues the pass instead (pacing.go).
	ctx = withPacingKey(ctx, req.String())
	sp := &streamingv1alpha1.StreamProcessor{}
	if err := r.Get(ctx, req.NamespacedName, sp); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	patcher := newStatusPatcher(r.Client, sp)
	defer func() {
		err := patcher.patch(ctx, sp)
		switch {
		case err == nil, apierrors.IsNotFound(err):
		case apierrors.IsConflict(err) && retErr == nil:
			// The object changed during the pass (a spec edit, a stale
			// read): this pass's status is outdated; look again at once.
			log.FromContext(ctx).V(1).Info("Status changed meanwhile; reconciling again")
			res = ctrl.Result{RequeueAfter: time.Millisecond}
		default:
			res, retErr = ctrl.Result{}, errors.Join(retErr, fmt.Errorf("patch status: %w", err))
		}
	}()

	// Deletion comes first, before any AWS client is built: an object whose
	// region cannot be resolved must still be deletable.
	if !sp.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, sp, patcher)
	}
	aws, err := r.AWS(ctx, sp.Spec.Region)
	if err != nil {
		r.setCondition(sp, ConditionReady, metav1.ConditionFalse, ReasonInvalidSpec, err.Error())
		return ctrl.Result{RequeueAfter: r.invalidSpecRetry()}, nil
	}
	aws.ECS = r.taskDefs.Wrap(aws.ECS)
	if orig := sp.DeepCopy(); controllerutil.AddFinalizer(sp, Finalizer) {
		// A patch of the finalizers alone: an Update would send the whole
		// spec back and drop fields the Go types omit when zero.
		if err := r.Patch(ctx, sp, client.MergeFrom(orig)); err != nil {
			return ctrl.Result{}, fmt.Errorf("add finalizer: %w", err)
		}
		patcher.reset(sp)
	}
	names := recordNames(sp)

	pl := r.observeAndPlan(ctx, sp, names, aws)
	sp.Status = pl.status
	outcomes := r.act(ctx, sp, patcher, aws, pl.actions)
	res, err = r.report(ctx, sp, pl, outcomes)
	// The report's status goes to CloudWatch with the region's next batch
	// (opmetrics.go; nothing without --cloudwatch-metrics).
	r.Publisher.Record(sp, aws.Region, r.Clock.Now())
	return res, err
}

// setCondition sets a condition, stamped with the generation it describes.
func (r *StreamProcessorReconciler) setCondition(sp *streamingv1alpha1.StreamProcessor, t string, s metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&sp.Status.Conditions, metav1.Condition{
		Type: t, Status: s, Reason: reason, Message: msg, ObservedGeneration: sp.Generation,
		LastTransitionTime: metav1.NewTime(r.Clock.Now()),
	})
}

// event emits a Normal event; warning a Warning one.
func (r *StreamProcessorReconciler) event(sp *streamingv1alpha1.StreamProcessor, reason, format string, args ...any) {
	r.Recorder.Eventf(sp, nil, "Normal", reason, reason, format, args...)
}

func (r *StreamProcessorReconciler) warning(sp *streamingv1alpha1.StreamProcessor, reason, format string, args ...any) {
	r.Recorder.Eventf(sp, nil, "Warning", reason, reason, format, args...)
}

func (r *StreamProcessorReconciler) pollInterval() time.Duration {
	if r.PollInterval > 0 {
		return r.PollInterval
	}
	return DefaultPollInterval
}

func (r *StreamProcessorReconciler) driftRecheck() time.Duration {
	if r.DriftRecheck > 0 {
		return r.DriftRecheck
	}
	return DefaultDriftRecheck
}

func (r *StreamProcessorReconciler) limitRetry() time.Duration {
	if r.LimitRetry > 0 {
		return r.LimitRetry
	}
	return DefaultLimitRetry
}

func (r *StreamProcessorReconciler) invalidSpecRetry() time.Duration {
	if r.InvalidSpecRetry > 0 {
		return r.InvalidSpecRetry
	}
	return DefaultInvalidSpecRetry
}

// SetupWithManager registers the reconciler. Status-only updates do not
// trigger a pass (the reconciler writes status itself); spec changes,
// deletion and finalizer changes do.
func (r *StreamProcessorReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	r.taskDefs = ecsaws.NewTaskDefinitionCache(taskDefinitionCacheSize)
	r.owners = newStreamOwners()
	return ctrl.NewControllerManagedBy(mgr).
		For(&streamingv1alpha1.StreamProcessor{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, deletionPredicate()))).
		Named("streamprocessor").
		Complete(r)
}

// deletionPredicate passes updates that set the deletion timestamp or change
// finalizers, which do not change the generation.
func deletionPredicate() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return !e.ObjectNew.GetDeletionTimestamp().IsZero() || len(e.ObjectNew.GetFinalizers()) != len(e.ObjectOld.GetFinalizers())
	}}
}

// jitter spreads requeues by up to +20 % so many StreamProcessors do not poll
// AWS in lockstep.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}

// minPositive returns the smaller of two durations, ignoring zeros.
func minPositive(a, b time.Duration) time.Duration {
	switch {
	case a <= 0:
		return b
	case b <= 0:
		return a
	}
	return min(a, b)
}
