// Command loop runs one short load schedule twice — through the local stack
// (`make dev`: the operator, local Fargate, the local ALB and the metered
// Kinesis) and through the simulator (internal/sim) with the same spec
// settings — and prints both timelines side by side, minute by minute:
// shards, producer and consumer tasks, throttled records and the MiB/s
// Kinesis accepted (`make bench-loop`).
//
//	loop -quiet-mibps 0.05 -load-mibps 3 -before 2 -load 5 -after 6
//	loop -sim-only
//
// The local side applies the demo's spec (a pass every 10 s, shards down
// after 1 minute, tasks after 30 s, 25 % target utilization, quarter-vCPU
// consumers at a 20 % CPU target) and puts the spec back afterwards. It
// samples the object's status every -every and reads the meter's AWS/Kinesis
// metrics (IncomingBytes, IncomingRecords, WriteProvisionedThroughputExceeded)
// and local Fargate's AWS/ECS CPUUtilization per minute from the CloudWatch
// emulator. The model runs with the settings read back from the object, the
// same start counts, and task capacities calibrated from the local CPU
// figures. docs/scaling.md explains the differences.
//
// It needs KUBECONFIG, LOCAL_PRODUCER_URL and the AWS endpoint variables of
// .local/env. Never run it while another load (make demo, the closed-loop
// test) uses the stack.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/demospec"
	"github.com/kdp-io/streamprocessor-operator/internal/loadgen"
	"github.com/kdp-io/streamprocessor-operator/internal/sim"
)

const mib = 1 << 20

type options struct {
	name, namespace, url         string
	quietMiBps, loadMiBps        float64
	before, load, after          int
	recordBytes, batch, conc     int
	every, settle                time.Duration
	simOnly                      bool
	simRecordBytes               float64
	producerMiBps, consumerMiBps float64
	seed                         uint64
}

func main() {
	var o options
	flag.StringVar(&o.name, "name", "clickstream", "StreamProcessor to drive")
	flag.StringVar(&o.namespace, "namespace", "default", "its namespace")
	flag.StringVar(&o.url, "url", os.Getenv("LOCAL_PRODUCER_URL"), "its producer's URL (default $LOCAL_PRODUCER_URL)")
	flag.Float64Var(&o.quietMiBps, "quiet-mibps", 0.05, "offered MiB/s before and after the load")
	flag.Float64Var(&o.loadMiBps, "load-mibps", 3, "offered MiB/s during the load (one shard takes 1)")
	flag.IntVar(&o.before, "before", 2, "quiet minutes before the load")
	flag.IntVar(&o.load, "load", 5, "minutes of load")
	flag.IntVar(&o.after, "after", 6, "quiet minutes after the load")
	flag.IntVar(&o.recordBytes, "record-bytes", 100, "bytes per record sent to the producer")
	flag.IntVar(&o.batch, "batch", 500, "records per POST /records")
	flag.IntVar(&o.conc, "concurrency", 256, "requests in flight at most")
	flag.DurationVar(&o.every, "every", 10*time.Second, "status sampling step on the local stack")
	flag.DurationVar(&o.settle, "settle", 3*time.Minute, "longest wait for the object to be Ready at its minimum counts before the load")
	flag.BoolVar(&o.simOnly, "sim-only", false, "run only the simulator (no stack needed)")
	flag.Float64Var(&o.simRecordBytes, "sim-record-bytes", 0, "model's Kinesis record size in bytes (0: as measured locally, IncomingBytes/IncomingRecords; 256 KiB with -sim-only)")
	flag.Float64Var(&o.producerMiBps, "sim-producer-mibps", 0, "model's MiB/s one producer task carries at 100% CPU (0: calibrated from AWS/ECS CPUUtilization; 2 with -sim-only)")
	flag.Float64Var(&o.consumerMiBps, "sim-consumer-mibps", 0, "model's MiB/s one consumer task carries at 100% CPU (0: calibrated; 16 with -sim-only)")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the model's CloudWatch delays")
	flag.Parse()
	if flag.NArg() > 0 || o.before < 0 || o.load < 1 || o.after < 0 || o.before+o.load+o.after > 15 {
		fmt.Fprintln(os.Stderr, "loop: want -before, -load (≥ 1) and -after minutes adding up to at most 15, and no arguments")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loop:", err)
		os.Exit(1)
	}
}

// schedule is the offered MiB/s of each minute.
func schedule(o options) []float64 {
	var s []float64
	for range o.before {
		s = append(s, o.quietMiBps)
	}
	for range o.load {
		s = append(s, o.loadMiBps)
	}
	for range o.after {
		s = append(s, o.quietMiBps)
	}
	return s
}

// sampleSpec is config/samples' StreamProcessor's scaling part, for -sim-only.
func sampleSpec() *streamingv1alpha1.StreamProcessor {
	sp := &streamingv1alpha1.StreamProcessor{}
	sp.Spec.Stream.MinShards, sp.Spec.Stream.MaxShards, sp.Spec.Stream.TargetUtilizationPercent = 1, 16, 70
	sp.Spec.Producer.MinTasks, sp.Spec.Producer.MaxTasks, sp.Spec.Producer.TargetCPUPercent = 1, 15, 65
	sp.Spec.Consumer.MinTasks, sp.Spec.Consumer.MaxTasks, sp.Spec.Consumer.TargetCPUPercent = 1, 15, 65
	sp.Spec.Consumer.MaxIteratorAgeSeconds = 60
	sp.Spec.Scaling.IntervalSeconds = 60
	demospec.Shorten(sp)
	return sp
}

// operatorSpec gives the model the spec's settings as the reconciler reads
// them (controllers/targets.go).
func operatorSpec(spec streamingv1alpha1.StreamProcessorSpec) sim.OperatorSpec {
	s := sim.OperatorSpec{
		MinShards: spec.Stream.MinShards, MaxShards: spec.Stream.MaxShards,
		TargetUtilization: float64(spec.Stream.TargetUtilizationPercent) / 100,
		ShardScaleDown:    time.Duration(spec.Scaling.ShardScaleDownSeconds) * time.Second,
		Interval:          time.Duration(spec.Scaling.IntervalSeconds) * time.Second,
		Producer:          sim.TaskSpec{MinTasks: spec.Producer.MinTasks, MaxTasks: spec.Producer.MaxTasks, TargetCPUPercent: float64(spec.Producer.TargetCPUPercent)},
		Consumer: sim.TaskSpec{MinTasks: spec.Consumer.MinTasks, MaxTasks: spec.Consumer.MaxTasks, TargetCPUPercent: float64(spec.Consumer.TargetCPUPercent),
			MaxIteratorAgeSeconds: float64(spec.Consumer.MaxIteratorAgeSeconds)},
	}
	if w := spec.Scaling.TaskScaleDownSeconds; w != nil {
		s.TaskScaleDown = ptr.To(time.Duration(*w) * time.Second)
	}
	return s
}

// row is one minute of one side.
type row struct {
	ok                                bool
	shards, prodRun, prodWant         int32
	consRun, consWant                 int32
	throttledPct, acceptedMiBps       float64
	updating                          bool
	calls                             int
	consumerCPU, producerCPU          float64
	incomingRecords, throttledRecords float64
}

// summary is one side's totals.
type summary struct {
	calls        int
	maxShards    int32
	taskMinutes  float64
	throttledPct float64
	acceptedMiB  float64
	refused      string // what the producers refused, as each side knows it
}

func run(ctx context.Context, o options, w io.Writer) error {
	sched := schedule(o)
	var local []row
	var localSum summary
	var note []string
	sp := sampleSpec()
	var start [3]int32 // shards, producers, consumers at the start
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	if !o.simOnly {
		if o.url == "" {
			return errors.New("no producer URL: source .local/env (LOCAL_PRODUCER_URL) or pass -url, or use -sim-only")
		}
		lr, err := runLocal(ctx, o, sched)
		if err != nil {
			return err
		}
		local, localSum, sp, start, t0, note = lr.rows, lr.sum, lr.sp, lr.start, lr.t0, lr.notes
		calibrate(&o, local, sched)
	}
	if o.simRecordBytes <= 0 {
		o.simRecordBytes = 256 << 10
	}
	if o.producerMiBps <= 0 {
		o.producerMiBps = 2
	}
	if o.consumerMiBps <= 0 {
		o.consumerMiBps = 16
	}
	model, modelSum := runModel(o, sched, sp, start, t0)

	fmt.Fprintf(w, "\nschedule: %d min at %.2f MiB/s, %d min at %.2f MiB/s, %d min at %.2f MiB/s (%d-byte records, %d a request)\n",
		o.before, o.quietMiBps, o.load, o.loadMiBps, o.after, o.quietMiBps, o.recordBytes, o.batch)
	s := sp.Spec
	fmt.Fprintf(w, "spec: shards %d–%d at %d%%, producers %d–%d at %d%% CPU, consumers %d–%d at %d%% CPU (cpu %d), pass every %ds, shard window %ds, task window %s\n",
		s.Stream.MinShards, s.Stream.MaxShards, s.Stream.TargetUtilizationPercent, s.Producer.MinTasks, s.Producer.MaxTasks, s.Producer.TargetCPUPercent,
		s.Consumer.MinTasks, s.Consumer.MaxTasks, s.Consumer.TargetCPUPercent, s.Consumer.CPU, s.Scaling.IntervalSeconds, s.Scaling.ShardScaleDownSeconds, taskWindow(s))
	from := "sized to minute 0 within the spec's bounds"
	if start[0] > 0 {
		from = fmt.Sprintf("%d shard(s), %d producer(s), %d consumer(s), as the object had", start[0], start[1], start[2])
	}
	fmt.Fprintf(w, "model: %.0f-byte Kinesis records; a producer task carries %.2f MiB/s and a consumer task %.2f MiB/s at 100%% CPU; start: %s\n",
		o.simRecordBytes, o.producerMiBps, o.consumerMiBps, from)
	for _, n := range note {
		fmt.Fprintln(w, n)
	}
	fmt.Fprintln(w)
	writeTable(w, sched, model, local, !o.simOnly)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "model: %s\n", modelSum)
	if !o.simOnly {
		fmt.Fprintf(w, "local: %s\n", localSum)
	}
	return nil
}

func taskWindow(s streamingv1alpha1.StreamProcessorSpec) string {
	if s.Scaling.TaskScaleDownSeconds == nil {
		return "default"
	}
	return fmt.Sprintf("%ds", *s.Scaling.TaskScaleDownSeconds)
}

func (s summary) String() string {
	return fmt.Sprintf("%d reshard calls, max %d shards, %.1f task-minutes (producers + consumers running), %.2f%% of Kinesis records throttled, %.1f MiB accepted by Kinesis; %s",
		s.calls, s.maxShards, s.taskMinutes, s.throttledPct, s.acceptedMiB, s.refused)
}

// runModel runs the schedule through the simulator with the spec's settings.
func runModel(o options, sched []float64, sp *streamingv1alpha1.StreamProcessor, start [3]int32, t0 time.Time) ([]row, summary) {
	peak := slices.Max(sched)
	tr := sim.Trace{Name: "loop", Start: t0, Source: "hack/bench/loop schedule"}
	for _, r := range sched {
		tr.Load = append(tr.Load, r/peak)
	}
	cfg := sim.DefaultConfig()
	cfg.PeakMiBps, cfg.RecordBytes, cfg.Seed, cfg.Timeline = peak, o.simRecordBytes, o.seed, true
	cfg.ProducerMiBpsPerTask, cfg.ConsumerMiBpsPerTask = o.producerMiBps, o.consumerMiBps
	cfg.TargetUtilization = float64(sp.Spec.Stream.TargetUtilizationPercent) / 100
	cfg.CompareUtilization = 0
	spec := operatorSpec(sp.Spec)
	spec.StartShards, spec.StartProducers, spec.StartConsumers = start[0], start[1], start[2]
	res := sim.Run(cfg, tr, sim.NewOperatorFor(cfg, spec))
	var rows []row
	var thr, tot float64
	sum := summary{calls: res.ReshardCalls, maxShards: res.MaxShards,
		refused: fmt.Sprintf("producers refused %.1f%% of the offered records (too few tasks)", res.ProducerRejectedPercent)}
	for _, m := range res.Timeline {
		r := row{ok: true, shards: m.OpenShards, updating: m.Updating, prodRun: m.ProducerRunning, prodWant: m.ProducerDesired,
			consRun: m.ConsumerRunning, consWant: m.ConsumerDesired, throttledPct: m.ThrottledPercent, acceptedMiBps: m.AcceptedMiBps,
			producerCPU: m.ProducerCPUPercent, consumerCPU: m.ConsumerCPUPercent}
		if m.ReshardTo > 0 {
			r.calls = 1
		}
		rows = append(rows, r)
		sum.taskMinutes += float64(m.ProducerRunning + m.ConsumerRunning)
		sum.acceptedMiB += m.AcceptedMiBps * 60
		recs := m.AcceptedMiBps * mib / o.simRecordBytes * 60
		if m.ThrottledPercent < 100 {
			th := recs * m.ThrottledPercent / (100 - m.ThrottledPercent)
			thr += th
			tot += recs + th
		}
	}
	if tot > 0 {
		sum.throttledPct = 100 * thr / tot
	}
	return rows, sum
}

// calibrate sets the model's record size and task capacities from the local
// run where the flags leave them at 0: the mean Kinesis record size, and
// MiB/s per task at 100 % CPU from IncomingBytes and CPUUtilization
// (medians over the minutes with load and CPU).
func calibrate(o *options, local []row, sched []float64) {
	var bytes, recs float64
	var prod, cons []float64
	for i, r := range local {
		if !r.ok {
			continue
		}
		bytes += r.acceptedMiBps * mib * 60
		recs += r.incomingRecords
		// What the producers passed on, not what was offered: the load
		// generator falls behind when kinesis-local is slow to answer.
		if sched[i] > o.quietMiBps && r.acceptedMiBps > 0.1 && r.prodRun > 0 && r.producerCPU > 0 {
			prod = append(prod, r.acceptedMiBps/(float64(r.prodRun)*r.producerCPU/100))
		}
		if r.acceptedMiBps > 0.1 && r.consRun > 0 && r.consumerCPU > 0 {
			cons = append(cons, r.acceptedMiBps/(float64(r.consRun)*r.consumerCPU/100))
		}
	}
	if o.simRecordBytes <= 0 && recs > 0 {
		o.simRecordBytes = bytes / recs
	}
	if o.producerMiBps <= 0 && len(prod) > 0 {
		o.producerMiBps = median(prod)
	}
	if o.consumerMiBps <= 0 && len(cons) > 0 {
		o.consumerMiBps = median(cons)
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	return s[len(s)/2]
}

func writeTable(w io.Writer, sched []float64, model, local []row, withLocal bool) {
	side := func(r row) string {
		if !r.ok {
			return fmt.Sprintf("%6s %7s %7s %6s %6s", "-", "-", "-", "-", "-")
		}
		sh := fmt.Sprintf("%d", r.shards)
		if r.updating {
			sh += "u"
		}
		if r.calls > 0 {
			sh += "*"
		}
		return fmt.Sprintf("%6s %7s %7s %6.1f %6.2f", sh, fmt.Sprintf("%d/%d", r.prodRun, r.prodWant),
			fmt.Sprintf("%d/%d", r.consRun, r.consWant), r.throttledPct, r.acceptedMiBps)
	}
	head := fmt.Sprintf("%6s %7s %7s %6s %6s", "shards", "prod", "cons", "thr%", "MiB/s")
	if withLocal {
		fmt.Fprintf(w, "%3s %7s │ %-36s │ %-36s\n", "", "", "model (internal/sim)", "local stack")
		fmt.Fprintf(w, "%3s %7s │ %s │ %s\n", "min", "offered", head, head)
	} else {
		fmt.Fprintf(w, "%3s %7s │ %-36s\n", "", "", "model (internal/sim)")
		fmt.Fprintf(w, "%3s %7s │ %s\n", "min", "offered", head)
	}
	for i, off := range sched {
		var m, l row
		if i < len(model) {
			m = model[i]
		}
		if i < len(local) {
			l = local[i]
		}
		if withLocal {
			fmt.Fprintf(w, "%3d %7.2f │ %s │ %s\n", i, off, side(m), side(l))
		} else {
			fmt.Fprintf(w, "%3d %7.2f │ %s\n", i, off, side(m))
		}
	}
	fmt.Fprintln(w, "shards: open shards (model: during the minute, u = UPDATING; local: at the minute's last sample); * = a reshard call; tasks running/desired;")
	fmt.Fprintln(w, "thr% = WriteProvisionedThroughputExceeded / (IncomingRecords + it); MiB/s = IncomingBytes / 60")
}

// localRun is what the local side measured.
type localRun struct {
	rows  []row
	sum   summary
	sp    *streamingv1alpha1.StreamProcessor
	start [3]int32
	t0    time.Time
	notes []string
}

// sample is one look at the object's status.
type sample struct {
	at                                   time.Time
	ready                                bool
	open, target                         int32
	prodRun, prodWant, consRun, consWant int32
	reshards                             []time.Time
	reason                               string
}

func look(ctx context.Context, c client.Client, key types.NamespacedName) (sample, *streamingv1alpha1.StreamProcessor, error) {
	sp := &streamingv1alpha1.StreamProcessor{}
	if err := c.Get(ctx, key, sp); err != nil {
		return sample{}, nil, err
	}
	st := sp.Status
	s := sample{at: time.Now(), open: st.Stream.OpenShards, target: st.Stream.TargetShards,
		prodRun: st.Producer.RunningTasks, prodWant: st.Producer.DesiredTasks,
		consRun: st.Consumer.RunningTasks, consWant: st.Consumer.DesiredTasks}
	for _, t := range st.Stream.Reshards {
		s.reshards = append(s.reshards, t.Time)
	}
	if cond := meta.FindStatusCondition(st.Conditions, "Ready"); cond != nil {
		s.ready = cond.Status == "True"
	}
	if d := st.LastDecision; d != nil {
		s.reason = d.Reason
	}
	return s, sp, nil
}

func runLocal(ctx context.Context, o options, sched []float64) (localRun, error) {
	var lr localRun
	scheme := runtime.NewScheme()
	if err := streamingv1alpha1.AddToScheme(scheme); err != nil {
		return lr, err
	}
	kcfg, err := ctrl.GetConfig()
	if err != nil {
		return lr, fmt.Errorf("kubeconfig: %w (source .local/env)", err)
	}
	c, err := client.New(kcfg, client.Options{Scheme: scheme})
	if err != nil {
		return lr, err
	}
	key := types.NamespacedName{Namespace: o.namespace, Name: o.name}
	restore, err := demospec.Apply(ctx, c, key)
	if err != nil {
		return lr, err
	}
	defer restore()

	// Wait until Ready at the minimum counts (the previous load's tasks and
	// shards gone), at most -settle; then start on a minute boundary, so
	// that schedule minutes are CloudWatch's minutes.
	settleBy := time.Now().Add(o.settle)
	var first sample
	var sp *streamingv1alpha1.StreamProcessor
	for {
		s, obj, err := look(ctx, c, key)
		if err == nil {
			first, sp = s, obj
			spec := obj.Spec
			if s.ready && s.open == spec.Stream.MinShards && s.target == s.open && s.prodWant == spec.Producer.MinTasks &&
				s.consWant == spec.Consumer.MinTasks && s.prodRun == s.prodWant && s.consRun == s.consWant {
				break
			}
			fmt.Fprintf(os.Stderr, "loop: waiting for %s to settle: ready %v, shards %d/%d, producers %d/%d, consumers %d/%d\n",
				key, s.ready, s.open, s.target, s.prodRun, s.prodWant, s.consRun, s.consWant)
		}
		if time.Now().After(settleBy) {
			if sp == nil {
				return lr, fmt.Errorf("cannot read %s: %v", key, err)
			}
			lr.notes = append(lr.notes, fmt.Sprintf("note: %s was not at its minimum counts after %v; both sides start from the counts it had", key, o.settle))
			break
		}
		if err := sleep(ctx, 5*time.Second); err != nil {
			return lr, err
		}
	}
	lr.sp = sp
	lr.start = [3]int32{max(first.open, 1), max(first.prodRun, 1), max(first.consRun, 1)}
	t0 := time.Now().Truncate(time.Minute).Add(time.Minute)
	if time.Until(t0) < 10*time.Second {
		t0 = t0.Add(time.Minute)
	}
	lr.t0 = t0
	total := time.Duration(len(sched)) * time.Minute
	fmt.Fprintf(os.Stderr, "loop: %s Ready with %d shard(s), %d producer(s), %d consumer(s); load starts at %s and lasts %v\n",
		key, first.open, first.prodRun, first.consRun, t0.Format("15:04:05"), total)
	if err := sleep(ctx, time.Until(t0)); err != nil {
		return lr, err
	}

	loadCtx, stopLoad := context.WithDeadline(ctx, t0.Add(total))
	defer stopLoad()
	var wg sync.WaitGroup
	var sum loadgen.Summary
	var loadErr error
	wg.Go(func() {
		sum, loadErr = loadgen.Run(loadCtx, loadgen.Options{
			URL: o.url, Batch: o.batch, RecordBytes: o.recordBytes, Concurrency: o.conc,
			Schedule: func(el time.Duration) float64 {
				m := int(el / time.Minute)
				if m >= len(sched) {
					return -1
				}
				return sched[m] * mib / float64(o.recordBytes)
			},
			Duration: total,
		})
	})
	var samples []sample
	tick := time.NewTicker(o.every)
	defer tick.Stop()
	for {
		if s, _, err := look(ctx, c, key); err == nil {
			samples = append(samples, s)
			fmt.Fprintf(os.Stderr, "%6s shards %d/%d producers %d/%d consumers %d/%d | %s\n", s.at.Sub(t0).Round(time.Second),
				s.open, s.target, s.prodRun, s.prodWant, s.consRun, s.consWant, trim(s.reason, 140))
		}
		if !time.Now().Before(t0.Add(total)) {
			break
		}
		select {
		case <-ctx.Done():
			return lr, ctx.Err()
		case <-tick.C:
		}
	}
	stopLoad()
	wg.Wait()
	fmt.Fprintf(os.Stderr, "loop: load done: %s\n", sum)
	if loadErr != nil {
		lr.notes = append(lr.notes, fmt.Sprintf("note: load generator: %v", loadErr))
	}
	lr.notes = append(lr.notes, fmt.Sprintf("local load: %s", sum))
	lr.sum.refused = fmt.Sprintf("load generator: %d records acknowledged, %d answered 429/503", sum.Acknowledged, sum.Throttled())

	// The meter publishes a minute once it closes; read them all.
	stream := sp.Status.Stream.Name
	svc := map[string]string{"producer": sp.Status.Producer.ServiceName, "consumer": sp.Status.Consumer.ServiceName}
	var cw metrics
	for deadline := time.Now().Add(3 * time.Minute); ; {
		if err := sleep(ctx, 20*time.Second); err != nil {
			return lr, err
		}
		cw, err = readMetrics(ctx, sp.Spec.Region, stream, sp.Spec.ECS.Cluster, svc, t0, len(sched))
		if err == nil && cw.have(len(sched)-1) {
			break
		}
		if time.Now().After(deadline) {
			if err != nil {
				return lr, fmt.Errorf("CloudWatch: %w", err)
			}
			lr.notes = append(lr.notes, "note: the last minute's AWS/Kinesis metrics were not published within 3 minutes")
			break
		}
	}
	refused := lr.sum.refused
	lr.rows, lr.sum = localRows(samples, cw, t0, len(sched))
	lr.sum.refused = refused
	return lr, nil
}

func trim(s string, n int) string {
	if len(s) > n {
		return s[:n-3] + "..."
	}
	return s
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// metrics are the per-minute series read back, keyed by minute index.
type metrics struct {
	bytes, recs, throttled, prodCPU, consCPU map[int]float64
}

func (m metrics) have(i int) bool { _, ok := m.bytes[i]; return ok }

func readMetrics(ctx context.Context, region, stream, cluster string, svc map[string]string, t0 time.Time, n int) (metrics, error) {
	cfg, err := awsconfig.Load(ctx, region)
	if err != nil {
		return metrics{}, err
	}
	cw := cloudwatch.NewFromConfig(cfg, awsconfig.CloudWatchQueryProtocol)
	q := func(id, ns, name, stat string, dims ...cwtypes.Dimension) cwtypes.MetricDataQuery {
		return cwtypes.MetricDataQuery{Id: aws.String(id), MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{Namespace: aws.String(ns), MetricName: aws.String(name), Dimensions: dims},
			Period: aws.Int32(60), Stat: aws.String(stat)}}
	}
	dim := func(k, v string) cwtypes.Dimension {
		return cwtypes.Dimension{Name: aws.String(k), Value: aws.String(v)}
	}
	sd := dim("StreamName", stream)
	in := &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(t0), EndTime: aws.Time(t0.Add(time.Duration(n) * time.Minute)),
		ScanBy: cwtypes.ScanByTimestampAscending,
		MetricDataQueries: []cwtypes.MetricDataQuery{
			q("bytes", "AWS/Kinesis", "IncomingBytes", "Sum", sd),
			q("recs", "AWS/Kinesis", "IncomingRecords", "Sum", sd),
			q("throttled", "AWS/Kinesis", "WriteProvisionedThroughputExceeded", "Sum", sd),
			q("prodcpu", "AWS/ECS", "CPUUtilization", "Average", dim("ClusterName", cluster), dim("ServiceName", svc["producer"])),
			q("conscpu", "AWS/ECS", "CPUUtilization", "Average", dim("ClusterName", cluster), dim("ServiceName", svc["consumer"])),
		},
	}
	m := metrics{bytes: map[int]float64{}, recs: map[int]float64{}, throttled: map[int]float64{}, prodCPU: map[int]float64{}, consCPU: map[int]float64{}}
	into := map[string]map[int]float64{"bytes": m.bytes, "recs": m.recs, "throttled": m.throttled, "prodcpu": m.prodCPU, "conscpu": m.consCPU}
	for {
		out, err := cw.GetMetricData(ctx, in)
		if err != nil {
			return metrics{}, err
		}
		for _, r := range out.MetricDataResults {
			dst := into[aws.ToString(r.Id)]
			for i, ts := range r.Timestamps {
				k := int(ts.Sub(t0) / time.Minute)
				if i < len(r.Values) && k >= 0 && k < n && !ts.Before(t0) {
					dst[k] += r.Values[i]
				}
			}
		}
		if out.NextToken == nil {
			return m, nil
		}
		in.NextToken = out.NextToken
	}
}

// localRows turns the samples and the metrics into one row a minute: the
// counts at the minute's last sample, the minute's metrics.
func localRows(samples []sample, cw metrics, t0 time.Time, n int) ([]row, summary) {
	rows := make([]row, n)
	var sum summary
	var thr, tot float64
	seen := map[time.Time]bool{}
	for i, s := range samples {
		k := int(s.at.Sub(t0) / time.Minute)
		if s.at.Before(t0) || k >= n {
			continue
		}
		r := &rows[k]
		r.ok, r.shards, r.prodRun, r.prodWant, r.consRun, r.consWant = true, s.open, s.prodRun, s.prodWant, s.consRun, s.consWant
		r.updating = s.target != s.open
		sum.maxShards = max(sum.maxShards, s.open)
		next := t0.Add(time.Duration(n) * time.Minute)
		if i+1 < len(samples) && samples[i+1].at.Before(next) {
			next = samples[i+1].at
		}
		sum.taskMinutes += float64(s.prodRun+s.consRun) * next.Sub(s.at).Minutes()
		for _, at := range s.reshards {
			if !at.Before(t0) && !seen[at] {
				seen[at] = true
				if j := int(at.Sub(t0) / time.Minute); j < n {
					rows[j].calls++
				}
			}
		}
	}
	// Counting from the first sample on: the time before it (under 10 s)
	// at the first sample's counts.
	if len(samples) > 0 && samples[0].at.After(t0) {
		sum.taskMinutes += float64(samples[0].prodRun+samples[0].consRun) * samples[0].at.Sub(t0).Minutes()
	}
	sum.calls = len(seen)
	for k := range rows {
		r := &rows[k]
		b, ok := cw.bytes[k]
		if !ok {
			continue
		}
		r.ok = true
		r.acceptedMiBps = b / 60 / mib
		r.incomingRecords, r.throttledRecords = cw.recs[k], cw.throttled[k]
		r.producerCPU, r.consumerCPU = cw.prodCPU[k], cw.consCPU[k]
		if all := r.incomingRecords + r.throttledRecords; all > 0 {
			r.throttledPct = 100 * r.throttledRecords / all
		}
		thr += r.throttledRecords
		tot += r.incomingRecords + r.throttledRecords
		sum.acceptedMiB += b / mib
	}
	if tot > 0 {
		sum.throttledPct = 100 * thr / tot
	}
	return rows, sum
}
