package fakeaws

import (
	"context"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// Kinesis is the account's Kinesis Data Streams control plane.
type Kinesis struct {
	a       *Account
	streams map[string]*stream
}

type stream struct {
	name, arn  string
	created    time.Time
	shards     int32 // open shards once the pending update ends
	prevShards int32
	activeAt   time.Time // CREATING or UPDATING until then
	updating   bool
	retention  int32
	encryption ktypes.EncryptionType
	keyID      string
	tags       map[string]string
	// generation counts the changes of the shard set (shardsOf's ids).
	generation int
}

func apiErr(code, format string, args ...any) error {
	return &smithy.GenericAPIError{Code: code, Message: fmt.Sprintf(format, args...), Fault: smithy.FaultClient}
}

// lookup finds a stream by name or ARN; the caller holds a.mu.
func (k *Kinesis) lookup(name, arn *string) (*stream, error) {
	n := aws.ToString(name)
	if n == "" {
		if i := strings.LastIndex(aws.ToString(arn), "/"); i >= 0 {
			n = aws.ToString(arn)[i+1:]
		}
	}
	s := k.streams[n]
	if s == nil {
		return nil, apiErr("ResourceNotFoundException", "Stream %s under account 000000000000 not found.", n)
	}
	return s, nil
}

// onStream makes one call of op on the stream named by name or arn: the call
// passes the account's rate and latency, then f runs on the stream under the
// account's lock. A stream that does not exist is ResourceNotFound.
func onStream[T any](ctx context.Context, k *Kinesis, op string, name, arn *string, f func(*stream) (*T, error)) (*T, error) {
	if err := k.a.call(ctx, op); err != nil {
		return nil, err
	}
	k.a.mu.Lock()
	defer k.a.mu.Unlock()
	s, err := k.lookup(name, arn)
	if err != nil {
		return nil, err
	}
	return f(s)
}

func (s *stream) status(now time.Time) ktypes.StreamStatus {
	switch {
	case now.Before(s.activeAt) && s.updating:
		return ktypes.StreamStatusUpdating
	case now.Before(s.activeAt):
		return ktypes.StreamStatusCreating
	}
	return ktypes.StreamStatusActive
}

func (s *stream) open(now time.Time) int32 {
	if s.updating && now.Before(s.activeAt) {
		return s.prevShards
	}
	return s.shards
}

func (k *Kinesis) CreateStream(ctx context.Context, in *kinesis.CreateStreamInput, _ ...func(*kinesis.Options)) (*kinesis.CreateStreamOutput, error) {
	if err := k.a.call(ctx, "kinesis.CreateStream"); err != nil {
		return nil, err
	}
	k.a.mu.Lock()
	defer k.a.mu.Unlock()
	name := aws.ToString(in.StreamName)
	if k.streams[name] != nil {
		return nil, apiErr("ResourceInUseException", "Stream %s under account 000000000000 already exists.", name)
	}
	if in.StreamModeDetails != nil && in.StreamModeDetails.StreamMode == ktypes.StreamModeOnDemand {
		return nil, k.a.notImplementedLocked("kinesis.CreateStream", "ON_DEMAND streams")
	}
	shards := aws.ToInt32(in.ShardCount)
	if shards < 1 {
		return nil, apiErr("InvalidArgumentException", "ShardCount must be at least 1")
	}
	now := k.a.now()
	tags := map[string]string{}
	for key, v := range in.Tags {
		tags[key] = v
	}
	k.streams[name] = &stream{
		name: name, arn: "arn:aws:kinesis:us-east-1:000000000000:stream/" + name, created: now,
		shards: shards, activeAt: now.Add(k.a.CreateDelay), retention: 24, encryption: ktypes.EncryptionTypeNone, tags: tags,
	}
	return &kinesis.CreateStreamOutput{}, nil
}

func (k *Kinesis) DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, _ ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	return onStream(ctx, k, "kinesis.DescribeStreamSummary", in.StreamName, in.StreamARN, func(s *stream) (*kinesis.DescribeStreamSummaryOutput, error) {
		now := k.a.now()
		d := &ktypes.StreamDescriptionSummary{
			StreamName: aws.String(s.name), StreamARN: aws.String(s.arn), StreamStatus: s.status(now),
			RetentionPeriodHours: aws.Int32(s.retention), StreamCreationTimestamp: aws.Time(s.created),
			EnhancedMonitoring: []ktypes.EnhancedMetrics{{}}, OpenShardCount: aws.Int32(s.open(now)),
			EncryptionType: s.encryption, StreamModeDetails: &ktypes.StreamModeDetails{StreamMode: ktypes.StreamModeProvisioned},
			ConsumerCount: aws.Int32(0),
		}
		if s.keyID != "" {
			d.KeyId = aws.String(s.keyID)
		}
		return &kinesis.DescribeStreamSummaryOutput{StreamDescriptionSummary: d}, nil
	})
}

func (k *Kinesis) DeleteStream(ctx context.Context, in *kinesis.DeleteStreamInput, _ ...func(*kinesis.Options)) (*kinesis.DeleteStreamOutput, error) {
	return onStream(ctx, k, "kinesis.DeleteStream", in.StreamName, in.StreamARN, func(s *stream) (*kinesis.DeleteStreamOutput, error) {
		delete(k.streams, s.name) // gone at once: the fake has no DELETING
		return &kinesis.DeleteStreamOutput{}, nil
	})
}

// UpdateShardCount reshards uniformly: the target must be within [½, 2×] of
// the open shards, and the stream ACTIVE; it is UPDATING for UpdateDelay.
func (k *Kinesis) UpdateShardCount(ctx context.Context, in *kinesis.UpdateShardCountInput, _ ...func(*kinesis.Options)) (*kinesis.UpdateShardCountOutput, error) {
	return onStream(ctx, k, "kinesis.UpdateShardCount", in.StreamName, in.StreamARN, func(s *stream) (*kinesis.UpdateShardCountOutput, error) {
		now := k.a.now()
		if st := s.status(now); st != ktypes.StreamStatusActive {
			return nil, apiErr("ResourceInUseException", "Stream %s under account 000000000000 is %s, not ACTIVE.", s.name, st)
		}
		target, cur := aws.ToInt32(in.TargetShardCount), s.shards
		if target > 2*cur || 2*target < cur || target < 1 {
			return nil, apiErr("ValidationException", "UpdateShardCount from %d to %d: the target must be within half and double the current count", cur, target)
		}
		s.prevShards, s.shards, s.updating, s.activeAt = cur, target, true, now.Add(k.a.UpdateDelay)
		s.generation++
		return &kinesis.UpdateShardCountOutput{StreamName: aws.String(s.name), StreamARN: aws.String(s.arn), CurrentShardCount: aws.Int32(cur), TargetShardCount: aws.Int32(target)}, nil
	})
}

// UpdateStreamMode is refused: the fake models provisioned streams only
// (the bench's StreamProcessors keep the default capacityMode Provisioned).
func (k *Kinesis) UpdateStreamMode(ctx context.Context, in *kinesis.UpdateStreamModeInput, _ ...func(*kinesis.Options)) (*kinesis.UpdateStreamModeOutput, error) {
	return nil, apiErr("InvalidArgumentException", "the bench's fake Kinesis has no on-demand mode")
}

func (k *Kinesis) IncreaseStreamRetentionPeriod(ctx context.Context, in *kinesis.IncreaseStreamRetentionPeriodInput, _ ...func(*kinesis.Options)) (*kinesis.IncreaseStreamRetentionPeriodOutput, error) {
	return onStream(ctx, k, "kinesis.IncreaseStreamRetentionPeriod", in.StreamName, in.StreamARN, func(s *stream) (*kinesis.IncreaseStreamRetentionPeriodOutput, error) {
		if h := aws.ToInt32(in.RetentionPeriodHours); h < s.retention || h > 8760 {
			return nil, apiErr("InvalidArgumentException", "retention %d hours is not an increase within 8760", h)
		}
		s.retention = aws.ToInt32(in.RetentionPeriodHours)
		return &kinesis.IncreaseStreamRetentionPeriodOutput{}, nil
	})
}

func (k *Kinesis) DecreaseStreamRetentionPeriod(ctx context.Context, in *kinesis.DecreaseStreamRetentionPeriodInput, _ ...func(*kinesis.Options)) (*kinesis.DecreaseStreamRetentionPeriodOutput, error) {
	return onStream(ctx, k, "kinesis.DecreaseStreamRetentionPeriod", in.StreamName, in.StreamARN, func(s *stream) (*kinesis.DecreaseStreamRetentionPeriodOutput, error) {
		if h := aws.ToInt32(in.RetentionPeriodHours); h > s.retention || h < 24 {
			return nil, apiErr("InvalidArgumentException", "retention %d hours is not a decrease to at least 24", h)
		}
		s.retention = aws.ToInt32(in.RetentionPeriodHours)
		return &kinesis.DecreaseStreamRetentionPeriodOutput{}, nil
	})
}

func (k *Kinesis) StartStreamEncryption(ctx context.Context, in *kinesis.StartStreamEncryptionInput, _ ...func(*kinesis.Options)) (*kinesis.StartStreamEncryptionOutput, error) {
	return onStream(ctx, k, "kinesis.StartStreamEncryption", in.StreamName, in.StreamARN, func(s *stream) (*kinesis.StartStreamEncryptionOutput, error) {
		s.encryption, s.keyID = ktypes.EncryptionTypeKms, aws.ToString(in.KeyId)
		return &kinesis.StartStreamEncryptionOutput{}, nil
	})
}

func (k *Kinesis) StopStreamEncryption(ctx context.Context, in *kinesis.StopStreamEncryptionInput, _ ...func(*kinesis.Options)) (*kinesis.StopStreamEncryptionOutput, error) {
	return onStream(ctx, k, "kinesis.StopStreamEncryption", in.StreamName, in.StreamARN, func(s *stream) (*kinesis.StopStreamEncryptionOutput, error) {
		s.encryption, s.keyID = ktypes.EncryptionTypeNone, ""
		return &kinesis.StopStreamEncryptionOutput{}, nil
	})
}

// ListTagsForStream pages by ExclusiveStartTagKey, Limit tags a page (10 by default, as AWS).
func (k *Kinesis) ListTagsForStream(ctx context.Context, in *kinesis.ListTagsForStreamInput, _ ...func(*kinesis.Options)) (*kinesis.ListTagsForStreamOutput, error) {
	return onStream(ctx, k, "kinesis.ListTagsForStream", in.StreamName, in.StreamARN, func(s *stream) (*kinesis.ListTagsForStreamOutput, error) {
		keys := make([]string, 0, len(s.tags))
		for key := range s.tags {
			if key > aws.ToString(in.ExclusiveStartTagKey) {
				keys = append(keys, key)
			}
		}
		sort.Strings(keys)
		limit := int(aws.ToInt32(in.Limit))
		if limit <= 0 {
			limit = 10
		}
		out := &kinesis.ListTagsForStreamOutput{HasMoreTags: aws.Bool(len(keys) > limit)}
		for _, key := range keys[:min(limit, len(keys))] {
			out.Tags = append(out.Tags, ktypes.Tag{Key: aws.String(key), Value: aws.String(s.tags[key])})
		}
		return out, nil
	})
}

func (k *Kinesis) AddTagsToStream(ctx context.Context, in *kinesis.AddTagsToStreamInput, _ ...func(*kinesis.Options)) (*kinesis.AddTagsToStreamOutput, error) {
	return onStream(ctx, k, "kinesis.AddTagsToStream", in.StreamName, in.StreamARN, func(s *stream) (*kinesis.AddTagsToStreamOutput, error) {
		if len(in.Tags) > 10 {
			return nil, apiErr("InvalidArgumentException", "at most 10 tags a call")
		}
		for key, v := range in.Tags {
			s.tags[key] = v
		}
		if len(s.tags) > 50 {
			return nil, apiErr("LimitExceededException", "a stream has at most 50 tags")
		}
		return &kinesis.AddTagsToStreamOutput{}, nil
	})
}

func (k *Kinesis) RemoveTagsFromStream(ctx context.Context, in *kinesis.RemoveTagsFromStreamInput, _ ...func(*kinesis.Options)) (*kinesis.RemoveTagsFromStreamOutput, error) {
	return onStream(ctx, k, "kinesis.RemoveTagsFromStream", in.StreamName, in.StreamARN, func(s *stream) (*kinesis.RemoveTagsFromStreamOutput, error) {
		for _, key := range in.TagKeys {
			delete(s.tags, key)
		}
		return &kinesis.RemoveTagsFromStreamOutput{}, nil
	})
}

// shardsOf is the stream's open shards as the fake lists them: an even split
// of the hash key space into the open count (the fake keeps a count, not
// ranges; a merge leaves the next listing even again), with ids of the
// shard set's generation, so that a list from before a change names shards
// that are gone.
func (s *stream) shardsOf(now time.Time) []ktypes.Shard {
	n, gen := s.open(now), s.generation
	if s.updating && now.Before(s.activeAt) {
		gen--
	}
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	out := make([]ktypes.Shard, n)
	for i := range out {
		start := new(big.Int).Div(new(big.Int).Mul(space, big.NewInt(int64(i))), big.NewInt(int64(n)))
		next := new(big.Int).Div(new(big.Int).Mul(space, big.NewInt(int64(i+1))), big.NewInt(int64(n)))
		out[i] = ktypes.Shard{
			ShardId: aws.String(fmt.Sprintf("shardId-%06d%06d", gen, i)),
			HashKeyRange: &ktypes.HashKeyRange{
				StartingHashKey: aws.String(start.String()), EndingHashKey: aws.String(next.Sub(next, big.NewInt(1)).String()),
			},
			SequenceNumberRange: &ktypes.SequenceNumberRange{StartingSequenceNumber: aws.String("1")},
		}
	}
	return out
}

// ListShards lists the open shards (shardsOf) in one page, whatever the
// filter: the fake keeps no closed shards.
func (k *Kinesis) ListShards(ctx context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	return onStream(ctx, k, "kinesis.ListShards", in.StreamName, in.StreamARN, func(s *stream) (*kinesis.ListShardsOutput, error) {
		return &kinesis.ListShardsOutput{Shards: s.shardsOf(k.a.now())}, nil
	})
}

// MergeShards merges two adjacent open shards of the current listing: the
// stream must be ACTIVE (ResourceInUseException), the shards open and
// adjacent (InvalidArgumentException); it is UPDATING for UpdateDelay, then
// has one shard less.
func (k *Kinesis) MergeShards(ctx context.Context, in *kinesis.MergeShardsInput, _ ...func(*kinesis.Options)) (*kinesis.MergeShardsOutput, error) {
	return onStream(ctx, k, "kinesis.MergeShards", in.StreamName, in.StreamARN, func(s *stream) (*kinesis.MergeShardsOutput, error) {
		now := k.a.now()
		if st := s.status(now); st != ktypes.StreamStatusActive {
			return nil, apiErr("ResourceInUseException", "Stream %s under account 000000000000 is %s, not ACTIVE.", s.name, st)
		}
		index := map[string]int{}
		for i, sh := range s.shardsOf(now) {
			index[aws.ToString(sh.ShardId)] = i
		}
		i, ok1 := index[aws.ToString(in.ShardToMerge)]
		j, ok2 := index[aws.ToString(in.AdjacentShardToMerge)]
		if !ok1 || !ok2 || (i-j != 1 && j-i != 1) {
			return nil, apiErr("InvalidArgumentException", "Shards %s and %s are not two adjacent open shards of stream %s.", aws.ToString(in.ShardToMerge), aws.ToString(in.AdjacentShardToMerge), s.name)
		}
		s.prevShards, s.shards, s.generation = s.shards, s.shards-1, s.generation+1
		s.updating, s.activeAt = true, now.Add(k.a.UpdateDelay)
		return &kinesis.MergeShardsOutput{}, nil
	})
}
