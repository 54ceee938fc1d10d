// Package override pins a StreamProcessor's shard count and task counts for
// a while (`kubectl sp scale NAME --shards N --producer-tasks P --for 2h`)
// and lifts the pins when they expire.
//
// The spec has no target fields, so a pin narrows the bounds the scaler
// already obeys: minShards = maxShards = N, or minTasks = maxTasks = N of a
// workload. The bounds the user had, and the expiry, are kept in the
// annotation Annotation, so that lifting the pins restores them exactly. The
// reconciler then moves the counts by its usual rules (UNIFORM_SCALING steps
// within 2x / ½, 10 reshard calls per rolling 24 h, nothing while paused);
// this package calls no AWS API.
package override

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
const Annotation = "streaming.kdp.io/scale-override"

// Pin is one pinned count and the user's bounds to restore after it.
type Pin struct {
	N   int32 `json:"n"`
	Min int32 `json:"min"`
	Max int32 `json:"max"`
}

// Override is the pins of one StreamProcessor. One expiry covers them all:
// the latest scale sets it.
type Override struct {
	Shards        *Pin `json:"shards,omitempty"`
	ProducerTasks *Pin `json:"producerTasks,omitempty"`
	ConsumerTasks *Pin `json:"consumerTasks,omitempty"`
	// Until is when the pins end; nil: until `kubectl sp scale --reset`.
	Until *time.Time `json:"until,omitempty"`
}

// Request names the counts to pin; nil leaves a count as it is (pinned or not).
type Request struct {
	Shards, ProducerTasks, ConsumerTasks *int32
}

// Dimension is one count that can be pinned.
type Dimension struct {
	// Flag is the kubectl sp flag, Field the spec fields of its bounds.
	Flag, Field string
	// Bounds points at the spec's min and max of this count.
	Bounds func(*streamingv1alpha1.StreamProcessor) (min, max *int32)
	// Pin points at this count's pin in an Override.
	Pin func(*Override) **Pin
	req func(*Request) *int32
}

// Dimensions are the pinnable counts, in the order they are reported.
var Dimensions = []Dimension{
	{"shards", "spec.stream.minShards/maxShards",
		func(sp *streamingv1alpha1.StreamProcessor) (*int32, *int32) {
			return &sp.Spec.Stream.MinShards, &sp.Spec.Stream.MaxShards
		},
		func(o *Override) **Pin { return &o.Shards }, func(r *Request) *int32 { return r.Shards }},
	{"producer-tasks", "spec.producer.minTasks/maxTasks",
		func(sp *streamingv1alpha1.StreamProcessor) (*int32, *int32) {
			return &sp.Spec.Producer.MinTasks, &sp.Spec.Producer.MaxTasks
		},
		func(o *Override) **Pin { return &o.ProducerTasks }, func(r *Request) *int32 { return r.ProducerTasks }},
	{"consumer-tasks", "spec.consumer.minTasks/maxTasks",
		func(sp *streamingv1alpha1.StreamProcessor) (*int32, *int32) {
			return &sp.Spec.Consumer.MinTasks, &sp.Spec.Consumer.MaxTasks
		},
		func(o *Override) **Pin { return &o.ConsumerTasks }, func(r *Request) *int32 { return r.ConsumerTasks }},
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
		return nil, fmt.Errorf("annotation %s of %s/%s is not a scale override: %w", Annotation, sp.Namespace, sp.Name, err)
	}
	return &o, nil
}

// Apply pins the counts req names until until (zero: no expiry); pins
// already in place for other counts stay, under the new expiry. Each count
// must lie within the user's bounds — those a pin in place kept, else the
// spec's. It changes sp in memory only, and nothing when it errs.
func Apply(sp *streamingv1alpha1.StreamProcessor, req Request, until time.Time) (*Override, error) {
	prev, err := Get(sp)
	if err != nil {
		return nil, err
	}
	o := Override{}
	if prev != nil {
		o = *prev
	}
	o.Until = nil
	if !until.IsZero() {
		u := until.UTC()
		o.Until = &u
	}
	type change struct {
		min, max *int32
		n        int32
	}
	var changes []change
	for _, d := range Dimensions {
		n := d.req(&req)
		if n == nil {
			continue
		}
		lo, hi := d.Bounds(sp)
		p := &Pin{N: *n, Min: *lo, Max: *hi}
		if old := *d.Pin(&o); old != nil {
			p.Min, p.Max = old.Min, old.Max
		}
		if p.N < p.Min || p.N > p.Max {
			return nil, fmt.Errorf("--%s %d is outside the spec's bounds %d–%d (%s); change the bounds to go further", d.Flag, p.N, p.Min, p.Max, d.Field)
		}
		*d.Pin(&o) = p
		changes = append(changes, change{lo, hi, p.N})
	}
	if len(changes) == 0 {
		return nil, fmt.Errorf("nothing to pin: give --shards, --producer-tasks or --consumer-tasks")
	}
	raw, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	if sp.Annotations == nil {
		sp.Annotations = map[string]string{}
	}
	sp.Annotations[Annotation] = string(raw)
	for _, c := range changes {
		*c.min, *c.max = c.n, c.n
	}
	return &o, nil
}

// Clear lifts sp's pins: it restores the bounds each pin kept, unless
// someone changed them since the pin set them (then theirs stay), and
// removes the annotation. It reports whether sp changed.
func Clear(sp *streamingv1alpha1.StreamProcessor) (bool, error) {
	o, err := Get(sp)
	if o == nil {
		if err != nil {
			delete(sp.Annotations, Annotation) // unreadable: nothing to restore
			return true, nil
		}
		return false, nil
	}
	for _, d := range Dimensions {
		p := *d.Pin(o)
		if p == nil {
			continue
		}
		if lo, hi := d.Bounds(sp); *lo == p.N && *hi == p.N {
			*lo, *hi = p.Min, p.Max
		}
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
		return ctrl.Result{}, fmt.Errorf("lift the scale override of %s: %w", req.NamespacedName, err)
	}
	log.FromContext(ctx).Info("Lifted expired scale override")
	return ctrl.Result{}, nil
}

// SetupWithManager registers the Reconciler as controller "scaleoverride",
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
		Named("scaleoverride").
		For(&streamingv1alpha1.StreamProcessor{}, builder.WithPredicates(changed)).
		Complete(r)
}
