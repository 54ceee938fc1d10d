package consumer

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
)

type recordingCloudWatch struct {
	in *cloudwatch.PutMetricDataInput
}

func (r *recordingCloudWatch) PutMetricData(_ context.Context, in *cloudwatch.PutMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	r.in = in
	return &cloudwatch.PutMetricDataOutput{}, nil
}

// TestPublishSendsCloudWatchMetrics: CloudWatchMetrics and
// CloudWatchDimensions, which the operator's dashboard is checked against,
// are exactly what Publish sends after a read.
func TestPublishSendsCloudWatchMetrics(t *testing.T) {
	m := NewMetrics()
	m.RecordsRead("shardId-0", 3, 1500)
	m.processed(3)
	api := &recordingCloudWatch{}
	p := &CloudWatchPublisher{API: api, Namespace: DefaultCloudWatchNamespace, Stream: "s", App: "a", Metrics: m}
	if err := p.Publish(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range api.in.MetricData {
		names = append(names, aws.ToString(d.MetricName))
		var dims []string
		for _, dim := range d.Dimensions {
			dims = append(dims, aws.ToString(dim.Name))
		}
		if !slices.Equal(dims, CloudWatchDimensions) {
			t.Errorf("%s has dimensions %v, CloudWatchDimensions says %v", aws.ToString(d.MetricName), dims, CloudWatchDimensions)
		}
	}
	if !slices.Equal(slices.Sorted(slices.Values(names)), slices.Sorted(slices.Values(CloudWatchMetrics))) {
		t.Errorf("Publish sent %v, CloudWatchMetrics says %v", names, CloudWatchMetrics)
	}
}
