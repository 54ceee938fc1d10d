// Package gauges exports the state of every StreamProcessor as Prometheus
// gauges on the manager's /metrics: shards, reshard budget, tasks per
// workload, pause and dry run, conditions and the last scaling decision.
//
// The Collector reads the objects from the manager's informer cache at scrape
// time, so a scrape always shows what the API server last told the manager,
// and an object that is deleted disappears from the next scrape with no
// bookkeeping to forget.
package gauges

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// Metric names. The Grafana dashboard (config/grafana) queries only these;
// its test fails when it names any other.
const (
	Info                  = "streamprocessor_info"
	ShardsOpen            = "streamprocessor_shards_open"
	ShardsTarget          = "streamprocessor_shards_target"
	ShardsMin             = "streamprocessor_shards_min"
	ShardsMax             = "streamprocessor_shards_max"
	ReshardCalls          = "streamprocessor_reshard_calls_24h"
	ReshardCallsLeft      = "streamprocessor_reshard_calls_left_24h"
	ReshardNextAllowed    = "streamprocessor_reshard_next_allowed_timestamp_seconds"
	TasksDesired          = "streamprocessor_tasks_desired"
	TasksRunning          = "streamprocessor_tasks_running"
	TasksPending          = "streamprocessor_tasks_pending"
	TasksTarget           = "streamprocessor_tasks_target"
	TasksMin              = "streamprocessor_tasks_min"
	TasksMax              = "streamprocessor_tasks_max"
	Paused                = "streamprocessor_paused"
	DryRun                = "streamprocessor_dry_run"
	Ready                 = "streamprocessor_ready"
	Condition             = "streamprocessor_condition"
	LastDecisionTimestamp = "streamprocessor_last_decision_timestamp_seconds"
	SecondsSinceDecision  = "streamprocessor_last_decision_age_seconds"
	LastDecisionInput     = "streamprocessor_last_decision_input"
	GenerationNotObserved = "streamprocessor_generation_not_observed"
	ScrapeError           = "streamprocessor_gauges_scrape_error"
)

const (
	defaultListTimeout = 10 * time.Second
	// readyCondition is controllers.ConditionReady (not imported: this
	// package stays free of the reconciler).
	readyCondition = "Ready"
)

var (
	obj      = []string{"namespace", "name"}
	workload = []string{"namespace", "name", "workload"}

	descs = map[string]*prometheus.Desc{
		Info:                  prometheus.NewDesc(Info, "Always 1; labels name the StreamProcessor's stream, services and region.", append(obj, "stream", "region", "producer_service", "consumer_service"), nil),
		ShardsOpen:            prometheus.NewDesc(ShardsOpen, "Open shards of the stream (status.stream.openShards).", obj, nil),
		ShardsTarget:          prometheus.NewDesc(ShardsTarget, "Open shard count the operator converges to (status.stream.targetShards).", obj, nil),
		ShardsMin:             prometheus.NewDesc(ShardsMin, "Fewest open shards allowed (spec.stream.minShards).", obj, nil),
		ShardsMax:             prometheus.NewDesc(ShardsMax, "Most open shards allowed (spec.stream.maxShards).", obj, nil),
		ReshardCalls:          prometheus.NewDesc(ReshardCalls, "UpdateShardCount calls in the rolling 24 h (status.stream.reshards).", obj, nil),
		ReshardCallsLeft:      prometheus.NewDesc(ReshardCallsLeft, "UpdateShardCount calls AWS still accepts in the rolling 24 h (10 per stream).", obj, nil),
		ReshardNextAllowed:    prometheus.NewDesc(ReshardNextAllowed, "Unix time from which AWS's 24 h budget allows the next UpdateShardCount call (the scrape time while calls are left).", obj, nil),
		TasksDesired:          prometheus.NewDesc(TasksDesired, "The ECS service's desiredCount.", workload, nil),
		TasksRunning:          prometheus.NewDesc(TasksRunning, "The ECS service's runningCount.", workload, nil),
		TasksPending:          prometheus.NewDesc(TasksPending, "The ECS service's pendingCount.", workload, nil),
		TasksTarget:           prometheus.NewDesc(TasksTarget, "Task count the operator converges to.", workload, nil),
		TasksMin:              prometheus.NewDesc(TasksMin, "Fewest tasks allowed (spec.<workload>.minTasks).", workload, nil),
		TasksMax:              prometheus.NewDesc(TasksMax, "Most tasks allowed (spec.<workload>.maxTasks).", workload, nil),
		Paused:                prometheus.NewDesc(Paused, "1 when spec.scaling.paused freezes shard and task counts.", obj, nil),
		DryRun:                prometheus.NewDesc(DryRun, "1 when spec.scaling.dryRun reports targets without acting.", obj, nil),
		Ready:                 prometheus.NewDesc(Ready, "1 when the Ready condition is True.", obj, nil),
		Condition:             prometheus.NewDesc(Condition, "1 for the status each condition type has (True, False or Unknown), 0 for the other two.", append(obj, "type", "status"), nil),
		LastDecisionTimestamp: prometheus.NewDesc(LastDecisionTimestamp, "Unix time of the last scaling decision (status.lastDecision.time).", obj, nil),
		SecondsSinceDecision:  prometheus.NewDesc(SecondsSinceDecision, "Seconds from the last scaling decision to the scrape.", obj, nil),
		LastDecisionInput:     prometheus.NewDesc(LastDecisionInput, "A numeric input of the last scaling decision (status.lastDecision.inputs), e.g. incomingRecordsPerSec, iteratorAgeSeconds, throttledPercent.", append(obj, "input"), nil),
		GenerationNotObserved: prometheus.NewDesc(GenerationNotObserved, "1 while metadata.generation is ahead of status.observedGeneration (a spec change not yet acted on).", obj, nil),
		ScrapeError:           prometheus.NewDesc(ScrapeError, "1 when this scrape could not list StreamProcessors from the manager's cache (the other streamprocessor_ series are then absent).", nil, nil),
	}
)

// Names returns every metric name the Collector exports.
func Names() []string {
	names := make([]string, 0, len(descs))
	for n := range descs {
		names = append(names, n)
	}
	return names
}

// Collector is a prometheus.Collector over the StreamProcessors a reader
// (the manager's cache) holds. Register it with controller-runtime's
// metrics.Registry.
type Collector struct {
	// Reader lists StreamProcessors; the manager's cache, so a scrape costs
	// the API server nothing.
	Reader client.Reader
	// Now is the clock for the ages and the reshard window.
	Now func() time.Time
	// Log receives list errors (a scrape then reports ScrapeError 1).
	Log logr.Logger
	// ListTimeout bounds one list (default 10 s).
	ListTimeout time.Duration
}

// NewCollector returns a Collector over r with the wall clock.
func NewCollector(r client.Reader, log logr.Logger) *Collector {
	return &Collector{Reader: r, Now: time.Now, Log: log}
}

// Describe sends the descriptors of every metric.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range descs {
		ch <- d
	}
}

// Collect lists the StreamProcessors and sends their gauges. A list error is
// logged and reported as ScrapeError 1 rather than failing the whole
// /metrics answer (controller-runtime serves it with HTTPErrorOnError).
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	timeout := c.ListTimeout
	if timeout == 0 {
		timeout = defaultListTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var list streamingv1alpha1.StreamProcessorList
	if err := c.Reader.List(ctx, &list); err != nil {
		c.Log.Error(err, "Unable to list StreamProcessors for /metrics")
		ch <- prometheus.MustNewConstMetric(descs[ScrapeError], prometheus.GaugeValue, 1)
		return
	}
	ch <- prometheus.MustNewConstMetric(descs[ScrapeError], prometheus.GaugeValue, 0)
	now := c.Now()
	for i := range list.Items {
		collectOne(ch, &list.Items[i], now)
	}
}

func collectOne(ch chan<- prometheus.Metric, sp *streamingv1alpha1.StreamProcessor, now time.Time) {
	ns, name := sp.Namespace, sp.Name
	gauge := func(metric string, v float64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(descs[metric], prometheus.GaugeValue, v, append([]string{ns, name}, extra...)...)
	}
	st, spec := &sp.Status, &sp.Spec

	gauge(Info, 1, st.Stream.Name, spec.Region, st.Producer.ServiceName, st.Consumer.ServiceName)
	gauge(ShardsOpen, float64(st.Stream.OpenShards))
	gauge(ShardsTarget, float64(st.Stream.TargetShards))
	gauge(ShardsMin, float64(spec.Stream.MinShards))
	gauge(ShardsMax, float64(spec.Stream.MaxShards))

	budget := ReshardBudget(st.Stream.Reshards, now)
	gauge(ReshardCalls, float64(budget.Used))
	gauge(ReshardCallsLeft, float64(budget.Left))
	gauge(ReshardNextAllowed, float64(budget.NextAllowed.Unix()))

	for _, w := range []struct {
		name   string
		status streamingv1alpha1.ServiceStatus
		spec   streamingv1alpha1.WorkloadSpec
	}{{"producer", st.Producer, spec.Producer.WorkloadSpec}, {"consumer", st.Consumer, spec.Consumer.WorkloadSpec}} {
		gauge(TasksDesired, float64(w.status.DesiredTasks), w.name)
		gauge(TasksRunning, float64(w.status.RunningTasks), w.name)
		gauge(TasksPending, float64(w.status.PendingTasks), w.name)
		gauge(TasksTarget, float64(w.status.TargetTasks), w.name)
		gauge(TasksMin, float64(w.spec.MinTasks), w.name)
		gauge(TasksMax, float64(w.spec.MaxTasks), w.name)
	}

	gauge(Paused, boolValue(spec.Scaling.Paused))
	gauge(DryRun, boolValue(spec.Scaling.DryRun))
	ready := false
	for _, cond := range st.Conditions {
		for _, s := range []metav1.ConditionStatus{metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown} {
			gauge(Condition, boolValue(cond.Status == s), cond.Type, string(s))
		}
		if cond.Type == readyCondition && cond.Status == metav1.ConditionTrue {
			ready = true
		}
	}
	gauge(Ready, boolValue(ready))
	gauge(GenerationNotObserved, boolValue(sp.Generation > st.ObservedGeneration))

	if d := st.LastDecision; d != nil && !d.Time.IsZero() {
		gauge(LastDecisionTimestamp, float64(d.Time.Unix()))
		gauge(SecondsSinceDecision, max(0, now.Sub(d.Time.Time).Seconds()))
		for k, v := range d.Inputs {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				gauge(LastDecisionInput, f, k)
			}
		}
	}
}

// Budget is the state of a stream's UpdateShardCount budget at one time.
type Budget struct {
	// Used counts the calls inside the rolling window; Left those AWS still accepts.
	Used, Left int
	// NextAllowed is when the budget next allows a call: the given time while
	// calls are left, else when enough of the oldest calls leave the window.
	NextAllowed time.Time
}

// ReshardBudget reads the reshard ledger (status.stream.reshards) at now,
// with AWS's limit of scaling.ReshardsPerWindow calls per scaling.ReshardWindow.
func ReshardBudget(ledger []metav1.Time, now time.Time) Budget {
	times := make([]time.Time, len(ledger))
	for i, t := range ledger {
		times[i] = t.Time
	}
	calls := scaling.PruneHistory(times, now) // sorted, oldest first
	b := Budget{Used: len(calls), Left: scaling.BudgetLeft(times, now), NextAllowed: now}
	if b.Left == 0 {
		b.NextAllowed = calls[len(calls)-scaling.ReshardsPerWindow].Add(scaling.ReshardWindow)
	}
	return b
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Register registers a Collector over mgr's cache with reg
// (controller-runtime's metrics.Registry in cmd/manager).
func Register(mgr manager.Manager, reg prometheus.Registerer) error {
	if err := reg.Register(NewCollector(mgr.GetCache(), mgr.GetLogger().WithName("gauges"))); err != nil {
		return fmt.Errorf("register StreamProcessor gauges: %w", err)
	}
	return nil
}
