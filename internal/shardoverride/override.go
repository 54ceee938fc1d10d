// Package shardoverride pins a StreamProcessor's shard count for a while
// (`kubectl sp scale NAME --shards N --for 2h`) and lifts the pin when it
// expires.
//
// The spec has no shard-target field, so an override narrows the bounds the
// scaler already obeys: spec.stream.minShards = maxShards = N. The bounds the
// user had, and the expiry, are kept in the annotation Annotation, so that
// lifting the override restores them exactly. The reconciler then moves the
// stream to N by its usual rules (UNIFORM_SCALING steps within 2x / ½, the 10
// calls per rolling 24 h, nothing while paused); this package calls no AWS API.
package shardoverride

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

// Annotation holds the active override as JSON (Override).
const Annotation = "streaming.kdp.io/shard-override"

// Override is a pinned shard count and what to restore after it.
type Override struct {
	// Shards is the pinned open shard count (minShards = maxShards = Shards).
	Shards int32 `json:"shards"`
	// MinShards and MaxShards are the user's bounds before the override.
	MinShards int32 `json:"minShards"`
	MaxShards int32 `json:"maxShards"`
	// Until is when the override ends; nil: until `kubectl sp scale --reset`.
	Until *time.Time `json:"until,omitempty"`
}

// Get returns the override of sp, nil when there is none. A malformed
// annotation is an error naming it.
func Get(sp *streamingv1alpha1.StreamProcessor) (*Override, error) {
	raw, ok := sp.Annotations[Annotation]
	if !ok {
		return nil, nil
	}
	var o Override
	if err := json.Unmarshal([]byte(raw), &o); err != nil {
		return nil, fmt.Errorf("annotation %s of %s/%s is not a shard override: %w", Annotation, sp.Namespace, sp.Name, err)
	}
	return &o, nil
}

// Apply pins sp's shards at n until until (zero: no expiry). n must lie
// within the user's bounds — those of an override already in place, else the
// spec's. It changes sp in memory only.
func Apply(sp *streamingv1alpha1.StreamProcessor, n int32, until time.Time) (*Override, error) {
	prev, err := Get(sp)
	if err != nil {
		return nil, err
	}
	o := Override{Shards: n, MinShards: sp.Spec.Stream.MinShards, MaxShards: sp.Spec.Stream.MaxShards}
	if prev != nil {
		o.MinShards, o.MaxShards = prev.MinShards, prev.MaxShards
	}
	if n < o.MinShards || n > o.MaxShards {
		return nil, fmt.Errorf("--shards %d is outside the spec's bounds %d–%d (spec.stream.minShards/maxShards); change the bounds to go further", n, o.MinShards, o.MaxShards)
	}
	if !until.IsZero() {
		u := until.UTC()
		o.Until = &u
	}
	raw, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	if sp.Annotations == nil {
		sp.Annotations = map[string]string{}
	}
	sp.Annotations[Annotation] = string(raw)
	sp.Spec.Stream.MinShards, sp.Spec.Stream.MaxShards = n, n
	return &o, nil
}

// Clear lifts sp's override: it restores the bounds kept in the annotation,
// unless someone changed them since the override pinned them (then theirs
// stay), and removes the annotation. It reports whether sp changed.
func Clear(sp *streamingv1alpha1.StreamProcessor) (bool, error) {
	o, err := Get(sp)
	if o == nil {
		if err != nil {
			delete(sp.Annotations, Annotation) // unreadable: nothing to restore
			return true, nil
		}
		return false, nil
	}
	s := &sp.Spec.Stream
	if s.MinShards == o.Shards && s.MaxShards == o.Shards {
		s.MinShards, s.MaxShards = o.MinShards, o.MaxShards
	}
	delete(sp.Annotations, Annotation)
	return true, nil
}

// Reconciler lifts overrides when they expire. It watches StreamProcessors
// that carry the annotation and requeues each until its expiry.
type Reconciler struct {
	Client client.Client
	Clock  clock.Clock
}

// Reconcile lifts an expired override with an optimistic-locked patch, and
// returns a requeue at the expiry of one that has not expired yet. A
// conflict is returned as an error: the backoff retries on fresh data.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	sp := &streamingv1alpha1.StreamProcessor{}
	if err := r.Client.Get(ctx, req.NamespacedName, sp); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	o, err := Get(sp)
	if o == nil && err == nil {
		return ctrl.Result{}, nil
	}
	if err == nil && o.Until == nil {
		return ctrl.Result{}, nil
	}
	if err == nil {
		if left := o.Until.Sub(r.Clock.Now()); left > 0 {
			return ctrl.Result{RequeueAfter: left}, nil
		}
	}
	base := sp.DeepCopy()
	if _, err := Clear(sp); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.Client.Patch(ctx, sp, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return ctrl.Result{}, fmt.Errorf("lift shard override of %s: %w", req.NamespacedName, err)
	}
	log.FromContext(ctx).Info("Lifted expired shard override", "minShards", sp.Spec.Stream.MinShards, "maxShards", sp.Spec.Stream.MaxShards)
	return ctrl.Result{}, nil
}

// SetupWithManager registers the Reconciler as controller "shardoverride",
// woken only by objects whose annotation is set or changed.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	has := func(o client.Object) bool { _, ok := o.GetAnnotations()[Annotation]; return ok }
	changed := predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool { return has(e.Object) },
		UpdateFunc: func(e event.UpdateEvent) bool {
			return has(e.ObjectNew) && e.ObjectNew.GetAnnotations()[Annotation] != e.ObjectOld.GetAnnotations()[Annotation]
		},
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("shardoverride").
		For(&streamingv1alpha1.StreamProcessor{}, builder.WithPredicates(changed)).
		Complete(r)
}
