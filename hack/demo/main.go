// Command demo shows the local pipeline scaling itself (`make demo`): it
// drives a StreamProcessor that runs on the local stack with a load of a few
// times one shard's write limit until the operator has made at least two
// accepted reshard calls and started more consumer tasks, stops the load, and
// waits for the counts to come back down — printing a timeline of shards,
// tasks, throttling and the operator's reasons every few seconds. It stops by
// itself (-deadline, 15 minutes by default) and exits 0 only when it saw the
// whole round trip.
//
//	demo -name clickstream -namespace default -mibps 3
//
// It needs KUBECONFIG and LOCAL_PRODUCER_URL (from .local/env); hack/demo.sh
// starts the stack and the operator when they are not running and applies the
// demo's spec (short stabilization windows) first.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/demospec"
	"github.com/kdp-io/streamprocessor-operator/internal/loadgen"
)

type options struct {
	name, namespace, url string
	mibps                float64
	recordBytes, batch   int
	concurrency          int
	every, loadMax       time.Duration
	deadline             time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.name, "name", "clickstream", "StreamProcessor to drive")
	flag.StringVar(&o.namespace, "namespace", "default", "its namespace")
	flag.StringVar(&o.url, "url", os.Getenv("LOCAL_PRODUCER_URL"), "its producer's URL (default $LOCAL_PRODUCER_URL)")
	flag.Float64Var(&o.mibps, "mibps", 3, "load while it lasts, MiB/s of record data (one shard takes 1)")
	flag.IntVar(&o.recordBytes, "record-bytes", 100, "bytes per record")
	flag.IntVar(&o.batch, "batch", 500, "records per POST /records")
	flag.IntVar(&o.concurrency, "concurrency", 256, "requests in flight at most (durable acknowledgements wait for Kinesis)")
	flag.DurationVar(&o.every, "every", 10*time.Second, "timeline step")
	flag.DurationVar(&o.loadMax, "load-max", 6*time.Minute, "longest the load lasts")
	flag.DurationVar(&o.deadline, "deadline", 15*time.Minute, "the demo ends by then, whatever happened")
	flag.Parse()
	if o.url == "" {
		fmt.Fprintln(os.Stderr, "demo: no producer URL: source .local/env (LOCAL_PRODUCER_URL) or pass -url")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

// counts is one look at the StreamProcessor.
type counts struct {
	ready                          bool
	open, target                   int32
	prodRun, prodWant              int32
	consRun, consWant              int32
	reshards                       int
	throttledPct, mibps, reason    string
	lastDecision                   time.Time
	readyMessage                   string
	minShards, minConsumers, maxCo int32
}

func look(ctx context.Context, c client.Client, key types.NamespacedName) (counts, error) {
	sp := &streamingv1alpha1.StreamProcessor{}
	if err := c.Get(ctx, key, sp); err != nil {
		return counts{}, err
	}
	st := sp.Status
	k := counts{
		open: st.Stream.OpenShards, target: st.Stream.TargetShards, reshards: len(st.Stream.Reshards),
		prodRun: st.Producer.RunningTasks, prodWant: st.Producer.DesiredTasks,
		consRun: st.Consumer.RunningTasks, consWant: st.Consumer.DesiredTasks,
		minShards: sp.Spec.Stream.MinShards, minConsumers: sp.Spec.Consumer.MinTasks,
	}
	if c := meta.FindStatusCondition(st.Conditions, "Ready"); c != nil {
		k.ready, k.readyMessage = c.Status == "True", c.Message
	}
	if d := st.LastDecision; d != nil {
		k.throttledPct, k.mibps, k.reason, k.lastDecision = d.Inputs["throttledPercent"], d.Inputs["incomingMiBPerSec"], d.Reason, d.Time.Time
	}
	return k, nil
}

// run is the demo: wait for Ready, load until the pipeline has scaled up,
// stop, wait for it to scale down. It reports whether it saw all of it.
func run(ctx context.Context, o options) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, o.deadline)
	defer cancel()
	scheme := runtime.NewScheme()
	if err := streamingv1alpha1.AddToScheme(scheme); err != nil {
		return false, err
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return false, fmt.Errorf("kubeconfig: %w (source .local/env)", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return false, err
	}
	key := types.NamespacedName{Namespace: o.namespace, Name: o.name}
	restore, err := demospec.Apply(ctx, c, key)
	if err != nil {
		return false, err
	}
	defer restore()
	start := time.Now()
	tl := &timeline{start: start}

	first, err := waitReady(ctx, c, key, tl, o.every)
	if err != nil {
		return false, err
	}
	reshards0 := first.reshards
	fmt.Printf("demo: %s/%s is Ready with %d shard(s) and %d consumer task(s); loading %.1f MiB/s (%d-byte records, %d a request) at %s\n",
		o.namespace, o.name, first.open, first.consRun, o.mibps, o.recordBytes, o.batch, o.url)

	// Load until the operator made two accepted reshard calls and raised the
	// consumers, or load-max.
	loadCtx, stopLoad := context.WithTimeout(ctx, o.loadMax)
	defer stopLoad()
	var wg sync.WaitGroup
	var summary loadgen.Summary
	var progress progressLine
	wg.Go(func() {
		summary, _ = loadgen.Run(loadCtx, loadgen.Options{
			URL: o.url, Batch: o.batch, RecordBytes: o.recordBytes, Concurrency: o.concurrency,
			Schedule: loadgen.Fixed(o.mibps * (1 << 20) / float64(o.recordBytes)),
			Progress: &progress, ProgressEvery: time.Second, Duration: o.loadMax,
		})
	})
	var peak counts
	scaledUp := func(k counts) bool {
		return k.reshards-reshards0 >= 2 && k.consWant > first.consWant
	}
	tick := time.NewTicker(o.every)
	defer tick.Stop()
loading:
	for {
		select {
		case <-loadCtx.Done():
			break loading
		case <-tick.C:
		}
		if k, err := look(ctx, c, key); err == nil {
			peak = maxCounts(peak, k)
			tl.row("load", k, progress.last())
			if scaledUp(peak) {
				stopLoad()
			}
		}
	}
	wg.Wait()
	fmt.Printf("demo: load stopped: %s\n", summary)

	// The way down: until shards and consumers are back at their minimums.
	var last counts
quiet:
	for {
		select {
		case <-ctx.Done():
			break quiet
		case <-tick.C:
		}
		k, err := look(ctx, c, key)
		if err != nil {
			continue
		}
		last = k
		peak = maxCounts(peak, k)
		tl.row("quiet", k, "")
		if k.open == k.minShards && k.target == k.minShards && k.consWant == k.minConsumers {
			break
		}
	}
	up := scaledUp(peak)
	down := last.minShards > 0 && last.open == last.minShards && last.consWant == last.minConsumers && peak.open > last.open
	fmt.Printf("\ndemo: %d accepted reshard calls, shards %d → %d → %d, consumer tasks %d → %d → %d, %d records acknowledged in %s\n",
		max(peak.reshards, last.reshards)-reshards0, first.open, peak.open, last.open,
		first.consWant, peak.maxCo, last.consWant, summary.Acknowledged, time.Since(start).Round(time.Second))
	fmt.Printf("demo: scaled up under load: %v; back down after it: %v\n", up, down)
	return up && down, nil
}

func maxCounts(a, b counts) counts {
	b.open, b.target = max(a.open, b.open), max(a.target, b.target)
	b.maxCo = max(a.maxCo, b.consWant, b.consRun)
	b.reshards = max(a.reshards, b.reshards)
	b.consWant = max(a.consWant, b.consWant)
	return b
}

// waitReady prints rows until the StreamProcessor is Ready.
func waitReady(ctx context.Context, c client.Client, key types.NamespacedName, tl *timeline, every time.Duration) (counts, error) {
	tick := time.NewTicker(every / 2)
	defer tick.Stop()
	for {
		k, err := look(ctx, c, key)
		if err == nil && k.ready {
			return k, nil
		}
		if err == nil {
			tl.row("wait", k, k.readyMessage)
		}
		select {
		case <-ctx.Done():
			return counts{}, fmt.Errorf("%s did not become Ready: %v (last: %s)", key, ctx.Err(), k.readyMessage)
		case <-tick.C:
		}
	}
}

// timeline prints one row per look, with a header every 20 rows.
type timeline struct {
	start time.Time
	rows  int
}

func (t *timeline) row(phase string, k counts, note string) {
	if t.rows%20 == 0 {
		fmt.Printf("%6s %-5s %8s %9s %9s %8s %9s  %s\n", "t", "phase", "shards", "producers", "consumers", "MiB/s", "throttled", "operator's last reason / load")
	}
	t.rows++
	reason := k.reason
	if note != "" {
		reason = note + " | " + reason
	}
	if len(reason) > 150 {
		reason = reason[:147] + "..."
	}
	fmt.Printf("%6s %-5s %8s %9s %9s %8s %9s  %s\n", time.Since(t.start).Round(time.Second), phase,
		fmt.Sprintf("%d/%d", k.open, k.target), fmt.Sprintf("%d/%d", k.prodRun, k.prodWant),
		fmt.Sprintf("%d/%d", k.consRun, k.consWant), orDash(k.mibps), orDash(k.throttledPct)+"%", reason)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// progressLine keeps the load generator's newest progress line.
type progressLine struct {
	mu   sync.Mutex
	line string
}

func (p *progressLine) Write(b []byte) (int, error) {
	p.mu.Lock()
	p.line = strings.Join(strings.Fields(string(b)), " ")
	p.mu.Unlock()
	return len(b), nil
}

func (p *progressLine) last() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.line
}
