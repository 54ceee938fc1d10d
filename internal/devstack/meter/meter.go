// Package meter is the metered Kinesis of the local stack: a reverse proxy in
// front of kinesis-local that enforces AWS's per-shard limits and publishes the
// AWS/Kinesis CloudWatch metrics that kinesis-local does not, so that the
// operator's scaling loop closes on one machine without a change to the
// operator. docs/devstack-meter.md says what is emulated and how faithfully.
//
// Every Kinesis client (operator, producer and consumer tasks) points its
// endpoint at the Meter. It meters the JSON 1.1 protocol the Go SDK speaks
// (X-Amz-Target: Kinesis_20131202.<Op>): PutRecord, PutRecords and GetRecords
// against the shard's budgets; GetShardIterator to learn which shard an
// iterator reads. Everything else, and any request in CBOR
// (application/x-amz-cbor-1.1), passes through unchanged and unmetered.
package meter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/go-logr/logr"
	"k8s.io/utils/clock"

	"github.com/kdp-io/streamprocessor-operator/internal/shardmap"
)

// KinesisAPI is what the Meter asks kinesis-local itself, with the SDK's
// signatures; *kinesis.Client satisfies it. It must not point at the Meter.
type KinesisAPI interface {
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	ListStreams(ctx context.Context, in *kinesis.ListStreamsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListStreamsOutput, error)
	DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
}

// CloudWatchAPI is where the Meter publishes; *cloudwatch.Client satisfies it
// (against moto, with awsconfig.CloudWatchQueryProtocol).
type CloudWatchAPI interface {
	PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, optFns ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
}

// Limits are the per-shard budgets. Each is a token bucket refilled
// continuously whose burst is one second of its rate.
type Limits struct {
	WriteBytesPerSecond   float64 // data blob plus partition key bytes; AWS: 1 MiB
	WriteRecordsPerSecond float64 // AWS: 1,000
	ReadCallsPerSecond    float64 // GetRecords calls; AWS: 5
	ReadBytesPerSecond    float64 // data blob bytes returned; AWS: 2 MiB
	// MaxReadBytesPerCall is how far one GetRecords call may overdraw the
	// read bytes budget; further calls are refused until it is paid back.
	// AWS: 10 MiB, the most one call returns.
	MaxReadBytesPerCall float64
}

// DefaultLimits are AWS's limits for a provisioned shard.
func DefaultLimits() Limits {
	return Limits{
		WriteBytesPerSecond:   1 << 20,
		WriteRecordsPerSecond: 1000,
		ReadCallsPerSecond:    5,
		ReadBytesPerSecond:    2 << 20,
		MaxReadBytesPerCall:   10 << 20,
	}
}

// withDefaults fills each zero limit with AWS's.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	for _, f := range []struct{ v, def *float64 }{
		{&l.WriteBytesPerSecond, &d.WriteBytesPerSecond},
		{&l.WriteRecordsPerSecond, &d.WriteRecordsPerSecond},
		{&l.ReadCallsPerSecond, &d.ReadCallsPerSecond},
		{&l.ReadBytesPerSecond, &d.ReadBytesPerSecond},
		{&l.MaxReadBytesPerCall, &d.MaxReadBytesPerCall},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	return l
}

// upstreamIdleTimeout is how long the meter keeps an idle connection to
// kinesis-local: well under the 60 s after which kinesis-local closes one.
const upstreamIdleTimeout = 30 * time.Second

// Options configure a Meter. Upstream, Kinesis and CloudWatch are required.
type Options struct {
	// Upstream is kinesis-local's endpoint, where requests are forwarded.
	Upstream *url.URL
	// Transport forwards requests; a copy of http.DefaultTransport keeping
	// up to 64 idle connections for upstreamIdleTimeout when nil.
	Transport http.RoundTripper
	// Kinesis lists shards and streams of kinesis-local for the Meter itself.
	Kinesis KinesisAPI
	// CloudWatch receives the AWS/Kinesis metrics.
	CloudWatch CloudWatchAPI
	// Clock drives budgets, minutes and Run's ticks; the real clock when nil.
	Clock clock.Clock
	// PublishDelay is how long after a minute closes it is published. 0 (the
	// default) publishes at the first tick after the minute; real CloudWatch
	// data is 1–3 minutes late.
	PublishDelay time.Duration
	// RefreshInterval is Run's tick: shard maps of streams in use are reloaded
	// and due minutes published this often. Default 1 s.
	RefreshInterval time.Duration
	// Limits are the per-shard budgets; zero fields take AWS's.
	Limits Limits
	// AccountID appears in throttling messages. Default 000000000000, the
	// account kinesis-local reports.
	AccountID string
	// Log receives state changes and failures to publish.
	Log logr.Logger
	// MaxUpstreamCalls bounds the metered calls (PutRecord, PutRecords,
	// GetRecords) in flight to kinesis-local. Default 16: kinesis-local is
	// one Node.js process, so more calls only queue inside it, and a call
	// queued there past its caller's deadline is stored all the same — an
	// ambiguous failure whose retry stores the records twice.
	MaxUpstreamCalls int
	// UpstreamWait is how long a metered call waits for one of those slots
	// before it is refused, unforwarded, with ServiceUnavailable (HTTP 503,
	// which the SDKs retry): nothing was stored, so the retry cannot
	// duplicate. Default 2 s.
	UpstreamWait time.Duration
}

// Meter is the metered Kinesis: an http.Handler to put in front of
// kinesis-local, and Run, which keeps its shard maps fresh and publishes
// metrics. Both are safe for concurrent use.
type Meter struct {
	opts    Options
	limits  Limits
	clock   clock.Clock
	log     logr.Logger
	proxy   *httputil.ReverseProxy
	forward http.RoundTripper

	loadMu sync.Mutex // one ListShards per stream at a time

	slots      chan struct{} // metered calls in flight upstream
	overloaded atomic.Int64  // metered calls refused for want of a slot

	mu        sync.Mutex
	streams   map[string]*streamState
	iterators *iteratorTable
	minutes   *minuteBook

	modes modeLedger
}

// streamState is what the Meter knows of one stream; guarded by Meter.mu.
type streamState struct {
	shards   *shardmap.Map
	buckets  map[string]*shardBuckets // by shard id
	lastUsed time.Time
	// resharding is the map seen when a reshard passed through: the map is
	// reloaded every tick, traffic or not, until it differs.
	resharding *shardmap.Map
	reshardAt  time.Time
	stats      StreamStats
}

// StreamStats are the Meter's running totals for one stream since it started.
type StreamStats struct {
	// OpenShards is the number of open shards in the Meter's shard map.
	OpenShards int
	// AcceptedRecords and AcceptedBytes were forwarded and stored upstream.
	AcceptedRecords, AcceptedBytes int64
	// WriteThrottled counts records refused for the write budget.
	WriteThrottled int64
	// ReadCalls counts GetRecords calls answered by upstream; ReadRecords and
	// ReadBytes what they returned; ReadThrottled the calls refused.
	ReadCalls, ReadRecords, ReadBytes, ReadThrottled int64
	// PublishedMinutes counts the minutes published to CloudWatch.
	PublishedMinutes int
}

// New returns a Meter for opts. It does not contact anything before the first
// request or Run.
func New(opts Options) *Meter {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = time.Second
	}
	if opts.MaxUpstreamCalls <= 0 {
		opts.MaxUpstreamCalls = 16
	}
	if opts.UpstreamWait <= 0 {
		opts.UpstreamWait = 2 * time.Second
	}
	if opts.AccountID == "" {
		opts.AccountID = "000000000000"
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	transport := opts.Transport
	if transport == nil {
		// Every producer and consumer task talks through the meter: keep
		// more than the default two idle connections to kinesis-local.
		// kinesis-local closes a connection idle for 60 s (measured); ours
		// close first, so that a request never goes out on a connection
		// the server is closing (the proxy does not retry a POST: a 502).
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		t.IdleConnTimeout = upstreamIdleTimeout
		transport = t
	}
	upstream := opts.Upstream
	m := &Meter{
		opts:    opts,
		limits:  opts.Limits.withDefaults(),
		clock:   opts.Clock,
		log:     opts.Log,
		forward: transport,
		proxy: &httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) {
				r.SetURL(upstream)
				r.Out.Host = r.In.Host // the host the client signed
			},
			Transport: transport,
		},
		slots:     make(chan struct{}, opts.MaxUpstreamCalls),
		streams:   map[string]*streamState{},
		iterators: newIteratorTable(),
		minutes:   newMinuteBook(opts.Clock.Now()),
	}
	return m
}

// Kinesis operations, as the last part of X-Amz-Target.
const (
	opPutRecord        = "PutRecord"
	opPutRecords       = "PutRecords"
	opGetShardIterator = "GetShardIterator"
	opGetRecords       = "GetRecords"
	opUpdateShardCount = "UpdateShardCount"
	opSplitShard       = "SplitShard"
	opMergeShards      = "MergeShards"
	opUpdateStreamMode = "UpdateStreamMode"
)

// ServeHTTP meters PutRecord, PutRecords and GetRecords, learns iterators from
// GetShardIterator and reshards from UpdateShardCount, SplitShard and
// MergeShards, and forwards everything else untouched. A metered request it
// cannot read (bad JSON, an unknown stream, an invalid record) is forwarded
// unmetered so that upstream answers with its own validation error.
func (m *Meter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := ""
	if t := r.Header.Get("X-Amz-Target"); strings.HasPrefix(t, "Kinesis_20131202.") {
		op = strings.TrimPrefix(t, "Kinesis_20131202.")
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-cbor") {
		op = "" // CBOR bodies are not read: forwarded unmetered
	}
	var handle func(http.ResponseWriter, *http.Request, []byte)
	gated := false
	switch op {
	case opPutRecord:
		handle, gated = m.putRecord, true
	case opPutRecords:
		handle, gated = m.putRecords, true
	case opGetShardIterator:
		handle = m.getShardIterator
	case opGetRecords:
		handle, gated = m.getRecords, true
	case opUpdateShardCount, opSplitShard, opMergeShards:
		handle = m.reshard
	case opUpdateStreamMode:
		handle = m.updateStreamMode // AWS's 2 switches per 24 h (mode.go)
	default:
		m.proxy.ServeHTTP(w, r)
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	if gated {
		if !m.acquire(r.Context()) {
			m.overloaded.Add(1)
			writeError(w, http.StatusServiceUnavailable, "ServiceUnavailable", fmt.Sprintf(
				"kinesis-local is saturated (%d calls in flight for over %s); the request was not forwarded and nothing was stored: retry it",
				cap(m.slots), m.opts.UpstreamWait))
			return
		}
		defer func() { <-m.slots }()
	}
	handle(w, r, body)
}

// acquire takes a slot for a metered call, waiting at most UpstreamWait.
func (m *Meter) acquire(ctx context.Context) bool {
	select {
	case m.slots <- struct{}{}:
		return true
	default:
	}
	t := m.clock.NewTimer(m.opts.UpstreamWait)
	defer t.Stop()
	select {
	case m.slots <- struct{}{}:
		return true
	case <-t.C():
	case <-ctx.Done():
	}
	return false
}

// Overloaded counts the metered calls refused, unforwarded, because
// MaxUpstreamCalls were in flight for longer than UpstreamWait.
func (m *Meter) Overloaded() int64 { return m.overloaded.Load() }

// Stats returns the running totals of every stream the Meter has seen.
func (m *Meter) Stats() map[string]StreamStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]StreamStats, len(m.streams))
	for name, s := range m.streams {
		st := s.stats
		if s.shards != nil {
			st.OpenShards = s.shards.Len()
		}
		out[name] = st
	}
	return out
}

// stream returns the state of name, creating it; the caller holds m.mu.
func (m *Meter) stream(name string) *streamState {
	s := m.streams[name]
	if s == nil {
		s = &streamState{buckets: map[string]*shardBuckets{}}
		m.streams[name] = s
	}
	return s
}

// shardMap returns the shard map of stream, loading it from upstream the
// first time, and marks the stream in use.
func (m *Meter) shardMap(ctx context.Context, stream string) (*shardmap.Map, error) {
	m.mu.Lock()
	s := m.stream(stream)
	s.lastUsed = m.clock.Now()
	sm := s.shards
	m.mu.Unlock()
	if sm != nil {
		return sm, nil
	}
	return m.loadShards(ctx, stream)
}

// loadShards reloads the shard map of stream. Buckets of shards no longer open
// are dropped; new shards start with full budgets.
func (m *Meter) loadShards(ctx context.Context, stream string) (*shardmap.Map, error) {
	m.loadMu.Lock()
	defer m.loadMu.Unlock()
	sm, err := shardmap.Load(ctx, m.opts.Kinesis, stream)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stream(stream)
	if !sm.Equal(s.shards) {
		if s.shards != nil {
			m.log.Info("Shard map changed", "stream", stream, "openShards", sm.Len())
		}
		buckets := map[string]*shardBuckets{}
		for i := range sm.Len() {
			if id := sm.Shard(i).ID; s.buckets[id] != nil {
				buckets[id] = s.buckets[id]
			}
		}
		s.buckets = buckets
	}
	s.shards = sm
	if s.resharding != nil && !s.resharding.Equal(sm) {
		s.resharding = nil
	}
	return sm, nil
}

// buckets returns the budgets of a shard; the caller holds m.mu.
func (m *Meter) buckets(s *streamState, shard string, now time.Time) *shardBuckets {
	b := s.buckets[shard]
	if b == nil {
		b = newShardBuckets(m.limits, now)
		s.buckets[shard] = b
	}
	return b
}

// throttleMessage is AWS's message for a shard over its budget.
func (m *Meter) throttleMessage(stream, shard string) string {
	return "Rate exceeded for shard " + shard + " in stream " + stream + " under account " + m.opts.AccountID + "."
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
