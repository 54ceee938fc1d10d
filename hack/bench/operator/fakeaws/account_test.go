package fakeaws

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"

	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
)

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// TestFakeRatesThrottle: each operation allows its burst at once, then its
// sustained rate, and answers AWS's throttling error beyond it.
func TestFakeRatesThrottle(t *testing.T) {
	now := time.Unix(0, 0)
	a := New(0)
	a.Now = func() time.Time { return now }
	ctx := context.Background()

	describe := func() error {
		_, err := a.Kinesis.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")})
		return err
	}
	for i := 0; i < 20; i++ { // DescribeStreamSummary: 20 per second
		if err := describe(); code(err) != "ResourceNotFoundException" {
			t.Fatalf("call %d: %v, want ResourceNotFoundException (within the rate)", i+1, err)
		}
	}
	err := describe()
	if code(err) != "LimitExceededException" || awsapi.Classify(err) != awsapi.KindLimit {
		t.Fatalf("call 21 in the same second: %v (kind %s), want LimitExceededException", err, awsapi.Classify(err))
	}
	now = now.Add(500 * time.Millisecond) // 10 tokens back
	for i := 0; i < 10; i++ {
		if err := describe(); code(err) == "LimitExceededException" {
			t.Fatalf("call %d after 0.5 s throttled", i+1)
		}
	}
	if err := describe(); code(err) != "LimitExceededException" {
		t.Fatalf("11th call after 0.5 s: %v, want throttled", err)
	}

	ecsCall := func() error {
		_, err := a.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("c"), Services: []string{"x"}})
		return err
	}
	for i := 0; i < int(Rates["ecs.DescribeServices"].Burst); i++ {
		if err := ecsCall(); err != nil {
			t.Fatalf("DescribeServices %d: %v", i+1, err)
		}
	}
	if err := ecsCall(); code(err) != "ThrottlingException" || awsapi.Classify(err) != awsapi.KindThrottled {
		t.Fatalf("DescribeServices over the bucket: %v, want ThrottlingException classified Throttled", err)
	}
	st := a.Stats()
	if st.Throttled["kinesis.DescribeStreamSummary"] != 2 || st.Throttled["ecs.DescribeServices"] != 1 {
		t.Fatalf("throttled counters %v, want 2 DescribeStreamSummary and 1 DescribeServices", st.Throttled)
	}
}

// TestFakeStreamLifecycle: CREATING, then ACTIVE; UpdateShardCount within
// [½, 2×] makes it UPDATING; beyond, it is refused.
func TestFakeStreamLifecycle(t *testing.T) {
	now := time.Unix(0, 0)
	a := New(0)
	a.Now = func() time.Time { return now }
	ctx := context.Background()
	k := a.Kinesis
	if _, err := k.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("s"), ShardCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	status := func() (string, int32) {
		out, err := k.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")})
		if err != nil {
			t.Fatal(err)
		}
		return string(out.StreamDescriptionSummary.StreamStatus), aws.ToInt32(out.StreamDescriptionSummary.OpenShardCount)
	}
	if s, _ := status(); s != "CREATING" {
		t.Fatalf("new stream %s, want CREATING", s)
	}
	now = now.Add(a.CreateDelay)
	if s, n := status(); s != "ACTIVE" || n != 2 {
		t.Fatalf("after the create delay %s with %d shards, want ACTIVE with 2", s, n)
	}
	if _, err := k.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{StreamName: aws.String("s"), TargetShardCount: aws.Int32(5)}); err == nil {
		t.Fatal("2 → 5 shards accepted, want refused (more than double)")
	}
	now = now.Add(time.Second)
	if _, err := k.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{StreamName: aws.String("s"), TargetShardCount: aws.Int32(4)}); err != nil {
		t.Fatal(err)
	}
	if s, n := status(); s != "UPDATING" || n != 2 {
		t.Fatalf("resharding: %s with %d shards, want UPDATING with 2", s, n)
	}
	now = now.Add(a.UpdateDelay)
	if s, n := status(); s != "ACTIVE" || n != 4 {
		t.Fatalf("after the update delay %s with %d shards, want ACTIVE with 4", s, n)
	}
}

// TestFakeRefusesUnknownCalls: a call outside what the fakes implement fails
// and is recorded, so the benchmark cannot pass over it.
func TestFakeRefusesUnknownCalls(t *testing.T) {
	a := New(0)
	_, err := a.ECS.ListTagsForResource(context.Background(), &ecs.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:ecs:us-east-1:000000000000:capacity-provider/x")})
	if err == nil || len(a.Stats().NotImplemented) != 1 {
		t.Fatalf("unknown resource: err %v, not implemented %v; want an error and one record", err, a.Stats().NotImplemented)
	}
}

// TestFakeMergeShards: the fake lists its open shards and merges two
// adjacent ones of the current listing while ACTIVE; a pair not adjacent,
// or from a listing before the merge, is refused as invalid.
func TestFakeMergeShards(t *testing.T) {
	now := time.Unix(0, 0)
	a := New(0)
	a.Now = func() time.Time { return now }
	ctx := context.Background()
	k := a.Kinesis
	if _, err := k.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("s"), ShardCount: aws.Int32(4)}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(a.CreateDelay)
	list := func() []string {
		out, err := k.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s")})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, s := range out.Shards {
			ids = append(ids, aws.ToString(s.ShardId))
		}
		return ids
	}
	merge := func(x, y string) string {
		_, err := k.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String("s"), ShardToMerge: aws.String(x), AdjacentShardToMerge: aws.String(y)})
		return awsapi.Outcome(err)
	}
	before := list()
	if len(before) != 4 {
		t.Fatalf("listed %v, want 4 shards", before)
	}
	if got := merge(before[0], before[2]); got != "Invalid" {
		t.Errorf("merge of shards not adjacent: %s, want Invalid", got)
	}
	if got := merge(before[0], before[1]); got != "ok" {
		t.Fatalf("merge of adjacent shards: %s", got)
	}
	if got := merge(before[2], before[3]); got != "InUse" {
		t.Errorf("merge while UPDATING: %s, want InUse", got)
	}
	now = now.Add(a.UpdateDelay)
	if got := merge(before[2], before[3]); got != "Invalid" {
		t.Errorf("merge from a stale listing: %s, want Invalid", got)
	}
	if after := list(); len(after) != 3 {
		t.Errorf("after the merge %v, want 3 shards", after)
	}
}
