package controllers

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
)

// finalize runs one deletion pass (deletion.go): observeForDeletion →
// planDeletion → act → reportDeletion, then removes the finalizer when the
// report says everything this object owned is gone or was left alone as not
// its own. Only what carries this object's owner tags (its uid) is touched;
// only "not found" means gone; any other error keeps the finalizer with
// Ready False saying what is missing.
func (r *StreamProcessorReconciler) finalize(ctx context.Context, sp *streamingv1alpha1.StreamProcessor, patcher *statusPatcher) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(sp, Finalizer) {
		return ctrl.Result{}, nil
	}
	r.Publisher.Delete(sp.UID) // its metrics stop with the deletion (opmetrics.go)
	clients, err := r.AWS(ctx, sp.Spec.Region)
	obs := observedForDeletion{clientsErr: err}
	if err == nil {
		obs = observeForDeletion(ctx, sp, clients)
	} else {
		log.FromContext(ctx).Info("No AWS clients for the deletion", "error", err.Error())
	}
	pl := planDeletion(sp, obs, r.Clock.Now())
	sp.Status = pl.status
	outcomes := r.act(ctx, sp, patcher, clients, pl.actions)
	n := &notes{sp: sp, now: r.Clock.Now(), t: r.passSettings(), events: pl.events}
	res := reportDeletion(n, pl, outcomes)
	r.emit(sp, n.events)
	switch {
	case res.err != nil:
		return ctrl.Result{}, res.err
	case res.removeFinalizer:
		return r.removeFinalizer(ctx, sp)
	}
	return ctrl.Result{RequeueAfter: jitter(res.wait)}, nil
}

// createdNothing reports whether status shows that no AWS resource was ever
// created for sp (no create call answered, no ARN recorded).
func createdNothing(sp *streamingv1alpha1.StreamProcessor) bool {
	st := &sp.Status
	return st.Stream.ARN == "" && st.Stream.Status == "" &&
		st.Producer.ServiceARN == "" && st.Producer.TaskDefinitionARN == "" &&
		st.Consumer.ServiceARN == "" && st.Consumer.TaskDefinitionARN == ""
}

func (r *StreamProcessorReconciler) removeFinalizer(ctx context.Context, sp *streamingv1alpha1.StreamProcessor) (ctrl.Result, error) {
	orig := sp.DeepCopy()
	controllerutil.RemoveFinalizer(sp, Finalizer)
	if err := r.Patch(ctx, sp, client.MergeFrom(orig)); err != nil {
		return ctrl.Result{}, fmt.Errorf("remove finalizer: %w", err)
	}
	r.refused.forget(sp.UID)
	return ctrl.Result{}, nil
}

// blockDeletion keeps the finalizer after step failed with err: Ready False
// says what failed and what is missing, a Warning marks the change (not every
// pass), and the error's kind (a call paced on the operator's side: its
// turn, nothing reported) chooses the requeue — throttling and busy
// resources are waits, denied access (or expired credentials) and refused
// requests are retried after the long delay (only a change outside the
// cluster helps), anything else is returned for the backoff. Pure.
func blockDeletion(n *notes, step string, err error) (time.Duration, error) {
	if d, ok := pacedDelay(err); ok { // our own pace: come back for the turn
		return d, nil
	}
	reason, msg := ReasonDeletionBlocked, fmt.Sprintf("deletion blocked: %s: %s", step, awsapi.Message(err))
	var wait time.Duration
	switch awsapi.Classify(err) {
	case awsapi.KindDenied:
		reason = ReasonAccessDenied
		msg += "; the operator's AWS credentials lack this permission or have expired: grant it (or renew them); the finalizer stays until then"
		wait = n.t.invalidSpecRetry
	case awsapi.KindThrottled, awsapi.KindInUse, awsapi.KindLimit:
		wait = 2 * n.t.poll
	case awsapi.KindInvalid, awsapi.KindNone, awsapi.KindNotFound:
		wait = n.t.invalidSpecRetry
	}
	if conditionMessage(n.sp, ConditionReady) != msg {
		n.warn(EventDeletionBlocked, "%s", msg)
	}
	n.set(ConditionReady, metav1.ConditionFalse, reason, msg)
	if wait > 0 {
		return wait, nil
	}
	return 0, fmt.Errorf("%s: %w", step, err)
}
