package main

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kdp-io/streamprocessor-operator/hack/bench/operator/fakeaws"
)

// hammer calls DescribeStreamSummary from 40 goroutines for d and returns
// the account's counters.
func hammer(t *testing.T, limited bool, d time.Duration) fakeaws.Stats {
	t.Helper()
	a := fakeaws.New(time.Millisecond)
	c := accountClients(a, limited)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				_, _ = c.Kinesis.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")})
			}
		}()
	}
	wg.Wait()
	return a.Stats()
}

// TestClientRateLimit: 40 concurrent callers of DescribeStreamSummary (20/s
// per account) are throttled by the fake account without the client-side
// limiter, and never with it, while still using most of the rate.
func TestClientRateLimit(t *testing.T) {
	const d = 1500 * time.Millisecond
	bare := hammer(t, false, d)
	if bare.Throttled["kinesis.DescribeStreamSummary"] == 0 {
		t.Fatalf("without the client-side limiter: no throttled calls (%v); the fake does not enforce its rate", bare.Calls)
	}
	paced := hammer(t, true, d)
	if n := paced.Throttled["kinesis.DescribeStreamSummary"]; n != 0 {
		t.Fatalf("with the client-side limiter: %d throttled calls, want 0", n)
	}
	// 18/s after a burst of 10, over 1.5 s: about 37 calls; at least 25.
	if n := paced.Calls["kinesis.DescribeStreamSummary"]; n < 25 || n > 40 {
		t.Fatalf("with the client-side limiter: %d calls in %s, want 25–40 (18/s + a burst of 10)", n, d)
	}
}

// TestRegistrationBounds: two task definitions per object at
// RegisterTaskDefinition's rate after its burst — 1,000 objects cannot be
// Ready within 600 s.
func TestRegistrationBounds(t *testing.T) {
	a, o := registrationBounds(1000)
	if a != 1900 || o < 2166 || o > 2167 {
		t.Errorf("1,000 objects: bounds %.1f s (AWS), %.1f s (operator); want 1900, 2166.7", a, o)
	}
	if a, o := registrationBounds(10); a != 0 || o != 0 {
		t.Errorf("10 objects fit in the burst: bounds %.1f, %.1f; want 0", a, o)
	}
}
