package kcl

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
)

// hangingDB black-holes UpdateItem (renewals and checkpoints) while hang is
// set: the call never answers, as behind a dead connection.
type hangingDB struct {
	DynamoDBAPI
	hang  atomic.Bool
	hangs atomic.Int32
}

func (h *hangingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if h.hang.Load() {
		h.hangs.Add(1)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return h.DynamoDBAPI.UpdateItem(ctx, in, o...)
}

func dynamoClient(t *testing.T) *dynamodb.Client {
	t.Helper()
	testenv.Require(t, testenv.DynamoDB)
	cfg, err := awsconfig.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return dynamodb.NewFromConfig(cfg)
}

// orderProcessor records every delivery in one global order, and checkpoints
// after each batch when its worker's checkpoint flag is set.
type orderProcessor struct {
	rec        *recorder
	worker     string
	checkpoint bool
	panicOn    func(data string) bool
	observed   *atomic.Int32
}

func (p *orderProcessor) Initialize(*InitializationInput) {}

func (p *orderProcessor) ProcessRecords(in *ProcessRecordsInput) {
	for _, r := range in.Records {
		if p.panicOn != nil && p.panicOn(string(r.Data)) {
			panic("poison record " + string(r.Data))
		}
		p.rec.mu.Lock()
		p.rec.n++
		p.rec.byData[string(r.Data)] = append(p.rec.byData[string(r.Data)], delivery{
			shard: in.ShardID, worker: p.worker, seq: r.SequenceNumber, at: time.Now(), n: p.rec.n})
		p.rec.mu.Unlock()
	}
	if p.checkpoint {
		_ = in.Checkpointer.Checkpoint(nil)
	}
}

func (p *orderProcessor) Shutdown(in *ShutdownInput) {
	p.rec.mu.Lock()
	p.rec.shutdowns[p.worker] = append(p.rec.shutdowns[p.worker], in.ShutdownReason)
	p.rec.mu.Unlock()
	if in.ShutdownReason == TERMINATE {
		_ = in.Checkpointer.Checkpoint(nil)
	}
}

// TestHungRenewalDropsLeaseOnTimer: w1 holds the only shard when its
// DynamoDB starts black-holing renewals. Its lease timer gives the lease up
// within the lease duration, although no call ever fails, and w1 delivers
// nothing after that; w2 takes the lease once it has expired and delivers
// every record, from the last checkpoint. Before the timer, the hung renewal
// held the lease's lock for ever and w1 went on delivering after w2 took over.
func TestHungRenewalDropsLeaseOnTimer(t *testing.T) {
	db := dynamoClient(t)
	table := testenv.UniqueName("kcl-hang")
	t.Cleanup(func() { _, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table}) })
	const n = 150
	fk := &fakeKinesis{n: n}
	rec := newRecorder()
	hdb := &hangingDB{DynamoDBAPI: db}
	start := func(id string, api DynamoDBAPI, checkpoint bool) *Worker {
		w, err := NewWorker(Config{ApplicationName: table, StreamName: "fake", WorkerID: id, LeaseDuration: 1500 * time.Millisecond,
			IdleTimeBetweenReads: 200 * time.Millisecond, Logger: testLogger()},
			ProcessorFactoryFunc(func() RecordProcessor { return &orderProcessor{rec: rec, worker: id, checkpoint: checkpoint} }), fk, api)
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
	// w1 does not checkpoint, so a late delivery of w1 would show as a
	// delivery after w2's first.
	w1 := start("w1", hdb, false)
	eventually(t, 20*time.Second, "w1 delivering", func() bool { return rec.workersSeen()["w1"] >= 6 })
	start("w2", db, true)
	hdb.hang.Store(true)
	eventually(t, 30*time.Second, "w2 taking over", func() bool { return rec.workersSeen()["w2"] > 0 })
	eventually(t, 60*time.Second, "every record delivered", func() bool { return len(rec.missing("rec", n)) == 0 })

	rec.mu.Lock()
	defer rec.mu.Unlock()
	firstW2, lastW1 := 1<<30, 0
	for _, ds := range rec.byData {
		for _, d := range ds {
			if d.worker == "w2" {
				firstW2 = min(firstW2, d.n)
			} else {
				lastW1 = max(lastW1, d.n)
			}
		}
	}
	t.Logf("w1 delivered up to #%d, w2 from #%d; renewals black-holed: %d; w1 shutdowns %v", lastW1, firstW2, hdb.hangs.Load(), rec.shutdowns["w1"])
	if lastW1 > firstW2 {
		t.Errorf("w1 delivered record #%d after w2 took the lease (#%d): a lost lease was still processed", lastW1, firstW2)
	}
	if s := rec.shutdowns["w1"]; len(s) != 1 || s[0] != ZOMBIE {
		t.Errorf("w1 shutdowns %v, want [ZOMBIE]", s)
	}
	if hdb.hangs.Load() == 0 {
		t.Error("no renewal was black-holed: the test did not test anything")
	}
	if held := w1.HeldShards(); len(held) != 0 {
		t.Errorf("w1 still holds %v", held)
	}
}

// TestProcessorPanicIsRecovered: a processor that panics on a record does not
// kill the worker: the lease is given up, taken again at the next poll, and
// the records after the last checkpoint are delivered again, the poison one
// included, until all are processed.
func TestProcessorPanicIsRecovered(t *testing.T) {
	db := dynamoClient(t)
	table := testenv.UniqueName("kcl-panic")
	t.Cleanup(func() { _, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table}) })
	const n = 12
	fk := &fakeKinesis{n: n}
	rec := newRecorder()
	var panics atomic.Int32
	obs := &panicObserver{}
	w, err := NewWorker(Config{ApplicationName: table, StreamName: "fake", WorkerID: "w1", LeaseDuration: 1500 * time.Millisecond,
		IdleTimeBetweenReads: 200 * time.Millisecond, Logger: testLogger(), Observer: obs},
		ProcessorFactoryFunc(func() RecordProcessor {
			return &orderProcessor{rec: rec, worker: "w1", checkpoint: true, panicOn: func(d string) bool {
				return d == "rec-7" && panics.Add(1) == 1 // once
			}}
		}), fk, db)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "SHARD_END after the panic", func() bool {
		ls, err := w.store.List(ctx)
		return err == nil && len(ls) == 1 && ls[0].Finished()
	})
	select {
	case <-w.Done():
		t.Fatal("the worker stopped after a processor panic")
	default:
	}
	if m := rec.missing("rec", n); len(m) > 0 || obs.n.Load() != 1 {
		t.Errorf("missing %v, %d panics observed; want none missing and 1 panic", m, obs.n.Load())
	}
	if s := rec.shutdowns["w1"]; len(s) != 2 || s[0] != ZOMBIE || s[1] != TERMINATE {
		t.Errorf("shutdowns %v: want ZOMBIE (the processor that panicked) then TERMINATE", s)
	}
}

type panicObserver struct {
	nopObserver
	n atomic.Int32
}

func (o *panicObserver) ProcessorPanicked(string) { o.n.Add(1) }

// TestWrongSchemaLeaseTable: a lease table that exists with another key
// schema is reported as ErrWrongSchema, naming the key found.
func TestWrongSchemaLeaseTable(t *testing.T) {
	db := dynamoClient(t)
	table := testenv.UniqueName("kcl-schema")
	t.Cleanup(func() { _, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table}) })
	_, err := db.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []dtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: dtypes.ScalarAttributeTypeN}},
		KeySchema:            []dtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: dtypes.KeyTypeHash}},
		BillingMode:          dtypes.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWorker(Config{ApplicationName: table, StreamName: "fake", WorkerID: "w1", Logger: testLogger()},
		ProcessorFactoryFunc(func() RecordProcessor { return &orderProcessor{rec: newRecorder()} }), &fakeKinesis{n: 1}, db)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = w.Start(ctx)
	if !errors.Is(err, ErrWrongSchema) || !strings.Contains(err.Error(), "HASH id (N)") {
		t.Fatalf("start: %v; want ErrWrongSchema naming HASH id (N)", err)
	}
}

// TestCallTimeoutReturnsWithoutCuttingTheCall: within answers at the
// deadline, but the call goes on (it is cut only after the grace period).
func TestCallTimeoutReturnsWithoutCuttingTheCall(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var callErr error
	finished := make(chan struct{})
	_, err := within(context.Background(), 20*time.Millisecond, func(ctx context.Context) (int, error) {
		defer close(finished)
		select {
		case <-release:
		case <-ctx.Done():
			mu.Lock()
			callErr = ctx.Err()
			mu.Unlock()
		}
		return 1, nil
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want DeadlineExceeded", err)
	}
	close(release)
	<-finished
	mu.Lock()
	defer mu.Unlock()
	if callErr != nil {
		t.Fatalf("the call was cut (%v) instead of being left to finish", callErr)
	}
}

// TestHandoverRequest: a hand-over request leaves the counter alone (the
// owner's renewals go on), shows in the owner's next renewal, and is cleared
// by a release or a take.
func TestHandoverRequest(t *testing.T) {
	db := dynamoClient(t)
	s := &LeaseStore{DB: db, Table: testenv.UniqueName("kcl-handover")}
	t.Cleanup(func() { _, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &s.Table}) })
	ctx := context.Background()
	if err := s.EnsureTable(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, Lease{Key: "shard-a", Checkpoint: ExtendedSequenceNumber{SequenceNumber: CheckpointTrimHorizon}}); err != nil {
		t.Fatal(err)
	}
	ls, _ := s.List(ctx)
	l, err := s.Take(ctx, ls[0], "w1")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RequestHandover(ctx, l, "w2"); err != nil {
		t.Fatal(err)
	}
	if err := s.RequestHandover(ctx, Lease{Key: "shard-a", Owner: "w9"}, "w2"); !errors.Is(err, ErrLeaseConflict) {
		t.Fatalf("request to a worker that is not the owner: %v, want a conflict", err)
	}
	r, err := s.Renew(ctx, l)
	if err != nil || r.HandoverTo != "w2" {
		t.Fatalf("renew after the request: %+v %v; want it to succeed and show the request", r, err)
	}
	if err := s.Release(ctx, r); err != nil {
		t.Fatal(err)
	}
	ls, _ = s.List(ctx)
	if ls[0].Owner != "" || ls[0].HandoverTo != "" {
		t.Fatalf("after release: %+v, want no owner and no request", ls[0])
	}
	l2, err := s.Take(ctx, ls[0], "w2")
	if err != nil {
		t.Fatal(err)
	}
	_ = s.RequestHandover(ctx, l2, "w3")
	ls, _ = s.List(ctx)
	got, err := s.Take(ctx, ls[0], "w3")
	if err != nil || got.HandoverTo != "" || got.Owner != "w3" {
		t.Fatalf("forced take: %+v %v; want w3 without a request", got, err)
	}
}
