package consumer

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
	"github.com/kdp-io/streamprocessor-operator/workloads/kcl"
)

// A handler that panics on a poison record is recovered per record: the
// panic counts as a failed attempt, the record is retried and then
// dead-lettered with the panic as its error, the other records are processed,
// and the batch is checkpointed.
func TestProcessorRecoversHandlerPanic(t *testing.T) {
	var mu sync.Mutex
	attempts := map[string]int{}
	h := HandlerFunc(func(_ context.Context, r Record) error {
		mu.Lock()
		attempts[string(r.Data)]++
		mu.Unlock()
		if string(r.Data) == "poison" {
			var m map[string]int
			m["boom"]++ // nil map write: a real panic
		}
		return nil
	})
	dl := &memDeadLetter{}
	m := NewMetrics()
	f := &processorFactory{ctx: context.Background(), handler: h, dead: dl, attempts: 3, backoff: time.Millisecond, metrics: m, log: quietLogger()}
	p := f.CreateProcessor()
	p.Initialize(&kcl.InitializationInput{ShardID: "shardId-0"})
	cp := &fakeCheckpointer{}
	in := batch("a", "poison", "b")
	in.Checkpointer = cp
	p.ProcessRecords(in)
	if attempts["poison"] != 3 || attempts["a"] != 1 || attempts["b"] != 1 {
		t.Errorf("attempts %v, want poison 3, a 1, b 1", attempts)
	}
	if len(dl.records) != 1 || dl.records[0] != "poison" || !strings.Contains(dl.causes[0], "handler panicked") {
		t.Errorf("dead letters %v causes %v, want the poison record with the panic", dl.records, dl.causes)
	}
	if cp.calls != 1 {
		t.Errorf("%d checkpoints, want 1", cp.calls)
	}
	if got := testCounter(t, m, "streamprocessor_consumer_handler_panics_total"); got != 3 {
		t.Errorf("panics metric %v, want 3", got)
	}
}

// Without a dead-letter destination a record that fails every attempt blocks
// its shard, and the records_blocked gauge says so while it does.
func TestBlockedRecordRaisesMetric(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := NewMetrics()
	tries := make(chan struct{}, 100)
	h := HandlerFunc(func(context.Context, Record) error {
		select {
		case tries <- struct{}{}:
		default:
		}
		return errors.New("always fails")
	})
	f := &processorFactory{ctx: ctx, handler: h, attempts: 2, backoff: time.Millisecond, metrics: m, log: quietLogger()}
	p := f.CreateProcessor()
	p.Initialize(&kcl.InitializationInput{ShardID: "shardId-0"})
	in := batch("poison")
	in.Checkpointer = &fakeCheckpointer{}
	done := make(chan struct{})
	go func() { defer close(done); p.ProcessRecords(in) }()
	for i := 0; i < 4; i++ { // past the 2 attempts: retrying for ever now
		<-tries
	}
	if got := testGauge(t, m, "streamprocessor_consumer_records_blocked"); got != 1 {
		t.Errorf("records_blocked %v while the shard is blocked, want 1", got)
	}
	if blocked := m.takePeriod().blocked; blocked != 1 {
		t.Errorf("CloudWatch RecordsBlocked for the period %d, want 1", blocked)
	}
	cancel()
	<-done
	if got := testGauge(t, m, "streamprocessor_consumer_records_blocked"); got != 0 {
		t.Errorf("records_blocked %v after the stop, want 0", got)
	}
}

// When the batch's lease context ends (the lease was lost), the processor
// handles no further record of the batch and does not checkpoint it.
func TestProcessorStopsWhenLeaseLost(t *testing.T) {
	lease, lose := context.WithCancel(context.Background())
	var handled []string
	h := HandlerFunc(func(_ context.Context, r Record) error {
		handled = append(handled, string(r.Data))
		if string(r.Data) == "b" {
			lose()
		}
		return nil
	})
	f := &processorFactory{ctx: context.Background(), handler: h, attempts: 2, backoff: time.Millisecond, metrics: NewMetrics(), log: quietLogger()}
	p := f.CreateProcessor()
	p.Initialize(&kcl.InitializationInput{ShardID: "shardId-0"})
	cp := &fakeCheckpointer{}
	in := batch("a", "b", "c", "d")
	in.Checkpointer, in.Context = cp, lease
	p.ProcessRecords(in)
	if strings.Join(handled, ",") != "a,b" || cp.calls != 0 {
		t.Errorf("handled %v with %d checkpoints; want a,b and none after the lease was lost", handled, cp.calls)
	}
}

func testGauge(t *testing.T, m *Metrics, name string) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// A lease table of another key schema keeps the service not ready, with the
// reason in /readyz, an error log line and the lease_table_schema_invalid
// metric at 1.
func TestServiceNotReadyOnWrongSchemaTable(t *testing.T) {
	c := newClients(t)
	cfg := testConfig(testenv.UniqueName("consumer-schema"))
	t.Cleanup(func() {
		_, _ = c.db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(cfg.ApplicationName)})
	})
	_, err := c.db.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:            aws.String(cfg.ApplicationName),
		AttributeDefinitions: []dtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: dtypes.ScalarAttributeTypeS}, {AttributeName: aws.String("sk"), AttributeType: dtypes.ScalarAttributeTypeS}},
		KeySchema:            []dtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: dtypes.KeyTypeHash}, {AttributeName: aws.String("sk"), KeyType: dtypes.KeyTypeRange}},
		BillingMode:          dtypes.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	svc, err := New(cfg, Deps{Kinesis: c.kin, DynamoDB: c.db, CloudWatch: c.cw, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() { cancel(); <-done }()
	url := "http://" + svc.Addr() + "/readyz"
	var code int
	var body string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if code, body = get(url); strings.Contains(body, "wrong key schema") {
			break
		}
	}
	if code != 503 || !strings.Contains(body, "wrong key schema") || !strings.Contains(body, "HASH pk (S)") {
		t.Fatalf("readyz %d %q; want 503 naming the wrong key schema", code, body)
	}
	if got := testGauge(t, svc.Metrics(), "streamprocessor_consumer_lease_table_schema_invalid"); got != 1 {
		t.Errorf("lease_table_schema_invalid %v, want 1", got)
	}
	if !strings.Contains(logs.String(), "Lease table has the wrong key schema") {
		t.Errorf("no log line for the wrong schema; logs:\n%s", logs.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
