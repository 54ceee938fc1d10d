package controllers

import (
	"context"
	"errors"
	"fmt"
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
	classified := func(code string) error {
		return r.failed(&streamingv1alpha1.StreamProcessor{}, ConditionProducerReady, api(code))
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
		{"refused owner: the long retry", 0, []error{r.refuse(&streamingv1alpha1.StreamProcessor{}, ReasonOwnedByAnother, EventOwnedByAnother, "m", ConditionStreamReady)}, time.Minute, false},
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
