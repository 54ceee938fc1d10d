package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// passSettings are the reconciler's delays, as plan and report need them, and the
// policy plan decides with.
type passSettings struct {
	poll, invalidSpecRetry, limitRetry time.Duration
	// decide is the scaling policy; nil is scaling.Decide.
	decide decideFunc
}

// decideFunc is scaling.Decide's signature.
type decideFunc func(in scaling.Inputs, prev scaling.State, now time.Time) (scaling.Decision, scaling.State)

func (r *StreamProcessorReconciler) passSettings() passSettings {
	return passSettings{poll: r.pollInterval(), invalidSpecRetry: r.invalidSpecRetry(), limitRetry: r.limitRetry(), decide: r.decide}
}

// policy is the scaling policy plan decides with: scaling.Decide, unless a
// test replaced it.
func (t passSettings) policy() decideFunc {
	if t.decide == nil {
		return scaling.Decide
	}
	return t.decide
}

// pendingEvent is a Kubernetes event to emit once the pass is decided.
type pendingEvent struct {
	warning      bool
	reason, text string
	// workload names the workload the event is about, if one: it becomes
	// part of the event's action, so that the producer's and the consumer's
	// events of one reason stay two series (events.k8s.io merges events of
	// the same reason and action into one series, keeping one note).
	workload string
}

// action is the event's action: its reason, and the workload it is about.
func (e pendingEvent) action() string {
	if e.workload == "" {
		return e.reason
	}
	return e.reason + "/" + e.workload
}

// notes sets conditions on a StreamProcessor's status and collects the events
// that go with them, without emitting anything: plan uses it purely, and
// report emits what it collected.
type notes struct {
	sp     *streamingv1alpha1.StreamProcessor
	now    time.Time
	t      passSettings
	events []pendingEvent
}

// set sets condition ct, stamped with the generation it describes.
func (n *notes) set(ct string, s metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&n.sp.Status.Conditions, metav1.Condition{
		Type: ct, Status: s, Reason: reason, Message: msg, ObservedGeneration: n.sp.Generation,
		LastTransitionTime: metav1.NewTime(n.now),
	})
}

func (n *notes) normal(reason, format string, args ...any) {
	n.events = append(n.events, pendingEvent{reason: reason, text: fmt.Sprintf(format, args...)})
}

// normalFor is normal for an event about workload w (producer or consumer).
func (n *notes) normalFor(w, reason, format string, args ...any) {
	n.events = append(n.events, pendingEvent{reason: reason, text: fmt.Sprintf(format, args...), workload: w})
}

// warnFor is warn for an event about workload w (producer or consumer).
func (n *notes) warnFor(w, reason, format string, args ...any) {
	n.events = append(n.events, pendingEvent{warning: true, reason: reason, text: fmt.Sprintf(format, args...), workload: w})
}

func (n *notes) warn(reason, format string, args ...any) {
	n.events = append(n.events, pendingEvent{warning: true, reason: reason, text: fmt.Sprintf(format, args...)})
}

// refuse sets the conditions ts False with reason and msg, warns when the
// first condition's reason or message changes (not on every pass), and
// returns a terminal error.
func (n *notes) refuse(reason, ev, msg string, ts ...string) error {
	if conditionReason(n.sp, ts[0]) != reason || conditionMessage(n.sp, ts[0]) != msg {
		n.warn(ev, "%s", msg)
	}
	for _, t := range ts {
		n.set(t, metav1.ConditionFalse, reason, msg)
	}
	return &invalidSpecError{err: errors.New(msg)}
}

// failed sets condition ct False from err and returns err classified for the
// requeue: a call paced on the operator's side leaves ct alone and waits for
// its turn; waits for in-use, throttled and limit errors; invalid-spec for
// what only a user (or an IAM change) can fix, warned once per message;
// anything else as it is, for the backoff.
func (n *notes) failed(ct string, err error) error {
	if d, ok := pacedDelay(err); ok {
		// Our own pace, not AWS's answer: the condition stays as it was
		// and the pass comes back for its reserved turn.
		return waitFor(d, "%v", err)
	}
	switch awsapi.Classify(err) {
	case awsapi.KindInUse:
		n.set(ct, metav1.ConditionFalse, ReasonUpdating, awsapi.Message(err))
		return waitFor(n.t.poll, "%v", err)
	case awsapi.KindLimit:
		// An account or stream limit (the reshard budget, the shard
		// quota) does not lift in seconds: back off for minutes, say so,
		// and warn once.
		msg := fmt.Sprintf("%s; an AWS limit: retrying in %s", awsapi.Message(err), n.t.limitRetry)
		if conditionReason(n.sp, ct) != ReasonLimitExceeded {
			n.warn(EventLimitExceeded, "%s", err.Error())
		}
		n.set(ct, metav1.ConditionFalse, ReasonLimitExceeded, msg)
		return waitFor(n.t.limitRetry, "%v", err)
	case awsapi.KindThrottled:
		n.set(ct, metav1.ConditionFalse, ReasonThrottled, awsapi.Message(err))
		return waitFor(2*n.t.poll, "%v", err)
	case awsapi.KindInvalid:
		prev, msg := conditionMessage(n.sp, ct), awsapi.Message(err)
		n.set(ct, metav1.ConditionFalse, ReasonInvalidSpec, msg)
		if prev != msg {
			n.warn(EventInvalidSpec, "%s", err.Error())
		}
		return &invalidSpecError{err: err}
	case awsapi.KindDenied:
		prev := conditionMessage(n.sp, ct)
		msg := awsapi.Message(err) + " (the operator's AWS credentials lack a permission or have expired)"
		n.set(ct, metav1.ConditionFalse, ReasonAccessDenied, msg)
		if prev != msg {
			n.warn(EventAccessDenied, "%s", err.Error())
		}
		return &invalidSpecError{err: err}
	}
	n.set(ct, metav1.ConditionFalse, ReasonAWSError, awsapi.Message(err))
	return err
}

// summarize sets Ready from the owned conditions, and the kubectl columns.
func (n *notes) summarize() {
	st := &n.sp.Status
	st.Stream.Shards = fmt.Sprintf("%d/%d", st.Stream.OpenShards, st.Stream.TargetShards)
	st.Producer.Tasks = fmt.Sprintf("%d/%d", st.Producer.RunningTasks, st.Producer.DesiredTasks)
	st.Consumer.Tasks = fmt.Sprintf("%d/%d", st.Consumer.RunningTasks, st.Consumer.DesiredTasks)
	for _, t := range []string{ConditionStreamReady, ConditionProducerReady, ConditionConsumerReady} {
		c := meta.FindStatusCondition(st.Conditions, t)
		if c == nil {
			n.set(ConditionReady, metav1.ConditionFalse, ReasonNotReady, t+" is not known yet")
			return
		}
		if c.Status != metav1.ConditionTrue {
			reason := ReasonNotReady
			if blockingReasons[c.Reason] {
				reason = c.Reason // what only the user can fix shows on Ready too
			}
			n.set(ConditionReady, metav1.ConditionFalse, reason, t+": "+c.Message)
			return
		}
	}
	n.set(ConditionReady, metav1.ConditionTrue, ReasonReady, "stream and services are at their targets")
}

// report finishes a pass: it sets the conditions and events of the action
// outcomes over those of the plan, remembers or forgets the services' refused
// calls, summarises Ready, emits the events, and chooses the requeue from the
// plan's waits and every part's error (see handleErrors). observedGeneration
// is set only when no part failed.
func (r *StreamProcessorReconciler) report(ctx context.Context, sp *streamingv1alpha1.StreamProcessor, pl plan, outcomes []outcome) (ctrl.Result, error) {
	n := &notes{sp: sp, now: r.Clock.Now(), t: r.passSettings(), events: pl.events}
	errs := pl.errs
	wait := pl.wait
	for _, o := range outcomes {
		w, err := o.apply(n)
		wait = minPositive(wait, w)
		if err != nil {
			errs = append(errs, partError{part: o.action.part(), err: err, remember: true})
		}
	}
	for _, w := range []string{producer, consumer} {
		e, failed := errorOf(errs, w)
		var invalid *invalidSpecError
		switch {
		case !failed && pl.deployed[w]:
			r.refused.forget(sp.UID, w)
		case failed && e.remember && errors.As(e.err, &invalid):
			r.refused.record(refusalKey{uid: sp.UID, step: w}, sp.Generation, n.now.Add(n.t.invalidSpecRetry), invalid.err)
		}
	}
	r.emit(sp, n.events)
	all := make([]error, 0, len(errs))
	for _, e := range errs {
		all = append(all, e.err)
	}
	if len(all) > 0 || pl.incomplete {
		return r.handleErrors(ctx, sp, wait, all...)
	}
	n.summarize()
	sp.Status.ObservedGeneration = sp.Generation
	interval := time.Duration(sp.Spec.Scaling.IntervalSeconds) * time.Second
	if interval <= 0 {
		interval = 60 * time.Second
	}
	return ctrl.Result{RequeueAfter: healthyRequeue(n.now, interval, wait, passOffset(sp.Namespace, sp.Name))}, nil
}

// healthyRequeue is the requeue of a complete pass: a wait the plan asked
// for that is shorter than the interval, jittered; else, for an interval of
// whole minutes, the object's instant offset past a minute boundary nearest
// one interval from now (alignedRequeue), so that the pass reads the
// producers' newest minute as soon as it is complete; else the interval,
// jittered.
func healthyRequeue(now time.Time, interval, wait, offset time.Duration) time.Duration {
	if wait > 0 && wait < interval {
		return jitter(wait)
	}
	if d, ok := alignedRequeue(now, interval, offset); ok {
		return d
	}
	return jitter(interval)
}

// emit emits the events a pass collected.
func (r *StreamProcessorReconciler) emit(sp *streamingv1alpha1.StreamProcessor, events []pendingEvent) {
	for _, e := range events {
		kind := "Normal"
		if e.warning {
			kind = "Warning"
		}
		r.Recorder.Eventf(sp, nil, kind, e.reason, e.action(), "%s", e.text)
	}
}

// partError is the error of one part of a pass (the stream, a workload),
// already classified and reported on its condition. remember marks a
// service call AWS refused, not to be made again in this generation before
// the long retry.
type partError struct {
	part     string
	err      error
	remember bool
}

// errorOf returns the first error of part.
func errorOf(errs []partError, part string) (partError, bool) {
	for _, e := range errs {
		if e.part == part {
			return e, true
		}
	}
	return partError{}, false
}

// handleErrors chooses the requeue for the errors of one pass (each part has
// already set its own condition), given the wait the others asked for: a
// spec AWS refuses is terminal until the spec changes or the long retry;
// waits requeue soon; anything else backs off. The soonest wins.
func (r *StreamProcessorReconciler) handleErrors(ctx context.Context, sp *streamingv1alpha1.StreamProcessor, wait time.Duration, errs ...error) (ctrl.Result, error) {
	n := &notes{sp: sp, now: r.Clock.Now(), t: r.passSettings()}
	n.summarize()
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
