package kcl

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
	"github.com/kdp-io/streamprocessor-operator/workloads/kpl"
)

// env is one test's stream and lease table on the emulators.
type env struct {
	t      *testing.T
	kin    *kinesis.Client
	db     *dynamodb.Client
	stream string
	app    string
}

func newEnv(t *testing.T, shards int32) *env {
	t.Helper()
	testenv.Require(t, testenv.Kinesis, testenv.DynamoDB)
	ctx := context.Background()
	cfg, err := awsconfig.Load(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, kin: kinesis.NewFromConfig(cfg), db: dynamodb.NewFromConfig(cfg),
		stream: testenv.UniqueName("kcl-test"), app: testenv.UniqueName("kcl-app")}
	if _, err := e.kin.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(e.stream), ShardCount: aws.Int32(shards)}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	t.Cleanup(func() {
		_, _ = e.kin.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: aws.String(e.stream), EnforceConsumerDeletion: aws.Bool(true)})
		_, _ = e.db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(e.app)})
	})
	e.waitActive()
	return e
}

func (e *env) waitActive() {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		out, err := e.kin.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(e.stream)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == ktypes.StreamStatusActive {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatalf("stream %s not ACTIVE in time", e.stream)
}

func (e *env) reshard(target int32) {
	e.t.Helper()
	e.waitActive()
	_, err := e.kin.UpdateShardCount(context.Background(), &kinesis.UpdateShardCountInput{
		StreamName: aws.String(e.stream), TargetShardCount: aws.Int32(target), ScalingType: ktypes.ScalingTypeUniformScaling})
	if err != nil {
		e.t.Fatalf("reshard to %d: %v", target, err)
	}
	e.waitActive()
}

// putPlain writes records "<prefix>-<i>" for i in [from, to), 100 per
// PutRecords call, with random-ish partition keys so they spread over shards.
func (e *env) putPlain(prefix string, from, to int) {
	e.t.Helper()
	for i := from; i < to; i += 100 {
		var entries []ktypes.PutRecordsRequestEntry
		for j := i; j < min(i+100, to); j++ {
			entries = append(entries, ktypes.PutRecordsRequestEntry{
				Data: []byte(fmt.Sprintf("%s-%d", prefix, j)), PartitionKey: aws.String(fmt.Sprintf("pk-%d", j*7919)),
			})
		}
		e.putEntries(entries)
	}
}

// putAggregated writes records "<prefix>-<i>" for i in [from, to) as KPL
// aggregates of perRecord user records each.
func (e *env) putAggregated(prefix string, from, to, perRecord int) {
	e.t.Helper()
	var entries []ktypes.PutRecordsRequestEntry
	for i := from; i < to; i += perRecord {
		var users []kpl.UserRecord
		for j := i; j < min(i+perRecord, to); j++ {
			users = append(users, kpl.UserRecord{PartitionKey: fmt.Sprintf("pk-%d", j), Data: []byte(fmt.Sprintf("%s-%d", prefix, j))})
		}
		data, err := kpl.Encode(users)
		if err != nil {
			e.t.Fatal(err)
		}
		entries = append(entries, ktypes.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String(users[0].PartitionKey)})
		if len(entries) == 100 {
			e.putEntries(entries)
			entries = nil
		}
	}
	if len(entries) > 0 {
		e.putEntries(entries)
	}
}

func (e *env) putEntries(entries []ktypes.PutRecordsRequestEntry) {
	e.t.Helper()
	for attempt := 0; len(entries) > 0; attempt++ {
		out, err := e.kin.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(e.stream), Records: entries})
		if err != nil {
			if attempt > 50 {
				e.t.Fatalf("put records: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		var retry []ktypes.PutRecordsRequestEntry
		for i, r := range out.Records {
			if r.ErrorCode != nil {
				retry = append(retry, entries[i])
			}
		}
		entries = retry
	}
}

// testLogger logs warnings, or everything with KCL_TEST_LOG=1.
func testLogger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("KCL_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func (e *env) config(worker string) Config {
	return Config{
		ApplicationName: e.app, StreamName: e.stream, WorkerID: worker,
		LeaseDuration: 2 * time.Second, ShardSyncInterval: time.Second, IdleTimeBetweenReads: 200 * time.Millisecond,
		Logger: testLogger(),
	}
}

// startWorker starts a worker for the recorder; cancel kills it abruptly.
func (e *env) startWorker(cfg Config, rec *recorder) (*Worker, context.CancelFunc) {
	e.t.Helper()
	w, err := NewWorker(cfg, ProcessorFactoryFunc(func() RecordProcessor { return &recordingProcessor{rec: rec, worker: cfg.WorkerID} }), e.kin, e.db)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := w.Start(ctx); err != nil {
		cancel()
		e.t.Fatalf("start worker %s: %v", cfg.WorkerID, err)
	}
	e.t.Cleanup(func() {
		sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		_ = w.Shutdown(sctx)
		cancel()
	})
	return w, cancel
}

func (e *env) leases() []Lease {
	e.t.Helper()
	ls, err := (&LeaseStore{DB: e.db, Table: e.app}).List(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return ls
}

// delivery is one user record handed to a processor.
type delivery struct {
	shard, worker string
	seq           string
	sub           int64
	at            time.Time
	n             int // order of delivery across the test
}

// recorder collects every delivery of every processor of a test.
type recorder struct {
	mu         sync.Mutex
	byData     map[string][]delivery
	n          int
	shutdowns  map[string][]ShutdownReason
	checkpoint bool          // processors checkpoint after each batch (default true)
	delay      time.Duration // processors take this long per batch
	holdUntil  time.Time     // and do not return from a batch before this
}

func newRecorder() *recorder {
	return &recorder{byData: map[string][]delivery{}, shutdowns: map[string][]ShutdownReason{}, checkpoint: true}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byData)
}

// missing returns the records "<prefix>-<i>", i < n, never delivered.
func (r *recorder) missing(prefix string, n int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var m []string
	for i := 0; i < n; i++ {
		if k := fmt.Sprintf("%s-%d", prefix, i); len(r.byData[k]) == 0 {
			m = append(m, k)
		}
	}
	return m
}

func (r *recorder) duplicates() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := 0
	for _, ds := range r.byData {
		d += len(ds) - 1
	}
	return d
}

// duplicatesOnShards counts the records delivered more than once on shards
// for which keep says yes (keep must not call the recorder).
func (r *recorder) duplicatesOnShards(keep func(shard string) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := 0
	for _, ds := range r.byData {
		if keep(ds[0].shard) {
			d += len(ds) - 1
		}
	}
	return d
}

// lostLeases is the shards a processor of which was shut down ZOMBIE: its
// worker lost the lease (it expired before a renewal got through, or was
// taken) instead of handing it over.
func (r *recorder) lostLeases() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	lost := map[string]bool{}
	for shard, rs := range r.shutdowns {
		for _, s := range rs {
			if s == ZOMBIE {
				lost[shard] = true
			}
		}
	}
	return lost
}

// duplicatesAcrossWorkers counts the records delivered by more than one
// worker (each extra worker counts once).
func (r *recorder) duplicatesAcrossWorkers() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := 0
	for _, ds := range r.byData {
		ws := map[string]bool{}
		for _, x := range ds {
			ws[x.worker] = true
		}
		d += len(ws) - 1
	}
	return d
}

// byShard returns the first delivery of each record, grouped by shard.
func (r *recorder) byShard() map[string][]delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]delivery{}
	for _, ds := range r.byData {
		out[ds[0].shard] = append(out[ds[0].shard], ds[0])
	}
	for _, ds := range out {
		sort.Slice(ds, func(i, j int) bool { return ds[i].n < ds[j].n })
	}
	return out
}

// shutdownsWith counts the processor shutdowns with reason.
func (r *recorder) shutdownsWith(reason ShutdownReason) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rs := range r.shutdowns {
		for _, s := range rs {
			if s == reason {
				n++
			}
		}
	}
	return n
}

func (r *recorder) workersSeen() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for _, ds := range r.byData {
		for _, d := range ds {
			out[d.worker]++
		}
	}
	return out
}

type recordingProcessor struct {
	rec    *recorder
	worker string
	shard  string
}

func (p *recordingProcessor) Initialize(in *InitializationInput) { p.shard = in.ShardID }

func (p *recordingProcessor) ProcessRecords(in *ProcessRecordsInput) {
	p.rec.mu.Lock()
	for _, r := range in.Records {
		p.rec.n++
		p.rec.byData[string(r.Data)] = append(p.rec.byData[string(r.Data)], delivery{
			shard: in.ShardID, worker: p.worker, seq: r.SequenceNumber, sub: r.SubSequenceNumber, at: time.Now(), n: p.rec.n})
	}
	cp, delay, hold := p.rec.checkpoint, p.rec.delay, p.rec.holdUntil
	p.rec.mu.Unlock()
	time.Sleep(max(delay, time.Until(hold)))
	if cp {
		_ = in.Checkpointer.Checkpoint(nil)
	}
}

func (p *recordingProcessor) Shutdown(in *ShutdownInput) {
	p.rec.mu.Lock()
	p.rec.shutdowns[in.ShardID] = append(p.rec.shutdowns[in.ShardID], in.ShutdownReason)
	p.rec.mu.Unlock()
	if in.ShutdownReason != ZOMBIE {
		_ = in.Checkpointer.Checkpoint(nil)
	}
}

// eventually polls cond every 100ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
