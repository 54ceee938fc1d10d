package controllers

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/kdp-io/streamprocessor-operator/internal/scaling"
)

// CloudWatchAPI is the part of CloudWatch the scaler reads, with the SDK's
// signature; *cloudwatch.Client satisfies it.
type CloudWatchAPI interface {
	GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
}

// Limits of GetMetricData.
const maxQueriesPerCall = 500

// pipelineMetrics are the CloudWatch series of one StreamProcessor.
type pipelineMetrics struct {
	Stream                   scaling.StreamMetrics
	ProducerCPU, ConsumerCPU []scaling.Point
	ProducerRecords          []scaling.Point // the producer's IngestRecords, Sum per minute
	// ProducerRefused is the producer's RefusedRecords (429/503), Sum per
	// minute: the producer's CPU rule counts them (scaling.hpaDemand), and
	// the rate rule too when a target rate is set.
	ProducerRefused []scaling.Point
}

// metricsKey names what one StreamProcessor asks for.
type metricsKey struct {
	region, stream, cluster, producer, consumer, application string
}

// Namespaces of the workloads' own metrics (workloads/producer and
// workloads/consumer publish them; docs/producer.md, docs/consumer.md).
const (
	producerNamespace = "StreamProcessor/Producer"
	consumerNamespace = "StreamProcessor/Consumer"
)

// MetricsBatcher reads the metrics of every StreamProcessor of a region with
// as few GetMetricData calls as possible: each pass registers its
// StreamProcessor's queries, and one fetch (up to 500 queries a call) answers
// every StreamProcessor registered in that region. A fetch is reused until
// a minute boundary plus Settle has passed since it was made (from then on
// the cached batch cannot hold the minute that just became complete: the
// producers' newest minute is read as soon as it is), and never for longer
// than MaxAge. With MaxAge at least a minute that is one fetch per region
// between two such instants, after the region's first: ⌈objects × queries ÷
// 500⌉ calls per minute, as before. A StreamProcessor new to the batch does
// not trigger a fetch while the batch is fresh: its queries join the next
// one (within a minute), and until then Fetch answers errMetricsPending (the
// scaler holds its targets). A StreamProcessor not asked for within Forget
// is dropped from the batch.
type MetricsBatcher struct {
	MaxAge, Forget time.Duration
	// Settle is how long after a minute boundary the minute's points are
	// complete (MetricSettle).
	Settle time.Duration

	mu      sync.Mutex
	regions map[string]*regionBatch
	// wall is the wall clock the batch ages on (tests replace it).
	wall func() time.Time
}

type regionBatch struct {
	keys      map[metricsKey]time.Time // last asked for
	fetched   map[metricsKey]bool      // in the last fetch
	fetchedAt time.Time
	results   map[string][]scaling.Point // query id → points, oldest first
}

// errMetricsPending answers a StreamProcessor whose queries were not in the
// region's last fetch: they join the next one.
var errMetricsPending = errors.New("this StreamProcessor's metrics join the region's next batched GetMetricData read")

// NewMetricsBatcher returns a batcher whose results are at most maxAge old,
// and refetched once a newer minute is complete (Settle = MetricSettle).
func NewMetricsBatcher(maxAge time.Duration) *MetricsBatcher {
	return &MetricsBatcher{MaxAge: maxAge, Forget: 10 * time.Minute, Settle: MetricSettle, regions: map[string]*regionBatch{}, wall: time.Now}
}

// Fetch returns the metrics of key over the scaler's lookback window. Errors
// are returned as they are: the caller treats them as missing data. A key
// not in the last fetch, while that fetch is fresh (stale), gets
// errMetricsPending and joins the next fetch.
func (b *MetricsBatcher) Fetch(ctx context.Context, cw CloudWatchAPI, key metricsKey, now time.Time) (pipelineMetrics, error) {
	// One fetch serves every object of the region: it waits for its
	// tokens rather than being paced back to one object's requeue.
	ctx = withPacingKey(ctx, "")
	b.mu.Lock()
	defer b.mu.Unlock()
	rb := b.regions[key.region]
	if rb == nil {
		rb = &regionBatch{keys: map[metricsKey]time.Time{}}
		b.regions[key.region] = rb
	}
	rb.keys[key] = now
	// The cache ages in wall time: it is about not asking CloudWatch more
	// often than needed, whatever clock the scaler's windows run on.
	switch {
	case b.stale(rb.fetchedAt, b.wall()):
		for k, at := range rb.keys {
			if now.Sub(at) > b.Forget {
				delete(rb.keys, k)
			}
		}
		results, err := fetchAll(ctx, cw, rb.keys, now)
		if err != nil {
			return pipelineMetrics{}, err
		}
		rb.results, rb.fetchedAt, rb.fetched = results, b.wall(), make(map[metricsKey]bool, len(rb.keys))
		for k := range rb.keys {
			rb.fetched[k] = true
		}
	case !rb.fetched[key]:
		return pipelineMetrics{}, errMetricsPending
	}
	return rb.metricsOf(key), nil
}

// stale says whether a batch fetched at fetchedAt must be fetched again at
// wall: it is MaxAge old, or a minute has become complete (a boundary plus
// Settle has passed) since it was fetched.
func (b *MetricsBatcher) stale(fetchedAt, wall time.Time) bool {
	return wall.Sub(fetchedAt) >= b.MaxAge || fetchedAt.Before(lastSettled(wall, b.Settle))
}

// metricsOf is key's part of the last fetch.
func (rb *regionBatch) metricsOf(key metricsKey) pipelineMetrics {
	ids := queryIDs(key)
	iteratorAge := rb.results[ids.iteratorAge]
	if len(iteratorAge) == 0 {
		// The consumer's own MillisBehindLatest says the same where
		// AWS/Kinesis has no GetRecords data (shard-level metrics off).
		iteratorAge = rb.results[ids.behind]
	}
	return pipelineMetrics{
		Stream: scaling.StreamMetrics{
			IncomingBytes:   rb.results[ids.bytes],
			IncomingRecords: rb.results[ids.records],
			WriteThrottled:  rb.results[ids.throttled],
			IteratorAgeMs:   iteratorAge,
			IngestBytes:     rb.results[ids.ingest],
			ReadThrottled:   rb.results[ids.readThrottled],
		},
		ProducerRecords: rb.results[ids.ingestRecords],
		ProducerRefused: rb.results[ids.refused],
		ProducerCPU:     rb.results[ids.producerCPU],
		ConsumerCPU:     rb.results[ids.consumerCPU],
	}
}

type ids struct {
	bytes, records, throttled, iteratorAge, producerCPU, consumerCPU, ingest, ingestRecords, behind, readThrottled, refused string
}

// queryIDs are the GetMetricData query ids of key: unique per key (a hash),
// and of the form CloudWatch accepts (^[a-z][a-zA-Z0-9_]*$).
func queryIDs(k metricsKey) ids {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00%s", k.region, k.stream, k.cluster, k.producer, k.consumer, k.application)
	p := fmt.Sprintf("m%x_", h.Sum64())
	return ids{p + "bytes", p + "records", p + "throttled", p + "iterage", p + "pcpu", p + "ccpu", p + "ingest", p + "ingestrecs", p + "behind", p + "readthr", p + "refused"}
}

// queriesPerObject is how many GetMetricData queries one StreamProcessor
// adds to its region's batch.
const queriesPerObject = 11

// queries are the queriesPerObject queries of one StreamProcessor (see
// docs/scaling.md): AWS/Kinesis and AWS/ECS, and the producer's and
// consumer's own metrics.
func queries(k metricsKey) []cwtypes.MetricDataQuery {
	id := queryIDs(k)
	q := func(id, ns, metric, stat string, dims ...string) cwtypes.MetricDataQuery {
		var d []cwtypes.Dimension
		for i := 0; i+1 < len(dims); i += 2 {
			d = append(d, cwtypes.Dimension{Name: aws.String(dims[i]), Value: aws.String(dims[i+1])})
		}
		return cwtypes.MetricDataQuery{
			Id:         aws.String(id),
			ReturnData: aws.Bool(true),
			MetricStat: &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{Namespace: aws.String(ns), MetricName: aws.String(metric), Dimensions: d},
				Period: aws.Int32(int32(scaling.MetricPeriod / time.Second)),
				Stat:   aws.String(stat),
			},
		}
	}
	return []cwtypes.MetricDataQuery{
		q(id.bytes, "AWS/Kinesis", "IncomingBytes", "Sum", "StreamName", k.stream),
		q(id.records, "AWS/Kinesis", "IncomingRecords", "Sum", "StreamName", k.stream),
		q(id.throttled, "AWS/Kinesis", "WriteProvisionedThroughputExceeded", "Sum", "StreamName", k.stream),
		q(id.iteratorAge, "AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "Maximum", "StreamName", k.stream),
		q(id.readThrottled, "AWS/Kinesis", "ReadProvisionedThroughputExceeded", "Sum", "StreamName", k.stream),
		q(id.producerCPU, "AWS/ECS", "CPUUtilization", "Average", "ClusterName", k.cluster, "ServiceName", k.producer),
		q(id.consumerCPU, "AWS/ECS", "CPUUtilization", "Average", "ClusterName", k.cluster, "ServiceName", k.consumer),
		q(id.ingest, producerNamespace, "IngestBytes", "Sum", "StreamName", k.stream),
		q(id.ingestRecords, producerNamespace, "IngestRecords", "Sum", "StreamName", k.stream),
		q(id.behind, consumerNamespace, "MillisBehindLatest", "Maximum", "StreamName", k.stream, "ApplicationName", k.application),
		q(id.refused, producerNamespace, "RefusedRecords", "Sum", "StreamName", k.stream),
	}
}

// fetchAll runs the queries of every key, 500 per call, following NextToken.
func fetchAll(ctx context.Context, cw CloudWatchAPI, keys map[metricsKey]time.Time, now time.Time) (map[string][]scaling.Point, error) {
	var all []cwtypes.MetricDataQuery
	for k := range keys {
		all = append(all, queries(k)...)
	}
	out := map[string][]scaling.Point{}
	start, end := now.Add(-scaling.MetricLookback).Truncate(time.Minute), now.Truncate(time.Minute).Add(time.Minute)
	for len(all) > 0 {
		batch := all[:min(maxQueriesPerCall, len(all))]
		all = all[len(batch):]
		in := &cloudwatch.GetMetricDataInput{
			MetricDataQueries: batch, StartTime: aws.Time(start), EndTime: aws.Time(end),
			ScanBy: cwtypes.ScanByTimestampAscending,
		}
		for {
			page, err := cw.GetMetricData(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("get metric data (%d queries): %w", len(batch), err)
			}
			for _, r := range page.MetricDataResults {
				id := aws.ToString(r.Id)
				for i := range r.Timestamps {
					if i < len(r.Values) {
						out[id] = append(out[id], scaling.Point{Time: r.Timestamps[i], Value: r.Values[i]})
					}
				}
			}
			if page.NextToken == nil {
				break
			}
			in.NextToken = page.NextToken
		}
	}
	for _, ps := range out {
		slices.SortFunc(ps, func(a, b scaling.Point) int { return a.Time.Compare(b.Time) })
	}
	return out, nil
}
