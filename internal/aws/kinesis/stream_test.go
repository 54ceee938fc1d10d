package kinesis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
)

// fakeAPI answers DescribeStreamSummary with err and records tag calls.
type fakeAPI struct {
	API
	err                  error
	addCalls, removeKeys []int
}

func (f *fakeAPI) DescribeStreamSummary(context.Context, *kinesis.DescribeStreamSummaryInput, ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	return nil, f.err
}

func (f *fakeAPI) AddTagsToStream(_ context.Context, in *kinesis.AddTagsToStreamInput, _ ...func(*kinesis.Options)) (*kinesis.AddTagsToStreamOutput, error) {
	f.addCalls = append(f.addCalls, len(in.Tags))
	return &kinesis.AddTagsToStreamOutput{}, nil
}

func (f *fakeAPI) RemoveTagsFromStream(_ context.Context, in *kinesis.RemoveTagsFromStreamInput, _ ...func(*kinesis.Options)) (*kinesis.RemoveTagsFromStreamOutput, error) {
	f.removeKeys = append(f.removeKeys, len(in.TagKeys))
	return &kinesis.RemoveTagsFromStreamOutput{}, f.err
}

func TestDescribeMapsNotFoundToNoStream(t *testing.T) {
	s := Streams{API: &fakeAPI{err: &smithy.GenericAPIError{Code: "ResourceNotFoundException"}}}
	if d, err := s.Describe(context.Background(), "s"); d != nil || err != nil {
		t.Errorf("Describe of a missing stream = %v, %v; want nil, nil", d, err)
	}
	s = Streams{API: &fakeAPI{err: &smithy.GenericAPIError{Code: "AccessDeniedException"}}}
	_, err := s.Describe(context.Background(), "s")
	if !awsapi.Is(err, awsapi.KindDenied) || !strings.Contains(err.Error(), `describe stream "s"`) {
		t.Errorf("Describe error = %v; want the denial, kept and said what was being done", err)
	}
}

func TestSetTagsAtMostTenPerCall(t *testing.T) {
	f := &fakeAPI{}
	add := map[string]string{}
	for i := range 23 {
		add[fmt.Sprintf("k%02d", i)] = "v"
	}
	remove := make([]string, 12)
	if err := (Streams{API: f}).SetTags(context.Background(), "s", add, remove); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(f.addCalls) != "[10 10 3]" || fmt.Sprint(f.removeKeys) != "[10 2]" {
		t.Errorf("add calls %v, remove calls %v; want [10 10 3] and [10 2]", f.addCalls, f.removeKeys)
	}
	f.err = errors.New("boom")
	if err := (Streams{API: f}).SetTags(context.Background(), "s", nil, []string{"a"}); err == nil || !strings.Contains(err.Error(), `untag stream "s"`) {
		t.Errorf("SetTags error = %v", err)
	}
}

type attemptsAPI struct {
	API
	attempts int
}

func (f *attemptsAPI) UpdateShardCount(_ context.Context, _ *kinesis.UpdateShardCountInput, optFns ...func(*kinesis.Options)) (*kinesis.UpdateShardCountOutput, error) {
	o := kinesis.Options{RetryMaxAttempts: 3}
	for _, fn := range optFns {
		fn(&o)
	}
	f.attempts = o.RetryMaxAttempts
	return &kinesis.UpdateShardCountOutput{}, nil
}

// TestReshardIsOneAttempt: a reshard is never retried by the SDK (a retry
// after a timed-out attempt could reshard twice or hide the first).
func TestReshardIsOneAttempt(t *testing.T) {
	f := &attemptsAPI{}
	if err := (Streams{API: f}).Reshard(context.Background(), "s", 1, 2); err != nil {
		t.Fatal(err)
	}
	if f.attempts != 1 {
		t.Errorf("UpdateShardCount allowed %d attempts, want 1", f.attempts)
	}
}

// modeAPI records UpdateStreamMode's attempts and input, and CreateStream's.
type modeAPI struct {
	API
	attempts int
	mode     *kinesis.UpdateStreamModeInput
	create   *kinesis.CreateStreamInput
}

func (f *modeAPI) UpdateStreamMode(_ context.Context, in *kinesis.UpdateStreamModeInput, optFns ...func(*kinesis.Options)) (*kinesis.UpdateStreamModeOutput, error) {
	o := kinesis.Options{RetryMaxAttempts: 3}
	for _, fn := range optFns {
		fn(&o)
	}
	f.attempts, f.mode = o.RetryMaxAttempts, in
	return &kinesis.UpdateStreamModeOutput{}, nil
}

func (f *modeAPI) CreateStream(_ context.Context, in *kinesis.CreateStreamInput, _ ...func(*kinesis.Options)) (*kinesis.CreateStreamOutput, error) {
	f.create = in
	return &kinesis.CreateStreamOutput{}, nil
}

// TestSetModeIsOneAttemptByARN: a mode switch is never retried by the SDK
// (AWS allows two a day; a retry of one that took effect would spend the
// second) and names the stream by ARN, as UpdateStreamMode requires.
func TestSetModeIsOneAttemptByARN(t *testing.T) {
	f := &modeAPI{}
	if err := (Streams{API: f}).SetMode(context.Background(), "arn:aws:kinesis:us-east-1:1:stream/s", "ON_DEMAND"); err != nil {
		t.Fatal(err)
	}
	if f.attempts != 1 || *f.mode.StreamARN != "arn:aws:kinesis:us-east-1:1:stream/s" || f.mode.StreamModeDetails.StreamMode != "ON_DEMAND" {
		t.Errorf("UpdateStreamMode: %d attempts, input %+v; want 1 attempt by ARN to ON_DEMAND", f.attempts, f.mode)
	}
}

// TestCreateOnDemandHasNoShardCount: an on-demand stream is created without
// a shard count (Kinesis sizes it); a provisioned one with it.
func TestCreateOnDemandHasNoShardCount(t *testing.T) {
	f := &modeAPI{}
	if err := (Streams{API: f}).Create(context.Background(), "s", 3, true, nil); err != nil {
		t.Fatal(err)
	}
	if f.create.ShardCount != nil || f.create.StreamModeDetails.StreamMode != "ON_DEMAND" {
		t.Errorf("on-demand create: %+v", f.create)
	}
	if err := (Streams{API: f}).Create(context.Background(), "s", 3, false, nil); err != nil {
		t.Fatal(err)
	}
	if f.create.ShardCount == nil || *f.create.ShardCount != 3 || f.create.StreamModeDetails.StreamMode != "PROVISIONED" {
		t.Errorf("provisioned create: %+v", f.create)
	}
}

// shardsAPI serves ListShards in pages of one and records MergeShards.
type shardsAPI struct {
	API
	ids      []string
	inputs   []*kinesis.ListShardsInput
	merge    *kinesis.MergeShardsInput
	attempts int
	mergeErr error
}

func (f *shardsAPI) ListShards(_ context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	f.inputs = append(f.inputs, in)
	i := 0
	if in.NextToken != nil {
		fmt.Sscan(*in.NextToken, &i)
	}
	out := &kinesis.ListShardsOutput{Shards: []types.Shard{{ShardId: aws.String(f.ids[i])}}}
	if i+1 < len(f.ids) {
		out.NextToken = aws.String(fmt.Sprint(i + 1))
	}
	return out, nil
}

func (f *shardsAPI) MergeShards(_ context.Context, in *kinesis.MergeShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.MergeShardsOutput, error) {
	o := kinesis.Options{RetryMaxAttempts: 3}
	for _, fn := range optFns {
		fn(&o)
	}
	f.merge, f.attempts = in, o.RetryMaxAttempts
	return &kinesis.MergeShardsOutput{}, f.mergeErr
}

// TestOpenShardsPagesWithTheOpenFilter: every page is read; the first asks
// for the open shards (AT_LATEST) of the stream, the next ones name only the
// token, as ListShards requires.
func TestOpenShardsPagesWithTheOpenFilter(t *testing.T) {
	f := &shardsAPI{ids: []string{"a", "b", "c"}}
	shards, err := (Streams{API: f}).OpenShards(context.Background(), "s")
	if err != nil {
		t.Fatal(err)
	}
	if len(shards) != 3 || *shards[2].ShardId != "c" {
		t.Fatalf("OpenShards = %v shards; want a, b, c", len(shards))
	}
	first := f.inputs[0]
	if aws.ToString(first.StreamName) != "s" || first.ShardFilter == nil || first.ShardFilter.Type != types.ShardFilterTypeAtLatest {
		t.Errorf("first page input %+v; want stream s, filter AT_LATEST", first)
	}
	for _, in := range f.inputs[1:] {
		if in.StreamName != nil || in.ShardFilter != nil || in.NextToken == nil {
			t.Errorf("later page input %+v; want only the token", in)
		}
	}
}

// TestMergeIsOneAttempt: a merge is never retried by the SDK, names both
// shards, and its error says what was being done and keeps AWS's kind.
func TestMergeIsOneAttempt(t *testing.T) {
	f := &shardsAPI{mergeErr: &smithy.GenericAPIError{Code: "ResourceInUseException"}}
	err := (Streams{API: f}).Merge(context.Background(), "s", "shardId-1", "shardId-2")
	if f.attempts != 1 || aws.ToString(f.merge.ShardToMerge) != "shardId-1" || aws.ToString(f.merge.AdjacentShardToMerge) != "shardId-2" {
		t.Errorf("MergeShards: %d attempts, input %+v; want 1 attempt of shardId-1 and shardId-2", f.attempts, f.merge)
	}
	if !awsapi.Is(err, awsapi.KindInUse) || !strings.Contains(err.Error(), `merge shards shardId-1 and shardId-2 of stream "s"`) {
		t.Errorf("Merge error = %v", err)
	}
}
