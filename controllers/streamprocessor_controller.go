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
	// Clock is the time source for the reshard ledger and conditions.
	Clock clock.PassiveClock
	// PollInterval overrides DefaultPollInterval when non-zero.
	PollInterval time.Duration
	// InvalidSpecRetry overrides DefaultInvalidSpecRetry when non-zero.
	InvalidSpecRetry time.Duration
	// LimitRetry overrides DefaultLimitRetry when non-zero.
	LimitRetry time.Duration

	// refused holds the service calls AWS refused, not to be made again
	// before InvalidSpecRetry unless the spec changes.
	refused refusals
}

// pass is the state of one reconcile pass shared by the sub-reconcilers.
type pass struct {
	sp      *streamingv1alpha1.StreamProcessor
	aws     Clients
	patcher *statusPatcher
	// names are the AWS names of the object's resources, recorded in status.
	names Names
	// streamActive is true once the stream is known to exist and accept
	// writes (ACTIVE or UPDATING); the services are created only then.
	streamActive bool
	// streamUpdating is true while the stream is UPDATING.
	streamUpdating bool

	// What this pass observed and decided, handed to the later steps in
	// memory (never through status, which only reports it):
	// openShards is the stream's open shard count;
	openShards int32
	// services are both services as described this pass, by workload;
	services map[string]serviceObservation
	// targets are this pass's shard and task targets.
	targets Targets
}

// result is what a sub-reconciler asks of the rest of the pass.
type result struct {
	// requeueAfter > 0 asks for another pass that soon: something is not done yet.
	requeueAfter time.Duration
	// stop ends the pass early: later steps cannot proceed (the stream does not exist yet).
	stop bool
}

type subReconciler func(ctx context.Context, p *pass) (result, error)

// +kubebuilder:rbac:groups=streaming.kdp.io,resources=streamprocessors,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=streaming.kdp.io,resources=streamprocessors/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=streaming.kdp.io,resources=streamprocessors/finalizers,verbs=update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// Leader election's leases are granted by config/rbac/leader_election_role.yaml,
// a Role in the manager's own namespace, not cluster-wide here.

// Reconcile moves one StreamProcessor a step towards its spec: get → status
// patcher → delete or finalizer → names → stream, then targets, reshard,
// producer and consumer, each independent of the others' failures → one
// status patch. Every step is idempotent, so a crash anywhere is repaired by
// the next pass.
func (r *StreamProcessorReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	sp := &streamingv1alpha1.StreamProcessor{}
	if err := r.Get(ctx, req.NamespacedName, sp); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	p := &pass{sp: sp, patcher: newStatusPatcher(r.Client, sp)}
	defer func() {
		err := p.patcher.patch(ctx, sp)
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
		return r.finalize(ctx, p)
	}
	aws, err := r.AWS(ctx, sp.Spec.Region)
	if err != nil {
		r.setCondition(sp, ConditionReady, metav1.ConditionFalse, ReasonInvalidSpec, err.Error())
		return ctrl.Result{RequeueAfter: r.invalidSpecRetry()}, nil
	}
	p.aws = aws

	if orig := sp.DeepCopy(); controllerutil.AddFinalizer(sp, Finalizer) {
		// A patch of the finalizers alone: an Update would send the whole
		// spec back and drop fields the Go types omit when zero.
		if err := r.Patch(ctx, sp, client.MergeFrom(orig)); err != nil {
			return ctrl.Result{}, fmt.Errorf("add finalizer: %w", err)
		}
		p.patcher.reset(sp)
	}
	p.names = recordNames(sp)

	// The stream comes first: nothing else can proceed without it.
	streamRes, err := r.reconcileStream(ctx, p)
	if err != nil {
		return r.handleErrors(ctx, sp, 0, err)
	}
	wait := streamRes.requeueAfter
	if streamRes.stop {
		r.summarize(sp)
		return ctrl.Result{RequeueAfter: jitter(wait)}, nil
	}
	// The other steps are independent: one that fails has set its own
	// condition, and the others still run (a producer image AWS refuses
	// does not stop the consumer or the shard scaling).
	var errs []error
	for _, step := range []subReconciler{r.observeServices, r.reconcileTargets, r.reconcileShards, r.reconcileProducer, r.reconcileConsumer} {
		stepRes, err := step(ctx, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		wait = minPositive(wait, stepRes.requeueAfter)
	}
	if len(errs) > 0 {
		return r.handleErrors(ctx, sp, wait, errs...)
	}
	r.summarize(sp)
	sp.Status.ObservedGeneration = sp.Generation
	interval := time.Duration(sp.Spec.Scaling.IntervalSeconds) * time.Second
	if interval <= 0 {
		interval = 60 * time.Second
	}
	return ctrl.Result{RequeueAfter: jitter(minPositive(interval, wait))}, nil
}

// handleErrors chooses the requeue for the errors of the sub-reconcilers of
// one pass (each has already set its own condition), given the wait the
// others asked for: a spec AWS refuses is terminal until the spec changes or
// the long retry; waits requeue soon; anything else backs off. The soonest
// wins.
func (r *StreamProcessorReconciler) handleErrors(ctx context.Context, sp *streamingv1alpha1.StreamProcessor, wait time.Duration, errs ...error) (ctrl.Result, error) {
	r.summarize(sp)
	var others []error
	for _, err := range errs {
		var w *waitError
		var invalid *invalidSpecError
		switch {
		case errors.As(err, &w):
			log.FromContext(ctx).V(1).Info("Waiting", "reason", w.Error(), "after", w.after)
			wait = minPositive(wait, w.after)
		case errors.As(err, &invalid):
			log.FromContext(ctx).Info("Spec refused", "error", err.Error())
			wait = minPositive(wait, r.invalidSpecRetry())
		default:
			others = append(others, err)
		}
	}
	if len(others) > 0 {
		return ctrl.Result{}, errors.Join(others...)
	}
	return ctrl.Result{RequeueAfter: jitter(wait)}, nil
}

// summarize sets Ready from the owned conditions and the kubectl columns.
func (r *StreamProcessorReconciler) summarize(sp *streamingv1alpha1.StreamProcessor) {
	st := &sp.Status
	st.Stream.Shards = fmt.Sprintf("%d/%d", st.Stream.OpenShards, st.Stream.TargetShards)
	st.Producer.Tasks = fmt.Sprintf("%d/%d", st.Producer.RunningTasks, st.Producer.DesiredTasks)
	st.Consumer.Tasks = fmt.Sprintf("%d/%d", st.Consumer.RunningTasks, st.Consumer.DesiredTasks)
	for _, t := range []string{ConditionStreamReady, ConditionProducerReady, ConditionConsumerReady} {
		c := meta.FindStatusCondition(st.Conditions, t)
		if c == nil {
			r.setCondition(sp, ConditionReady, metav1.ConditionFalse, ReasonNotReady, t+" is not known yet")
			return
		}
		if c.Status != metav1.ConditionTrue {
			reason := ReasonNotReady
			if blockingReasons[c.Reason] {
				reason = c.Reason // what only the user can fix shows on Ready too
			}
			r.setCondition(sp, ConditionReady, metav1.ConditionFalse, reason, t+": "+c.Message)
			return
		}
	}
	r.setCondition(sp, ConditionReady, metav1.ConditionTrue, ReasonReady, "stream and services are at their targets")
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
