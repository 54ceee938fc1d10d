package faults

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kdp-io/streamprocessor-operator/internal/faultproxy"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
	"github.com/kdp-io/streamprocessor-operator/workloads/consumer"
	"github.com/kdp-io/streamprocessor-operator/workloads/kcl"
)

// deliveries records every record a processor was given, with its worker and
// a global order.
type deliveries struct {
	mu      sync.Mutex
	n       int
	byData  map[string][]int // delivery numbers of each record
	byWhom  map[string][]int // delivery numbers per worker
	batches map[string][][2]int
	zombies map[string]int
}

func newDeliveries() *deliveries {
	return &deliveries{byData: map[string][]int{}, byWhom: map[string][]int{}, batches: map[string][][2]int{}, zombies: map[string]int{}}
}

func (d *deliveries) unique() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.byData)
}

func (d *deliveries) count(worker string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.byWhom[worker])
}

func (d *deliveries) duplicates() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, ds := range d.byData {
		n += len(ds) - 1
	}
	return n
}

// processor records deliveries and checkpoints after each batch.
type processor struct {
	d      *deliveries
	worker string
}

func (p *processor) Initialize(*kcl.InitializationInput) {}

func (p *processor) ProcessRecords(in *kcl.ProcessRecordsInput) {
	p.d.mu.Lock()
	first := p.d.n + 1
	for _, r := range in.Records {
		p.d.n++
		p.d.byData[string(r.Data)] = append(p.d.byData[string(r.Data)], p.d.n)
		p.d.byWhom[p.worker] = append(p.d.byWhom[p.worker], p.d.n)
	}
	p.d.batches[p.worker] = append(p.d.batches[p.worker], [2]int{first, p.d.n})
	p.d.mu.Unlock()
	_ = in.Checkpointer.Checkpoint(nil)
}

func (p *processor) Shutdown(in *kcl.ShutdownInput) {
	if in.ShutdownReason == kcl.ZOMBIE {
		p.d.mu.Lock()
		p.d.zombies[p.worker]++
		p.d.mu.Unlock()
		return
	}
	_ = in.Checkpointer.Checkpoint(nil)
}

func putRecords(t *testing.T, kc *kinesis.Client, stream, prefix string, n int) {
	t.Helper()
	for from := 0; from < n; from += 500 {
		var entries []ktypes.PutRecordsRequestEntry
		for i := from; i < min(from+500, n); i++ {
			entries = append(entries, ktypes.PutRecordsRequestEntry{Data: []byte(fmt.Sprintf("%s-%d", prefix, i)), PartitionKey: aws.String(fmt.Sprint(i))})
		}
		out, err := kc.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
		if err != nil || aws.ToInt32(out.FailedRecordCount) > 0 {
			t.Fatalf("put records: %v %v", err, out)
		}
	}
}

func startWorker(t *testing.T, stream, app, id string, kin kcl.KinesisAPI, db kcl.DynamoDBAPI, d *deliveries, lease time.Duration) *kcl.Worker {
	t.Helper()
	w, err := kcl.NewWorker(kcl.Config{ApplicationName: app, StreamName: stream, WorkerID: id, LeaseDuration: lease,
		ShardSyncInterval: time.Second, IdleTimeBetweenReads: 200 * time.Millisecond, MaxRecords: 20, Logger: quietLogger()},
		kcl.ProcessorFactoryFunc(func() kcl.RecordProcessor { return &processor{d: d, worker: id} }), kin, db)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return w
}

func dynamoThrough(awsCfg aws.Config, p *faultproxy.Proxy) *dynamodb.Client {
	return dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(p.URL()) })
}

// TestConsumerDynamoDBBlackHole: w1 holds the only shard and reads 20
// records per batch, checkpointing each; then its DynamoDB black-holes every
// UpdateItem (renewals and checkpoints: accepted, never answered). w1 must
// drop the lease by its timer and deliver nothing after w2 — which waits for
// the lease to expire — has started; the only duplicates are records w1
// delivered but could not checkpoint (delivered once by w1, once by w2);
// nothing is skipped.
func TestConsumerDynamoDBBlackHole(t *testing.T) {
	t.Parallel() // they wait on the emulators more than they compute
	testenv.Require(t, testenv.Kinesis, testenv.DynamoDB)
	awsCfg := awsConfig(t)
	kc, db := kinesis.NewFromConfig(awsCfg), dynamodb.NewFromConfig(awsCfg)
	stream := createStream(t, kc, "faults-consumer", 1)
	app := stream + "-app"
	t.Cleanup(func() { db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(app)}) })
	const n = 200
	putRecords(t, kc, stream, "r", n)
	proxy := proxyFor(t, testenv.DynamoDB)
	d := newDeliveries()
	const lease = 2 * time.Second
	startWorker(t, stream, app, "w1", kc, dynamoThrough(awsCfg, proxy), d, lease)
	eventually(t, 60*time.Second, "w1 delivering", func() bool { return d.count("w1") >= 40 })
	startWorker(t, stream, app, "w2", kc, db, d, lease)
	proxy.Set(faultproxy.Rule{Op: "UpdateItem", Fault: faultproxy.BlackHole})
	eventually(t, 60*time.Second, "w2 taking over", func() bool { return d.count("w2") > 0 })
	eventually(t, 90*time.Second, "every record delivered", func() bool { return d.unique() == n })

	d.mu.Lock()
	firstW2 := d.byWhom["w2"][0]
	lateW1, overlapBatches := 0, 0
	for _, b := range d.batches["w1"] {
		if b[1] > firstW2 {
			overlapBatches++
			lateW1 += b[1] - max(b[0], firstW2+1) + 1
		}
	}
	zombies := d.zombies["w1"]
	w1Set := map[int]bool{}
	for _, k := range d.byWhom["w1"] {
		w1Set[k] = true
	}
	badDups := 0 // a record delivered more than twice, or twice by the same side
	for _, ds := range d.byData {
		if len(ds) > 2 || (len(ds) == 2 && (!w1Set[ds[0]] || w1Set[ds[1]])) {
			badDups++
		}
	}
	d.mu.Unlock()
	dups := d.duplicates()
	t.Logf("w1 batches after w2's first delivery: %d (%d records); duplicates %d; w1 ZOMBIE shutdowns %d; faults %s",
		overlapBatches, lateW1, dups, zombies, describe(proxy))
	if overlapBatches > 0 {
		t.Errorf("w1 delivered %d batches after w2 took the lease", overlapBatches)
	}
	if zombies != 1 {
		t.Errorf("w1 had %d ZOMBIE shutdowns, want 1: the lease was not dropped", zombies)
	}
	if badDups > 0 {
		t.Errorf("%d records delivered other than once, or once by w1 (not checkpointed: its checkpoints hung) and once by w2", badDups)
	}
	record(row{"consumer: DynamoDB black hole during renew and checkpoint (2 workers, 1 shard, 20-record batches)", describe(proxy),
		n, n, d.unique(), dups, n - d.unique(), outcome(t)})
}

// TestConsumerAmbiguousCheckpoint: one worker whose checkpoints sometimes
// take effect without an answer (and whose lease-table calls are throttled
// now and then) must still deliver every record; a checkpoint that took
// effect unseen makes the next renewal conflict, the lease is lost and taken
// again, and at most a batch repeats each time.
func TestConsumerAmbiguousCheckpoint(t *testing.T) {
	t.Parallel() // they wait on the emulators more than they compute
	testenv.Require(t, testenv.Kinesis, testenv.DynamoDB)
	awsCfg := awsConfig(t)
	kc, db := kinesis.NewFromConfig(awsCfg), dynamodb.NewFromConfig(awsCfg)
	stream := createStream(t, kc, "faults-ambiguous", 1)
	app := stream + "-app"
	t.Cleanup(func() { db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(app)}) })
	const n = 160
	putRecords(t, kc, stream, "a", n)
	proxy := proxyFor(t, testenv.DynamoDB)
	proxy.Set(
		faultproxy.Rule{Op: "UpdateItem", BodyContains: "checkpoint = :cp", Fault: faultproxy.Ambiguous, Every: 3, Limit: 2},
		faultproxy.Rule{Op: "UpdateItem", Fault: faultproxy.Throttle, Every: 4},
	)
	d := newDeliveries()
	startWorker(t, stream, app, "w1", kc, dynamoThrough(awsCfg, proxy), d, 2*time.Second)
	eventually(t, 90*time.Second, "every record delivered", func() bool { return d.unique() == n })
	dups := d.duplicates()
	inj := proxy.Injected()
	t.Logf("duplicates %d; ZOMBIE shutdowns %d; faults %s", dups, d.zombies["w1"], describe(proxy))
	if inj[faultproxy.Ambiguous] == 0 {
		t.Error("no ambiguous checkpoint was injected")
	}
	if dups > 20*inj[faultproxy.Ambiguous] {
		t.Errorf("%d duplicates: more than one 20-record batch per ambiguous checkpoint", dups)
	}
	record(row{"consumer: ambiguous checkpoint timeouts + DynamoDB throttling (1 worker)", describe(proxy),
		n, n, d.unique(), dups, n - d.unique(), outcome(t)})
}

// TestConsumerPoisonAndPanics: the consumer service with a handler that
// panics on every "poison" record and fails some others once, a dead-letter
// file, Kinesis answering 5xx to every 4th GetRecords and DynamoDB throttling
// every 3rd UpdateItem. Every record is either in the output or dead-lettered,
// and the poison ones are dead-lettered with the panic.
func TestConsumerPoisonAndPanics(t *testing.T) {
	t.Parallel() // they wait on the emulators more than they compute
	testenv.Require(t, testenv.Kinesis, testenv.DynamoDB)
	awsCfg := awsConfig(t)
	kc, db := kinesis.NewFromConfig(awsCfg), dynamodb.NewFromConfig(awsCfg)
	stream := createStream(t, kc, "faults-poison", 2)
	t.Cleanup(func() {
		db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(stream + "-app")})
	})
	const n = 200
	putRecords(t, kc, stream, "p", n)
	kproxy, dproxy := proxyFor(t, testenv.Kinesis), proxyFor(t, testenv.DynamoDB)
	kproxy.Set(faultproxy.Rule{Op: "GetRecords", Fault: faultproxy.ServerError, Every: 4})
	dproxy.Set(faultproxy.Rule{Op: "UpdateItem", Fault: faultproxy.Throttle, Every: 3})
	dir := t.TempDir()
	var mu sync.Mutex
	failedOnce := map[string]bool{}
	poison := func(data string) bool { return strings.HasSuffix(data, "7") } // p-7, p-17, …: 20 records
	h := consumer.HandlerFunc(func(_ context.Context, r consumer.Record) error {
		data := string(r.Data)
		if poison(data) {
			panic("cannot handle " + data)
		}
		mu.Lock()
		defer mu.Unlock()
		if strings.HasSuffix(data, "3") && !failedOnce[data] {
			failedOnce[data] = true
			return fmt.Errorf("transient failure of %s", data)
		}
		return nil
	})
	out := consumer.NewJSONLines(mustCreate(t, filepath.Join(dir, "out.jsonl")))
	handled := &countingHandler{next: h, out: out}
	cfg := consumer.Config{
		StreamName: stream, ApplicationName: stream + "-app", WorkerID: "w1", StartPosition: kcl.TrimHorizon,
		LeaseDuration: 2 * time.Second, ShardSyncInterval: time.Second, PollInterval: 200 * time.Millisecond, MaxRecords: 50,
		RetryAttempts: 2, RetryBackoff: 10 * time.Millisecond, HTTPAddr: "127.0.0.1:0",
		DeadLetterFile: filepath.Join(dir, "dead.jsonl"), ShutdownTimeout: 10 * time.Second, CloudWatchInterval: time.Minute,
	}
	svc, err := consumer.New(cfg, consumer.Deps{
		Kinesis:  kinesis.NewFromConfig(awsCfg, func(o *kinesis.Options) { o.BaseEndpoint = aws.String(kproxy.URL()) }),
		DynamoDB: dynamoThrough(awsCfg, dproxy), Handler: handled, Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	dead := func() []consumer.Line { return readLines(t, cfg.DeadLetterFile) }
	// Wait on each record, not on counts: a poison record dead-lettered
	// twice (its batch retried after a lost lease) must not stand in for
	// a record still unhandled.
	eventually(t, 90*time.Second, "every record handled or dead-lettered", func() bool {
		return unaccounted(n, handled, deadData(dead())) == 0
	})
	stop()
	if err := <-done; err != nil {
		t.Errorf("consumer stopped with %v", err)
	}
	lines := dead()
	deadSet := deadData(lines)
	for _, l := range lines {
		if !poison(l.Data) || !strings.Contains(l.Error, "handler panicked") {
			t.Errorf("dead letter %q with error %q: want only poison records, with the panic", l.Data, l.Error)
		}
	}
	missing := unaccounted(n, handled, deadSet)
	dups := handled.duplicates() + len(lines) - len(deadSet)
	t.Logf("handled %d, dead-lettered %d, duplicates %d, missing %d; faults %s", handled.unique(), len(deadSet), dups, missing,
		describe(kproxy, dproxy))
	if missing > 0 {
		t.Errorf("%d records neither handled nor dead-lettered", missing)
	}
	if len(deadSet) != 20 {
		t.Errorf("%d records dead-lettered, want the 20 poison ones", len(deadSet))
	}
	record(row{"consumer: panicking handler on 20 poison records, transient failures, Kinesis 5xx, DynamoDB throttling (service, 2 shards)",
		describe(kproxy, dproxy) + ", handler panics", n, n, handled.unique() + len(deadSet), dups, missing, outcome(t)})
}

// deadData is the set of the records' data in the dead letters.
func deadData(lines []consumer.Line) map[string]bool {
	set := make(map[string]bool, len(lines))
	for _, l := range lines {
		set[l.Data] = true
	}
	return set
}

// unaccounted is how many of the records p-0 … p-(n-1) are neither handled
// nor in the dead letters.
func unaccounted(n int, handled *countingHandler, dead map[string]bool) int {
	missing := 0
	for i := range n {
		if d := fmt.Sprintf("p-%d", i); !handled.seen(d) && !dead[d] {
			missing++
		}
	}
	return missing
}

// countingHandler counts the records its handler accepted, then writes them.
type countingHandler struct {
	mu   sync.Mutex
	next consumer.Handler
	out  *consumer.JSONLines
	ok   map[string]int
}

func (c *countingHandler) Handle(ctx context.Context, r consumer.Record) error {
	if err := c.next.Handle(ctx, r); err != nil {
		return err
	}
	c.mu.Lock()
	if c.ok == nil {
		c.ok = map[string]int{}
	}
	c.ok[string(r.Data)]++
	c.mu.Unlock()
	return c.out.Handle(ctx, r)
}

func (c *countingHandler) Flush() error { return c.out.Flush() }

func (c *countingHandler) unique() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ok)
}

func (c *countingHandler) seen(d string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ok[d] > 0
}

func (c *countingHandler) duplicates() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, k := range c.ok {
		n += k - 1
	}
	return n
}

func mustCreate(t *testing.T, path string) *os.File {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func readLines(t *testing.T, path string) []consumer.Line {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []consumer.Line
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l consumer.Line
		if err := json.Unmarshal(sc.Bytes(), &l); err == nil {
			out = append(out, l)
		}
	}
	return out
}

// TestConsumerWrongSchemaTable: a lease table with another key schema keeps
// the consumer not ready, saying why; nothing is read.
func TestConsumerWrongSchemaTable(t *testing.T) {
	t.Parallel() // they wait on the emulators more than they compute
	testenv.Require(t, testenv.Kinesis, testenv.DynamoDB)
	awsCfg := awsConfig(t)
	kc, db := kinesis.NewFromConfig(awsCfg), dynamodb.NewFromConfig(awsCfg)
	stream := createStream(t, kc, "faults-schema", 1)
	app := stream + "-app"
	t.Cleanup(func() { db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(app)}) })
	if _, err := db.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:            aws.String(app),
		AttributeDefinitions: []dtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: dtypes.ScalarAttributeTypeN}},
		KeySchema:            []dtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: dtypes.KeyTypeHash}},
		BillingMode:          dtypes.BillingModePayPerRequest,
	}); err != nil {
		t.Fatal(err)
	}
	const n = 10
	putRecords(t, kc, stream, "s", n)
	var handled sync.Map
	cfg := consumer.Config{StreamName: stream, ApplicationName: app, WorkerID: "w1", StartPosition: kcl.TrimHorizon,
		LeaseDuration: 2 * time.Second, ShardSyncInterval: time.Second, PollInterval: 200 * time.Millisecond, MaxRecords: 100,
		RetryAttempts: 2, RetryBackoff: 10 * time.Millisecond, HTTPAddr: "127.0.0.1:0", ShutdownTimeout: 5 * time.Second, CloudWatchInterval: time.Minute}
	svc, err := consumer.New(cfg, consumer.Deps{Kinesis: kc, DynamoDB: db, Logger: quietLogger(),
		Handler: consumer.HandlerFunc(func(_ context.Context, r consumer.Record) error { handled.Store(string(r.Data), true); return nil })})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	var body string
	eventually(t, 20*time.Second, "readyz naming the schema", func() bool {
		resp, err := httpGet("http://" + svc.Addr() + "/readyz")
		body = resp
		return err == nil && strings.Contains(body, "wrong key schema")
	})
	stop()
	<-done
	got := 0
	handled.Range(func(any, any) bool { got++; return true })
	if got != 0 {
		t.Errorf("%d records handled with an unusable lease table", got)
	}
	record(row{"consumer: lease table of the wrong key schema", "pre-existing table HASH id (N)", n, 0, got, 0, 0,
		outcome(t) + ", /readyz 503 \"lease table has the wrong key schema\""})
}
