package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
)

// TestErrorKindsChooseTheRequeue: each AWS error kind, as a step classifies
// it, leads to its requeue — waits soon, refusals after the long delay (no hot
// loop), anything else to the error backoff — and, with several failing
// steps in one pass, the soonest wins unless one needs the backoff.
func TestErrorKindsChooseTheRequeue(t *testing.T) {
	r := &StreamProcessorReconciler{
		Clock: clocktesting.NewFakePassiveClock(time.Unix(1_700_000_000, 0)), Recorder: events.NewFakeRecorder(100),
		PollInterval: time.Second, InvalidSpecRetry: time.Minute,
	}
	api := func(code string) error {
		return fmt.Errorf("create service: %w", &smithy.GenericAPIError{Code: code, Message: "m"})
	}
	n := &notes{sp: &streamingv1alpha1.StreamProcessor{}, t: r.passSettings()}
	classified := func(code string) error {
		return n.failed(ConditionProducerReady, api(code))
	}
	tests := []struct {
		name      string
		wait      time.Duration // asked for by the steps that succeeded
		errs      []error
		wantAfter time.Duration // lower bound; jitter adds up to 20 %
		wantErr   bool
	}{
		{"in use is a short wait", 0, []error{classified("ResourceInUseException")}, time.Second, false},
		{"limit backs off for minutes", 0, []error{classified("LimitExceededException")}, DefaultLimitRetry, false},
		{"shard quota backs off for minutes", 0, []error{classified("ServiceQuotaExceededException")}, DefaultLimitRetry, false},
		{"throttled waits twice as long", 0, []error{classified("ThrottlingException")}, 2 * time.Second, false},
		{"invalid spec: the long retry", 0, []error{classified("InvalidParameterException")}, time.Minute, false},
		{"access denied: the long retry", 0, []error{classified("AccessDeniedException")}, time.Minute, false},
		{"expired credentials: the long retry", 0, []error{classified("ExpiredTokenException")}, time.Minute, false},
		{"refused owner: the long retry", 0, []error{n.refuse(ReasonOwnedByAnother, EventOwnedByAnother, "m", ConditionStreamReady)}, time.Minute, false},
		{"other: backoff", 0, []error{classified("InternalFailure")}, 0, true},
		{"network: backoff", 0, []error{errors.New("dial tcp: connection refused")}, 0, true},
		{"invalid producer, consumer waiting: the sooner", 3 * time.Second, []error{classified("InvalidParameterException")}, 3 * time.Second, false},
		{"invalid and throttled: the sooner", 0, []error{classified("InvalidParameterException"), classified("ThrottlingException")}, 2 * time.Second, false},
		{"one other error: backoff for all", 0, []error{classified("ThrottlingException"), classified("InternalFailure")}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := &streamingv1alpha1.StreamProcessor{}
			res, err := r.handleErrors(context.Background(), sp, tt.wait, tt.errs...)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				if res.RequeueAfter != 0 {
					t.Errorf("RequeueAfter = %s with an error; the backoff decides", res.RequeueAfter)
				}
				return
			}
			if res.RequeueAfter < tt.wantAfter || res.RequeueAfter > tt.wantAfter*6/5+time.Millisecond {
				t.Errorf("RequeueAfter = %s, want %s (+ up to 20 %% jitter)", res.RequeueAfter, tt.wantAfter)
			}
			if c := findCondition(sp, ConditionReady); c == nil || c.Status != metav1.ConditionFalse {
				t.Errorf("Ready = %+v, want False", c)
			}
		})
	}
}

// TestDeletionBlockedKeepsTheFinalizer: a failed deletion step never counts
// as done; its kind chooses the reason and the requeue — denied access and
// refusals the long retry, throttling a wait, anything else the backoff —
// and the warning is emitted once while the message stays the same.
func TestDeletionBlockedKeepsTheFinalizer(t *testing.T) {
	r := &StreamProcessorReconciler{PollInterval: time.Second, InvalidSpecRetry: time.Minute}
	now := time.Unix(1_700_000_000, 0)
	api := func(code string) error {
		return fmt.Errorf("delete service: %w", &smithy.GenericAPIError{Code: code, Message: "m"})
	}
	tests := []struct {
		code       string
		wantReason string
		wantAfter  time.Duration
		wantErr    bool
	}{
		{"AccessDeniedException", ReasonAccessDenied, time.Minute, false},
		{"ExpiredTokenException", ReasonAccessDenied, time.Minute, false},
		{"ThrottlingException", ReasonDeletionBlocked, 2 * time.Second, false},
		{"ResourceInUseException", ReasonDeletionBlocked, 2 * time.Second, false},
		{"InvalidParameterException", ReasonDeletionBlocked, time.Minute, false},
		{"InternalFailure", ReasonDeletionBlocked, 0, true},
	}
	for _, tt := range tests {
		sp := &streamingv1alpha1.StreamProcessor{}
		warnings := 0
		for pass := range 2 {
			n := &notes{sp: sp, now: now, t: r.passSettings()}
			wait, err := blockDeletion(n, "delete service s", api(tt.code))
			warnings += len(n.events)
			if (err != nil) != tt.wantErr || (!tt.wantErr && wait != tt.wantAfter) {
				t.Errorf("%s pass %d: wait %s, err %v; want %s, error %v", tt.code, pass, wait, err, tt.wantAfter, tt.wantErr)
			}
		}
		c := findCondition(sp, ConditionReady)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != tt.wantReason || !strings.Contains(c.Message, "delete service s: "+tt.code) {
			t.Errorf("%s: Ready = %+v, want False/%s naming the step and the error", tt.code, c, tt.wantReason)
		}
		if warnings != 1 {
			t.Errorf("%s: %d warnings for two identical passes, want 1", tt.code, warnings)
		}
	}
}

// TestCreatedNothing: only an object whose status shows no create answered
// may lose its finalizer without AWS.
func TestCreatedNothing(t *testing.T) {
	sp := &streamingv1alpha1.StreamProcessor{}
	if !createdNothing(sp) {
		t.Error("a new object created nothing")
	}
	sp.Status.Stream.Status = "CREATING" // CreateStream answered, no ARN yet
	if createdNothing(sp) {
		t.Error("a stream being created is something")
	}
	sp = &streamingv1alpha1.StreamProcessor{}
	sp.Status.Consumer.TaskDefinitionARN = "arn:td"
	if createdNothing(sp) {
		t.Error("a registered task definition is something")
	}
}
