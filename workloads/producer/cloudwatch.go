package producer

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	dto "github.com/prometheus/client_model/go"
)

// CloudWatchAPI is the part of the CloudWatch client the producer uses.
type CloudWatchAPI interface {
	PutMetricData(ctx context.Context, params *cloudwatch.PutMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
}

// Names of the ingest metrics published to CloudWatch, in CLOUDWATCH_NAMESPACE
// with the single dimension StreamName. Records and bytes are those accepted
// into the buffer (202 or 200-bound) during the interval; the rates are the
// same divided by the interval. Every datum is high-resolution and stamped
// with the start of its interval, the intervals aligned to the wall clock, so
// Sum IngestRecords over a one-minute period across tasks (they share the
// dimension) is exactly the stream's records of that minute.
const (
	MetricIngestRecords       = "IngestRecords"
	MetricIngestBytes         = "IngestBytes"
	MetricIngestRecordsPerSec = "IngestRecordsPerSecond"
	MetricIngestBytesPerSec   = "IngestBytesPerSecond"
	// MetricRefusedRecords: user records answered 429 or 503 in the interval
	// because the producer could not take them (too many requests or bytes in
	// flight, buffer full, Kinesis unavailable, draining, stream not ready):
	// demand the tasks did not serve. A request refused before its body was
	// read counts as one record (a lower bound for POST /records). Client
	// mistakes (4xx other than 429) are not counted, nor an ACK_TIMEOUT 503,
	// whose records were buffered (counted in IngestRecords) and may still be
	// written. Unit Count; read with statistic Sum.
	MetricRefusedRecords = "RefusedRecords"
	DimensionStreamName  = "StreamName"
)

// CloudWatchMetrics are the metrics publish sends, each with the dimensions
// DimensionStreamName: the list the operator's dashboard is checked against
// (internal/dashboard), kept equal to publish by TestPublishSendsCloudWatchMetrics.
var CloudWatchMetrics = []string{MetricIngestRecords, MetricIngestBytes, MetricIngestRecordsPerSec, MetricIngestBytesPerSec, MetricRefusedRecords}

// CloudWatchDimensions are the dimensions of every metric in CloudWatchMetrics.
var CloudWatchDimensions = []string{DimensionStreamName}

// highResolution is the StorageResolution of every datum the publisher sends:
// CloudWatch keeps the points at one-second resolution, so a minute's Sum is
// complete as soon as every task has published its last interval of that
// minute, seconds after the minute ends (standard-resolution points of a
// custom metric are stored per minute as well, but the operator's scaler
// reads them as if they were AWS/Kinesis's own, which lag by 1–3 minutes).
const highResolution int32 = 1

// maxPublishTimeout bounds one PutMetricData call; a shorter interval bounds
// it further, so a slow call cannot swallow the next boundary.
const maxPublishTimeout = 10 * time.Second

// clock is the publisher's view of time, injected so that tests step it
// instead of waiting for the wall clock.
type clock struct {
	now func() time.Time
	// sleepUntil returns once t has passed (true) or ctx has ended (false).
	sleepUntil func(ctx context.Context, t time.Time) bool
}

// wallClock is the real clock.
var wallClock = clock{now: time.Now, sleepUntil: func(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}}

// intervalStart returns the start of the interval of length d holding t, the
// intervals being aligned to multiples of d since the Unix epoch: for a d that
// divides a minute, every minute starts an interval, so the points of one
// minute never mix with the next's.
func intervalStart(t time.Time, d time.Duration) time.Time {
	n := t.UnixNano()
	return time.Unix(0, n-n%int64(d)).UTC()
}

// nextBoundary returns the first interval boundary strictly after t.
func nextBoundary(t time.Time, d time.Duration) time.Time {
	return intervalStart(t, d).Add(d)
}

// publisher sends the ingest rate and the refused records to CloudWatch once
// per interval, each datum stamped with the start of its interval.
type publisher struct {
	api       CloudWatchAPI
	namespace string
	stream    string
	metrics   *Metrics
	interval  time.Duration
	clock     clock
	lastRecs  float64
	lastBytes float64
	lastRefus float64
	// start is the start of the interval being counted: the Timestamp of the
	// next datum. The first is the aligned start of the interval the
	// publisher was created in, so its partial interval lands in its minute.
	start time.Time
}

// newPublisher returns a publisher counting from the start of the interval
// that holds clk.now().
func newPublisher(api CloudWatchAPI, namespace, stream string, m *Metrics, interval time.Duration, clk clock) *publisher {
	return &publisher{api: api, namespace: namespace, stream: stream, metrics: m, interval: interval, clock: clk,
		start: intervalStart(clk.now(), interval)}
}

func counterValue(c interface{ Write(*dto.Metric) error }) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil || m.Counter == nil {
		return 0
	}
	return m.Counter.GetValue()
}

// run publishes at every interval boundary until ctx ends. The counters are
// read right after the boundary, so a datum holds the records of its interval
// (plus those of the few milliseconds the wake-up takes). A wake-up later than
// the next boundary (a slow call, a paused process) makes one datum cover
// several intervals, stamped with the first one's start. The caller publishes
// the last, partial interval with publish(ctx, clock.now()).
func (p *publisher) run(ctx context.Context, log *slog.Logger) {
	timeout := min(maxPublishTimeout, p.interval)
	for {
		end := nextBoundary(p.clock.now(), p.interval)
		if !p.clock.sleepUntil(ctx, end) {
			return
		}
		pctx, cancel := context.WithTimeout(ctx, timeout)
		if err := p.publish(pctx, end); err != nil {
			log.Warn("CloudWatch publish failed", "error", err)
		}
		cancel()
	}
}

// publish sends the counts since the previous call as one datum per metric,
// stamped with p.start, and starts the next interval at end. The rates divide
// by the interval (by end-p.start when that is longer), so that across tasks
// Sum(IngestRecordsPerSecond) at a period of one interval is the stream's
// rate even for a task that ran for part of it. An end not after p.start
// (the wall clock stepped back) publishes nothing.
func (p *publisher) publish(ctx context.Context, end time.Time) error {
	if !end.After(p.start) {
		return nil
	}
	recs, byts := counterValue(p.metrics.accepted), counterValue(p.metrics.acceptedBytes)
	refused := counterValue(p.metrics.refused)
	dr, db, dref := recs-p.lastRecs, byts-p.lastBytes, refused-p.lastRefus
	stamp := p.start
	secs := max(end.Sub(stamp), p.interval).Seconds()
	p.lastRecs, p.lastBytes, p.lastRefus, p.start = recs, byts, refused, end
	dims := []cwtypes.Dimension{{Name: aws.String(DimensionStreamName), Value: aws.String(p.stream)}}
	datum := func(name string, v float64, unit cwtypes.StandardUnit) cwtypes.MetricDatum {
		return cwtypes.MetricDatum{MetricName: aws.String(name), Dimensions: dims, Timestamp: aws.Time(stamp), Value: aws.Float64(v),
			Unit: unit, StorageResolution: aws.Int32(highResolution)}
	}
	_, err := p.api.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{
		Namespace: aws.String(p.namespace),
		MetricData: []cwtypes.MetricDatum{
			datum(MetricIngestRecords, dr, cwtypes.StandardUnitCount),
			datum(MetricIngestBytes, db, cwtypes.StandardUnitBytes),
			datum(MetricIngestRecordsPerSec, dr/secs, cwtypes.StandardUnitCountSecond),
			datum(MetricIngestBytesPerSec, db/secs, cwtypes.StandardUnitBytesSecond),
			datum(MetricRefusedRecords, dref, cwtypes.StandardUnitCount),
		},
	})
	p.metrics.cloudWatchPublishes.WithLabelValues(outcome(err)).Inc()
	p.metrics.awsCalls.WithLabelValues("cloudwatch", "PutMetricData", classifyOutcome(err)).Inc()
	if err != nil {
		return fmt.Errorf("put ingest metrics for stream %q: %w", p.stream, err)
	}
	return nil
}
