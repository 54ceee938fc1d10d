// Command consumer benchmarks the consumer against the local emulators
// (kinesis-local, dynalite): records/s for one worker on one shard with
// 100-byte KPL-aggregated user records, and lease takeover time after a crash
// and after a graceful stop. It prints a table and exits; it never passes or
// fails on the numbers.
//
//	hack/emulators.sh up && source .local/emulators.env && go run ./hack/bench/consumer
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/internal/compatfixtures"
	"github.com/kdp-io/streamprocessor-operator/workloads/consumer"
	"github.com/kdp-io/streamprocessor-operator/workloads/kcl"
	"github.com/kdp-io/streamprocessor-operator/workloads/kpl"
)

type bench struct {
	kin *kinesis.Client
	db  *dynamodb.Client
	log *slog.Logger
}

func main() {
	records := flag.Int("records", 200_000, "user records for the throughput runs")
	perAgg := flag.Int("per-aggregate", 400, "user records per aggregated Kinesis record (~40 KB)")
	leaseDuration := flag.Duration("lease-duration", 10*time.Second, "lease duration for the takeover runs (the consumer's default)")
	runs := flag.Int("runs", 3, "repetitions of each takeover measurement")
	kclpy := flag.String("kclpy", "", "directory of the compat fixtures (holding amazon_kclpy/) for the MultiLang row; default: found as the tests find them (SP_COMPAT_DIR, shared/compat above the checkout, ~/.cache/streamprocessor-operator/compat)")
	flag.Parse()
	for _, v := range []string{"AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL_DYNAMODB"} {
		if os.Getenv(v) == "" {
			fmt.Fprintf(os.Stderr, "%s is not set: run `hack/emulators.sh up && source .local/emulators.env` first\n", v)
			os.Exit(2)
		}
	}
	ctx := context.Background()
	cfg, err := awsconfig.Load(ctx, "")
	if err != nil {
		fail(err)
	}
	b := &bench{kin: kinesis.NewFromConfig(cfg), db: dynamodb.NewFromConfig(cfg), log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measurement\tvalue\tunit\tnotes\t")

	libRate, err := b.throughput(*records, *perAgg)
	if err != nil {
		fail(err)
	}
	fmt.Fprintf(tw, "throughput, kcl library, no-op processor\t%.0f\trecords/s\tdrain of a 1-shard backlog, start to last record: %d x 100 B user records, %d per aggregate\t\n", libRate, *records, *perAgg)
	memRate, err := b.memThroughput(*records, *perAgg)
	if err != nil {
		fail(err)
	}
	fmt.Fprintf(tw, "throughput, kcl library, in-memory Kinesis double\t%.0f\trecords/s\tsame records without the emulator: the library's own ceiling (leases on dynalite)\t\n", memRate)
	svcRate, svcCPU, err := b.serviceThroughput(*records, *perAgg, nil)
	if err != nil {
		fail(err)
	}
	fmt.Fprintf(tw, "throughput, consumer service, JSON lines to /dev/null\t%.0f\trecords/s\tsame input; checkpoint after every batch; CPU %.2f s per 10k records\t\n", svcRate, svcCPU)
	if cmd, why := multiLangCommand(*kclpy); cmd == nil {
		fmt.Fprintf(tw, "throughput, consumer service, MultiLang no-op Python processor\t-\trecords/s\tnot run: %s\t\n", why)
	} else {
		mlRate, mlCPU, err := b.serviceThroughput(*records, *perAgg, cmd)
		if err != nil {
			fail(err)
		}
		fmt.Fprintf(tw, "throughput, consumer service, MultiLang no-op Python processor\t%.0f\trecords/s\tsame input through amazon_kclpy (hack/bench/consumer/noop_processor.py); checkpoints only when the consumer stops; CPU %.2f s per 10k records, consumer + python\t\n", mlRate, mlCPU)
	}
	for _, graceful := range []bool{false, true} {
		if *runs < 1 {
			break
		}
		var ds []time.Duration
		for i := 0; i < *runs; i++ {
			d, err := b.takeover(*leaseDuration, graceful)
			if err != nil {
				fail(err)
			}
			ds = append(ds, d)
		}
		name := "lease takeover after crash (kill, no release)"
		if graceful {
			name = "lease takeover after graceful stop"
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		fmt.Fprintf(tw, "%s\t%.2f\ts (median)\tmin %.2f, max %.2f over %d runs; 2 shards move; lease duration %v\t\n",
			name, ds[len(ds)/2].Seconds(), ds[0].Seconds(), ds[len(ds)-1].Seconds(), len(ds), *leaseDuration)
	}
	_ = tw.Flush()
}

func (b *bench) dropTable(name string) {
	_, _ = b.db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench-consumer:", err)
	os.Exit(1)
}

func (b *bench) stream(shards int32) (string, func(), error) {
	ctx := context.Background()
	name := fmt.Sprintf("bench-consumer-%d", time.Now().UnixNano()%1_000_000_000)
	if _, err := b.kin.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)}); err != nil {
		return "", nil, fmt.Errorf("create stream: %w", err)
	}
	cleanup := func() {
		_, _ = b.kin.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: aws.String(name)})
		_, _ = b.db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name + "-app")})
	}
	for i := 0; ; i++ {
		out, err := b.kin.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == ktypes.StreamStatusActive {
			return name, cleanup, nil
		}
		if i > 300 {
			cleanup()
			return "", nil, fmt.Errorf("stream %s not ACTIVE", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// aggregate is the KPL aggregate of the bench's user records from to to-1:
// 100 bytes each (the record number, then padding), keys k0…k999; it
// returns the aggregate and the partition key of its first record.
func aggregate(from, to int) ([]byte, string, error) {
	payload := strings.Repeat("x", 90)
	var users []kpl.UserRecord
	for j := from; j < to; j++ {
		users = append(users, kpl.UserRecord{PartitionKey: fmt.Sprintf("k%d", j%1000), Data: []byte(fmt.Sprintf("%-10d%s", j, payload))})
	}
	data, err := kpl.Encode(users)
	return data, users[0].PartitionKey, err
}

// fill writes n 100-byte user records, perAgg to an aggregated Kinesis record.
func (b *bench) fill(stream string, n, perAgg int) error {
	var entries []ktypes.PutRecordsRequestEntry
	flush := func() error {
		if len(entries) == 0 {
			return nil
		}
		out, err := b.kin.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
		if err != nil {
			return fmt.Errorf("put records: %w", err)
		}
		if aws.ToInt32(out.FailedRecordCount) > 0 {
			return fmt.Errorf("put records: %d failed", aws.ToInt32(out.FailedRecordCount))
		}
		entries = nil
		return nil
	}
	for i := 0; i < n; i += perAgg {
		data, key, err := aggregate(i, min(i+perAgg, n))
		if err != nil {
			return err
		}
		entries = append(entries, ktypes.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String(key)})
		if len(entries) == 20 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

type countingProcessor struct {
	n           *atomic.Int64
	first, last *atomic.Int64 // unix nanos
}

func (p *countingProcessor) Initialize(*kcl.InitializationInput) {}

var verbose = flag.Bool("v", false, "print every batch of the library throughput run")

func (p *countingProcessor) ProcessRecords(in *kcl.ProcessRecordsInput) {
	if *verbose {
		fmt.Fprintf(os.Stderr, "%s batch %d records, millisBehindLatest %d\n", time.Now().Format("15:04:05.000"), len(in.Records), in.MillisBehindLatest)
	}
	p.first.CompareAndSwap(0, time.Now().UnixNano())
	_ = in.Checkpointer.Checkpoint(nil)
	// last before the count: the bench reads last as soon as the count is
	// complete (the other order read 0 when one batch held every record).
	p.last.Store(time.Now().UnixNano())
	p.n.Add(int64(len(in.Records)))
}
func (p *countingProcessor) Shutdown(*kcl.ShutdownInput) {}

// throughput measures user records/s from the first delivered batch to the
// last, for the bare library.
func (b *bench) throughput(n, perAgg int) (float64, error) {
	stream, cleanup, err := b.stream(1)
	if err != nil {
		return 0, err
	}
	defer cleanup()
	if err := b.fill(stream, n, perAgg); err != nil {
		return 0, err
	}
	var count, first, last atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := kcl.NewWorker(kcl.Config{ApplicationName: stream + "-app", StreamName: stream, WorkerID: "bench", Logger: b.log},
		kcl.ProcessorFactoryFunc(func() kcl.RecordProcessor { return &countingProcessor{n: &count, first: &first, last: &last} }), b.kin, b.db)
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	if err := w.Start(ctx); err != nil {
		return 0, err
	}
	deadline := time.Now().Add(5 * time.Minute)
	for count.Load() < int64(n) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if count.Load() < int64(n) {
		return 0, fmt.Errorf("only %d of %d records consumed in 5 minutes", count.Load(), n)
	}
	return float64(n) / time.Unix(0, last.Load()).Sub(t0).Seconds(), nil
}

// serviceThroughput measures the whole consumer service's user records/s
// from its start until every record is processed, and the CPU it used per
// 10,000 records (this process and, for MultiLang, its processor
// subprocesses, counted once they have exited at the service's stop). A nil
// processor command is the built-in JSON-lines mode.
func (b *bench) serviceThroughput(n, perAgg int, processor []string) (rate, cpuPer10k float64, err error) {
	stream, cleanup, err := b.stream(1)
	if err != nil {
		return 0, 0, err
	}
	defer cleanup()
	if err := b.fill(stream, n, perAgg); err != nil {
		return 0, 0, err
	}
	cfg := consumer.Config{StreamName: stream, ApplicationName: stream + "-app", WorkerID: "bench", StartPosition: kcl.TrimHorizon,
		Output: os.DevNull, LeaseDuration: 10 * time.Second, ShardSyncInterval: time.Minute, PollInterval: time.Second,
		MaxRecords: 10000, RetryAttempts: 3, RetryBackoff: 100 * time.Millisecond, HTTPAddr: "127.0.0.1:0",
		CloudWatchInterval: time.Minute, ShutdownTimeout: 10 * time.Second, ProcessorCommand: processor}
	if processor != nil {
		cfg.Output = "-"
	}
	svc, err := consumer.New(cfg, consumer.Deps{Kinesis: b.kin, DynamoDB: b.db, Logger: b.log})
	if err != nil {
		return 0, 0, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	cpu0 := cpuSeconds()
	t0 := time.Now()
	go func() { done <- svc.Run(ctx) }()
	rate, err = drainRate(t0, n, func() int64 { return int64(svc.Metrics().Processed()) })
	cancel()
	<-done
	return rate, (cpuSeconds() - cpu0) / float64(n) * 10000, err
}

// cpuSeconds is the user+system CPU of this process and its waited-for
// children so far.
func cpuSeconds() float64 {
	var total float64
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		}
	}
	return total
}

// multiLangCommand is the no-op processor's command line, or nil and why not;
// compat "" searches for the fixtures as the tests do.
func multiLangCommand(compat string) ([]string, string) {
	python, err := exec.LookPath("python3")
	if err != nil {
		return nil, "python3 not found"
	}
	if compat == "" {
		wd, _ := os.Getwd()
		if compat, err = compatfixtures.Find(wd, os.Getenv); err != nil {
			return nil, err.Error() + "; or pass -kclpy DIR"
		}
	}
	if _, err := os.Stat(filepath.Join(compat, "amazon_kclpy", "amazon_kclpy", "kcl.py")); err != nil {
		return nil, fmt.Sprintf("no amazon_kclpy package under %s", compat)
	}
	_ = os.Setenv("PYTHONPATH", filepath.Join(compat, "amazon_kclpy")) // the subprocess inherits it
	script := "hack/bench/consumer/noop_processor.py"                  // from the repository root, as make runs it
	if _, self, _, ok := runtime.Caller(0); ok {
		if p := filepath.Join(filepath.Dir(self), "noop_processor.py"); fileExists(p) {
			script = p
		}
	}
	if !fileExists(script) {
		return nil, "hack/bench/consumer/noop_processor.py not found: run from the repository root"
	}
	return []string{python, script}, ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// drainRate polls a processed-records counter and returns n divided by the
// time from t0 (start) until the counter reaches n.
func drainRate(t0 time.Time, n int, processed func() int64) (float64, error) {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		if processed() >= int64(n) {
			return float64(n) / time.Since(t0).Seconds(), nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0, fmt.Errorf("only %d of %d records consumed in 5 minutes", processed(), n)
}

// takeover starts worker A on a 4-shard stream, adds worker B, waits for the
// 2/2 split, then kills A (or stops it gracefully) and returns how long until B
// holds all 4 leases.
func (b *bench) takeover(leaseDuration time.Duration, graceful bool) (time.Duration, error) {
	stream, cleanup, err := b.stream(4)
	if err != nil {
		return 0, err
	}
	defer cleanup()
	start := func(id string) (*kcl.Worker, context.CancelFunc, error) {
		var n, f, l atomic.Int64
		w, err := kcl.NewWorker(kcl.Config{ApplicationName: stream + "-app", StreamName: stream, WorkerID: id, LeaseDuration: leaseDuration, Logger: b.log},
			kcl.ProcessorFactoryFunc(func() kcl.RecordProcessor { return &countingProcessor{n: &n, first: &f, last: &l} }), b.kin, b.db)
		if err != nil {
			return nil, nil, err
		}
		ctx, cancel := context.WithCancel(context.Background())
		if err := w.Start(ctx); err != nil {
			cancel()
			return nil, nil, err
		}
		return w, cancel, nil
	}
	a, killA, err := start("A")
	if err != nil {
		return 0, err
	}
	defer killA()
	if err := waitFor(time.Minute, func() bool { return len(a.HeldShards()) == 4 }); err != nil {
		return 0, fmt.Errorf("A never held 4 leases: %w", err)
	}
	bw, killB, err := start("B")
	if err != nil {
		return 0, err
	}
	defer func() {
		ctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		_ = bw.Shutdown(ctx)
		killB()
	}()
	if err := waitFor(4*leaseDuration+time.Minute, func() bool { return len(a.HeldShards()) == 2 && len(bw.HeldShards()) == 2 }); err != nil {
		return 0, fmt.Errorf("no 2/2 split: %w", err)
	}
	// Stop at a random point of the workers' lease polls, so the number is
	// not an artefact of their phase.
	time.Sleep(time.Duration(rand.Int64N(int64(leaseDuration / 3))))
	t0 := time.Now()
	if graceful {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, c := context.WithTimeout(context.Background(), 30*time.Second)
			defer c()
			_ = a.Shutdown(ctx)
		}()
		defer wg.Wait()
	} else {
		killA()
	}
	if err := waitFor(4*leaseDuration+time.Minute, func() bool { return len(bw.HeldShards()) == 4 }); err != nil {
		return 0, fmt.Errorf("B never took over: %w", err)
	}
	return time.Since(t0), nil
}

func waitFor(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}
