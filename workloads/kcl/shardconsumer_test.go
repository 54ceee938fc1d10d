package kcl

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
)

// fakeKinesis is a one-shard, closed stream of n records served 3 at a time,
// which throttles the first read and expires the iterator of the second.
type fakeKinesis struct {
	mu        sync.Mutex
	n         int
	reads     []time.Time
	iterators []string // "type:position" of each GetShardIterator
	errs      []error  // returned by successive GetRecords calls before data
}

func (f *fakeKinesis) ListShards(ctx context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	return &kinesis.ListShardsOutput{Shards: []types.Shard{{ShardId: aws.String("shardId-000000000000"),
		SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("0"), EndingSequenceNumber: aws.String(strconv.Itoa(f.n))}}}}, nil
}

func (f *fakeKinesis) GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, _ ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	pos := 0
	if in.ShardIteratorType == types.ShardIteratorTypeAtSequenceNumber {
		pos, _ = strconv.Atoi(aws.ToString(in.StartingSequenceNumber))
	}
	f.iterators = append(f.iterators, fmt.Sprintf("%s:%d", in.ShardIteratorType, pos))
	return &kinesis.GetShardIteratorOutput{ShardIterator: aws.String(strconv.Itoa(pos))}, nil
}

func (f *fakeKinesis) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads = append(f.reads, time.Now())
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return nil, err
	}
	pos, _ := strconv.Atoi(aws.ToString(in.ShardIterator))
	out := &kinesis.GetRecordsOutput{MillisBehindLatest: aws.Int64(int64(1000 * (f.n - pos)))}
	for i := pos; i < min(pos+3, f.n); i++ {
		out.Records = append(out.Records, types.Record{SequenceNumber: aws.String(strconv.Itoa(i)), PartitionKey: aws.String("pk"),
			Data: []byte(fmt.Sprintf("rec-%d", i)), ApproximateArrivalTimestamp: aws.Time(time.Now())})
	}
	if next := pos + len(out.Records); next < f.n || len(out.Records) > 0 {
		out.NextShardIterator = aws.String(strconv.Itoa(next))
	}
	return out, nil
}

// The read loop backs off on throttling, replaces an expired iterator at the
// last delivered record, keeps to 5 GetRecords calls per second, delivers every
// record once and in order, and checkpoints SHARD_END at the end of the shard.
func TestShardConsumerReadLoop(t *testing.T) {
	testenv.Require(t, testenv.DynamoDB)
	ctx := context.Background()
	cfg, err := awsconfig.Load(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(cfg)
	table := testenv.UniqueName("kcl-loop")
	t.Cleanup(func() { _, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table}) })
	fk := &fakeKinesis{n: 10, errs: []error{
		&types.ProvisionedThroughputExceededException{Message: aws.String("slow down")},
	}}
	rec := newRecorder()
	var once sync.Once
	w, err := NewWorker(Config{ApplicationName: table, StreamName: "fake", WorkerID: "w1", LeaseDuration: 3 * time.Second, IdleTimeBetweenReads: time.Second, Logger: testLogger()},
		ProcessorFactoryFunc(func() RecordProcessor {
			return &expiringProcessor{recordingProcessor: recordingProcessor{rec: rec, worker: "w1"}, after: func() {
				// After the first batch, the next read finds its iterator expired.
				once.Do(func() {
					fk.mu.Lock()
					fk.errs = append(fk.errs, &types.ExpiredIteratorException{Message: aws.String("expired")})
					fk.mu.Unlock()
				})
			}}
		}), fk, db)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := w.Start(runCtx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "SHARD_END", func() bool {
		ls, err := w.store.List(ctx)
		return err == nil && len(ls) == 1 && ls[0].Finished() && ls[0].Owner == ""
	})
	if rec.count() != 10 || rec.duplicates() != 0 {
		t.Fatalf("%d records, %d duplicates; want 10, 0", rec.count(), rec.duplicates())
	}
	order := rec.byShard()["shardId-000000000000"]
	for i, d := range order {
		if d.seq != strconv.Itoa(i) {
			t.Fatalf("delivery %d was record %s: out of order", i, d.seq)
		}
	}
	fk.mu.Lock()
	defer fk.mu.Unlock()
	if got := strings.Join(fk.iterators, ","); got != "TRIM_HORIZON:0,AT_SEQUENCE_NUMBER:2" {
		t.Errorf("iterators %s: want TRIM_HORIZON then AT_SEQUENCE_NUMBER at the last delivered record (2)", got)
	}
	for i := 1; i < len(fk.reads); i++ {
		if gap := fk.reads[i].Sub(fk.reads[i-1]); gap < MinTimeBetweenReads-10*time.Millisecond {
			t.Errorf("GetRecords %d came %v after the previous one: more than 5 calls/s", i, gap)
		}
	}
	if rs := rec.shutdowns["shardId-000000000000"]; len(rs) != 1 || rs[0] != TERMINATE {
		t.Errorf("shutdowns %v, want [TERMINATE]", rs)
	}
}

type expiringProcessor struct {
	recordingProcessor
	after func()
}

func (p *expiringProcessor) ProcessRecords(in *ProcessRecordsInput) {
	p.recordingProcessor.ProcessRecords(in)
	p.after()
}
