package kcl

import (
	"context"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// KinesisAPI is the part of the Kinesis client the library needs, with the SDK's
// signatures (*kinesis.Client satisfies it).
type KinesisAPI interface {
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, optFns ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
}

func parentsOf(s types.Shard) []string {
	var ps []string
	for _, p := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
		if p != nil && *p != "" {
			ps = append(ps, *p)
		}
	}
	sort.Strings(ps)
	return ps
}

// newLeases plans the leases to create for shards that have none. The
// configured position applies only on the application's first start, while
// the lease table is empty: then open shards start there and, with LATEST,
// closed shards (nothing left to read) are created finished (SHARD_END).
// Once the table holds a lease, every shard found without one appeared
// later — a child of a reshard, or a grandchild when two reshards came
// between two syncs — and starts at TRIM_HORIZON whatever the position, as
// the KCL's children do, so records written to it before its lease is taken
// are not skipped. Parents come before children in the result.
func newLeases(shards []types.Shard, existing map[string]Lease, pos InitialPosition) []Lease {
	firstStart := len(existing) == 0
	var out []Lease
	for _, s := range shards {
		id := aws.ToString(s.ShardId)
		if _, ok := existing[id]; ok {
			continue
		}
		cp := CheckpointTrimHorizon
		if firstStart {
			cp = string(pos)
			closed := s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil
			if cp == CheckpointLatest && closed {
				cp = CheckpointShardEnd
			}
		}
		out = append(out, Lease{Key: id, Checkpoint: ExtendedSequenceNumber{SequenceNumber: cp}, ParentShardIDs: parentsOf(s)})
	}
	// Shard ids grow with creation, and a child is created after its parents.
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
