package producer

import (
	"context"
	"log/slog"
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
	p := &publisher{api: cw, namespace: "StreamProcessor/Producer", stream: stream, metrics: m, interval: 10 * time.Second, start: start}
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

// teeLog records every PutMetricData input and forwards it to api.
type teeLog struct {
	putLog
	api CloudWatchAPI
}

func (t *teeLog) PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, opts ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	_, _ = t.putLog.PutMetricData(ctx, in, opts...)
	return t.api.PutMetricData(ctx, in, opts...)
}

// TestIntegrationCloudWatchMinuteSums publishes 10-s points to the CloudWatch
// emulator for two and a half minutes (on a stepped clock a few minutes in
// the past) and reads IngestRecords back with GetMetricData at period 60: each
// minute's Sum is the sum of the 10-s points stamped in that minute, and those
// are the records that arrived in it — a point stamped with its interval's
// end would move the last ten seconds of each minute into the next.
func TestIntegrationCloudWatchMinuteSums(t *testing.T) {
	testenv.Require(t, testenv.CloudWatch)
	ctx := context.Background()
	cfg, err := awsconfig.Load(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	cw := cloudwatch.NewFromConfig(cfg, awsconfig.CloudWatchQueryProtocol)
	stream := testenv.UniqueName("producer-cw-minutes")
	base := time.Now().UTC().Truncate(time.Minute).Add(-5 * time.Minute)
	created, stop := base.Add(3400*time.Millisecond), base.Add(147300*time.Millisecond)
	m := NewMetrics()
	feed := &arrivals{m: m, want: map[time.Time]float64{}}
	clk := &steppedClock{now: created, late: 7 * time.Millisecond, stopAfter: stop, feed: feed}
	api := &teeLog{api: cw}
	p := newPublisher(api, "StreamProcessor/Producer", stream, m, 10*time.Second, clk.clock())
	p.run(ctx, slog.New(slog.DiscardHandler))
	feed.between(clk.now, stop)
	if err := p.publish(ctx, stop); err != nil {
		t.Fatal(err)
	}
	if len(api.ins) != 15 {
		t.Fatalf("%d publishes, want 15 (14 boundaries and the final one)", len(api.ins))
	}
	points := map[time.Time]float64{} // the 10-s points summed by minute
	for _, in := range api.ins {
		points[aws.ToTime(in.MetricData[0].Timestamp).Truncate(time.Minute)] += value(t, in, MetricIngestRecords)
	}

	out, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(base), EndTime: aws.Time(base.Add(3 * time.Minute)),
		MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("recs"), MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{Namespace: aws.String("StreamProcessor/Producer"), MetricName: aws.String(MetricIngestRecords),
				Dimensions: []cwtypes.Dimension{{Name: aws.String(DimensionStreamName), Value: aws.String(stream)}}},
			Period: aws.Int32(60), Stat: aws.String("Sum"),
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.MetricDataResults) != 1 {
		t.Fatalf("results %+v, want one", out.MetricDataResults)
	}
	r := out.MetricDataResults[0]
	got := map[time.Time]float64{}
	for i, ts := range r.Timestamps {
		got[ts.UTC()] = r.Values[i]
	}
	for i := range 3 {
		minute := base.Add(time.Duration(i) * time.Minute)
		want := feed.sum(minute, minute.Add(time.Minute))
		if points[minute] != want {
			t.Errorf("minute %s: the 10-s points sum to %v, the minute's records are %v", minute.Format("15:04"), points[minute], want)
		}
		if got[minute] != want {
			t.Errorf("minute %s: GetMetricData Sum %v, want %v (the minute's 10-s points); all %v", minute.Format("15:04"), got[minute], want, got)
		}
	}
}
