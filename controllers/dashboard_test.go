package controllers

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	etypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	cloudwatchaws "github.com/kdp-io/streamprocessor-operator/internal/aws/cloudwatch"
	"github.com/kdp-io/streamprocessor-operator/internal/dashboard"
)

// TestRefusedDashboardDoesNotHoldThePass: a pass that updates the producer
// and whose PutDashboard CloudWatch refuses reports the refusal on
// DashboardReady alone; the producer's outcome is reported, Ready follows
// the stream and the services, and the pass completes (observedGeneration).
func TestRefusedDashboardDoesNotHoldThePass(t *testing.T) {
	r := &StreamProcessorReconciler{
		Clock: clocktesting.NewFakePassiveClock(planNow), Recorder: events.NewFakeRecorder(100),
		PollInterval: planTiming.poll, InvalidSpecRetry: planTiming.invalidSpecRetry, LimitRetry: planTiming.limitRetry,
	}
	sp := planObject()
	obs := convergedPass(sp)
	sp.Spec.Producer.MaxTasks = 3 // the dashboard's bounds change; the producer's service does not
	sp.Spec.Producer.Image = "p:2"
	obs.dashboard = &dashboardObservation{found: true, body: dashboardBody(sp, func(in *dashboard.Input) { in.ProducerMaxTasks = 2 })}
	pl := planPass(sp, obs, planNow, planTiming)
	var outcomes []outcome
	for _, a := range pl.actions {
		switch a := a.(type) {
		case deployService:
			outcomes = append(outcomes, outcome{action: a, taskDef: "td:4", registered: "td:4",
				svc: &etypes.Service{DesiredCount: 1, RunningCount: 1, TaskDefinition: aws.String("td:4"), Deployments: []etypes.Deployment{{}}}})
		case putDashboard:
			outcomes = append(outcomes, outcome{action: a, err: apiError("AccessDenied")})
		}
	}
	if len(outcomes) != 2 {
		t.Fatalf("planned %v, want the producer's update and the dashboard", pl.actions)
	}
	sp.Status = pl.status
	res, err := r.report(context.Background(), sp, pl, outcomes)
	if err != nil {
		t.Fatalf("report = %v, want no error: a refused dashboard is not the pass's failure", err)
	}
	// The healthy requeue: the object's instant nearest the 60 s interval
	// (alignedRequeue), not a fast retry of the refusal.
	if res.RequeueAfter < time.Minute-lateSlack {
		t.Errorf("requeue after %s, want the scaling interval's (no fast retry of a refusal)", res.RequeueAfter)
	}
	for ct, want := range map[string]string{ConditionDashboardReady: ReasonAccessDenied, ConditionProducerReady: ReasonReady, ConditionReady: ReasonReady} {
		if c := findCondition(sp, ct); c == nil || c.Reason != want {
			t.Errorf("%s = %+v, want reason %s", ct, c, want)
		}
	}
	if sp.Status.ObservedGeneration != sp.Generation || sp.Status.Producer.TaskDefinitionARN != "td:4" {
		t.Errorf("observedGeneration %d (generation %d), producer task definition %q: the pass did not complete",
			sp.Status.ObservedGeneration, sp.Generation, sp.Status.Producer.TaskDefinitionARN)
	}
	if sp.Status.DashboardURL != "" {
		t.Errorf("dashboardURL %q recorded for a dashboard never put", sp.Status.DashboardURL)
	}
}

// readDashboard returns the body of the named dashboard in the emulator, or
// found false.
func readDashboard(g Gomega, name string) (string, bool) {
	body, found, err := cloudwatchaws.Dashboards{API: suite.cw}.Get(context.Background(), name)
	g.Expect(err).NotTo(HaveOccurred())
	return body, found
}

// TestDashboardFollowsTheObject: against moto's CloudWatch, a Ready
// StreamProcessor has its dashboard, named and linked in status, with the
// body its names give; a spec change that the dashboard shows is put again;
// deleting the object deletes the dashboard.
func TestDashboardFollowsTheObject(t *testing.T) {
	requireSuite(t)
	g := NewWithT(t)
	startOperator(t)
	sp := sample(newNamespace(t), "dashboard")
	g.Expect(suite.k8s.Create(context.Background(), sp)).To(Succeed())
	got := waitReady(t, sp, 60*time.Second)
	name := defaultNames(sp.Namespace, sp.Name).Dashboard
	g.Expect(got.Status.DashboardName).To(Equal(name))
	g.Expect(got.Status.DashboardURL).To(Equal(dashboard.URL(suite.cw.Options().Region, name)))
	g.Expect(conditionStatus(got, ConditionDashboardReady)).To(Equal(metav1.ConditionTrue))
	body, found := readDashboard(g, name)
	g.Expect(found).To(BeTrue())
	g.Expect(dashboard.Equal(body, dashboard.JSON(dashboardInput(got, suite.cw.Options().Region)))).To(BeTrue(), "body in CloudWatch: %s", body)
	g.Expect(body).To(ContainSubstring(got.Status.Stream.Name))

	update(t, sp, func(s *streamingv1alpha1.StreamProcessor) { s.Spec.Consumer.MaxTasks++ })
	g.Eventually(func(g Gomega) {
		cur := get(g, sp)
		body, _ := readDashboard(g, name)
		g.Expect(dashboard.Equal(body, dashboard.JSON(dashboardInput(cur, suite.cw.Options().Region)))).To(BeTrue())
	}, 60*time.Second, 200*time.Millisecond).Should(Succeed())

	deleteAndWait(t, sp)
	_, found = readDashboard(g, name)
	g.Expect(found).To(BeFalse(), "dashboard %s outlived its StreamProcessor", name)
}

// TestDashboardIsReadOnlyWhenItMayHaveChanged: after a put (or a read that
// found it current) passes skip GetDashboard while the wanted body is the
// same, until the recheck interval has passed; a spec change that changes the
// body reads it at once. A skipped read plans nothing and keeps it Ready.
func TestDashboardIsReadOnlyWhenItMayHaveChanged(t *testing.T) {
	for _, uid := range phaseUIDs(recheckDashboard, DefaultDriftRecheck) {
		t.Run(string(uid), func(t *testing.T) { checkDashboardReadOnlyWhenItMayHaveChanged(t, uid) })
	}
}

// checkDashboardReadOnlyWhenItMayHaveChanged is the test for one uid, with
// the put and the read at the object's point of the interval.
func checkDashboardReadOnlyWhenItMayHaveChanged(t *testing.T, uid types.UID) {
	sp := planObject()
	sp.UID = uid
	at := pointAfterPlanNow(uid, recheckDashboard, DefaultDriftRecheck)
	if !dashboardReadNeeded(sp, "us-east-1", false, at, DefaultDriftRecheck) {
		t.Fatal("never put: the dashboard must be read")
	}
	body := dashboardBody(sp, nil)
	n := &notes{sp: sp, now: at, t: planTiming}
	if err := (outcome{action: putDashboard{name: dashboardName, body: body, created: true}}).applyDashboard(n, putDashboard{name: dashboardName, body: body, created: true}); err != nil {
		t.Fatal(err)
	}
	if dashboardReadNeeded(sp, "us-east-1", false, at.Add(time.Minute), DefaultDriftRecheck) {
		t.Error("a minute after the put of the same body: read again")
	}
	if !dashboardReadNeeded(sp, "us-east-1", false, at.Add(DefaultDriftRecheck), DefaultDriftRecheck) {
		t.Error("after the recheck period: not read")
	}
	changed := sp.DeepCopy()
	changed.Spec.Stream.MaxShards++
	if !dashboardReadNeeded(changed, "us-east-1", false, at.Add(time.Minute), DefaultDriftRecheck) {
		t.Error("the spec changes the body: not read")
	}
	// A read that finds it current also counts.
	read := planObject()
	read.UID = uid
	pl := plan{}
	planDashboard(&notes{sp: read, now: at, t: planTiming}, &pl, &dashboardObservation{found: true, body: body}, "us-east-1")
	if len(pl.actions) != 0 || dashboardReadNeeded(read, "us-east-1", false, at.Add(time.Minute), DefaultDriftRecheck) {
		t.Errorf("found current: actions %v, read needed %v; want none, false", pl.actions, dashboardReadNeeded(read, "us-east-1", false, at.Add(time.Minute), DefaultDriftRecheck))
	}
	pl = plan{}
	planDashboard(&notes{sp: read, now: at, t: planTiming}, &pl, &dashboardObservation{skipped: true}, "us-east-1")
	if c := findCondition(read, ConditionDashboardReady); len(pl.actions) != 0 || c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("skipped read: actions %v, DashboardReady %+v; want none, True", pl.actions, c)
	}
}
