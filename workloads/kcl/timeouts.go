package kcl

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// Every AWS call of the library has a deadline derived from the lease
// duration, so a hung call (a black-holed connection, a server that never
// answers) can neither block renewals past the lease's expiry nor stall a
// shard for ever. DynamoDB calls get a renew period (LeaseDuration/3): a
// renewal that hangs ends before the next one is due. Kinesis calls get three
// lease durations and at least 10 s, since a large GetRecords legitimately
// takes seconds (kinesis-local under load: 3.5 s for a ListShards); a read of
// a lease that is not renewed in time is given up earlier, by the lease's
// timer.

// within returns call's answer, or context.DeadlineExceeded when there is
// none after d. The call itself is not cut at d: it goes on in the background
// for as long again (at least 5 s), so a slow server gets its answer out and
// is not hit by a half-sent request (dynalite, for one, crashes on a request
// aborted before it read the body); only a server that never answers sees
// the connection closed. A cancelled ctx returns at once without cutting the
// call either. A call given up on may still take effect — the lease library
// treats every failed write as possibly applied: its next conditional write
// then fails and the lease counts as lost.
func within[T any](ctx context.Context, d time.Duration, call func(context.Context) (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	inner, cancel := context.WithTimeout(context.WithoutCancel(ctx), d+max(d, 5*time.Second))
	go func() {
		defer cancel()
		v, err := call(inner)
		done <- result{v, err}
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	var zero T
	select {
	case r := <-done:
		return r.v, r.err
	case <-t.C:
		return zero, fmt.Errorf("no answer within %s: %w", d, context.DeadlineExceeded)
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// DynamoDBCallTimeout returns the deadline of each lease-table call.
func DynamoDBCallTimeout(leaseDuration time.Duration) time.Duration { return leaseDuration / 3 }

// KinesisCallTimeout returns the deadline of each Kinesis call.
func KinesisCallTimeout(leaseDuration time.Duration) time.Duration {
	return max(3*leaseDuration, 10*time.Second)
}

// timedDynamoDB bounds every call of db by d.
type timedDynamoDB struct {
	db DynamoDBAPI
	d  time.Duration
}

func (t timedDynamoDB) DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, o ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	return within(ctx, t.d, func(ctx context.Context) (*dynamodb.DescribeTableOutput, error) {
		return t.db.DescribeTable(ctx, in, o...)
	})
}

func (t timedDynamoDB) CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, o ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
	return within(ctx, t.d, func(ctx context.Context) (*dynamodb.CreateTableOutput, error) { return t.db.CreateTable(ctx, in, o...) })
}

func (t timedDynamoDB) Scan(ctx context.Context, in *dynamodb.ScanInput, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	return within(ctx, t.d, func(ctx context.Context) (*dynamodb.ScanOutput, error) { return t.db.Scan(ctx, in, o...) })
}

func (t timedDynamoDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return within(ctx, t.d, func(ctx context.Context) (*dynamodb.PutItemOutput, error) { return t.db.PutItem(ctx, in, o...) })
}

func (t timedDynamoDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return within(ctx, t.d, func(ctx context.Context) (*dynamodb.UpdateItemOutput, error) { return t.db.UpdateItem(ctx, in, o...) })
}

func (t timedDynamoDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return within(ctx, t.d, func(ctx context.Context) (*dynamodb.DeleteItemOutput, error) { return t.db.DeleteItem(ctx, in, o...) })
}

// timedKinesis bounds every call of k by d.
type timedKinesis struct {
	k KinesisAPI
	d time.Duration
}

func (t timedKinesis) ListShards(ctx context.Context, in *kinesis.ListShardsInput, o ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	return within(ctx, t.d, func(ctx context.Context) (*kinesis.ListShardsOutput, error) { return t.k.ListShards(ctx, in, o...) })
}

func (t timedKinesis) GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, o ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	return within(ctx, t.d, func(ctx context.Context) (*kinesis.GetShardIteratorOutput, error) {
		return t.k.GetShardIterator(ctx, in, o...)
	})
}

func (t timedKinesis) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, o ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	return within(ctx, t.d, func(ctx context.Context) (*kinesis.GetRecordsOutput, error) { return t.k.GetRecords(ctx, in, o...) })
}
