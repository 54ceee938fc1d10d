package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/workloads/kpl"
)

// TestKinesisDouble drives the double with the SDK's Kinesis client: the shard
// map tiles the hash key space, PutRecords is held for the latency, and user
// records inside aggregates are counted and checked by id.
func TestKinesisDouble(t *testing.T) {
	d, err := startDouble("s", 2, 30*time.Millisecond, true)
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	kc := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(d.url), RetryMaxAttempts: 1,
		APIOptions: []func(*middleware.Stack) error{awsconfig.AddRequestBodyWithoutWriteTo},
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "a", SecretAccessKey: "b"}, nil
		})})
	ctx := context.Background()

	ls, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s")})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls.Shards) != 2 || aws.ToString(ls.Shards[0].HashKeyRange.StartingHashKey) != "0" ||
		aws.ToString(ls.Shards[1].HashKeyRange.EndingHashKey) != "340282366920938463463374607431768211455" {
		t.Fatalf("shards: %+v", ls.Shards)
	}
	if _, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")}); err != nil {
		t.Fatal(err)
	}

	// Keys grouped by shard, and an aggregate of three user records of shard 0.
	byShard := map[int][]string{}
	for i := 0; len(byShard[0]) < 3 || len(byShard[1]) < 1; i++ {
		k := fmt.Sprint("k", i)
		s := d.shardOf(k, "")
		byShard[s] = append(byShard[s], k)
	}
	var urs []kpl.UserRecord
	for i, k := range byShard[0][:3] {
		urs = append(urs, kpl.UserRecord{PartitionKey: k, Data: appendRecordData(nil, uint64(i), 20)})
	}
	agg, err := kpl.Encode(urs)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: []types.PutRecordsRequestEntry{
		{PartitionKey: aws.String(byShard[0][0]), Data: agg},
		{PartitionKey: aws.String(byShard[1][0]), Data: appendRecordData(nil, 3, 20)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 30*time.Millisecond {
		t.Errorf("PutRecords took %s, want >= 30ms", took)
	}
	if aws.ToInt32(out.FailedRecordCount) != 0 || len(out.Records) != 2 ||
		aws.ToString(out.Records[0].ShardId) != "shardId-000000000000" || aws.ToString(out.Records[1].ShardId) != "shardId-000000000001" ||
		len(aws.ToString(out.Records[0].SequenceNumber)) != 56 {
		t.Fatalf("answer: %+v", out.Records)
	}
	if c := d.counts(); c.calls != 1 || c.kinRecs != 2 || c.userRecs != 4 {
		t.Fatalf("counts %+v, want 1 call, 2 Kinesis records, 4 user records", c)
	}
	v := d.verify([]uint64{0, 1, 2, 3, 4}, nil)
	if v.missing != 1 || v.duplicated != 0 || v.unacked != 0 || v.ok(true) {
		t.Errorf("verify with an unsent id: %+v", v)
	}
	if v := d.verify([]uint64{0, 1, 2}, nil); v.missing != 0 || v.unacked != 1 || !v.ok(true) {
		t.Errorf("verify with an unacknowledged arrival: %+v", v)
	}
	// Answers to wrk name the partition key and the sequence number of the
	// Kinesis record: the aggregate's first user record and the lone record
	// are matched; a wrong sequence number, or a key answered more often than
	// it arrived, is missing.
	seq0, seq1 := aws.ToString(out.Records[0].SequenceNumber), aws.ToString(out.Records[1].SequenceNumber)
	if v := d.verify(nil, []string{answerKey(byShard[0][0], seq0), answerKey(byShard[1][0], seq1)}); v.missingKeys != 0 || v.unacked != 2 || !v.ok(true) {
		t.Errorf("verify with answers matched by key: %+v", v)
	}
	if v := d.verify(nil, []string{answerKey(byShard[0][0], seq1)}); v.missingKeys != 1 || v.ok(true) {
		t.Errorf("verify with an answer naming another sequence number: %+v", v)
	}
	if v := d.verify(nil, []string{answerKey(byShard[1][0], seq1), answerKey(byShard[1][0], seq1)}); v.missingKeys != 1 || v.ok(true) {
		t.Errorf("verify with a key answered twice, arrived once: %+v", v)
	}

	// A user record of shard 1 inside an aggregate sent to shard 0 is
	// misrouted; a second arrival of an id is a duplicate.
	bad, _ := kpl.Encode([]kpl.UserRecord{{PartitionKey: byShard[0][0], Data: appendRecordData(nil, 0, 20)}, {PartitionKey: byShard[1][0], Data: []byte("x")}})
	if _, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: []types.PutRecordsRequestEntry{{PartitionKey: aws.String(byShard[0][0]), Data: bad}}}); err != nil {
		t.Fatal(err)
	}
	if v := d.verify([]uint64{0, 1, 2, 3}, nil); v.misrouted != 1 || v.duplicated != 1 || v.noID != 1 || v.ok(true) {
		t.Errorf("verify after a misrouted and a duplicate record: %+v", v)
	}

	// Limits are enforced.
	if _, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: []types.PutRecordsRequestEntry{
		{PartitionKey: aws.String("k"), Data: make([]byte, kpl.MaxRecordSize)}}}); err == nil {
		t.Error("a record over 1 MiB was accepted")
	}
	if _, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("other"), Records: []types.PutRecordsRequestEntry{
		{PartitionKey: aws.String("k"), Data: []byte("x")}}}); err == nil {
		t.Error("a call for another stream was accepted")
	}
}
