package producer

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/kdp-io/streamprocessor-operator/internal/shardmap"
	"github.com/kdp-io/streamprocessor-operator/internal/shardmap/shardmaptest"
	"github.com/kdp-io/streamprocessor-operator/workloads/kpl"
)

// fakeKinesis is a hand-written double of the two Kinesis calls, for logic
// tests only: it routes each Kinesis record by its partition key like Kinesis,
// stores it per shard in arrival order, and can fail calls or entries.
type fakeKinesis struct {
	mu        sync.Mutex
	shards    []types.Shard
	stored    map[string][]storedRecord // by shard id
	seq       int
	calls     int
	inCall    int
	maxInCall int
	// failEntry, when set, decides per entry whether to fail it with the code.
	failEntry func(call, i int) string
	// failCall, when set, fails a whole call with the error.
	failCall func(call int) error
	// block, when set, makes PutRecords wait until it is closed.
	block chan struct{}
}

type storedRecord struct {
	pk   string
	data []byte
}

func newFakeKinesis(nShards int) *fakeKinesis {
	f := &fakeKinesis{stored: map[string][]storedRecord{}}
	f.shards = shardmaptest.Even(nShards, 0)
	return f
}

// newShardMap builds the map of the open shards among all that the producer
// would accept (loadShardMap): their ranges must tile the hash key space.
func newShardMap(all []types.Shard) (*shardmap.Map, error) {
	m, err := shardmap.New(all)
	if err != nil {
		return nil, err
	}
	if err := m.Tiles(); err != nil {
		return nil, err
	}
	return m, nil
}

func (f *fakeKinesis) ListShards(ctx context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &kinesis.ListShardsOutput{Shards: append([]types.Shard(nil), f.shards...)}, nil
}

func (f *fakeKinesis) setShards(s []types.Shard) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shards = s
}

func (f *fakeKinesis) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	f.mu.Lock()
	f.inCall++
	f.maxInCall = max(f.maxInCall, f.inCall)
	block := f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inCall--
	call := f.calls
	f.calls++
	if len(in.Records) > 500 {
		return nil, fmt.Errorf("fake: %d records in one call", len(in.Records))
	}
	total := 0
	for _, r := range in.Records {
		size := len(r.Data) + len(aws.ToString(r.PartitionKey))
		if size > kpl.MaxRecordSize {
			return nil, fmt.Errorf("fake: record of %d bytes", size)
		}
		total += size
	}
	if total > 5<<20 {
		return nil, fmt.Errorf("fake: call of %d bytes", total)
	}
	if f.failCall != nil {
		if err := f.failCall(call); err != nil {
			return nil, err
		}
	}
	m, err := newShardMap(f.shards)
	if err != nil {
		return nil, err
	}
	out := &kinesis.PutRecordsOutput{}
	for i, r := range in.Records {
		if f.failEntry != nil {
			if code := f.failEntry(call, i); code != "" {
				out.FailedRecordCount = aws.Int32(aws.ToInt32(out.FailedRecordCount) + 1)
				out.Records = append(out.Records, types.PutRecordsResultEntry{ErrorCode: aws.String(code), ErrorMessage: aws.String("fake")})
				continue
			}
		}
		id := m.Shard(m.Lookup(shardmap.PartitionKeyHash(aws.ToString(r.PartitionKey)))).ID
		f.seq++
		f.stored[id] = append(f.stored[id], storedRecord{pk: aws.ToString(r.PartitionKey), data: r.Data})
		out.Records = append(out.Records, types.PutRecordsResultEntry{ShardId: aws.String(id), SequenceNumber: aws.String(fmt.Sprint(f.seq))})
	}
	return out, nil
}

// userRecords deaggregates everything stored, per shard in stream order.
func (f *fakeKinesis) userRecords(t *testing.T) map[string][]kpl.UserRecord {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string][]kpl.UserRecord{}
	for id, recs := range f.stored {
		for _, r := range recs {
			urs, err := kpl.Deaggregate(r.pk, r.data)
			if err != nil {
				t.Fatalf("deaggregate: %v", err)
			}
			out[id] = append(out[id], urs...)
		}
	}
	return out
}

type apiError struct{ code string }

func (e apiError) Error() string                 { return e.code }
func (e apiError) ErrorCode() string             { return e.code }
func (e apiError) ErrorMessage() string          { return e.code }
func (e apiError) ErrorFault() smithy.ErrorFault { return smithy.FaultServer }

func testConfig() Config {
	c := DefaultConfig()
	c.StreamName = "test"
	c.Linger = 2 * time.Millisecond
	c.AckTimeout = 5 * time.Second
	return c
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startPipeline starts a pipeline over f and waits until its shard map is loaded.
func startPipeline(t *testing.T, cfg Config, f KinesisAPI) (*Pipeline, *Metrics) {
	t.Helper()
	m := NewMetrics()
	p := NewPipeline(cfg, f, m, discardLogger())
	p.Start()
	t.Cleanup(p.Close)
	deadline := time.Now().Add(5 * time.Second)
	for !p.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("pipeline never became ready")
		}
		time.Sleep(time.Millisecond)
	}
	return p, m
}
