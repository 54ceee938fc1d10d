package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	cloudwatchaws "github.com/kdp-io/streamprocessor-operator/internal/aws/cloudwatch"
	"github.com/kdp-io/streamprocessor-operator/internal/dashboard"
)

// dashboardPart names the dashboard's part of a pass in errors and actions.
const dashboardPart = "dashboard"

// putDashboard creates or replaces the CloudWatch dashboard.
type putDashboard struct {
	name, body, url string
	created         bool
}

func (putDashboard) part() string { return dashboardPart }

// currentDashboardBody is sp's dashboard body, with the operator's own metrics when
// they are published.
func currentDashboardBody(sp *streamingv1alpha1.StreamProcessor, region string, operatorMetrics bool) string {
	in := dashboardInput(sp, region)
	in.OperatorMetrics = operatorMetrics
	return dashboard.JSON(in)
}

// dashboardInput is what sp's dashboard shows: its recorded names, the
// region the clients call and the spec's bounds.
func dashboardInput(sp *streamingv1alpha1.StreamProcessor, region string) dashboard.Input {
	n, spec := namesOf(sp), &sp.Spec
	return dashboard.Input{
		Namespace: sp.Namespace, Name: sp.Name, Region: region, Stream: n.Stream, Cluster: spec.ECS.Cluster,
		Producer: n.Producer, Consumer: n.Consumer, Application: n.LeaseTable,
		MinShards: spec.Stream.MinShards, MaxShards: spec.Stream.MaxShards,
		ProducerMinTasks: spec.Producer.MinTasks, ProducerMaxTasks: spec.Producer.MaxTasks,
		ConsumerMinTasks: spec.Consumer.MinTasks, ConsumerMaxTasks: spec.Consumer.MaxTasks,
	}
}

// planDashboard plans a PutDashboard when the dashboard is missing or its
// body differs from the one sp's names and bounds give; with nothing to
// change it records the URL and sets DashboardReady. Nothing is planned
// without a dashboard client (o nil). It runs whatever the stream's state.
func planDashboard(n *notes, pl *plan, o *dashboardObservation, region string) {
	if o == nil {
		return
	}
	sp := n.sp
	name := namesOf(sp).Dashboard
	if o.err != nil {
		if err := dashboardError(n.failed(ConditionDashboardReady, o.err)); err != nil {
			pl.fail(dashboardPart, err, false)
		}
		return
	}
	body := currentDashboardBody(sp, region, o.operatorMetrics)
	url := dashboard.URL(region, name)
	switch {
	case o.skipped:
		sp.Status.DashboardURL = url
		n.set(ConditionDashboardReady, metav1.ConditionTrue, ReasonReady, "dashboard "+name+" is current")
		return
	case o.found && dashboard.Equal(o.body, body):
		sp.Status.DashboardURL = url
		markDashboardCurrent(sp, body, n.now)
		n.set(ConditionDashboardReady, metav1.ConditionTrue, ReasonReady, "dashboard "+name+" is current")
		return
	}
	pl.actions = append(pl.actions, putDashboard{name: name, body: body, url: url, created: !o.found})
}

// observeDashboard reads sp's dashboard unless it is known current
// (dashboardReadNeeded); nil when there is no dashboard client (nothing is
// planned for it then). published: the operator's own metrics are on it.
func observeDashboard(ctx context.Context, sp *streamingv1alpha1.StreamProcessor, c Clients, name string, published bool, now time.Time, recheck time.Duration) *dashboardObservation {
	if c.Dashboards == nil {
		return nil
	}
	d := &dashboardObservation{operatorMetrics: published, skipped: !dashboardReadNeeded(sp, c.Region, published, now, recheck)}
	if !d.skipped {
		d.body, d.found, d.err = cloudwatchaws.Dashboards{API: c.Dashboards}.Get(ctx, name)
	}
	return d
}

// dashboardReadNeeded reports whether this pass must read the dashboard:
// the body sp's spec gives is not the one last put (or found current), or
// the object's recheck moment (recheckDue) has come since. Pure.
func dashboardReadNeeded(sp *streamingv1alpha1.StreamProcessor, region string, operatorMetrics bool, now time.Time, recheck time.Duration) bool {
	st := &sp.Status
	unchanged := st.DashboardHash == bodyHash(currentDashboardBody(sp, region, operatorMetrics))
	return recheckDue(checkedTime(st.DashboardCheckedAt), unchanged, now, recheck, recheckPhase(sp.UID, recheckDashboard, recheck))
}

// markDashboardCurrent records that the dashboard has body as of now.
func markDashboardCurrent(sp *streamingv1alpha1.StreamProcessor, body string, now time.Time) {
	t := metav1.NewTime(now)
	sp.Status.DashboardHash, sp.Status.DashboardCheckedAt = bodyHash(body), &t
}

// bodyHash is a short hash of a dashboard body.
func bodyHash(body string) string {
	sum := sha256.Sum256([]byte(body))
	return hex.EncodeToString(sum[:16])
}

// putDashboardOutcome runs a putDashboard.
func putDashboardOutcome(ctx context.Context, c Clients, a putDashboard) outcome {
	o := outcome{action: a}
	if o.err = (cloudwatchaws.Dashboards{API: c.Dashboards}).Put(ctx, a.name, a.body); o.err == nil {
		log.FromContext(ctx).Info("Put dashboard", "dashboard", a.name, "created", a.created)
	}
	return o
}

// applyDashboard reports a putDashboard on DashboardReady alone.
func (o outcome) applyDashboard(n *notes, a putDashboard) error {
	if o.err != nil {
		return dashboardError(n.failed(ConditionDashboardReady, o.err))
	}
	verb := "Updated"
	if a.created {
		verb = "Created"
	}
	n.normal(EventDashboardUpdated, "%s CloudWatch dashboard %s", verb, a.name)
	n.sp.Status.DashboardURL = a.url
	markDashboardCurrent(n.sp, a.body, n.now)
	n.set(ConditionDashboardReady, metav1.ConditionTrue, ReasonReady, "dashboard "+a.name+" is current")
	return nil
}

// dashboardError is what a dashboard error, already on DashboardReady, does
// to the pass: a refusal (invalid body, denied access) is not the stream's or
// the services' business — the pass completes and the next one tries again
// — while throttling and other errors requeue as usual.
func dashboardError(err error) error {
	if invalid := (*invalidSpecError)(nil); errors.As(err, &invalid) {
		return nil
	}
	return err
}
