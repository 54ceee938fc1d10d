package consumer

import (
	"context"
	"fmt"
	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/kdp-io/streamprocessor-operator/workloads/kcl"
)

// Metrics holds the consumer's Prometheus metrics on their own registry and
// the per-period aggregates published to CloudWatch. It implements
// kcl.Observer.
type Metrics struct {
	Registry *prometheus.Registry

	recordsProcessed   prometheus.Counter
	recordFailures     prometheus.Counter
	deadLetters        prometheus.Counter
	recordsRead        prometheus.Counter
	millisBehind       *prometheus.GaugeVec
	leasesHeld         prometheus.Gauge
	checkpointSeconds  prometheus.Histogram
	checkpointFailures prometheus.Counter
	panics             prometheus.Counter
	processorFailures  prometheus.Counter
	blocked            prometheus.Gauge
	leaseTableInvalid  prometheus.Gauge
	awsCalls           *prometheus.CounterVec

	mu        sync.Mutex
	periodMax int64 // max MillisBehindLatest seen this CloudWatch period; -1: none
	periodN   int64 // records processed this period
	periodF   int64 // failed attempts this period
	periodD   int64 // records dead-lettered this period
	nBlocked  int64 // shards blocked on a failing record now
	maxBlock  int64 // max nBlocked this period
	total     float64
}

// NewMetrics registers the consumer's metrics (and Go/process collectors) on a
// new registry.
func NewMetrics() *Metrics {
	const ns, sub = "streamprocessor", "consumer"
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		recordsProcessed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "records_processed_total",
			Help: "User records handled successfully."}),
		recordFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "record_failures_total",
			Help: "Failed attempts to handle a user record (each retry counts)."}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "records_dead_lettered_total",
			Help: "User records written to the dead-letter destination after every attempt failed."}),
		recordsRead: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "records_read_total",
			Help: "User records read from the stream and delivered to the processor (after deaggregation)."}),
		millisBehind: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "millis_behind_latest",
			Help: "MillisBehindLatest of the last read, per shard held by this worker."}, []string{"shard_id"}),
		leasesHeld: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "leases_held",
			Help: "Shard leases held by this worker."}),
		checkpointSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "checkpoint_duration_seconds",
			Help: "Latency of checkpoint writes to the lease table.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		checkpointFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "checkpoint_failures_total",
			Help: "Checkpoint writes that failed (lease lost or DynamoDB error)."}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "handler_panics_total",
			Help: "Panics recovered from the record handler or processor (each is a failed attempt)."}),
		processorFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "processor_failures_total",
			Help: "MultiLang processor subprocesses that failed (exited, broke the protocol, timed out); each released its lease."}),
		blocked: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "records_blocked",
			Help: "Shards whose processing is blocked on a record that failed every attempt and has no dead-letter destination."}),
		leaseTableInvalid: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "lease_table_schema_invalid",
			Help: "1 while the lease table exists with another key schema than the KCL's (the consumer cannot start)."}),
		awsCalls:  awsapi.NewCallsCounter(),
		periodMax: -1,
	}
	m.Registry.MustRegister(m.recordsProcessed, m.recordFailures, m.deadLetters, m.recordsRead, m.millisBehind,
		m.leasesHeld, m.checkpointSeconds, m.checkpointFailures, m.panics, m.processorFailures, m.blocked, m.leaseTableInvalid, m.awsCalls,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) processed(n int) {
	m.recordsProcessed.Add(float64(n))
	m.mu.Lock()
	m.periodN += int64(n)
	m.total += float64(n)
	m.mu.Unlock()
}

func (m *Metrics) failed() {
	m.recordFailures.Inc()
	m.mu.Lock()
	m.periodF++
	m.mu.Unlock()
}

func (m *Metrics) deadLettered() {
	m.deadLetters.Inc()
	m.mu.Lock()
	m.periodD++
	m.mu.Unlock()
}

// RecordsRead implements kcl.Observer.
func (m *Metrics) RecordsRead(shardID string, n int, millisBehindLatest int64) {
	m.recordsRead.Add(float64(n))
	m.millisBehind.WithLabelValues(shardID).Set(float64(millisBehindLatest))
	m.mu.Lock()
	m.periodMax = max(m.periodMax, millisBehindLatest)
	m.mu.Unlock()
}

// LeasesHeld implements kcl.Observer.
func (m *Metrics) LeasesHeld(n int) { m.leasesHeld.Set(float64(n)) }

// Checkpointed implements kcl.Observer.
func (m *Metrics) Checkpointed(_ string, d time.Duration, err error) {
	m.checkpointSeconds.Observe(d.Seconds())
	if err != nil {
		m.checkpointFailures.Inc()
	}
}

// ShardClosed implements kcl.Observer: the shard's lag gauge goes away.
func (m *Metrics) ShardClosed(shardID string, _ kcl.ShutdownReason) {
	m.millisBehind.DeleteLabelValues(shardID)
}

// ProcessorPanicked implements kcl.Observer.
func (m *Metrics) ProcessorPanicked(string) { m.panics.Inc() }

// ProcessorFailed implements kcl.Observer.
func (m *Metrics) ProcessorFailed(string) { m.processorFailures.Inc() }

func (m *Metrics) panicked() { m.panics.Inc() }

// block counts a shard blocked on a record (+1) or freed (-1).
func (m *Metrics) block(d int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nBlocked += d
	m.maxBlock = max(m.maxBlock, m.nBlocked)
	m.blocked.Set(float64(m.nBlocked))
}

// period is one CloudWatch period's aggregates.
type period struct {
	maxBehind, processed, blocked, failed, deadLettered int64
	read                                                bool // a read happened (maxBehind is meaningful)
}

// takePeriod returns and resets the CloudWatch period's aggregates.
func (m *Metrics) takePeriod() period {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := period{maxBehind: m.periodMax, processed: m.periodN, blocked: m.maxBlock, failed: m.periodF, deadLettered: m.periodD, read: m.periodMax >= 0}
	m.periodMax, m.periodN, m.maxBlock, m.periodF, m.periodD = -1, 0, m.nBlocked, 0, 0
	return p
}

// PutMetricDataAPI is the CloudWatch call the publisher needs.
type PutMetricDataAPI interface {
	PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
}

// CloudWatch metric names and dimensions the consumer publishes; the operator
// scales on them (see docs/consumer.md).
const (
	MetricMillisBehindLatest = "MillisBehindLatest" // Milliseconds; read with statistic Maximum
	MetricRecordsProcessed   = "RecordsProcessed"   // Count; read with statistic Sum
	// MetricRecordsBlocked: shards blocked on a record that keeps failing with
	// no dead-letter destination (max over the period); read with Maximum.
	MetricRecordsBlocked = "RecordsBlocked"
	// MetricRecordFailures: failed attempts to handle a user record in the
	// period (each retry counts, like record_failures_total). Count; Sum.
	MetricRecordFailures = "RecordFailures"
	// MetricRecordsDeadLettered: user records written to the dead-letter
	// destination in the period after every attempt failed. Count; Sum.
	MetricRecordsDeadLettered = "RecordsDeadLettered"
	DimensionStreamName       = "StreamName"
	DimensionApplicationName  = "ApplicationName"
)

// CloudWatchMetrics are the metrics Publish sends, each with the dimensions
// CloudWatchDimensions: the list the operator's dashboard is checked against
// (internal/dashboard), kept equal to Publish by TestPublishSendsCloudWatchMetrics.
var CloudWatchMetrics = []string{MetricMillisBehindLatest, MetricRecordsProcessed, MetricRecordsBlocked, MetricRecordFailures, MetricRecordsDeadLettered}

// CloudWatchDimensions are the dimensions of every metric in CloudWatchMetrics.
var CloudWatchDimensions = []string{DimensionStreamName, DimensionApplicationName}

// CloudWatchPublisher sends the period's max MillisBehindLatest, records
// processed, blocked shards, failed attempts and dead letters to CloudWatch.
type CloudWatchPublisher struct {
	API         PutMetricDataAPI
	Namespace   string
	Stream, App string
	Metrics     *Metrics
}

// Publish sends one period's data; RecordsProcessed, RecordsBlocked,
// RecordFailures and RecordsDeadLettered are sent every period (0 when idle) so scaling sees idleness, MillisBehindLatest only when a read
// happened.
func (p *CloudWatchPublisher) Publish(ctx context.Context, now time.Time) error {
	per := p.Metrics.takePeriod()
	dims := []cwtypes.Dimension{
		{Name: aws.String(DimensionStreamName), Value: aws.String(p.Stream)},
		{Name: aws.String(DimensionApplicationName), Value: aws.String(p.App)},
	}
	datum := func(name string, v int64, unit cwtypes.StandardUnit) cwtypes.MetricDatum {
		return cwtypes.MetricDatum{MetricName: aws.String(name), Dimensions: dims, Timestamp: aws.Time(now), Unit: unit, Value: aws.Float64(float64(v))}
	}
	data := []cwtypes.MetricDatum{
		datum(MetricRecordsProcessed, per.processed, cwtypes.StandardUnitCount),
		datum(MetricRecordsBlocked, per.blocked, cwtypes.StandardUnitCount),
		datum(MetricRecordFailures, per.failed, cwtypes.StandardUnitCount),
		datum(MetricRecordsDeadLettered, per.deadLettered, cwtypes.StandardUnitCount),
	}
	if per.read {
		data = append(data, datum(MetricMillisBehindLatest, per.maxBehind, cwtypes.StandardUnitMilliseconds))
	}
	if _, err := p.API.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String(p.Namespace), MetricData: data}); err != nil {
		return fmt.Errorf("put consumer metrics to CloudWatch namespace %q: %w", p.Namespace, err)
	}
	return nil
}

// Processed returns the number of user records handled successfully so far.
func (m *Metrics) Processed() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.total
}
