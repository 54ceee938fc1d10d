package controllers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/log"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/dashboard"
	"github.com/kdp-io/streamprocessor-operator/internal/gauges"
)

// PutMetricDataAPI is the part of CloudWatch the operator's own metrics
// publisher calls, with the SDK's signature; *cloudwatch.Client satisfies it.
type PutMetricDataAPI interface {
	PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
}

// maxDatumsPerPut is PutMetricData's limit of metrics per request
// (API_PutMetricData: "no more than 1000 different metrics", 1 MB per POST;
// 1000 datums of five short dimensions stay far under 1 MB).
const maxDatumsPerPut = 1000

// OperatorMetrics are the metrics the publisher sends for every
// StreamProcessor, in dashboard.OperatorNamespace with the dimensions
// dashboard.OperatorDimensions: the list the dashboard plots, kept equal to
// what publish sends by TestPublisherSendsOperatorMetrics.
var OperatorMetrics = dashboard.OperatorMetrics

// objectSample is one StreamProcessor's values, as one pass's report left them.
type objectSample struct {
	region, namespace, name string
	values                  map[string]float64
	at                      time.Time
}

// sampleOf is what sp's status, after the plan, says of the operator's
// decisions. Pure.
func sampleOf(sp *streamingv1alpha1.StreamProcessor, region string, now time.Time) objectSample {
	st := &sp.Status
	return objectSample{
		region: region, namespace: sp.Namespace, name: sp.Name, at: now,
		values: map[string]float64{
			dashboard.MetricOpenShards:          float64(st.Stream.OpenShards),
			dashboard.MetricTargetShards:        float64(st.Stream.TargetShards),
			dashboard.MetricReshardCallsLeft:    float64(gauges.ReshardBudget(st.Stream.Reshards, now).Left),
			dashboard.MetricProducerTargetTasks: float64(st.Producer.TargetTasks),
			dashboard.MetricConsumerTargetTasks: float64(st.Consumer.TargetTasks),
		},
	}
}

// MetricsPublisher sends the operator's decisions about every StreamProcessor
// to CloudWatch, batched per region: each pass's report records its object's
// latest values (Record, no AWS call), and Flush sends, per region, the
// latest values of every object recorded within Forget in as few
// PutMetricData calls as the per-call limit allows (⌈objects × 5 ÷ 1000⌉).
// An object deleted (Forget) or not reported within Forget is no longer sent.
type MetricsPublisher struct {
	// Interval between flushes (Start); Forget drops an object not reported
	// for that long.
	Interval, Forget time.Duration
	// Clients returns the PutMetricData client of a region.
	Clients func(ctx context.Context, region string) (PutMetricDataAPI, error)

	mu      sync.Mutex
	objects map[types.UID]objectSample
}

// NewMetricsPublisher returns a publisher that flushes every interval.
func NewMetricsPublisher(interval time.Duration, clients func(ctx context.Context, region string) (PutMetricDataAPI, error)) *MetricsPublisher {
	return &MetricsPublisher{Interval: interval, Forget: 5 * interval, Clients: clients, objects: map[types.UID]objectSample{}}
}

// Record keeps sp's values for the next flush; a nil publisher records
// nothing (publishing off).
func (p *MetricsPublisher) Record(sp *streamingv1alpha1.StreamProcessor, region string, now time.Time) {
	if p == nil {
		return
	}
	s := sampleOf(sp, region, now)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.objects[sp.UID] = s
}

// Delete stops publishing the object uid (it is being deleted).
func (p *MetricsPublisher) Delete(uid types.UID) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.objects, uid)
}

// batches returns, per region, the PutMetricData inputs of every object
// recorded within Forget of now (dropping the others), each of at most
// maxDatumsPerPut datums stamped now. Objects are in namespace/name order.
func (p *MetricsPublisher) batches(now time.Time) map[string][]*cloudwatch.PutMetricDataInput {
	p.mu.Lock()
	var samples []objectSample
	for uid, s := range p.objects {
		if now.Sub(s.at) > p.Forget {
			delete(p.objects, uid)
			continue
		}
		samples = append(samples, s)
	}
	p.mu.Unlock()
	slices.SortFunc(samples, func(a, b objectSample) int {
		return cmp.Or(strings.Compare(a.namespace, b.namespace), strings.Compare(a.name, b.name))
	})
	datums := map[string][]cwtypes.MetricDatum{}
	for _, s := range samples {
		datums[s.region] = append(datums[s.region], datumsOf(s, now)...)
	}
	out := map[string][]*cloudwatch.PutMetricDataInput{}
	for region, ds := range datums {
		for chunk := range slices.Chunk(ds, maxDatumsPerPut) {
			out[region] = append(out[region], &cloudwatch.PutMetricDataInput{
				Namespace: aws.String(dashboard.OperatorNamespace), MetricData: chunk,
			})
		}
	}
	return out
}

// datumsOf are the datums of one sample, in OperatorMetrics order.
func datumsOf(s objectSample, now time.Time) []cwtypes.MetricDatum {
	dims := []cwtypes.Dimension{
		{Name: aws.String(dashboard.OperatorDimensions[0]), Value: aws.String(s.namespace)},
		{Name: aws.String(dashboard.OperatorDimensions[1]), Value: aws.String(s.name)},
	}
	out := make([]cwtypes.MetricDatum, 0, len(OperatorMetrics))
	for _, m := range OperatorMetrics {
		out = append(out, cwtypes.MetricDatum{
			MetricName: aws.String(m), Dimensions: dims, Value: aws.Float64(s.values[m]),
			Timestamp: aws.Time(now), Unit: cwtypes.StandardUnitCount,
		})
	}
	return out
}

// Flush sends every region's batches; a region's error does not stop the
// others. It returns the calls made and the errors joined.
func (p *MetricsPublisher) Flush(ctx context.Context, now time.Time) (int, error) {
	calls := 0
	var errs []error
	for region, ins := range p.batches(now) {
		c, err := p.Clients(ctx, region)
		if err != nil {
			errs = append(errs, fmt.Errorf("region %q: %w", region, err))
			continue
		}
		for _, in := range ins {
			calls++
			if _, err := c.PutMetricData(ctx, in); err != nil {
				errs = append(errs, fmt.Errorf("put metric data (region %q, %d datums): %w", region, len(in.MetricData), err))
			}
		}
	}
	return calls, errors.Join(errs...)
}

// Start flushes every Interval until ctx ends (a manager Runnable). A failed
// flush is logged; the next one sends the objects' latest values again.
func (p *MetricsPublisher) Start(ctx context.Context) error {
	t := time.NewTicker(p.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := p.Flush(ctx, time.Now()); err != nil {
				log.FromContext(ctx).Error(err, "Publishing the operator's metrics to CloudWatch")
			}
		}
	}
}

// NeedLeaderElection: only the leader's passes record values.
func (p *MetricsPublisher) NeedLeaderElection() bool { return true }

// PutMetricsOf returns the publisher's client of a region from f's (paced)
// clients.
func PutMetricsOf(f ClientFactory) func(ctx context.Context, region string) (PutMetricDataAPI, error) {
	return func(ctx context.Context, region string) (PutMetricDataAPI, error) {
		c, err := f(ctx, region)
		if err == nil && c.PutMetrics == nil {
			err = fmt.Errorf("region %q: no CloudWatch client to publish metrics with", region)
		}
		return c.PutMetrics, err
	}
}
