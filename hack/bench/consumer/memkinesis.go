package main

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kdp-io/streamprocessor-operator/workloads/kcl"
)

// memKinesis is an in-memory one-shard stream, so the library's own cost
// (deaggregation, dispatch, checkpoints to dynalite) can be measured without
// the emulator's HTTP/JSON cost. It serves up to 10 MB per GetRecords, like
// Kinesis.
type memKinesis struct {
	records []ktypes.Record
}

func newMemKinesis(n, perAgg int) (*memKinesis, error) {
	m := &memKinesis{}
	for i := 0; i < n; i += perAgg {
		data, key, err := aggregate(i, min(i+perAgg, n))
		if err != nil {
			return nil, err
		}
		m.records = append(m.records, ktypes.Record{SequenceNumber: aws.String(fmt.Sprintf("%020d", len(m.records))),
			PartitionKey: aws.String(key), Data: data, ApproximateArrivalTimestamp: aws.Time(time.Now())})
	}
	return m, nil
}

func (m *memKinesis) ListShards(context.Context, *kinesis.ListShardsInput, ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	return &kinesis.ListShardsOutput{Shards: []ktypes.Shard{{ShardId: aws.String("shardId-000000000000"),
		SequenceNumberRange: &ktypes.SequenceNumberRange{StartingSequenceNumber: aws.String("0")}}}}, nil
}

func (m *memKinesis) GetShardIterator(_ context.Context, in *kinesis.GetShardIteratorInput, _ ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	pos := 0
	if in.StartingSequenceNumber != nil {
		pos, _ = strconv.Atoi(*in.StartingSequenceNumber)
	}
	return &kinesis.GetShardIteratorOutput{ShardIterator: aws.String(strconv.Itoa(pos))}, nil
}

func (m *memKinesis) GetRecords(_ context.Context, in *kinesis.GetRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	pos, _ := strconv.Atoi(aws.ToString(in.ShardIterator))
	end, size := pos, 0
	for end < len(m.records) && end-pos < int(aws.ToInt32(in.Limit)) && size+len(m.records[end].Data) <= 10<<20 {
		size += len(m.records[end].Data)
		end++
	}
	return &kinesis.GetRecordsOutput{Records: m.records[pos:end], NextShardIterator: aws.String(strconv.Itoa(end)),
		MillisBehindLatest: aws.Int64(int64(len(m.records) - end))}, nil
}

// memThroughput drains n records from memKinesis with one worker.
func (b *bench) memThroughput(n, perAgg int) (float64, error) {
	mk, err := newMemKinesis(n, perAgg)
	if err != nil {
		return 0, err
	}
	app := fmt.Sprintf("bench-consumer-mem-%d", time.Now().UnixNano()%1_000_000_000)
	defer b.dropTable(app)
	var count, first, last atomic.Int64
	w, err := kcl.NewWorker(kcl.Config{ApplicationName: app, StreamName: "in-memory", WorkerID: "bench", Logger: b.log},
		kcl.ProcessorFactoryFunc(func() kcl.RecordProcessor { return &countingProcessor{n: &count, first: &first, last: &last} }), mk, b.db)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t0 := time.Now()
	if err := w.Start(ctx); err != nil {
		return 0, err
	}
	if err := waitFor(5*time.Minute, func() bool { return count.Load() >= int64(n) }); err != nil {
		return 0, err
	}
	return float64(n) / time.Unix(0, last.Load()).Sub(t0).Seconds(), nil
}
