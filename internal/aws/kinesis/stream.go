// Package kinesis is the operator's adapter to Amazon Kinesis Data Streams:
// the only package of the operator that imports the SDK's Kinesis client.
// Its methods speak of one stream by name in the operator's terms, and every
// error they return says what was being done and keeps the AWS error, so
// internal/awsapi.Classify maps it to a kind.
package kinesis

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
)

// API is the part of the Kinesis API the operator calls, with the SDK's
// signatures: *kinesis.Client satisfies it, and so do the rate-limited
// wrapper and the benchmark's fakes.
type API interface {
	CreateStream(ctx context.Context, in *kinesis.CreateStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.CreateStreamOutput, error)
	DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
	DeleteStream(ctx context.Context, in *kinesis.DeleteStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.DeleteStreamOutput, error)
	UpdateShardCount(ctx context.Context, in *kinesis.UpdateShardCountInput, optFns ...func(*kinesis.Options)) (*kinesis.UpdateShardCountOutput, error)
	UpdateStreamMode(ctx context.Context, in *kinesis.UpdateStreamModeInput, optFns ...func(*kinesis.Options)) (*kinesis.UpdateStreamModeOutput, error)
	IncreaseStreamRetentionPeriod(ctx context.Context, in *kinesis.IncreaseStreamRetentionPeriodInput, optFns ...func(*kinesis.Options)) (*kinesis.IncreaseStreamRetentionPeriodOutput, error)
	DecreaseStreamRetentionPeriod(ctx context.Context, in *kinesis.DecreaseStreamRetentionPeriodInput, optFns ...func(*kinesis.Options)) (*kinesis.DecreaseStreamRetentionPeriodOutput, error)
	StartStreamEncryption(ctx context.Context, in *kinesis.StartStreamEncryptionInput, optFns ...func(*kinesis.Options)) (*kinesis.StartStreamEncryptionOutput, error)
	StopStreamEncryption(ctx context.Context, in *kinesis.StopStreamEncryptionInput, optFns ...func(*kinesis.Options)) (*kinesis.StopStreamEncryptionOutput, error)
	ListTagsForStream(ctx context.Context, in *kinesis.ListTagsForStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.ListTagsForStreamOutput, error)
	AddTagsToStream(ctx context.Context, in *kinesis.AddTagsToStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.AddTagsToStreamOutput, error)
	RemoveTagsFromStream(ctx context.Context, in *kinesis.RemoveTagsFromStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.RemoveTagsFromStreamOutput, error)
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	MergeShards(ctx context.Context, in *kinesis.MergeShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.MergeShardsOutput, error)
}

// Streams calls Kinesis through an API.
type Streams struct{ API API }

// Describe returns the stream's summary, or nil and no error when no stream
// of that name exists.
func (s Streams) Describe(ctx context.Context, name string) (*types.StreamDescriptionSummary, error) {
	out, err := s.API.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: &name})
	switch {
	case awsapi.Is(err, awsapi.KindNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("describe stream %q: %w", name, err)
	}
	return out.StreamDescriptionSummary, nil
}

// Tags returns all tags of the stream.
func (s Streams) Tags(ctx context.Context, name string) (map[string]string, error) {
	have := map[string]string{}
	for start := (*string)(nil); ; {
		out, err := s.API.ListTagsForStream(ctx, &kinesis.ListTagsForStreamInput{StreamName: &name, ExclusiveStartTagKey: start})
		if err != nil {
			return nil, fmt.Errorf("list tags of stream %q: %w", name, err)
		}
		for _, t := range out.Tags {
			have[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		if !aws.ToBool(out.HasMoreTags) || len(out.Tags) == 0 {
			return have, nil
		}
		start = out.Tags[len(out.Tags)-1].Key
	}
}

// Create creates a provisioned stream with shards shards, born with tags;
// with onDemand an on-demand stream instead (no shard count: Kinesis sizes
// it).
func (s Streams) Create(ctx context.Context, name string, shards int32, onDemand bool, tags map[string]string) error {
	in := &kinesis.CreateStreamInput{
		StreamName: &name, ShardCount: aws.Int32(shards), Tags: tags,
		StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeProvisioned},
	}
	if onDemand {
		in.ShardCount, in.StreamModeDetails.StreamMode = nil, types.StreamModeOnDemand
	}
	_, err := s.API.CreateStream(ctx, in)
	return wrap(err, "create stream %q", name)
}

// SetMode switches the stream (by ARN, as UpdateStreamMode requires) to
// mode, in one attempt (callOnce): the caller counts the call against AWS's
// two switches per 24 hours before making it and drops it when AWS refuses,
// which is only right if no earlier attempt may have taken effect.
func (s Streams) SetMode(ctx context.Context, arn string, mode types.StreamMode) error {
	_, err := s.API.UpdateStreamMode(ctx, &kinesis.UpdateStreamModeInput{
		StreamARN: &arn, StreamModeDetails: &types.StreamModeDetails{StreamMode: mode},
	}, callOnce)
	return wrap(err, "switch stream %q to %s", arn, mode)
}

// SetTags adds (or overwrites) add and removes remove, at most 10 keys per
// call, AWS's limit.
func (s Streams) SetTags(ctx context.Context, name string, add map[string]string, remove []string) error {
	for chunk := range slices.Chunk(slices.Sorted(maps.Keys(add)), 10) {
		tags := map[string]string{}
		for _, key := range chunk {
			tags[key] = add[key]
		}
		if _, err := s.API.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: &name, Tags: tags}); err != nil {
			return fmt.Errorf("tag stream %q: %w", name, err)
		}
	}
	for chunk := range slices.Chunk(remove, 10) {
		if _, err := s.API.RemoveTagsFromStream(ctx, &kinesis.RemoveTagsFromStreamInput{StreamName: &name, TagKeys: chunk}); err != nil {
			return fmt.Errorf("untag stream %q: %w", name, err)
		}
	}
	return nil
}

// SetRetention changes the retention period from from to to hours.
func (s Streams) SetRetention(ctx context.Context, name string, from, to int32) error {
	var err error
	if to > from {
		_, err = s.API.IncreaseStreamRetentionPeriod(ctx, &kinesis.IncreaseStreamRetentionPeriodInput{StreamName: &name, RetentionPeriodHours: aws.Int32(to)})
	} else {
		_, err = s.API.DecreaseStreamRetentionPeriod(ctx, &kinesis.DecreaseStreamRetentionPeriodInput{StreamName: &name, RetentionPeriodHours: aws.Int32(to)})
	}
	return wrap(err, "change retention of stream %q from %dh to %dh", name, from, to)
}

// StartEncryption encrypts the stream with the KMS key.
func (s Streams) StartEncryption(ctx context.Context, name, key string) error {
	_, err := s.API.StartStreamEncryption(ctx, &kinesis.StartStreamEncryptionInput{StreamName: &name, EncryptionType: types.EncryptionTypeKms, KeyId: &key})
	return wrap(err, "start encryption of stream %q with key %q", name, key)
}

// StopEncryption stops the stream's encryption with the KMS key.
func (s Streams) StopEncryption(ctx context.Context, name, key string) error {
	_, err := s.API.StopStreamEncryption(ctx, &kinesis.StopStreamEncryptionInput{StreamName: &name, EncryptionType: types.EncryptionTypeKms, KeyId: &key})
	return wrap(err, "stop encryption of stream %q", name)
}

// Reshard asks for to open shards with uniform scaling, from from, in one
// attempt (callOnce): the caller drops its ledger entry when AWS refuses the
// call, which is only right if no earlier attempt may have taken effect.
func (s Streams) Reshard(ctx context.Context, name string, from, to int32) error {
	_, err := s.API.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{
		StreamName: &name, TargetShardCount: aws.Int32(to), ScalingType: types.ScalingTypeUniformScaling,
	}, callOnce)
	return wrap(err, "update shard count of stream %q from %d to %d", name, from, to)
}

// OpenShards returns the stream's open shards (ListShards with the AT_LATEST
// filter, every page), in the order Kinesis lists them.
func (s Streams) OpenShards(ctx context.Context, name string) ([]types.Shard, error) {
	in := &kinesis.ListShardsInput{StreamName: &name, ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}}
	var shards []types.Shard
	for {
		out, err := s.API.ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list open shards of stream %q: %w", name, err)
		}
		shards = append(shards, out.Shards...)
		if aws.ToString(out.NextToken) == "" {
			return shards, nil
		}
		// A page after the first names neither the stream nor the filter:
		// the token carries both (ListShards refuses them together).
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}

// Merge merges the open shard with its adjacent open shard (MergeShards), in
// one attempt (callOnce): a retry after an attempt that took effect would be
// refused (the shards are closed) and hide the merge; the next pass lists the
// shards again and sees what happened. MergeShards spends none of
// UpdateShardCount's calls.
func (s Streams) Merge(ctx context.Context, name, shard, adjacent string) error {
	_, err := s.API.MergeShards(ctx, &kinesis.MergeShardsInput{
		StreamName: &name, ShardToMerge: &shard, AdjacentShardToMerge: &adjacent,
	}, callOnce)
	return wrap(err, "merge shards %s and %s of stream %q", shard, adjacent, name)
}

// Delete deletes the stream and its registered consumers. It reports
// whether there was a stream to delete: one that does not exist is gone, not
// an error.
func (s Streams) Delete(ctx context.Context, name string) (existed bool, err error) {
	_, err = s.API.DeleteStream(ctx, &kinesis.DeleteStreamInput{StreamName: &name, EnforceConsumerDeletion: aws.Bool(true)})
	if awsapi.Is(err, awsapi.KindNotFound) {
		return false, nil
	}
	return err == nil, wrap(err, "delete stream %q", name)
}

// callOnce makes a call that changes AWS and is not idempotent with one
// attempt only. An attempt that timed out may have taken effect: an SDK retry
// would then apply it twice, or fail in a way that hides it
// (ResourceInUseException after the first attempt's reshard). The next pass
// observes what happened and decides again.
func callOnce(o *kinesis.Options) { o.RetryMaxAttempts = 1 }

func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
