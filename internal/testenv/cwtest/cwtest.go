// Package cwtest checks what a workload publishes to CloudWatch against the
// metric list it declares (the list the operator's dashboard is built from).
package cwtest

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
)

// Recorder is a PutMetricData client that keeps the last input it was given.
type Recorder struct {
	In *cloudwatch.PutMetricDataInput
}

// PutMetricData records in and answers success.
func (r *Recorder) PutMetricData(_ context.Context, in *cloudwatch.PutMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	r.In = in
	return &cloudwatch.PutMetricDataOutput{}, nil
}

// CheckSent fails t unless the recorded input holds exactly the metrics
// names (in any order), each with exactly the dimensions dims in that order.
func (r *Recorder) CheckSent(t *testing.T, names, dims []string) {
	t.Helper()
	if r.In == nil {
		t.Fatal("nothing was published")
	}
	var sent []string
	for _, d := range r.In.MetricData {
		name := aws.ToString(d.MetricName)
		sent = append(sent, name)
		var got []string
		for _, dim := range d.Dimensions {
			got = append(got, aws.ToString(dim.Name))
		}
		if !slices.Equal(got, dims) {
			t.Errorf("%s has dimensions %v, the declared list says %v", name, got, dims)
		}
	}
	if !slices.Equal(slices.Sorted(slices.Values(sent)), slices.Sorted(slices.Values(names))) {
		t.Errorf("published %v, the declared list says %v", sent, names)
	}
}

// Value returns the value sent for the metric name; it fails t when the
// recorded input has no such metric.
func (r *Recorder) Value(t *testing.T, name string) float64 {
	t.Helper()
	if r.In == nil {
		t.Fatal("nothing was published")
	}
	for _, d := range r.In.MetricData {
		if aws.ToString(d.MetricName) == name {
			return aws.ToFloat64(d.Value)
		}
	}
	t.Fatalf("%s was not published", name)
	return 0
}
