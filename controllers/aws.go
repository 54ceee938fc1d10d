package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/prometheus/client_golang/prometheus"

	cloudwatchaws "github.com/kdp-io/streamprocessor-operator/internal/aws/cloudwatch"
	ecsaws "github.com/kdp-io/streamprocessor-operator/internal/aws/ecs"
	kinesisaws "github.com/kdp-io/streamprocessor-operator/internal/aws/kinesis"
	logsaws "github.com/kdp-io/streamprocessor-operator/internal/aws/logs"
	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
)

// KinesisAPI is the part of the Kinesis API the operator calls, with the
// SDK's signatures (the adapter's API); *kinesis.Client satisfies it.
type KinesisAPI = kinesisaws.API

// ECSAPI is the part of the ECS API the operator calls, with the SDK's
// signatures (the adapter's API); *ecs.Client satisfies it.
type ECSAPI = ecsaws.API

// DynamoDBAPI is the part of DynamoDB the finalizer uses (the consumer's
// lease table), with the SDK's signature; *dynamodb.Client satisfies it.
type DynamoDBAPI interface {
	DeleteTable(ctx context.Context, in *dynamodb.DeleteTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteTableOutput, error)
}

// Clients are the AWS clients of one region.
type Clients struct {
	// Region the clients call.
	Region     string
	Kinesis    KinesisAPI
	ECS        ECSAPI
	CloudWatch CloudWatchAPI
	DynamoDB   DynamoDBAPI
	// Dashboards reads and writes the CloudWatch dashboard; nil leaves
	// dashboards alone (no reads, no writes).
	Dashboards cloudwatchaws.API
	// Logs manages the operator's log groups; nil leaves log groups alone
	// (the task definitions still name them).
	Logs logsaws.API
	// PutMetrics publishes the operator's own metrics (MetricsPublisher).
	PutMetrics PutMetricDataAPI
}

// ClientOption changes NewClientFactory.
type ClientOption func(o *clientOptions)

type clientOptions struct {
	rates       map[string]AWSRate
	callTimeout time.Duration
}

// WithoutRateLimit turns off the client-side pacing of AWS calls.
func WithoutRateLimit() ClientOption { return func(o *clientOptions) { o.rates = nil } }

// WithCallTimeout bounds each attempt of an AWS call (the HTTP request and
// its answer) to d; the SDK then retries it like any other transient error.
// Without it a call that is never answered (a lost connection, an endpoint
// that hangs) holds its reconcile worker for ever. 0 means no bound.
func WithCallTimeout(d time.Duration) ClientOption {
	return func(o *clientOptions) { o.callTimeout = d }
}

// ClientFactory returns the clients for a region ("" = the environment's).
type ClientFactory func(ctx context.Context, region string) (Clients, error)

// NewClientFactory returns a ClientFactory that builds real SDK clients from
// the default credential chain, once per region, counting every call in calls.
// Endpoints come from the SDK's AWS_ENDPOINT_URL_<SERVICE> variables. Each
// region's clients are paced by DefaultAWSRates, shared by all reconciles
// (WithoutRateLimit turns that off).
func NewClientFactory(calls *prometheus.CounterVec, opts ...ClientOption) ClientFactory {
	co := clientOptions{rates: DefaultAWSRates}
	for _, o := range opts {
		o(&co)
	}
	rates := co.rates
	var mu sync.Mutex
	cache := map[string]Clients{}
	return func(ctx context.Context, region string) (Clients, error) {
		mu.Lock()
		defer mu.Unlock()
		if c, ok := cache[region]; ok {
			return c, nil
		}
		cfg, err := awsconfig.Load(ctx, region)
		if err != nil {
			return Clients{}, fmt.Errorf("AWS clients for region %q: %w", region, err)
		}
		if co.callTimeout > 0 {
			cfg.HTTPClient = awshttp.NewBuildableClient().WithTimeout(co.callTimeout)
		}
		awsapi.Instrument(&cfg, calls)
		c := Clients{
			Region:  cfg.Region,
			Kinesis: kinesis.NewFromConfig(cfg),
			ECS:     ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.RetryMaxAttempts = 5 }),
			// awsQuery: real CloudWatch accepts it, and so does moto, which
			// does not speak the SDK's default rpcv2-cbor.
			CloudWatch: cloudwatch.NewFromConfig(cfg, awsconfig.CloudWatchQueryProtocol),
			DynamoDB:   dynamodb.NewFromConfig(cfg),
			Logs:       cloudwatchlogs.NewFromConfig(cfg),
		}
		c.Dashboards = c.CloudWatch.(*cloudwatch.Client)
		c.PutMetrics = c.CloudWatch.(*cloudwatch.Client)
		if rates != nil {
			c = RateLimitedClients(c, rates)
		}
		cache[region] = c
		return c, nil
	}
}

// AWSRate is a client-side token bucket for one AWS operation: at most Burst
// calls at once, PerSecond sustained.
type AWSRate struct {
	PerSecond float64
	Burst     float64
}

// DefaultAWSRates pace the operator under AWS's default per-account,
// per-Region request rates (docs/operator-scale.md has the sources): 90 % of
// each operation's sustained rate, and half its burst, so that the operator
// leaves room for the account's other callers and never meets a throttle in
// steady state. Keys are "service.Operation".
var DefaultAWSRates = map[string]AWSRate{
	"kinesis.CreateStream":          {4.5, 2},
	"kinesis.DeleteStream":          {4.5, 2},
	"kinesis.DescribeStreamSummary": {18, 10},
	"kinesis.UpdateShardCount":      {1.8, 1},
	"kinesis.UpdateStreamMode":      {4.5, 2},
	// MergeShards: 5 per second per account (API_MergeShards); ListShards:
	// 1000 per second per stream, paced per account far below that.
	"kinesis.MergeShards":                   {4.5, 2},
	"kinesis.ListShards":                    {90, 10},
	"kinesis.ListTagsForStream":             {4.5, 2},
	"kinesis.AddTagsToStream":               {4.5, 2},
	"kinesis.RemoveTagsFromStream":          {4.5, 2},
	"kinesis.IncreaseStreamRetentionPeriod": {4.5, 2},
	"kinesis.DecreaseStreamRetentionPeriod": {4.5, 2},
	"kinesis.StartStreamEncryption":         {4.5, 2},
	"kinesis.StopStreamEncryption":          {4.5, 2},
	"ecs.DescribeServices":                  {18, 50},
	"ecs.CreateService":                     {4.5, 25},
	"ecs.UpdateService":                     {4.5, 25},
	"ecs.DeleteService":                     {4.5, 25},
	"ecs.DescribeTaskDefinition":            {18, 50},
	"ecs.ListTaskDefinitions":               {18, 50},
	"ecs.RegisterTaskDefinition":            {0.9, 50},
	"ecs.DeregisterTaskDefinition":          {0.9, 50},
	"ecs.ListTagsForResource":               {18, 50},
	"cloudwatch.GetMetricData":              {45, 25},
	"cloudwatch.GetDashboard":               {9, 5},
	"cloudwatch.PutDashboard":               {9, 5},
	"cloudwatch.DeleteDashboards":           {9, 5},
	// 90 % of PutMetricData's default 500/s (docs/observability.md); the
	// publisher makes ⌈objects × 5 ÷ 1000⌉ calls per region and interval.
	"cloudwatch.PutMetricData": {450, 50},
	"dynamodb.DeleteTable":     {9, 5},
	// CloudWatch Logs: 90 % of 5/s, the lowest of these operations'
	// default quotas (docs/logs.md).
	"logs.DescribeLogGroups":   {4.5, 2},
	"logs.ListTagsForResource": {4.5, 2},
	"logs.CreateLogGroup":      {4.5, 2},
	"logs.PutRetentionPolicy":  {4.5, 2},
	"logs.DeleteLogGroup":      {4.5, 2},
}

// limiter is a token bucket (a reservation may take the bucket below zero:
// later callers wait longer, in arrival order). A caller whose context
// carries a pacing key (a reconcile's object, withPacingKey) never waits
// longer than maxWait inside the call: it gets a *pacedError naming the
// delay, and its token stays reserved for it (pacing.go).
type limiter struct {
	mu      sync.Mutex
	rate    AWSRate
	tokens  float64
	last    time.Time
	now     func() time.Time
	maxWait time.Duration
	// held are the tokens reserved for keys that were told to come back:
	// key → when the token may be used.
	held map[string]time.Time
	// callTokens, callLast: the strict bucket every call passes at the
	// moment it is made (admit).
	callTokens float64
	callLast   time.Time
}

func newLimiter(r AWSRate) *limiter {
	return &limiter{rate: r, tokens: r.Burst, callTokens: r.Burst, now: time.Now, maxWait: MaxPacingWait, held: map[string]time.Time{}}
}

// reserve takes a token and returns how long to wait before using it.
func (l *limiter) reserve() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.take(l.now())
}

// take debits a token at now (l.mu held) and returns the wait before it.
func (l *limiter) take(now time.Time) time.Duration {
	if !l.last.IsZero() {
		l.tokens = min(l.rate.Burst, l.tokens+now.Sub(l.last).Seconds()*l.rate.PerSecond)
	}
	l.last = now
	l.tokens--
	if l.tokens >= 0 {
		return 0
	}
	return time.Duration(-l.tokens / l.rate.PerSecond * float64(time.Second))
}

// wait blocks until the caller may call, or ctx ends; a keyed caller whose
// wait would exceed maxWait gets a *pacedError instead (see reserveFor).
func (l *limiter) wait(ctx context.Context, op string) error {
	if l == nil {
		return nil
	}
	key := pacingKeyOf(ctx)
	var d time.Duration
	if key == "" {
		d = l.reserve()
	} else if d = l.reserveFor(key); d > l.maxWait {
		return &pacedError{op: op, after: d}
	}
	for {
		if err := sleep(ctx, d); err != nil {
			return err
		}
		// The call itself passes the strict bucket too (see admit).
		if d = l.admit(key); d == 0 {
			return nil
		}
		if key != "" && d > l.maxWait {
			return &pacedError{op: op, after: d}
		}
	}
}

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

type limiters map[string]*limiter

// paced makes call once op's token is there (limiters.wait): every limited*
// method is this, with its operation's name.
func paced[In, Out, Opt any](ctx context.Context, ls limiters, op string, call func(context.Context, In, ...Opt) (Out, error), in In, o ...Opt) (Out, error) {
	if err := ls.wait(ctx, op); err != nil {
		var none Out
		return none, err
	}
	return call(ctx, in, o...)
}

// wait waits for op's token (see limiter.wait); an operation without a
// limiter is not paced.
func (ls limiters) wait(ctx context.Context, op string) error {
	return ls[op].wait(ctx, op)
}

func newLimiters(rates map[string]AWSRate) limiters {
	ls := limiters{}
	for op, r := range rates {
		if r.PerSecond > 0 {
			ls[op] = newLimiter(AWSRate{PerSecond: r.PerSecond, Burst: max(1, r.Burst)})
		}
	}
	return ls
}

// RateLimitedClients wraps c so that every call first waits for its
// operation's token in rates (operations without a rate are not paced). The
// buckets are shared by every caller of the returned Clients: one Clients per
// region gives one pace per account and region, whatever the number of
// concurrent reconciles.
func RateLimitedClients(c Clients, rates map[string]AWSRate) Clients {
	ls := newLimiters(rates)
	if c.Kinesis != nil {
		c.Kinesis = &limitedKinesis{next: c.Kinesis, l: ls}
	}
	if c.ECS != nil {
		c.ECS = &limitedECS{next: c.ECS, l: ls}
	}
	if c.CloudWatch != nil {
		c.CloudWatch = &limitedCloudWatch{next: c.CloudWatch, l: ls}
	}
	if c.DynamoDB != nil {
		c.DynamoDB = &limitedDynamoDB{next: c.DynamoDB, l: ls}
	}
	if c.Dashboards != nil {
		c.Dashboards = &limitedDashboards{next: c.Dashboards, l: ls}
	}
	if c.Logs != nil {
		c.Logs = &limitedLogs{next: c.Logs, l: ls}
	}
	if c.PutMetrics != nil {
		c.PutMetrics = &limitedPutMetrics{next: c.PutMetrics, l: ls}
	}
	return c
}

// limitedDashboards paces the dashboard calls, which share the account's
// rate like the others.
type limitedDashboards struct {
	next cloudwatchaws.API
	l    limiters
}

func (d *limitedDashboards) GetDashboard(ctx context.Context, in *cloudwatch.GetDashboardInput, o ...func(*cloudwatch.Options)) (*cloudwatch.GetDashboardOutput, error) {
	return paced(ctx, d.l, "cloudwatch.GetDashboard", d.next.GetDashboard, in, o...)
}

func (d *limitedDashboards) PutDashboard(ctx context.Context, in *cloudwatch.PutDashboardInput, o ...func(*cloudwatch.Options)) (*cloudwatch.PutDashboardOutput, error) {
	return paced(ctx, d.l, "cloudwatch.PutDashboard", d.next.PutDashboard, in, o...)
}

func (d *limitedDashboards) DeleteDashboards(ctx context.Context, in *cloudwatch.DeleteDashboardsInput, o ...func(*cloudwatch.Options)) (*cloudwatch.DeleteDashboardsOutput, error) {
	return paced(ctx, d.l, "cloudwatch.DeleteDashboards", d.next.DeleteDashboards, in, o...)
}

type limitedKinesis struct {
	next KinesisAPI
	l    limiters
}

func (k *limitedKinesis) CreateStream(ctx context.Context, in *kinesis.CreateStreamInput, o ...func(*kinesis.Options)) (*kinesis.CreateStreamOutput, error) {
	return paced(ctx, k.l, "kinesis.CreateStream", k.next.CreateStream, in, o...)
}

func (k *limitedKinesis) DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, o ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	return paced(ctx, k.l, "kinesis.DescribeStreamSummary", k.next.DescribeStreamSummary, in, o...)
}

func (k *limitedKinesis) DeleteStream(ctx context.Context, in *kinesis.DeleteStreamInput, o ...func(*kinesis.Options)) (*kinesis.DeleteStreamOutput, error) {
	return paced(ctx, k.l, "kinesis.DeleteStream", k.next.DeleteStream, in, o...)
}

func (k *limitedKinesis) UpdateShardCount(ctx context.Context, in *kinesis.UpdateShardCountInput, o ...func(*kinesis.Options)) (*kinesis.UpdateShardCountOutput, error) {
	return paced(ctx, k.l, "kinesis.UpdateShardCount", k.next.UpdateShardCount, in, o...)
}

func (k *limitedKinesis) ListShards(ctx context.Context, in *kinesis.ListShardsInput, o ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	return paced(ctx, k.l, "kinesis.ListShards", k.next.ListShards, in, o...)
}

func (k *limitedKinesis) MergeShards(ctx context.Context, in *kinesis.MergeShardsInput, o ...func(*kinesis.Options)) (*kinesis.MergeShardsOutput, error) {
	return paced(ctx, k.l, "kinesis.MergeShards", k.next.MergeShards, in, o...)
}

func (k *limitedKinesis) UpdateStreamMode(ctx context.Context, in *kinesis.UpdateStreamModeInput, o ...func(*kinesis.Options)) (*kinesis.UpdateStreamModeOutput, error) {
	return paced(ctx, k.l, "kinesis.UpdateStreamMode", k.next.UpdateStreamMode, in, o...)
}

func (k *limitedKinesis) IncreaseStreamRetentionPeriod(ctx context.Context, in *kinesis.IncreaseStreamRetentionPeriodInput, o ...func(*kinesis.Options)) (*kinesis.IncreaseStreamRetentionPeriodOutput, error) {
	return paced(ctx, k.l, "kinesis.IncreaseStreamRetentionPeriod", k.next.IncreaseStreamRetentionPeriod, in, o...)
}

func (k *limitedKinesis) DecreaseStreamRetentionPeriod(ctx context.Context, in *kinesis.DecreaseStreamRetentionPeriodInput, o ...func(*kinesis.Options)) (*kinesis.DecreaseStreamRetentionPeriodOutput, error) {
	return paced(ctx, k.l, "kinesis.DecreaseStreamRetentionPeriod", k.next.DecreaseStreamRetentionPeriod, in, o...)
}

func (k *limitedKinesis) StartStreamEncryption(ctx context.Context, in *kinesis.StartStreamEncryptionInput, o ...func(*kinesis.Options)) (*kinesis.StartStreamEncryptionOutput, error) {
	return paced(ctx, k.l, "kinesis.StartStreamEncryption", k.next.StartStreamEncryption, in, o...)
}

func (k *limitedKinesis) StopStreamEncryption(ctx context.Context, in *kinesis.StopStreamEncryptionInput, o ...func(*kinesis.Options)) (*kinesis.StopStreamEncryptionOutput, error) {
	return paced(ctx, k.l, "kinesis.StopStreamEncryption", k.next.StopStreamEncryption, in, o...)
}

func (k *limitedKinesis) ListTagsForStream(ctx context.Context, in *kinesis.ListTagsForStreamInput, o ...func(*kinesis.Options)) (*kinesis.ListTagsForStreamOutput, error) {
	return paced(ctx, k.l, "kinesis.ListTagsForStream", k.next.ListTagsForStream, in, o...)
}

func (k *limitedKinesis) AddTagsToStream(ctx context.Context, in *kinesis.AddTagsToStreamInput, o ...func(*kinesis.Options)) (*kinesis.AddTagsToStreamOutput, error) {
	return paced(ctx, k.l, "kinesis.AddTagsToStream", k.next.AddTagsToStream, in, o...)
}

func (k *limitedKinesis) RemoveTagsFromStream(ctx context.Context, in *kinesis.RemoveTagsFromStreamInput, o ...func(*kinesis.Options)) (*kinesis.RemoveTagsFromStreamOutput, error) {
	return paced(ctx, k.l, "kinesis.RemoveTagsFromStream", k.next.RemoveTagsFromStream, in, o...)
}

type limitedECS struct {
	next ECSAPI
	l    limiters
}

func (e *limitedECS) RegisterTaskDefinition(ctx context.Context, in *ecs.RegisterTaskDefinitionInput, o ...func(*ecs.Options)) (*ecs.RegisterTaskDefinitionOutput, error) {
	return paced(ctx, e.l, "ecs.RegisterTaskDefinition", e.next.RegisterTaskDefinition, in, o...)
}

func (e *limitedECS) DescribeTaskDefinition(ctx context.Context, in *ecs.DescribeTaskDefinitionInput, o ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error) {
	return paced(ctx, e.l, "ecs.DescribeTaskDefinition", e.next.DescribeTaskDefinition, in, o...)
}

func (e *limitedECS) CreateService(ctx context.Context, in *ecs.CreateServiceInput, o ...func(*ecs.Options)) (*ecs.CreateServiceOutput, error) {
	return paced(ctx, e.l, "ecs.CreateService", e.next.CreateService, in, o...)
}

func (e *limitedECS) UpdateService(ctx context.Context, in *ecs.UpdateServiceInput, o ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error) {
	return paced(ctx, e.l, "ecs.UpdateService", e.next.UpdateService, in, o...)
}

func (e *limitedECS) DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, o ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error) {
	return paced(ctx, e.l, "ecs.DescribeServices", e.next.DescribeServices, in, o...)
}

func (e *limitedECS) DeleteService(ctx context.Context, in *ecs.DeleteServiceInput, o ...func(*ecs.Options)) (*ecs.DeleteServiceOutput, error) {
	return paced(ctx, e.l, "ecs.DeleteService", e.next.DeleteService, in, o...)
}

func (e *limitedECS) ListTagsForResource(ctx context.Context, in *ecs.ListTagsForResourceInput, o ...func(*ecs.Options)) (*ecs.ListTagsForResourceOutput, error) {
	return paced(ctx, e.l, "ecs.ListTagsForResource", e.next.ListTagsForResource, in, o...)
}

func (e *limitedECS) ListTaskDefinitions(ctx context.Context, in *ecs.ListTaskDefinitionsInput, o ...func(*ecs.Options)) (*ecs.ListTaskDefinitionsOutput, error) {
	return paced(ctx, e.l, "ecs.ListTaskDefinitions", e.next.ListTaskDefinitions, in, o...)
}

func (e *limitedECS) DeregisterTaskDefinition(ctx context.Context, in *ecs.DeregisterTaskDefinitionInput, o ...func(*ecs.Options)) (*ecs.DeregisterTaskDefinitionOutput, error) {
	return paced(ctx, e.l, "ecs.DeregisterTaskDefinition", e.next.DeregisterTaskDefinition, in, o...)
}

type limitedCloudWatch struct {
	next CloudWatchAPI
	l    limiters
}

func (c *limitedCloudWatch) GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput, o ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	return paced(ctx, c.l, "cloudwatch.GetMetricData", c.next.GetMetricData, in, o...)
}

type limitedDynamoDB struct {
	next DynamoDBAPI
	l    limiters
}

func (d *limitedDynamoDB) DeleteTable(ctx context.Context, in *dynamodb.DeleteTableInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteTableOutput, error) {
	return paced(ctx, d.l, "dynamodb.DeleteTable", d.next.DeleteTable, in, o...)
}

// limitedLogs paces the log group calls (read per object once per drift
// recheck, and when its spec changes).
type limitedLogs struct {
	next logsaws.API
	l    limiters
}

func (g *limitedLogs) CreateLogGroup(ctx context.Context, in *cloudwatchlogs.CreateLogGroupInput, o ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.CreateLogGroupOutput, error) {
	return paced(ctx, g.l, "logs.CreateLogGroup", g.next.CreateLogGroup, in, o...)
}

func (g *limitedLogs) DescribeLogGroups(ctx context.Context, in *cloudwatchlogs.DescribeLogGroupsInput, o ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeLogGroupsOutput, error) {
	return paced(ctx, g.l, "logs.DescribeLogGroups", g.next.DescribeLogGroups, in, o...)
}

func (g *limitedLogs) ListTagsForResource(ctx context.Context, in *cloudwatchlogs.ListTagsForResourceInput, o ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.ListTagsForResourceOutput, error) {
	return paced(ctx, g.l, "logs.ListTagsForResource", g.next.ListTagsForResource, in, o...)
}

func (g *limitedLogs) PutRetentionPolicy(ctx context.Context, in *cloudwatchlogs.PutRetentionPolicyInput, o ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.PutRetentionPolicyOutput, error) {
	return paced(ctx, g.l, "logs.PutRetentionPolicy", g.next.PutRetentionPolicy, in, o...)
}

func (g *limitedLogs) DeleteLogGroup(ctx context.Context, in *cloudwatchlogs.DeleteLogGroupInput, o ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DeleteLogGroupOutput, error) {
	return paced(ctx, g.l, "logs.DeleteLogGroup", g.next.DeleteLogGroup, in, o...)
}

type limitedPutMetrics struct {
	next PutMetricDataAPI
	l    limiters
}

func (c *limitedPutMetrics) PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, o ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	return paced(ctx, c.l, "cloudwatch.PutMetricData", c.next.PutMetricData, in, o...)
}
