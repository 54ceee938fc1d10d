// Package fakeaws is an in-memory AWS account for the operator's scale
// benchmark: Kinesis, ECS, CloudWatch and DynamoDB behind the controllers'
// interfaces (controllers.KinesisAPI, ECSAPI, CloudWatchAPI, DynamoDBAPI),
// with a per-call latency and AWS's per-account request rates enforced by
// token buckets. A call over its operation's rate fails with AWS's
// throttling error shape (a smithy.GenericAPIError with the service's code).
//
// The rates and their sources are in docs/operator-scale.md.
package fakeaws

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/aws/smithy-go"
)

// Rate is a token bucket: Burst tokens at most, refilled at PerSecond.
type Rate struct {
	PerSecond float64
	Burst     float64
	// Code is the error code of a throttled call.
	Code string
}

// Rates are AWS's documented default per-account, per-Region request rates of
// the operations the operator calls (docs/operator-scale.md has the sources).
var Rates = map[string]Rate{
	// Kinesis Data Streams API reference, each operation's page ("has a limit
	// of N transactions per second per account"); over it Kinesis answers
	// LimitExceededException.
	"kinesis.CreateStream":                  {5, 5, "LimitExceededException"},
	"kinesis.DeleteStream":                  {5, 5, "LimitExceededException"},
	"kinesis.DescribeStreamSummary":         {20, 20, "LimitExceededException"},
	"kinesis.UpdateShardCount":              {2, 2, "LimitExceededException"},
	"kinesis.ListTagsForStream":             {5, 5, "LimitExceededException"},
	"kinesis.AddTagsToStream":               {5, 5, "LimitExceededException"},
	"kinesis.RemoveTagsFromStream":          {5, 5, "LimitExceededException"},
	"kinesis.IncreaseStreamRetentionPeriod": {5, 5, "LimitExceededException"},
	"kinesis.DecreaseStreamRetentionPeriod": {5, 5, "LimitExceededException"},
	"kinesis.StartStreamEncryption":         {5, 5, "LimitExceededException"},
	"kinesis.StopStreamEncryption":          {5, 5, "LimitExceededException"},
	"kinesis.MergeShards":                   {5, 5, "LimitExceededException"},
	// ListShards: 1000 per second per data stream, modelled per account.
	"kinesis.ListShards": {1000, 1000, "LimitExceededException"},
	// Amazon ECS API reference, "Request throttling for the Amazon ECS API":
	// a token bucket per action (burst = bucket size, sustained = refill).
	// See docs/operator-scale.md for which of these figures were confirmed.
	"ecs.DescribeServices":         {20, 100, "ThrottlingException"},
	"ecs.CreateService":            {5, 50, "ThrottlingException"},
	"ecs.UpdateService":            {5, 50, "ThrottlingException"},
	"ecs.DeleteService":            {5, 50, "ThrottlingException"},
	"ecs.DescribeTaskDefinition":   {20, 100, "ThrottlingException"},
	"ecs.ListTaskDefinitions":      {20, 100, "ThrottlingException"},
	"ecs.RegisterTaskDefinition":   {1, 100, "ThrottlingException"},
	"ecs.DeregisterTaskDefinition": {1, 100, "ThrottlingException"},
	"ecs.ListTagsForResource":      {20, 100, "ThrottlingException"},
	// CloudWatch service quotas: GetMetricData 50 TPS per Region.
	"cloudwatch.GetMetricData": {50, 50, "ThrottlingException"},
	// CloudWatch dashboards: our reading of the CloudWatch quotas page
	// (not confirmed; docs/operator-scale.md), as the operator's pace assumes.
	"cloudwatch.GetDashboard":     {10, 10, "Throttling"},
	"cloudwatch.PutDashboard":     {10, 10, "Throttling"},
	"cloudwatch.DeleteDashboards": {10, 10, "Throttling"},
	// DynamoDB control plane: DeleteTable (ThrottlingException over the rate).
	"dynamodb.DeleteTable": {10, 10, "ThrottlingException"},
}

type bucket struct {
	rate   Rate
	tokens float64
	last   time.Time
}

func (b *bucket) take(now time.Time) bool {
	if b.last.IsZero() {
		b.tokens, b.last = b.rate.Burst, now
	}
	b.tokens = min(b.rate.Burst, b.tokens+now.Sub(b.last).Seconds()*b.rate.PerSecond)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Account is one AWS account and Region: its resources and its API meter.
type Account struct {
	// Latency of every call.
	Latency time.Duration
	// CreateDelay is how long a new stream stays CREATING; UpdateDelay how
	// long a resharding stream stays UPDATING; TaskDelay how long tasks take
	// to reach a service's new desiredCount.
	CreateDelay, UpdateDelay, TaskDelay time.Duration
	// Now is the clock (time.Now if nil).
	Now func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	calls     map[string]int64
	throttled map[string]int64
	failures  []string // calls the fakes do not implement

	Kinesis    *Kinesis
	ECS        *ECS
	CloudWatch *CloudWatch
	Dashboards *Dashboards
	DynamoDB   *DynamoDB
}

// New returns an account with AWS's rates, latency per call.
func New(latency time.Duration) *Account {
	a := &Account{
		Latency: latency, CreateDelay: 10 * time.Second, UpdateDelay: 30 * time.Second, TaskDelay: 5 * time.Second,
		buckets: map[string]*bucket{}, calls: map[string]int64{}, throttled: map[string]int64{},
	}
	for op, r := range Rates {
		a.buckets[op] = &bucket{rate: r}
	}
	a.Kinesis = &Kinesis{a: a, streams: map[string]*stream{}}
	a.ECS = &ECS{a: a, families: map[string][]*taskDef{}, services: map[string]*service{}}
	a.CloudWatch = &CloudWatch{a: a}
	a.Dashboards = &Dashboards{a: a, bodies: map[string]string{}}
	a.DynamoDB = &DynamoDB{a: a, tables: map[string]bool{}}
	return a
}

func (a *Account) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// call waits the latency, then spends a token of op: an error when the
// operation is over its rate (or has none: an operation the fakes do not
// know fails loudly).
func (a *Account) call(ctx context.Context, op string) error {
	if a.Latency > 0 {
		t := time.NewTimer(a.Latency)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls[op]++
	b := a.buckets[op]
	if b == nil {
		a.failures = append(a.failures, op)
		return &smithy.GenericAPIError{Code: "NotImplemented", Message: "fakeaws: " + op + " has no rate: not implemented"}
	}
	if !b.take(a.now()) {
		a.throttled[op]++
		return &smithy.GenericAPIError{Code: b.rate.Code, Message: "Rate exceeded", Fault: smithy.FaultClient}
	}
	return nil
}

// notImplemented records a call the fakes do not implement and returns an
// error saying so.
func (a *Account) notImplemented(op, what string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.notImplementedLocked(op, what)
}

func (a *Account) notImplementedLocked(op, what string) error {
	a.failures = append(a.failures, op+": "+what)
	return fmt.Errorf("fakeaws: %s: %s is not implemented", op, what)
}

// Stats are the calls so far.
type Stats struct {
	Calls, Throttled map[string]int64
	// NotImplemented lists calls the fakes refused because they do not
	// implement them (a non-empty list makes the benchmark's figures invalid).
	NotImplemented []string
}

// Stats returns a copy of the counters.
func (a *Account) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := Stats{Calls: map[string]int64{}, Throttled: map[string]int64{}, NotImplemented: append([]string(nil), a.failures...)}
	for k, v := range a.calls {
		s.Calls[k] = v
	}
	for k, v := range a.throttled {
		s.Throttled[k] = v
	}
	return s
}

// Sub returns s − earlier, operation by operation.
func (s Stats) Sub(earlier Stats) Stats {
	d := Stats{Calls: map[string]int64{}, Throttled: map[string]int64{}, NotImplemented: s.NotImplemented[len(earlier.NotImplemented):]}
	for k, v := range s.Calls {
		if v-earlier.Calls[k] != 0 {
			d.Calls[k] = v - earlier.Calls[k]
		}
	}
	for k, v := range s.Throttled {
		if v-earlier.Throttled[k] != 0 {
			d.Throttled[k] = v - earlier.Throttled[k]
		}
	}
	return d
}

// Total sums m.
func Total(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// Ops returns the keys of m sorted.
func Ops(m map[string]int64) []string {
	ops := make([]string, 0, len(m))
	for k := range m {
		ops = append(ops, k)
	}
	sort.Strings(ops)
	return ops
}
