package controllers

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/dashboard"
	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv/cwtest"
)

// putRecorder records every PutMetricData call, per region.
type putRecorder struct {
	mu    sync.Mutex
	calls map[string][]*cloudwatch.PutMetricDataInput
}

func (p *putRecorder) clients(_ context.Context, region string) (PutMetricDataAPI, error) {
	return putFunc(func(in *cloudwatch.PutMetricDataInput) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.calls == nil {
			p.calls = map[string][]*cloudwatch.PutMetricDataInput{}
		}
		p.calls[region] = append(p.calls[region], in)
	}), nil
}

type putFunc func(in *cloudwatch.PutMetricDataInput)

func (f putFunc) PutMetricData(_ context.Context, in *cloudwatch.PutMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	f(in)
	return &cloudwatch.PutMetricDataOutput{}, nil
}

// publishedObject is a StreamProcessor with distinct values for each metric.
func publishedObject(i int) *streamingv1alpha1.StreamProcessor {
	sp := &streamingv1alpha1.StreamProcessor{ObjectMeta: metav1.ObjectMeta{
		Namespace: "team", Name: fmt.Sprintf("sp-%04d", i), UID: types.UID(fmt.Sprintf("uid-%d", i)),
	}}
	sp.Status.Stream.OpenShards, sp.Status.Stream.TargetShards = int32(i+1), int32(i+2)
	sp.Status.Producer.TargetTasks, sp.Status.Consumer.TargetTasks = 3, 4
	return sp
}

// sentObjects are the Name dimension values of every datum sent, per region.
func sentObjects(calls []*cloudwatch.PutMetricDataInput) map[string]int {
	out := map[string]int{}
	for _, in := range calls {
		for _, d := range in.MetricData {
			out[aws.ToString(d.Dimensions[1].Value)]++
		}
	}
	return out
}

func TestPublisherBatchesARegionIntoOneCall(t *testing.T) {
	rec := &putRecorder{}
	p := NewMetricsPublisher(time.Minute, rec.clients)
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	for i := range 150 {
		region := "eu-west-1"
		if i%3 == 0 {
			region = "us-east-1"
		}
		p.Record(publishedObject(i), region, now)
	}
	calls, err := p.Flush(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	// 100 objects × 5 datums in eu-west-1, 50 × 5 in us-east-1: one call each.
	if calls != 2 || len(rec.calls["eu-west-1"]) != 1 || len(rec.calls["us-east-1"]) != 1 {
		t.Fatalf("%d calls (%d eu-west-1, %d us-east-1), want one per region", calls, len(rec.calls["eu-west-1"]), len(rec.calls["us-east-1"]))
	}
	if n := len(rec.calls["eu-west-1"][0].MetricData); n != 500 {
		t.Errorf("eu-west-1 call has %d datums, want 500", n)
	}
	if ns := aws.ToString(rec.calls["us-east-1"][0].Namespace); ns != dashboard.OperatorNamespace {
		t.Errorf("namespace %q, want %q", ns, dashboard.OperatorNamespace)
	}
}

func TestPublisherSplitsAtThePerCallLimit(t *testing.T) {
	rec := &putRecorder{}
	p := NewMetricsPublisher(time.Minute, rec.clients)
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	for i := range 401 { // 2005 datums
		p.Record(publishedObject(i), "eu-west-1", now)
	}
	if _, err := p.Flush(context.Background(), now); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, in := range rec.calls["eu-west-1"] {
		sizes = append(sizes, len(in.MetricData))
	}
	if fmt.Sprint(sizes) != "[1000 1000 5]" {
		t.Errorf("calls of %v datums, want [1000 1000 5]", sizes)
	}
	if got := sentObjects(rec.calls["eu-west-1"]); len(got) != 401 {
		t.Errorf("%d objects sent, want 401", len(got))
	}
}

func TestPublisherStopsPublishingDeletedAndForgottenObjects(t *testing.T) {
	rec := &putRecorder{}
	p := NewMetricsPublisher(time.Minute, rec.clients)
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	for i := range 3 {
		p.Record(publishedObject(i), "eu-west-1", now)
	}
	p.Delete("uid-1")
	// sp-0002 is not reported again; sp-0000 is, until Forget has passed for sp-0002.
	later := now.Add(p.Forget + time.Second)
	p.Record(publishedObject(0), "eu-west-1", later)
	if _, err := p.Flush(context.Background(), later); err != nil {
		t.Fatal(err)
	}
	got := sentObjects(rec.calls["eu-west-1"])
	if len(got) != 1 || got["sp-0000"] != len(OperatorMetrics) {
		t.Errorf("sent %v, want only sp-0000's %d metrics", got, len(OperatorMetrics))
	}
}

func TestPublisherValuesComeFromTheStatus(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	sp := publishedObject(6)
	sp.Status.Stream.Reshards = []metav1.Time{metav1.NewTime(now.Add(-time.Hour)), metav1.NewTime(now.Add(-25 * time.Hour))}
	rec := &putRecorder{}
	p := NewMetricsPublisher(time.Minute, rec.clients)
	p.Record(sp, "eu-west-1", now)
	if _, err := p.Flush(context.Background(), now); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, d := range rec.calls["eu-west-1"][0].MetricData {
		got[aws.ToString(d.MetricName)] = aws.ToFloat64(d.Value)
	}
	want := fmt.Sprint(map[string]float64{
		dashboard.MetricOpenShards: 7, dashboard.MetricTargetShards: 8,
		dashboard.MetricReshardCallsLeft:    float64(scaling.ReshardsPerWindow - 1),
		dashboard.MetricProducerTargetTasks: 3, dashboard.MetricConsumerTargetTasks: 4,
	})
	if fmt.Sprint(got) != want {
		t.Errorf("sent %v, want %v", got, want)
	}
}

// TestPublisherSendsOperatorMetrics: what the publisher sends is exactly
// the declared list the dashboard plots, with the declared dimensions.
func TestPublisherSendsOperatorMetrics(t *testing.T) {
	rec := &cwtest.Recorder{}
	p := NewMetricsPublisher(time.Minute, func(context.Context, string) (PutMetricDataAPI, error) { return rec, nil })
	now := time.Now()
	p.Record(publishedObject(0), "eu-west-1", now)
	if _, err := p.Flush(context.Background(), now); err != nil {
		t.Fatal(err)
	}
	rec.CheckSent(t, dashboard.OperatorMetrics, dashboard.OperatorDimensions)
}

// TestNoPublisherRecordsNothing: without --cloudwatch-metrics the
// reconciler's nil publisher is safe to call.
func TestNoPublisherRecordsNothing(t *testing.T) {
	var p *MetricsPublisher
	p.Record(publishedObject(0), "eu-west-1", time.Now())
	p.Delete("uid-0")
}
