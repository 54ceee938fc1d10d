package producer

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
// are exactly what publish sends.
func TestPublishSendsCloudWatchMetrics(t *testing.T) {
	api := &recordingCloudWatch{}
	now := time.Now()
	p := &publisher{api: api, namespace: "StreamProcessor/Producer", stream: "s", metrics: NewMetrics(), lastAt: now.Add(-time.Minute)}
	if err := p.publish(context.Background(), now); err != nil {
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
		t.Errorf("publish sent %v, CloudWatchMetrics says %v", names, CloudWatchMetrics)
	}
}
