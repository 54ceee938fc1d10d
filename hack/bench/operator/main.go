// Command operator is the operator's scale benchmark (make bench-operator):
// N StreamProcessors on a real API server (envtest), the manager in-process
// against in-memory AWS fakes (hack/bench/operator/fakeaws) with a per-call
// latency and AWS's per-account request rates. It prints how long all take
// to become Ready, reconciles/s, peak heap and RSS, AWS calls per scaling
// interval by operation, throttled AWS calls and API-server requests per
// interval, next to their goals. It never fails on the figures; it exits 1
// only when it cannot run (or the fakes met a call they do not implement).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/controllers"
	"github.com/kdp-io/streamprocessor-operator/hack/bench/operator/fakeaws"
	cloudwatchaws "github.com/kdp-io/streamprocessor-operator/internal/aws/cloudwatch"
)

// The fakes implement the controllers' interfaces.
var (
	_ controllers.KinesisAPI    = (*fakeaws.Kinesis)(nil)
	_ controllers.ECSAPI        = (*fakeaws.ECS)(nil)
	_ controllers.CloudWatchAPI = (*fakeaws.CloudWatch)(nil)
	_ controllers.DynamoDBAPI   = (*fakeaws.DynamoDB)(nil)
	_ cloudwatchaws.API         = (*fakeaws.Dashboards)(nil)
)

// queriesPerObject is how many GetMetricData queries one StreamProcessor adds
// to its region's batch (controllers/metrics.go's queriesPerObject: 11, the
// producer's RefusedRecords included for every object).
const queriesPerObject = 11

type result struct {
	Objects                       int              `json:"objects"`
	ConvergeSeconds               float64          `json:"convergeSeconds"`
	Converged                     bool             `json:"converged"`
	Ready                         int              `json:"ready"`
	ReconcilesPerSecond           float64          `json:"reconcilesPerSecond"`
	SteadyReconcilesPerSecond     float64          `json:"steadyReconcilesPerSecond"`
	PeakHeapMiB                   float64          `json:"peakHeapMiB"`
	PeakRSSMiB                    float64          `json:"peakRSSMiB"`
	IntervalSeconds               float64          `json:"intervalSeconds"`
	GetMetricDataCallsPerInterval int64            `json:"getMetricDataCallsPerInterval"`
	GetMetricDataGoal             int64            `json:"getMetricDataCallsPerIntervalGoal"`
	AWSCallsPerInterval           map[string]int64 `json:"awsCallsPerInterval"`
	SteadyState                   bool             `json:"steadyState"`
	ThrottledAWSCalls             int64            `json:"throttledAwsCalls"`
	ThrottledSteadyState          int64            `json:"throttledAwsCallsSteadyState"`
	ThrottledByOperation          map[string]int64 `json:"throttledByOperation"`
	APIServerRequestsPerInterval  int64            `json:"apiServerRequestsPerInterval"`
	APIServerRequestsTotal        int64            `json:"apiServerRequestsTotal"`
	LatencyMs                     float64          `json:"awsLatencyMs"`
	ClientRateLimit               bool             `json:"clientRateLimit"`
	// ConvergeLowerBoundSeconds: no run can be faster. Every object
	// registers two task definitions and RegisterTaskDefinition is paced
	// per account: (2 × objects − burst) ÷ rate, with AWS's rate and burst
	// (fakeaws.Rates) and, tighter, with the operator's own pace under them
	// (controllers.DefaultAWSRates).
	ConvergeLowerBoundSeconds         float64 `json:"convergeLowerBoundSeconds"`
	ConvergeLowerBoundOperatorSeconds float64 `json:"convergeLowerBoundOperatorSeconds"`
	// ReadyAtGoal is how many objects were Ready 600 s after creation (the
	// goal's deadline), -1 when the run ended before.
	ReadyAtGoal    int      `json:"readyAtGoal"`
	NotImplemented []string `json:"notImplemented,omitempty"`
	Note           string   `json:"note,omitempty"`
}

func main() {
	objects := flag.Int("objects", 1000, "StreamProcessors to create.")
	asJSON := flag.Bool("json", false, "Print one JSON object instead of the table.")
	latency := flag.Duration("latency", 20*time.Millisecond, "Latency of every fake AWS call.")
	interval := flag.Duration("interval", 60*time.Second, "Scaling interval (spec.scaling.intervalSeconds) of every object, and the steady-state window.")
	timeout := flag.Duration("timeout", 15*time.Minute, "Stop after this long whatever the state.")
	concurrency := flag.Int("max-concurrent-reconciles", 4, "The manager's MaxConcurrentReconciles (cmd/manager's default: 4).")
	clientLimit := flag.Bool("client-rate-limit", true, "Pace AWS calls under each operation's account rate on the operator's side (controllers.RateLimitedClients).")
	root := flag.String("root", ".", "Repository root (for config/crd/bases).")
	verbose := flag.Bool("v", false, "Log the manager.")
	flag.Parse()
	if *verbose {
		ctrl.SetLogger(zap.New(zap.UseDevMode(true)))
	} else {
		ctrl.SetLogger(zap.New(zap.WriteTo(discard{})))
	}
	res, err := run(options{objects: *objects, latency: *latency, interval: *interval, timeout: *timeout, concurrency: *concurrency, clientLimit: *clientLimit, root: *root})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-operator:", err)
		os.Exit(1)
	}
	if *asJSON {
		b, _ := json.MarshalIndent(res, "", "  ")
		fmt.Println(string(b))
	} else {
		printTable(res)
	}
	if len(res.NotImplemented) > 0 {
		fmt.Fprintf(os.Stderr, "bench-operator: the fakes refused calls they do not implement: %v\n", res.NotImplemented)
		os.Exit(1)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// countingTransport counts the requests to the API server.
type countingTransport struct {
	n    *atomic.Int64
	next http.RoundTripper
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return t.next.RoundTrip(r)
}

// options are the bench's flags.
type options struct {
	objects                    int
	latency, interval, timeout time.Duration
	concurrency                int
	clientLimit                bool
	root                       string
}

// run is the whole bench: start the API server, and the manager on the
// fakes; create the objects; wait until all are Ready (or the timeout is
// near); measure one interval; sum up the run.
func run(o options) (*result, error) {
	deadline := time.Now().Add(o.timeout)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	peakHeap := watchPeakHeap(ctx)
	cfg, stopAPIServer, err := startAPIServer(o.root)
	if err != nil {
		return nil, err
	}
	defer stopAPIServer()
	b, err := startManager(ctx, cfg, o)
	if err != nil {
		return nil, err
	}
	defer b.stop()

	if err := b.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNamespace}}); err != nil {
		return nil, err
	}
	created := time.Now()
	if err := createAll(ctx, b.k8s, benchNamespace, o.objects, int32(o.interval/time.Second)); err != nil {
		return nil, err
	}
	res := newResult(o)
	b.awaitReady(ctx, res, o, created, deadline)
	res.ReconcilesPerSecond = reconcileTotal() / math.Max(res.ConvergeSeconds, 1e-9)
	if time.Until(deadline) > o.interval+5*time.Second {
		b.measureInterval(ctx, res, o.interval)
	} else {
		res.Note += "; no time left for an interval before -timeout"
	}
	b.sumUp(res, peakHeap.Load())
	return res, nil
}

// benchNamespace holds the objects.
const benchNamespace = "bench"

// bench is a running manager on the fakes, and what the bench reads it by.
type bench struct {
	// k8s is the bench's own client, not counted in apiRequests.
	k8s     client.Client
	account *fakeaws.Account
	// apiRequests counts the manager's requests to the API server.
	apiRequests *atomic.Int64
	stop        func()
}

// watchPeakHeap samples the heap every 0.5 s until ctx ends and keeps the
// peak.
func watchPeakHeap(ctx context.Context) *atomic.Uint64 {
	var peak atomic.Uint64
	go func() {
		var ms runtime.MemStats
		for ctx.Err() == nil {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}()
	return &peak
}

// startAPIServer starts envtest's kube-apiserver and etcd with the CRDs.
func startAPIServer(root string) (*rest.Config, func(), error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(root, "bin", "k8s", "v1.35.4")
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, nil, fmt.Errorf("start envtest (KUBEBUILDER_ASSETS=%s; make control-plane builds it): %w", assets, err)
	}
	return cfg, func() { _ = env.Stop() }, nil
}

// startManager starts the manager with the reconciler wired as cmd/manager
// wires it, on a fake AWS account, and the bench's own client.
func startManager(ctx context.Context, cfg *rest.Config, o options) (*bench, error) {
	scheme := k8sruntime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = streamingv1alpha1.AddToScheme(scheme)

	// The manager's requests are counted; the bench's own (creating and
	// watching the objects) go through an uncounted client. The manager gets
	// client-go's defaults as in a cluster (controller-runtime: 20 QPS, 30 burst).
	b := &bench{account: fakeaws.New(o.latency), apiRequests: &atomic.Int64{}}
	mcfg := rest.CopyConfig(cfg)
	mcfg.QPS, mcfg.Burst = 20, 30
	mcfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return countingTransport{n: b.apiRequests, next: rt} })
	bcfg := rest.CopyConfig(cfg)
	bcfg.QPS, bcfg.Burst = 200, 400
	var err error
	if b.k8s, err = client.New(bcfg, client.Options{Scheme: scheme}); err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(mcfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{MaxConcurrentReconciles: o.concurrency, SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, err
	}
	clients := accountClients(b.account, o.clientLimit)
	r := &controllers.StreamProcessorReconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorder("streamprocessor-operator"),
		AWS: func(context.Context, string) (controllers.Clients, error) {
			return clients, nil
		},
		Metrics: controllers.NewMetricsBatcher(60 * time.Second), // cmd/manager's --metrics-max-age
		Clock:   clock.RealClock{},
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, err
	}
	mctx, mcancel := context.WithCancel(ctx)
	mdone := make(chan error, 1)
	go func() { mdone <- mgr.Start(mctx) }()
	b.stop = func() { mcancel(); <-mdone }
	return b, nil
}

// accountClients are the fake account's clients in us-east-1, paced on the
// operator's side (controllers.RateLimitedClients) when limited.
func accountClients(a *fakeaws.Account, limited bool) controllers.Clients {
	c := controllers.Clients{Region: "us-east-1", Kinesis: a.Kinesis, ECS: a.ECS, CloudWatch: a.CloudWatch, DynamoDB: a.DynamoDB, Dashboards: a.Dashboards}
	if limited {
		c = controllers.RateLimitedClients(c, controllers.DefaultAWSRates)
	}
	return c
}

// newResult is the result before anything is measured: the run's settings
// and its goals.
func newResult(o options) *result {
	res := &result{Objects: o.objects, IntervalSeconds: o.interval.Seconds(), LatencyMs: float64(o.latency) / float64(time.Millisecond), ClientRateLimit: o.clientLimit,
		GetMetricDataGoal: int64(math.Ceil(float64(o.objects) * queriesPerObject / 500)), ReadyAtGoal: -1}
	res.ConvergeLowerBoundSeconds, res.ConvergeLowerBoundOperatorSeconds = registrationBounds(o.objects)
	return res
}

// awaitReady waits until every object is Ready, or until the deadline
// leaves only an interval to measure, and records when and how many.
func (b *bench) awaitReady(ctx context.Context, res *result, o options, created, deadline time.Time) {
	for {
		ready, err := countReady(ctx, b.k8s, benchNamespace)
		if err == nil {
			res.Ready = ready
		}
		if res.ReadyAtGoal < 0 && (ready == o.objects || time.Since(created) >= convergeGoal) {
			res.ReadyAtGoal = ready
		}
		if ready == o.objects {
			res.Converged = true
			res.ConvergeSeconds = time.Since(created).Seconds()
			return
		}
		if ctx.Err() != nil || time.Until(deadline) < o.interval+10*time.Second {
			res.ConvergeSeconds = time.Since(created).Seconds()
			res.Note = fmt.Sprintf("not converged: %d of %d Ready after %.0f s (-timeout %s); the per-interval figures are of the last interval before the timeout, not of a steady state",
				res.Ready, o.objects, res.ConvergeSeconds, o.timeout)
			return
		}
		time.Sleep(2 * time.Second)
	}
}

// measureInterval counts AWS calls, throttles, API-server requests and
// reconciles over one scaling interval: the steady state once all are
// Ready, else the last interval before the timeout.
func (b *bench) measureInterval(ctx context.Context, res *result, interval time.Duration) {
	before, apiBefore, recBefore := b.account.Stats(), b.apiRequests.Load(), reconcileTotal()
	t0 := time.Now()
	select {
	case <-time.After(interval):
	case <-ctx.Done():
	}
	d := b.account.Stats().Sub(before)
	elapsed := time.Since(t0)
	res.AWSCallsPerInterval = d.Calls
	res.GetMetricDataCallsPerInterval = d.Calls["cloudwatch.GetMetricData"]
	res.ThrottledSteadyState = fakeaws.Total(d.Throttled)
	res.APIServerRequestsPerInterval = b.apiRequests.Load() - apiBefore
	res.SteadyReconcilesPerSecond = (reconcileTotal() - recBefore) / elapsed.Seconds()
	if ready, err := countReady(ctx, b.k8s, benchNamespace); err == nil {
		res.Ready = ready
	}
}

// sumUp adds the whole run's figures.
func (b *bench) sumUp(res *result, peakHeap uint64) {
	res.SteadyState = res.Converged && res.AWSCallsPerInterval != nil
	all := b.account.Stats()
	res.ThrottledAWSCalls = fakeaws.Total(all.Throttled)
	res.ThrottledByOperation = all.Throttled
	res.NotImplemented = all.NotImplemented
	res.APIServerRequestsTotal = b.apiRequests.Load()
	res.PeakHeapMiB = float64(peakHeap) / (1 << 20)
	res.PeakRSSMiB = vmHWM()
}

// convergeGoal is the goal's time for all objects to be Ready.
const convergeGoal = 600 * time.Second

// registrationBounds are the least seconds in which objects can all be
// Ready: each registers two task definitions, and RegisterTaskDefinition is
// paced per account — by AWS (fakeaws.Rates) and, under it, by the operator
// (controllers.DefaultAWSRates): (2 × objects − burst) ÷ rate.
func registrationBounds(objects int) (aws, operator float64) {
	bound := func(perSecond, burst float64) float64 {
		return math.Max(0, (2*float64(objects)-burst)/perSecond)
	}
	a, o := fakeaws.Rates["ecs.RegisterTaskDefinition"], controllers.DefaultAWSRates["ecs.RegisterTaskDefinition"]
	return bound(a.PerSecond, a.Burst), bound(o.PerSecond, o.Burst)
}

func createAll(ctx context.Context, k8s client.Client, ns string, n int, intervalSeconds int32) error {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := atomic.Int64{}
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := k8s.Create(ctx, object(ns, i, intervalSeconds)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func object(ns string, i int, intervalSeconds int32) *streamingv1alpha1.StreamProcessor {
	name := fmt.Sprintf("sp-%04d", i)
	return &streamingv1alpha1.StreamProcessor{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: streamingv1alpha1.StreamProcessorSpec{
			Region: "us-east-1",
			Stream: streamingv1alpha1.StreamSpec{
				MinShards: 1, MaxShards: 8, DeletionPolicy: streamingv1alpha1.DeletionPolicyDelete,
				Tags: map[string]streamingv1alpha1.TagValue{"team": "data"},
			},
			ECS: streamingv1alpha1.ECSSpec{
				Cluster: "bench", Subnets: []string{"subnet-0123456789abcdef0"}, SecurityGroups: []string{"sg-0123456789abcdef0"},
				ExecutionRoleARN: "arn:aws:iam::123456789012:role/streaming-execution", TaskRoleARN: "arn:aws:iam::123456789012:role/streaming-task",
			},
			Producer: streamingv1alpha1.ProducerSpec{
				WorkloadSpec:   streamingv1alpha1.WorkloadSpec{Image: "example.com/producer:1", CPU: 512, Memory: 1024, MinTasks: 1, MaxTasks: 4},
				TargetGroupARN: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/" + name + "/0123456789abcdef",
			},
			Consumer: streamingv1alpha1.ConsumerSpec{
				WorkloadSpec: streamingv1alpha1.WorkloadSpec{Image: "example.com/consumer:1", CPU: 256, Memory: 512, MinTasks: 1, MaxTasks: 4},
			},
			Scaling: streamingv1alpha1.ScalingSpec{IntervalSeconds: intervalSeconds},
		},
	}
}

func countReady(ctx context.Context, k8s client.Client, ns string) (int, error) {
	list := &streamingv1alpha1.StreamProcessorList{}
	if err := k8s.List(ctx, list, client.InNamespace(ns)); err != nil {
		return 0, err
	}
	n := 0
	for i := range list.Items {
		if meta.IsStatusConditionTrue(list.Items[i].Status.Conditions, controllers.ConditionReady) {
			n++
		}
	}
	return n, nil
}

// reconcileTotal is controller-runtime's controller_runtime_reconcile_total
// summed over results.
func reconcileTotal() float64 {
	mfs, err := crmetrics.Registry.Gather()
	if err != nil {
		return 0
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += counterValue(m)
		}
	}
	return sum
}

func counterValue(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return 0
}

// vmHWM is the process's peak resident set (VmHWM) in MiB.
func vmHWM() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func printTable(r *result) {
	fmt.Printf("bench-operator: %d StreamProcessors, AWS latency %.0f ms/call, scaling interval %.0f s, client-side AWS rate limit %v\n\n",
		r.Objects, r.LatencyMs, r.IntervalSeconds, r.ClientRateLimit)
	fmt.Printf("%-44s %14s  %-28s %s\n", "figure", "value", "goal", "")
	row := func(name, value, goal, v string) { fmt.Printf("%-44s %14s  %-28s %s\n", name, value, goal, v) }
	converged := verdict(r.Converged && r.ConvergeSeconds <= 600)
	if converged == "MISSED" && r.ConvergeLowerBoundSeconds > 600 {
		converged = "impossible (see bound)"
	}
	row("all Ready after creation (s)", fmt.Sprintf("%.1f", r.ConvergeSeconds), "≤ 600", converged)
	row("  lower bound: RegisterTaskDefinition (s)", fmt.Sprintf("%.0f", r.ConvergeLowerBoundSeconds), fmt.Sprintf("(2×%d−burst)÷rate", r.Objects), "AWS's 1/s, burst 100")
	row("  lower bound at the operator's pace (s)", fmt.Sprintf("%.0f", r.ConvergeLowerBoundOperatorSeconds), "", "0.9/s, burst 50")
	if r.ReadyAtGoal >= 0 {
		row("Ready objects at 600 s", fmt.Sprintf("%d/%d", r.ReadyAtGoal, r.Objects), "all", verdict(r.ReadyAtGoal == r.Objects))
	}
	row("Ready objects at the end", fmt.Sprintf("%d/%d", r.Ready, r.Objects), "all", verdict(r.Ready == r.Objects))
	row("reconciles/s until all Ready", fmt.Sprintf("%.1f", r.ReconcilesPerSecond), "", "")
	row("reconciles/s in steady state", fmt.Sprintf("%.1f", r.SteadyReconcilesPerSecond), "", "")
	row("peak heap (MiB)", fmt.Sprintf("%.1f", r.PeakHeapMiB), "≤ 200", verdict(r.PeakHeapMiB <= 200))
	row("peak RSS (MiB, VmHWM)", fmt.Sprintf("%.1f", r.PeakRSSMiB), "", "")
	row("GetMetricData calls per interval", fmt.Sprintf("%d", r.GetMetricDataCallsPerInterval), fmt.Sprintf("≤ %d = ⌈%d×%d÷500⌉", r.GetMetricDataGoal, r.Objects, queriesPerObject), verdict(r.AWSCallsPerInterval != nil && r.GetMetricDataCallsPerInterval <= r.GetMetricDataGoal))
	row("throttled AWS calls in the interval", fmt.Sprintf("%d", r.ThrottledSteadyState), "0 in steady state", verdict(r.SteadyState && r.ThrottledSteadyState == 0))
	row("throttled AWS calls, whole run", fmt.Sprintf("%d", r.ThrottledAWSCalls), "", "")
	row("API-server requests per interval (manager)", fmt.Sprintf("%d", r.APIServerRequestsPerInterval), "", "")
	row("API-server requests, whole run (manager)", fmt.Sprintf("%d", r.APIServerRequestsTotal), "", "")
	window := "steady state"
	if !r.SteadyState {
		window = "NOT steady state: the last interval before the timeout"
	}
	fmt.Printf("\nAWS calls per interval (%s, %.0f s), by operation:\n", window, r.IntervalSeconds)
	for _, op := range fakeaws.Ops(r.AWSCallsPerInterval) {
		fmt.Printf("  %-40s %8d  (%.1f/s)\n", op, r.AWSCallsPerInterval[op], float64(r.AWSCallsPerInterval[op])/r.IntervalSeconds)
	}
	if len(r.ThrottledByOperation) > 0 {
		fmt.Println("Throttled calls over the whole run, by operation:")
		for _, op := range fakeaws.Ops(r.ThrottledByOperation) {
			fmt.Printf("  %-40s %8d\n", op, r.ThrottledByOperation[op])
		}
	}
	if r.Note != "" {
		fmt.Println("note:", r.Note)
	}
}
