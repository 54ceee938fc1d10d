package consumer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
	"github.com/kdp-io/streamprocessor-operator/workloads/kcl"
	"github.com/kdp-io/streamprocessor-operator/workloads/kpl"
)

type clients struct {
	kin *kinesis.Client
	db  *dynamodb.Client
	cw  *cloudwatch.Client
}

func newClients(t *testing.T) clients {
	testenv.Require(t, testenv.Kinesis, testenv.DynamoDB, testenv.CloudWatch)
	cfg, err := awsconfig.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return clients{kinesis.NewFromConfig(cfg), dynamodb.NewFromConfig(cfg), cloudwatch.NewFromConfig(cfg, awsconfig.CloudWatchQueryProtocol)}
}

func (c clients) createStream(t *testing.T, shards int32) string {
	t.Helper()
	name := testenv.UniqueName("consumer-test")
	ctx := context.Background()
	if _, err := c.kin.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = c.kin.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: aws.String(name)})
	})
	for i := 0; ; i++ {
		out, err := c.kin.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == ktypes.StreamStatusActive {
			return name
		}
		if i > 300 {
			t.Fatalf("stream %s not active", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c clients) put(t *testing.T, stream string, entries ...ktypes.PutRecordsRequestEntry) {
	t.Helper()
	out, err := c.kin.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
	if err != nil || aws.ToInt32(out.FailedRecordCount) > 0 {
		t.Fatalf("put records: %v %v", err, out)
	}
}

func testConfig(stream string) Config {
	return Config{
		StreamName: stream, ApplicationName: stream + "-app", WorkerID: "w1", StartPosition: kcl.TrimHorizon,
		LeaseDuration: 2 * time.Second, ShardSyncInterval: time.Second, PollInterval: 200 * time.Millisecond, MaxRecords: 10000,
		RetryAttempts: 3, RetryBackoff: 10 * time.Millisecond, HTTPAddr: "127.0.0.1:0",
		CloudWatchEnabled: true, CloudWatchNamespace: testenv.UniqueName("ConsumerTest"), CloudWatchInterval: 500 * time.Millisecond,
		ShutdownTimeout: 10 * time.Second,
	}
}

func readLines(t *testing.T, path string) []Line {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []Line
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l Line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("bad output line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}

func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The service end to end with the default handler: plain, aggregated and
// binary records become JSON lines in OUTPUT; /healthz, /readyz and /metrics
// answer; CloudWatch receives the metrics; SIGTERM (ctx cancel) checkpoints
// and releases the leases.
func TestServiceWritesJSONLinesAndStopsGracefully(t *testing.T) {
	c := newClients(t)
	stream := c.createStream(t, 2)
	t.Cleanup(func() {
		_, _ = c.db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(stream + "-app")})
	})
	var entries []ktypes.PutRecordsRequestEntry
	for i := 0; i < 20; i++ {
		entries = append(entries, ktypes.PutRecordsRequestEntry{Data: []byte(fmt.Sprintf("plain-%d", i)), PartitionKey: aws.String(fmt.Sprint(i))})
	}
	var users []kpl.UserRecord
	for i := 0; i < 30; i++ {
		users = append(users, kpl.UserRecord{PartitionKey: fmt.Sprintf("u%d", i), Data: []byte(fmt.Sprintf("agg-%d", i))})
	}
	agg, err := kpl.Encode(users)
	if err != nil {
		t.Fatal(err)
	}
	entries = append(entries, ktypes.PutRecordsRequestEntry{Data: agg, PartitionKey: aws.String("agg")},
		ktypes.PutRecordsRequestEntry{Data: []byte{0xff, 0x00, 0xfe}, PartitionKey: aws.String("bin")})
	c.put(t, stream, entries...)

	cfg := testConfig(stream)
	cfg.Output = filepath.Join(t.TempDir(), "out.jsonl")
	m := NewMetrics()
	awsCfg, err := awsconfig.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	counted := kinesis.NewFromConfig(awsCfg, func(o *kinesis.Options) { o.APIOptions = append(o.APIOptions, m.CountAWSCalls) })
	svc, err := New(cfg, Deps{Kinesis: counted, DynamoDB: c.db, CloudWatch: c.cw, Metrics: m, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + svc.Addr()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _ := get(base + "/readyz")
		n := testCounterValue(svc.Metrics(), "streamprocessor_consumer_records_processed_total")
		if code == 200 && n == 51 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready with 51 records processed: readyz %d, processed %v", code, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, _ := get(base + "/healthz"); code != 200 {
		t.Errorf("/healthz %d", code)
	}
	// A batch's records are counted as they are processed, its read (and so
	// millis_behind_latest) right after the batch returns: poll briefly.
	for metricsDeadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, body := get(base + "/metrics")
		if strings.Contains(body, "streamprocessor_consumer_leases_held 2") &&
			strings.Contains(body, "streamprocessor_consumer_millis_behind_latest{shard_id=") &&
			strings.Contains(body, `streamprocessor_aws_calls_total{operation="GetRecords",outcome="ok",service="Kinesis"}`) {
			break
		}
		if time.Now().After(metricsDeadline) {
			t.Errorf("/metrics lacks leases_held 2, millis_behind_latest or counted GetRecords calls:\n%s", body)
			break
		}
	}
	time.Sleep(700 * time.Millisecond) // one CloudWatch period
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if code, _ := get(base + "/readyz"); code == 200 {
		t.Error("/readyz still 200 after stop")
	}

	lines := readLines(t, cfg.Output)
	byData := map[string]Line{}
	for _, l := range lines {
		byData[l.Data] = l
	}
	if len(lines) != 51 || len(byData) != 51 {
		t.Fatalf("%d lines (%d distinct), want 51", len(lines), len(byData))
	}
	if l := byData["agg-29"]; l.SubSequenceNumber != 29 || l.PartitionKey != "u29" {
		t.Errorf("aggregated line %+v: want sub-sequence 29, partition key u29", l)
	}
	if l, ok := byData["/wD+"]; !ok || !l.Base64 {
		t.Errorf("binary record not written as base64 with the flag: %+v", lines)
	}
	leases, err := (&kcl.LeaseStore{DB: c.db, Table: cfg.ApplicationName}).List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leases {
		if l.Owner != "" || l.Checkpoint.SequenceNumber == kcl.CheckpointTrimHorizon {
			t.Errorf("after graceful stop lease %+v: want released and checkpointed", l)
		}
	}
	ms, err := c.cw.ListMetrics(context.Background(), &cloudwatch.ListMetricsInput{Namespace: aws.String(cfg.CloudWatchNamespace)})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, m := range ms.Metrics {
		names[aws.ToString(m.MetricName)] = true
	}
	if !names[MetricRecordsProcessed] || !names[MetricMillisBehindLatest] {
		t.Errorf("CloudWatch metrics %v, want %s and %s", names, MetricRecordsProcessed, MetricMillisBehindLatest)
	}
}

// A record the handler always fails goes to the dead-letter stream with its
// error after RETRY_ATTEMPTS; the others are processed.
func TestServiceDeadLettersToStream(t *testing.T) {
	c := newClients(t)
	stream, dlq := c.createStream(t, 1), c.createStream(t, 1)
	t.Cleanup(func() {
		_, _ = c.db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(stream + "-app")})
	})
	c.put(t, stream,
		ktypes.PutRecordsRequestEntry{Data: []byte("ok-1"), PartitionKey: aws.String("a")},
		ktypes.PutRecordsRequestEntry{Data: []byte("poison"), PartitionKey: aws.String("b")},
		ktypes.PutRecordsRequestEntry{Data: []byte("ok-2"), PartitionKey: aws.String("c")})
	cfg := testConfig(stream)
	cfg.DeadLetterStream, cfg.CloudWatchEnabled = dlq, false
	var handled []string
	h := HandlerFunc(func(_ context.Context, r Record) error {
		if string(r.Data) == "poison" {
			return errors.New("poison is not valid input")
		}
		handled = append(handled, string(r.Data))
		return nil
	})
	svc, err := New(cfg, Deps{Kinesis: c.kin, DynamoDB: c.db, Handler: h, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	stopped := false
	defer func() {
		if !stopped {
			cancel()
			<-done
		}
	}()

	it, err := c.kin.GetShardIterator(context.Background(), &kinesis.GetShardIteratorInput{StreamName: aws.String(dlq),
		ShardId: aws.String("shardId-000000000000"), ShardIteratorType: ktypes.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	iter := it.ShardIterator
	var dead []Line
	for deadline := time.Now().Add(20 * time.Second); len(dead) == 0 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		out, err := c.kin.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			t.Fatal(err)
		}
		iter = out.NextShardIterator
		for _, r := range out.Records {
			var l Line
			if err := json.Unmarshal(r.Data, &l); err != nil {
				t.Fatalf("dead letter %q: %v", r.Data, err)
			}
			dead = append(dead, l)
		}
	}
	if len(dead) != 1 || dead[0].Data != "poison" || !strings.Contains(dead[0].Error, "poison is not valid input") || dead[0].Attempts != 3 {
		t.Fatalf("dead letters %+v, want the poison record with its error after 3 attempts", dead)
	}
	cancel()
	<-done
	stopped = true
	if strings.Join(handled, ",") != "ok-1,ok-2" {
		t.Errorf("handled %v, want ok-1, ok-2", handled)
	}
}

func testCounterValue(m *Metrics, name string) float64 {
	mfs, _ := m.Registry.Gather()
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}
