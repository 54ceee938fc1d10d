package gauges

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv/apiserver"
)

var (
	server *apiserver.Server
	skip   string
)

func TestMain(m *testing.M) {
	os.Exit(apiserver.Run(m, "../..", func(s *apiserver.Server, why string) { server, skip = s, why }))
}

func TestReshardBudget(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	ago := func(d ...time.Duration) []metav1.Time {
		var out []metav1.Time
		for _, x := range d {
			out = append(out, metav1.NewTime(now.Add(-x)))
		}
		return out
	}
	ten := make([]time.Duration, 10)
	for i := range ten {
		ten[i] = time.Duration(20-i) * time.Hour // oldest 20 h ago, newest 11 h ago
	}
	for _, tc := range []struct {
		name       string
		ledger     []metav1.Time
		used, left int
		next       time.Time
	}{
		{"empty", nil, 0, 10, now},
		{"old calls leave the window", ago(25*time.Hour, 30*time.Hour, time.Hour), 1, 9, now},
		{"spent: the oldest call frees the next", ago(ten...), 10, 0, now.Add(4 * time.Hour)},
		{"more than ten (a ledger written elsewhere)", append(ago(ten...), ago(time.Minute)...), 11, 0, now.Add(5 * time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := ReshardBudget(tc.ledger, now)
			if b.Used != tc.used || b.Left != tc.left || !b.NextAllowed.Equal(tc.next) {
				t.Errorf("ReshardBudget = %+v, want used %d left %d next %s", b, tc.used, tc.left, tc.next)
			}
		})
	}
}

// scraper serves a registry with the Collector over a manager's cache, as
// cmd/manager does, through the handler options controller-runtime's
// metrics server uses (an error fails the whole answer).
type scraper struct {
	url string
	now time.Time
}

func startScraper(t *testing.T, now time.Time) *scraper {
	t.Helper()
	mgr, err := ctrl.NewManager(server.Config, ctrl.Options{
		Scheme:                 server.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := Register(mgr, reg); err != nil {
		t.Fatal(err)
	}
	// The wall clock would make ages flaky; the collector Register built is
	// the only one in reg, so swap its clock.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = mgr.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("cache did not sync")
	}
	c := NewCollector(mgr.GetCache(), mgr.GetLogger())
	c.Now = func() time.Time { return now }
	fixed := prometheus.NewPedanticRegistry()
	fixed.MustRegister(c)
	srv := httptest.NewServer(promhttp.HandlerFor(fixed, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	t.Cleanup(srv.Close)
	// The registry Register filled must also gather cleanly (pedantic checks
	// of names, help and label consistency).
	if _, err := reg.Gather(); err != nil {
		t.Fatalf("gather the registered collector: %v", err)
	}
	return &scraper{url: srv.URL, now: now}
}

// scrape returns the exposition text.
func (s *scraper) scrape(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(s.url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s: %s", resp.Status, body)
	}
	return string(body)
}

// sampleFor is a valid StreamProcessor (the CRD's validation applies).
func sampleFor(ns, name string) *streamingv1alpha1.StreamProcessor {
	sp := &streamingv1alpha1.StreamProcessor{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	sp.Spec.ECS = streamingv1alpha1.ECSSpec{Cluster: "streaming", Subnets: []string{"subnet-0123456789abcdef0"}}
	sp.Spec.Producer.Image, sp.Spec.Consumer.Image = "producer:v1", "consumer:v1"
	sp.Spec.Producer.MinTasks, sp.Spec.Producer.MaxTasks = 1, 15
	sp.Spec.Consumer.MinTasks, sp.Spec.Consumer.MaxTasks = 2, 12
	sp.Spec.Stream.MinShards, sp.Spec.Stream.MaxShards = 1, 16
	return sp
}

func createNamespace(t *testing.T, name string) {
	t.Helper()
	if err := server.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
}

func TestGaugesFollowObjectsInTheCache(t *testing.T) {
	apiserver.Require(t, skip)
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	s := startScraper(t, now)
	ns := fmt.Sprintf("gauges-%d", now.Unix()%1e6)
	createNamespace(t, ns)

	a := sampleFor(ns, "clicks")
	a.Spec.Scaling.Paused = true
	if err := server.Client.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	b := sampleFor(ns, "orders")
	b.Spec.Scaling.DryRun = true
	if err := server.Client.Create(ctx, b); err != nil {
		t.Fatal(err)
	}
	// Status as the reconciler writes it: 3 of 4 shards open, 10 reshard
	// calls in 24 h (budget spent), tasks per service, a decision 90 s ago.
	var ledger []metav1.Time
	for i := range 10 {
		ledger = append(ledger, metav1.NewTime(now.Add(-time.Duration(23-i)*time.Hour)))
	}
	a.Status = streamingv1alpha1.StreamProcessorStatus{
		ObservedGeneration: a.Generation,
		Stream:             streamingv1alpha1.StreamStatus{Name: "ns-clicks-abc", Status: "UPDATING", OpenShards: 3, TargetShards: 4, Reshards: ledger},
		Producer:           streamingv1alpha1.ServiceStatus{ServiceName: "clicks-producer", DesiredTasks: 5, RunningTasks: 4, PendingTasks: 1, TargetTasks: 6},
		Consumer:           streamingv1alpha1.ServiceStatus{ServiceName: "clicks-consumer", DesiredTasks: 3, RunningTasks: 3, TargetTasks: 3},
		LastDecision: &streamingv1alpha1.ScalingDecision{
			Time: metav1.NewTime(now.Add(-90 * time.Second)), Shards: 4, ProducerTasks: 6, ConsumerTasks: 3, Reason: "test",
			Inputs: map[string]string{"incomingRecordsPerSec": "2500", "iteratorAgeSeconds": "1.5", "newestKinesisDatapoint": "2026-11-27T04:00:00Z"},
		},
	}
	meta.SetStatusCondition(&a.Status.Conditions, metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: "Resharding", Message: "m"})
	meta.SetStatusCondition(&a.Status.Conditions, metav1.Condition{Type: "ProducerReady", Status: metav1.ConditionTrue, Reason: "Ready", Message: "m"})
	if err := server.Client.Status().Update(ctx, a); err != nil {
		t.Fatal(err)
	}
	meta.SetStatusCondition(&b.Status.Conditions, metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Ready", Message: "m"})
	if err := server.Client.Status().Update(ctx, b); err != nil {
		t.Fatal(err)
	}

	// lbl renders labels as the exposition format does: sorted by name.
	lbl := func(name string, extra ...string) string {
		pairs := []string{fmt.Sprintf(`name=%q`, name), fmt.Sprintf(`namespace=%q`, ns)}
		for i := 0; i+1 < len(extra); i += 2 {
			pairs = append(pairs, fmt.Sprintf(`%s=%q`, extra[i], extra[i+1]))
		}
		slices.Sort(pairs)
		return "{" + strings.Join(pairs, ",") + "}"
	}
	next := ledger[0].Add(24 * time.Hour).Unix()
	want := []string{
		ShardsOpen + lbl("clicks") + " 3",
		ShardsTarget + lbl("clicks") + " 4",
		ShardsMin + lbl("clicks") + " 1",
		ShardsMax + lbl("clicks") + " 16",
		ReshardCalls + lbl("clicks") + " 10",
		ReshardCallsLeft + lbl("clicks") + " 0",
		fmt.Sprintf("%s%s %g", ReshardNextAllowed, lbl("clicks"), float64(next)),
		ReshardCallsLeft + lbl("orders") + " 10",
		fmt.Sprintf("%s%s %g", ReshardNextAllowed, lbl("orders"), float64(now.Unix())),
		TasksDesired + lbl("clicks", "workload", "producer") + " 5",
		TasksRunning + lbl("clicks", "workload", "producer") + " 4",
		TasksPending + lbl("clicks", "workload", "producer") + " 1",
		TasksTarget + lbl("clicks", "workload", "producer") + " 6",
		TasksDesired + lbl("clicks", "workload", "consumer") + " 3",
		TasksMin + lbl("clicks", "workload", "consumer") + " 2",
		TasksMax + lbl("clicks", "workload", "consumer") + " 12",
		Paused + lbl("clicks") + " 1",
		Paused + lbl("orders") + " 0",
		DryRun + lbl("clicks") + " 0",
		DryRun + lbl("orders") + " 1",
		Ready + lbl("clicks") + " 0",
		Ready + lbl("orders") + " 1",
		Condition + lbl("clicks", "status", "False", "type", "Ready") + " 1",
		Condition + lbl("clicks", "status", "True", "type", "Ready") + " 0",
		Condition + lbl("clicks", "status", "True", "type", "ProducerReady") + " 1",
		Condition + lbl("orders", "status", "True", "type", "Ready") + " 1",
		fmt.Sprintf("%s%s %g", LastDecisionTimestamp, lbl("clicks"), float64(now.Add(-90*time.Second).Unix())),
		SecondsSinceDecision + lbl("clicks") + " 90",
		LastDecisionInput + lbl("clicks", "input", "incomingRecordsPerSec") + " 2500",
		LastDecisionInput + lbl("clicks", "input", "iteratorAgeSeconds") + " 1.5",
		GenerationNotObserved + lbl("clicks") + " 0",
		GenerationNotObserved + lbl("orders") + " 1",
		Info + lbl("clicks", "consumer_service", "clicks-consumer", "producer_service", "clicks-producer", "region", "", "stream", "ns-clicks-abc") + " 1",
		ScrapeError + " 0",
	}
	var text string
	deadline := time.Now().Add(10 * time.Second)
	for {
		text = s.scrape(t)
		if missing := missingLines(text, want); len(missing) == 0 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("scrape lacks %d lines:\n%s\n--- scrape:\n%s", len(missing), strings.Join(missing, "\n"), grepLines(text, ns))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Every series the Grafana dashboard queries is in this scrape.
	for _, m := range dashboardMetrics(t) {
		if !strings.Contains(text, "\n"+m+"{") && !strings.Contains(text, "\n"+m+" ") {
			t.Errorf("the dashboard queries %s, which the scrape lacks", m)
		}
	}
	// A non-numeric input is not a series; no decision means no decision series.
	for _, absent := range []string{`input="newestKinesisDatapoint"`, LastDecisionTimestamp + lbl("orders")} {
		if strings.Contains(text, absent) {
			t.Errorf("scrape has %s", absent)
		}
	}

	if err := server.Client.Delete(ctx, a); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for strings.Contains(text, fmt.Sprintf(`name="clicks",namespace=%q`, ns)) {
		if time.Now().After(deadline) {
			t.Fatalf("deleted object still scraped:\n%s", grepLines(text, `"clicks"`))
		}
		time.Sleep(100 * time.Millisecond)
		text = s.scrape(t)
	}
	if !strings.Contains(text, ShardsOpen+lbl("orders")+" 0") {
		t.Errorf("the other object went too:\n%s", grepLines(text, ns))
	}
}

func missingLines(text string, want []string) []string {
	have := map[string]bool{}
	for _, l := range strings.Split(text, "\n") {
		have[l] = true
	}
	var missing []string
	for _, w := range want {
		if !have[w] {
			missing = append(missing, w)
		}
	}
	return missing
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
