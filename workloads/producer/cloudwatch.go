package producer

import (
	"context"
	"fmt"
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
// same divided by the interval. Sum IngestRecords over a period across tasks
// (they share the dimension) for the stream's ingest rate.
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

// publisher sends the ingest rate and the refused records to CloudWatch every interval.
type publisher struct {
	api       CloudWatchAPI
	namespace string
	stream    string
	metrics   *Metrics
	lastRecs  float64
	lastBytes float64
	lastRefus float64
	lastAt    time.Time
}

func counterValue(c interface{ Write(*dto.Metric) error }) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil || m.Counter == nil {
		return 0
	}
	return m.Counter.GetValue()
}

// publish sends the deltas since the previous call.
func (p *publisher) publish(ctx context.Context, now time.Time) error {
	recs, byts := counterValue(p.metrics.accepted), counterValue(p.metrics.acceptedBytes)
	refused := counterValue(p.metrics.refused)
	dr, db, dref := recs-p.lastRecs, byts-p.lastBytes, refused-p.lastRefus
	secs := now.Sub(p.lastAt).Seconds()
	p.lastRecs, p.lastBytes, p.lastRefus, p.lastAt = recs, byts, refused, now
	if secs <= 0 {
		return nil
	}
	dims := []cwtypes.Dimension{{Name: aws.String(DimensionStreamName), Value: aws.String(p.stream)}}
	datum := func(name string, v float64, unit cwtypes.StandardUnit) cwtypes.MetricDatum {
		return cwtypes.MetricDatum{MetricName: aws.String(name), Dimensions: dims, Timestamp: aws.Time(now), Value: aws.Float64(v), Unit: unit}
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
