package producer

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
)

// TestIntegrationCloudWatchIngestMetrics publishes the ingest metrics to the
// CloudWatch emulator and reads them back with their namespace and dimension.
func TestIntegrationCloudWatchIngestMetrics(t *testing.T) {
	testenv.Require(t, testenv.CloudWatch)
	cfg, err := awsconfig.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	cw := cloudwatch.NewFromConfig(cfg, awsconfig.CloudWatchQueryProtocol)
	m := NewMetrics()
	stream := testenv.UniqueName("producer-cw")
	start := time.Now().Add(-10 * time.Second)
	p := &publisher{api: cw, namespace: "StreamProcessor/Producer", stream: stream, metrics: m, lastAt: start}
	m.accepted.Add(500)
	m.acceptedBytes.Add(50_000)
	if err := p.publish(context.Background(), start.Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	out, err := cw.GetMetricStatistics(context.Background(), &cloudwatch.GetMetricStatisticsInput{
		Namespace: aws.String("StreamProcessor/Producer"), MetricName: aws.String(MetricIngestRecordsPerSec),
		Dimensions: []cwtypes.Dimension{{Name: aws.String(DimensionStreamName), Value: aws.String(stream)}},
		StartTime:  aws.Time(start.Add(-time.Minute)), EndTime: aws.Time(time.Now().Add(time.Minute)),
		Period: aws.Int32(60), Statistics: []cwtypes.Statistic{cwtypes.StatisticSum},
	})
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, d := range out.Datapoints {
		sum += aws.ToFloat64(d.Sum)
	}
	if sum < 49.9 || sum > 50.1 {
		t.Fatalf("IngestRecordsPerSecond sum %v, want 50 (500 records in 10 s); datapoints %+v", sum, out.Datapoints)
	}
	list, err := cw.ListMetrics(context.Background(), &cloudwatch.ListMetricsInput{Namespace: aws.String("StreamProcessor/Producer"),
		Dimensions: []cwtypes.DimensionFilter{{Name: aws.String(DimensionStreamName), Value: aws.String(stream)}}})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, m := range list.Metrics {
		names[aws.ToString(m.MetricName)] = true
	}
	for _, n := range []string{MetricIngestRecords, MetricIngestBytes, MetricIngestRecordsPerSec, MetricIngestBytesPerSec} {
		if !names[n] {
			t.Errorf("metric %s not published (have %v)", n, names)
		}
	}
}
