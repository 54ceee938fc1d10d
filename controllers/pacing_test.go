package controllers

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestPacedCallReturnsInsteadOfWaiting: a reconcile's call whose token is
// more than MaxPacingWait away returns at once with the delay (the worker
// is free for other objects), in the order the objects asked; asking again
// before the turn takes no second token.
func TestPacedCallReturnsInsteadOfWaiting(t *testing.T) {
	api := &countingDashboards{}
	c := RateLimitedClients(Clients{Dashboards: api}, map[string]AWSRate{"cloudwatch.GetDashboard": {PerSecond: 1, Burst: 1}})
	call := func(key string) (time.Duration, error) {
		start := time.Now()
		_, err := c.Dashboards.GetDashboard(withPacingKey(context.Background(), key), &cloudwatch.GetDashboardInput{})
		if took := time.Since(start); took > MaxPacingWait+50*time.Millisecond {
			t.Errorf("%s: the call held its caller %s", key, took)
		}
		d, _ := pacedDelay(err)
		return d, err
	}
	if _, err := call("ns/a"); err != nil {
		t.Fatalf("first call within the burst: %v", err)
	}
	db, err := call("ns/b")
	if db < 900*time.Millisecond || db > time.Second {
		t.Fatalf("ns/b: delay %s, err %v; want paced ~1s", db, err)
	}
	dc, _ := call("ns/c")
	if dc < 1900*time.Millisecond || dc > 2*time.Second {
		t.Errorf("ns/c: delay %s, want ~2s (after ns/b)", dc)
	}
	if again, _ := call("ns/b"); again > db || again < db-100*time.Millisecond {
		t.Errorf("ns/b asking again: delay %s, want the rest of its %s (no second token)", again, db)
	}
	if api.gets != 1 {
		t.Errorf("%d calls reached AWS, want 1", api.gets)
	}
}

// TestHeldTokenIsUsedOnReturn: an object that comes back at its turn uses
// the token reserved for it, without taking another.
func TestHeldTokenIsUsedOnReturn(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newLimiter(AWSRate{PerSecond: 1, Burst: 1})
	l.now = func() time.Time { return now }
	if d := l.reserveFor("a"); d != 0 {
		t.Fatalf("a: %s, want 0 (burst)", d)
	}
	if d := l.reserveFor("b"); d != time.Second {
		t.Fatalf("b: %s, want 1s", d)
	}
	now = now.Add(time.Second)
	if d := l.reserveFor("b"); d != 0 {
		t.Errorf("b at its turn: %s, want 0", d)
	}
	if _, held := l.held["b"]; held {
		t.Error("b's token is still held after use")
	}
	// The bucket was debited once for b: the next caller waits one token.
	if d := l.reserveFor("c"); d != time.Second {
		t.Errorf("c: %s, want 1s (b's token was taken once)", d)
	}
}

// TestPacedCallsAreWaitsNotFailures: a paced call is reported as a wait of
// its delay; it does not change its part's condition, and a paced reshard
// gives its ledger entry back (the call was not made).
func TestPacedCallsAreWaitsNotFailures(t *testing.T) {
	paced := &pacedError{op: "ecs.RegisterTaskDefinition", after: 42 * time.Second}
	deploy := deployService{workload: consumer, condition: ConditionConsumerReady, service: "svc", register: &ecs.RegisterTaskDefinitionInput{}}
	for _, o := range []outcome{
		{action: deploy, err: paced},
		{action: reshard{name: "s", from: 1, step: scalingStep(2)}, err: paced},
	} {
		sp := planObject()
		sp.Status.Stream.Reshards = []metav1.Time{metav1.NewTime(planNow)}
		n := &notes{sp: sp, now: planNow, t: planTiming}
		n.set(ConditionConsumerReady, metav1.ConditionTrue, ReasonReady, "at target")
		n.set(ConditionStreamReady, metav1.ConditionTrue, ReasonReady, "at target")
		_, err := o.apply(n)
		var w *waitError
		if !errors.As(err, &w) || w.after != paced.after {
			t.Errorf("%T: err %v, want a wait of %s", o.action, err, paced.after)
		}
		for _, ct := range []string{ConditionConsumerReady, ConditionStreamReady} {
			if c := findCondition(sp, ct); c.Status != metav1.ConditionTrue {
				t.Errorf("%T: %s = %+v, want unchanged", o.action, ct, c)
			}
		}
		if _, ok := o.action.(reshard); ok && len(sp.Status.Stream.Reshards) != 0 {
			t.Errorf("a paced reshard kept its ledger entry")
		}
	}
}

// TestLateTurnsDoNotBunch: turns used late (requeues come after them) could
// bunch up and exceed the rate; the strict bucket each call passes paces the
// second of two late turns instead, keeping its turn.
func TestLateTurnsDoNotBunch(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newLimiter(AWSRate{PerSecond: 1, Burst: 1})
	l.now = func() time.Time { return now }
	ctx := func(key string) context.Context { return withPacingKey(context.Background(), key) }
	if err := l.wait(ctx("a"), "op"); err != nil {
		t.Fatalf("a: %v", err)
	}
	for _, k := range []string{"b", "c"} {
		if _, ok := pacedDelay(l.wait(ctx(k), "op")); !ok {
			t.Fatalf("%s: not paced", k)
		}
	}
	now = now.Add(2 * time.Second) // b's turn was at +1 s, c's at +2 s: both come now
	if err := l.wait(ctx("b"), "op"); err != nil {
		t.Fatalf("b at its (late) turn: %v", err)
	}
	d, ok := pacedDelay(l.wait(ctx("c"), "op"))
	if !ok || d != time.Second {
		t.Fatalf("c right after b: paced %v %s, want paced 1s (two calls at once exceed 1/s, burst 1)", ok, d)
	}
	now = now.Add(time.Second)
	if err := l.wait(ctx("c"), "op"); err != nil {
		t.Errorf("c at its kept turn: %v", err)
	}
}
