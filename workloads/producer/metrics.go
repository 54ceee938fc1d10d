package producer

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the producer's Prometheus metrics, on a registry of their own.
type Metrics struct {
	Registry *prometheus.Registry

	requests                    *prometheus.CounterVec // by path and code
	received                    prometheus.Counter
	accepted                    prometheus.Counter
	acceptedBytes               prometheus.Counter
	rejected                    *prometheus.CounterVec // by reason
	refused                     prometheus.Counter     // user records answered 429/503 (demand not served)
	written                     prometheus.Counter
	batchRecords                prometheus.Histogram
	userRecordsPerKinesisRecord prometheus.Histogram
	putRecordsCalls             *prometheus.CounterVec // by outcome
	putRecordsLatency           *prometheus.HistogramVec
	retries                     prometheus.Counter
	throttles                   prometheus.Counter
	bufferBytes                 prometheus.GaugeFunc // reads buffered
	bufferLimit                 prometheus.Gauge
	inflightBodyBytes           prometheus.GaugeFunc // reads inflightBody
	inflightBodyLimit           prometheus.Gauge
	shards                      prometheus.Gauge
	shardMapRefreshes           *prometheus.CounterVec
	shardMismatches             prometheus.Counter
	resent                      prometheus.Counter
	cloudWatchPublishes         *prometheus.CounterVec
	awsCalls                    *prometheus.CounterVec // by service, operation, outcome

	requestCounters sync.Map // path and code → prometheus.Counter

	// Read when scraped, so that the hot path sets no gauge: the request
	// body bytes admitted (the handler's budget), and the pipeline's
	// buffered bytes.
	inflightBody atomic.Int64
	buffered     atomic.Pointer[atomic.Int64]
}

// countAccepted counts records accepted into the buffer and their data bytes.
func (m *Metrics) countAccepted(records, bytes int) {
	m.accepted.Add(float64(records))
	m.acceptedBytes.Add(float64(bytes))
}

type requestKey struct {
	path string
	code int
}

// request returns the request counter of path and code, cached: the label
// lookup is measurable per request.
func (m *Metrics) request(path string, code int) prometheus.Counter {
	k := requestKey{path, code}
	if c, ok := m.requestCounters.Load(k); ok {
		return c.(prometheus.Counter)
	}
	c := m.requests.WithLabelValues(path, strconv.Itoa(code))
	m.requestCounters.Store(k, c)
	return c
}

// NewMetrics creates and registers the metrics, plus the Go and process
// collectors, on a new registry.
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { r.MustRegister(c) }
	const ns = "producer"
	m := &Metrics{Registry: r,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "http_requests_total",
			Help: "HTTP requests by path and status code."}, []string{"path", "code"}),
		received: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "records_received_total",
			Help: "User records received in ingest requests, valid or not."}),
		accepted: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "records_accepted_total",
			Help: "User records accepted into the buffer."}),
		acceptedBytes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "records_accepted_bytes_total",
			Help: "Data bytes of user records accepted into the buffer."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "records_rejected_total",
			Help: "User records or requests refused, by reason."}, []string{"reason"}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "records_refused_total",
			Help: "User records answered 429 or 503 (overloaded, buffer full, Kinesis unavailable, draining, not ready); a request refused before its body was read counts as one."}),
		written: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "records_written_total",
			Help: "User records Kinesis accepted."}),
		batchRecords: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "putrecords_batch_records",
			Help: "Kinesis records per PutRecords call.", Buckets: []float64{1, 2, 5, 10, 50, 100, 250, 500}}),
		userRecordsPerKinesisRecord: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "aggregation_user_records",
			Help: "User records per Kinesis record.", Buckets: prometheus.ExponentialBuckets(1, 4, 8)}),
		putRecordsCalls: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "putrecords_calls_total",
			Help: "PutRecords calls by outcome (ok, throttled, not_found, error)."}, []string{"outcome"}),
		putRecordsLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "putrecords_duration_seconds",
			Help: "PutRecords call latency.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}, []string{"outcome"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "putrecords_retries_total",
			Help: "Kinesis records scheduled for another attempt."}),
		throttles: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "kinesis_throttles_total",
			Help: "Throttled PutRecords calls and entries."}),
		bufferLimit: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "buffer_limit_bytes",
			Help: "Buffer bound (MAX_BUFFER_BYTES)."}),
		inflightBodyLimit: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "inflight_body_limit_bytes",
			Help: "Bound on request body bytes in flight (MAX_INFLIGHT_BYTES)."}),
		shards: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "shards",
			Help: "Open shards in the current shard map."}),
		shardMapRefreshes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "shard_map_refreshes_total",
			Help: "ListShards refreshes by outcome."}, []string{"outcome"}),
		shardMismatches: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "shard_mismatches_total",
			Help: "Kinesis records stored on another shard than the map predicted (stale map)."}),
		resent: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "reshard_resent_records_total",
			Help: "User records sent again because their aggregate was stored on a shard whose hash range excludes them (stale map)."}),
		awsCalls: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "aws_calls_total",
			Help: "AWS API calls by service, operation and outcome (ok, throttled, not_found, error)."}, []string{"service", "operation", "outcome"}),
		cloudWatchPublishes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "cloudwatch_publishes_total",
			Help: "PutMetricData calls by outcome."}, []string{"outcome"}),
	}
	m.bufferBytes = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "buffer_bytes",
		Help: "Bytes charged by buffered records."}, func() float64 {
		if b := m.buffered.Load(); b != nil {
			return float64(b.Load())
		}
		return 0
	})
	m.inflightBodyBytes = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "inflight_body_bytes",
		Help: "Request body bytes admitted and being read or decoded."}, func() float64 { return float64(m.inflightBody.Load()) })
	for _, c := range []prometheus.Collector{m.requests, m.received, m.accepted, m.acceptedBytes, m.rejected, m.refused, m.written,
		m.batchRecords, m.userRecordsPerKinesisRecord, m.putRecordsCalls, m.putRecordsLatency, m.retries, m.throttles,
		m.bufferBytes, m.bufferLimit, m.inflightBodyBytes, m.inflightBodyLimit, m.shards, m.shardMapRefreshes, m.shardMismatches, m.resent, m.cloudWatchPublishes, m.awsCalls,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}
