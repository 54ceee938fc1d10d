package producer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kdp-io/streamprocessor-operator/internal/shardmap"
	"github.com/kdp-io/streamprocessor-operator/workloads/kpl"
)

// Kinesis API limits for PutRecords.
const (
	maxCallRecords = 500
	maxCallBytes   = 5 << 20
	// entryOverhead is charged per buffered record on top of its key and data, so
	// that the buffer bound also bounds memory for tiny records.
	entryOverhead = 128
	// lanesPerShard: lane 0 carries records with a caller-chosen partition key
	// (ordered per key), lane 1 those with a generated random key (no order to keep).
	lanesPerShard = 2

	backoffBase = 100 * time.Millisecond
	backoffCap  = 5 * time.Second
)

// Errors returned by Pipeline.Enqueue.
var (
	ErrBufferFull  = errors.New("producer buffer is full")
	ErrUnavailable = errors.New("stream shard map not loaded yet")
	ErrClosed      = errors.New("producer is shut down")
)

// KinesisAPI is the part of the Kinesis client the producer uses, with the SDK's
// signatures.
type KinesisAPI interface {
	ShardLister
	PutRecords(ctx context.Context, params *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

// Record is one user record to put.
type Record struct {
	PartitionKey string
	Data         []byte
	// Unordered marks a record whose key was generated, not chosen by the
	// caller: no order among such records is promised, so they may travel in
	// several Kinesis records in flight to the same shard at once.
	Unordered bool
}

// Ack is where Kinesis stored a user record. Records aggregated together share
// the shard and sequence number of their Kinesis record.
type Ack struct {
	ShardID        string
	SequenceNumber string
}

// Ticket tracks the durable acknowledgement of the records of one Enqueue call.
type Ticket struct {
	remaining atomic.Int64
	done      chan struct{}
	acks      []Ack
	one       [1]Ack // acks of a ticket for one record: no second allocation
}

// NewTicket returns a ticket for n records.
func NewTicket(n int) *Ticket {
	t := &Ticket{done: make(chan struct{})}
	if n == 1 {
		t.acks = t.one[:]
	} else {
		t.acks = make([]Ack, n)
	}
	t.remaining.Store(int64(n))
	return t
}

// Done is closed once Kinesis has accepted every record of the ticket.
func (t *Ticket) Done() <-chan struct{} { return t.done }

// Acks returns the per-record acknowledgements; read it only after Done.
func (t *Ticket) Acks() []Ack { return t.acks }

func (t *Ticket) ack(i int32, a Ack) {
	t.acks[i] = a
	if t.remaining.Add(-1) == 0 {
		close(t.done)
	}
}

type entry struct {
	pk   string
	data []byte
	hash shardmap.HashKey
	t    *Ticket // nil for fire-and-forget records
	idx  int32
	// unordered: see Record.Unordered.
	unordered bool
}

// lane returns the lane index of the entry on shard s.
func (e *entry) lane(s int) int {
	if e.unordered {
		return s*lanesPerShard + 1
	}
	return s * lanesPerShard
}

func (e *entry) cost() int64 { return int64(len(e.pk) + len(e.data) + entryOverhead) }

// kRecord is one Kinesis record of a PutRecords call: an aggregate of user
// records bound for one shard, or a single user record sent as is.
type kRecord struct {
	shard      int
	pk         string
	payload    []byte
	entries    []entry
	aggregated bool // payload is a KPL aggregate of entries
}

// resendGroup is what an aggregate stored on an unexpected shard (a stale
// map) must send again: its user records, until the next map says which of
// them lie outside that shard's hash range.
type resendGroup struct {
	shardID string
	entries []entry
}

// shardState is the dispatcher's view of one lane of a shard; only the
// dispatcher goroutine touches it.
type shardState struct {
	id           string // shard id
	maxInflight  int
	carry        []entry // taken from pending, not yet sent; older than pending
	carryBytes   int
	carrySince   time.Time
	carryDurable int        // entries in carry someone waits for
	retries      []*kRecord // failed Kinesis records; they go before anything newer
	attempts     int
	notBefore    time.Time
	inflight     int
	lastSent     time.Time // when the lane last launched a Kinesis record
	// busy counts, on an ordered lane allowing more than one call in flight,
	// the user records per partition key that are in flight or waiting for a
	// retry; a new Kinesis record takes no record of a busy key.
	busy map[string]int
}

type callResult struct {
	batch []*kRecord
	out   *kinesis.PutRecordsOutput
	err   error
	took  time.Duration
}

// Pipeline buffers user records, groups them by the shard their partition key
// hashes to, aggregates them in the KPL format and writes them with PutRecords.
//
// Ordering: for records with a caller-chosen key, each shard has at most
// OrderedInflight Kinesis records in flight; beyond the first, a Kinesis record
// takes only records whose keys are not in flight nor waiting for a retry (the
// oldest of each such key first), and a failed one keeps its keys busy until it
// is written, so records with the same partition key reach the stream in
// Enqueue order (across reshards too: new shards start only after everything
// of the old map is settled). Records with generated keys (Unordered) use a
// second lane per shard with up to UnorderedInflight Kinesis records in flight.
//
// Batching (adaptive linger): a lane with no call in flight sends at once when
// someone waits for one of its records (durable) and it has not sent within
// the last Linger (else it waits for the earlier of a Linger after that send
// and a Linger after its oldest record); otherwise a lane sends when
// its oldest record has waited Linger, when it holds a full Kinesis record, or
// at once while draining. A lane with a call in flight sends more only for
// records someone waits for, after the pace (the smoothed PutRecords latency
// over the lane's calls in flight, at most Linger) — async records wait for
// the call to return, which makes aggregates large.
// Memory: Enqueue fails with ErrBufferFull beyond MaxBufferBytes. Records are
// retried until written or the process exits; none is dropped on an error.
type Pipeline struct {
	stream       string
	api          KinesisAPI
	linger       time.Duration
	maxBuf       int64
	maxCalls     int
	unorderedMax int
	orderedMax   int
	refreshEvery time.Duration
	callTimeout  time.Duration // each Kinesis call (KINESIS_CALL_TIMEOUT)
	metrics      *Metrics
	log          *slog.Logger

	buffered    atomic.Int64 // bytes charged by buffered records
	outstanding atomic.Int64 // records enqueued but not written
	healthy     atomic.Bool  // false while Kinesis calls fail with other than throttling
	ready       atomic.Bool  // a shard map is loaded
	draining    atomic.Bool
	closed      atomic.Bool

	mu             sync.Mutex // guards the fields below, shared with Enqueue
	smap           *shardmap.Map
	pending        [][]entry // by lane
	pendingBytes   []int
	pendingSince   []time.Time
	pendingDurable []int

	// dispatcher-owned
	states        []*shardState
	inflightCalls int
	callLatency   time.Duration // smoothed PutRecords latency of successful calls
	nextMap       *shardmap.Map
	resend        []resendGroup // dispatcher only
	rr            int
	agg           kpl.Aggregator

	wake    chan struct{}
	refresh chan struct{}
	results chan callResult
	maps    chan *shardmap.Map
	stop    chan struct{}
	stopped sync.WaitGroup
}

// NewPipeline returns a pipeline for cfg; call Start before Enqueue.
func NewPipeline(cfg Config, api KinesisAPI, m *Metrics, log *slog.Logger) *Pipeline {
	p := &Pipeline{
		stream: cfg.StreamName, api: api, linger: cfg.Linger, maxBuf: cfg.MaxBufferBytes,
		maxCalls: cfg.MaxInflightCalls, unorderedMax: max(cfg.UnorderedInflight, 1), orderedMax: max(cfg.OrderedInflight, 1), refreshEvery: cfg.ShardRefreshInterval, callTimeout: cmp.Or(cfg.KinesisCallTimeout, 30*time.Second), metrics: m, log: log,
		wake: make(chan struct{}, 1), refresh: make(chan struct{}, 1),
		results: make(chan callResult, cfg.MaxInflightCalls), maps: make(chan *shardmap.Map, 1),
		stop: make(chan struct{}),
	}
	p.healthy.Store(true)
	m.bufferLimit.Set(float64(cfg.MaxBufferBytes))
	m.buffered.Store(&p.buffered)
	return p
}

// Start runs the dispatcher and the shard map refresher until Close.
func (p *Pipeline) Start() {
	p.stopped.Add(2)
	go p.dispatchLoop()
	go p.refreshLoop()
}

// Ready reports whether the pipeline can take records (a shard map is loaded).
func (p *Pipeline) Ready() bool { return p.ready.Load() }

// Healthy reports whether the last Kinesis call did not fail with an outage.
func (p *Pipeline) Healthy() bool { return p.healthy.Load() }

// Enqueue buffers recs. When t is not nil, t is acknowledged record by record
// (index i of recs is index i of t) as Kinesis accepts them. It fails without
// buffering anything when the buffer cannot hold all of recs.
func (p *Pipeline) Enqueue(recs []Record, t *Ticket) error {
	if p.closed.Load() {
		return ErrClosed
	}
	if !p.ready.Load() {
		return ErrUnavailable
	}
	var one [1]entry // a single record (POST /) needs no allocation
	es := one[:]
	if len(recs) != 1 {
		es = make([]entry, len(recs))
	}
	var cost int64
	for i, r := range recs {
		es[i] = entry{pk: r.PartitionKey, data: r.Data, hash: shardmap.PartitionKeyHash(r.PartitionKey), t: t, idx: int32(i), unordered: r.Unordered}
		cost += es[i].cost()
	}
	if p.buffered.Add(cost) > p.maxBuf {
		p.buffered.Add(-cost)
		return ErrBufferFull
	}
	p.outstanding.Add(int64(len(es)))
	var now time.Time
	wake := false
	p.mu.Lock()
	for _, e := range es {
		s := e.lane(p.smap.Lookup(e.hash))
		if len(p.pending[s]) == 0 {
			if now.IsZero() {
				now = time.Now()
			}
			p.pendingSince[s] = now
			wake = true
		}
		if e.t != nil {
			if p.pendingDurable[s] == 0 {
				wake = true
			}
			p.pendingDurable[s]++
		}
		before := p.pendingBytes[s]
		p.pending[s] = append(p.pending[s], e)
		p.pendingBytes[s] += len(e.pk) + len(e.data)
		if before < kpl.MaxRecordSize && p.pendingBytes[s] >= kpl.MaxRecordSize {
			wake = true
		}
	}
	p.mu.Unlock()
	if wake {
		p.poke(p.wake)
	}
	return nil
}

func (p *Pipeline) poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// StartDrain sends everything buffered without waiting for the linger.
func (p *Pipeline) StartDrain() {
	p.draining.Store(true)
	p.poke(p.wake)
}

// Flush waits until every enqueued record is written or ctx ends; it returns
// an error naming the records still unwritten.
func (p *Pipeline) Flush(ctx context.Context) error {
	p.StartDrain()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for p.outstanding.Load() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("flush stream %q: %d records unwritten: %w", p.stream, p.outstanding.Load(), ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

// Close stops the pipeline; later Enqueue calls fail with ErrClosed. Records
// not yet written are abandoned: call Flush first.
func (p *Pipeline) Close() {
	if p.closed.Swap(true) {
		return
	}
	close(p.stop)
	p.stopped.Wait()
}

// Outstanding returns the number of records enqueued but not yet written.
func (p *Pipeline) Outstanding() int64 { return p.outstanding.Load() }
