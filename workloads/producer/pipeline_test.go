package producer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	dto "github.com/prometheus/client_model/go"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kdp-io/streamprocessor-operator/internal/shardmap"
	"github.com/kdp-io/streamprocessor-operator/internal/shardmap/shardmaptest"
	"github.com/kdp-io/streamprocessor-operator/workloads/kpl"
)

func TestShardMapLookup(t *testing.T) {
	m, err := newShardMap(shardmaptest.Even(4, 0))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		hash string
		want int
	}{
		{"0", 0},
		{"85070591730234615865843651857942052863", 0}, // 2^126-1
		{"85070591730234615865843651857942052864", 1}, // 2^126
		{"340282366920938463463374607431768211455", 3},
	}
	for _, c := range cases {
		h, err := shardmap.ParseHashKey(c.hash)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Lookup(h); got != c.want {
			t.Errorf("lookup(%s) = %d, want %d", c.hash, got, c.want)
		}
	}
	// Known MD5: md5("a") = 0cc175b9c0f1b6a831c399e269772661 < 2^126 → shard 0.
	if got := m.Lookup(shardmap.PartitionKeyHash("a")); got != 0 {
		t.Errorf("lookup(md5(a)) = %d, want 0", got)
	}
	// A gap or a closed-only stream is refused.
	s := shardmaptest.Even(2, 0)
	s[1].HashKeyRange.StartingHashKey = aws.String("170141183460469231731687303715884105729")
	if _, err := loadShardMap(context.Background(), &fakeKinesis{shards: s}, "s"); err == nil {
		t.Error("loadShardMap accepted a gap")
	}
	closed := shardmaptest.Even(1, 0)
	closed[0].SequenceNumberRange.EndingSequenceNumber = aws.String("9")
	if _, err := loadShardMap(context.Background(), &fakeKinesis{shards: closed}, "s"); err == nil {
		t.Error("loadShardMap accepted a stream without open shards")
	}
}

// enqueueAll enqueues n durable records over keys and waits for all of them.
func enqueueAll(t *testing.T, p *Pipeline, n, keys, size int) {
	t.Helper()
	var tickets []*Ticket
	for i := 0; i < n; i++ {
		tk := NewTicket(1)
		data := fmt.Appendf(nil, "%d:%d:", i%keys, i)
		data = append(data, bytes.Repeat([]byte("x"), max(0, size-len(data)))...)
		for {
			err := p.Enqueue([]Record{{PartitionKey: "key-" + strconv.Itoa(i%keys), Data: data}}, tk)
			if err == nil {
				break
			}
			if !errors.Is(err, ErrBufferFull) {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond)
		}
		tickets = append(tickets, tk)
	}
	for _, tk := range tickets {
		select {
		case <-tk.Done():
		case <-time.After(20 * time.Second):
			t.Fatal("record never acknowledged")
		}
	}
}

// checkOrder asserts every record is stored exactly once and in order per key.
func checkOrder(t *testing.T, f *fakeKinesis, n, keys int) {
	t.Helper()
	next := make([]int, keys) // next expected i for each key
	for k := range next {
		next[k] = k
	}
	total := 0
	for shard, urs := range f.userRecords(t) {
		for _, ur := range urs {
			var k, i int
			if _, err := fmt.Sscanf(string(ur.Data), "%d:%d:", &k, &i); err != nil {
				t.Fatalf("bad data %q", ur.Data[:min(20, len(ur.Data))])
			}
			if ur.PartitionKey != "key-"+strconv.Itoa(k) {
				t.Fatalf("record %d has key %q", i, ur.PartitionKey)
			}
			if want := shardmap.PartitionKeyHash(ur.PartitionKey); !inShard(f, shard, want) {
				t.Fatalf("record with key %q stored on shard %s outside its range", ur.PartitionKey, shard)
			}
			if i != next[k] {
				t.Fatalf("key %d: got record %d, want %d (out of order or duplicated)", k, i, next[k])
			}
			next[k] += keys
			total++
		}
	}
	if total != n {
		t.Fatalf("stored %d user records, want %d", total, n)
	}
}

func inShard(f *fakeKinesis, id string, h shardmap.HashKey) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, _ := newShardMap(f.shards)
	i := m.Lookup(h)
	return i >= 0 && m.Shard(i).ID == id
}

func TestPipelineAggregatesByShardInOrder(t *testing.T) {
	f := newFakeKinesis(4)
	p, _ := startPipeline(t, testConfig(), f)
	const n, keys = 20000, 50
	enqueueAll(t, p, n, keys, 100)
	checkOrder(t, f, n, keys)
	f.mu.Lock()
	kinesisRecords := 0
	for _, recs := range f.stored {
		kinesisRecords += len(recs)
	}
	f.mu.Unlock()
	t.Logf("%d Kinesis records for %d user records", kinesisRecords, n)
	// enqueueAll waits for each ack in turn only at the end, so batching must work.
	if kinesisRecords > n/20 {
		t.Fatalf("%d Kinesis records for %d user records: aggregation not effective", kinesisRecords, n)
	}
	if p.Outstanding() != 0 || p.buffered.Load() != 0 {
		t.Fatalf("outstanding %d, buffered %d after all acks", p.Outstanding(), p.buffered.Load())
	}
}

func TestPipelineRetriesFailedEntriesKeepingOrder(t *testing.T) {
	f := newFakeKinesis(3)
	rng := rand.New(rand.NewPCG(1, 2))
	f.failEntry = func(call, i int) string {
		if rng.IntN(3) == 0 {
			return "ProvisionedThroughputExceededException"
		}
		if rng.IntN(10) == 0 {
			return "InternalFailure"
		}
		return ""
	}
	f.failCall = func(call int) error {
		if call%7 == 3 {
			return apiError{"ProvisionedThroughputExceededException"}
		}
		return nil
	}
	p, m := startPipeline(t, testConfig(), f)
	const n, keys = 3000, 17
	enqueueAll(t, p, n, keys, 50)
	checkOrder(t, f, n, keys)
	if counterValue(m.retries) == 0 || counterValue(m.throttles) == 0 {
		t.Fatal("no retries or throttles counted although calls failed")
	}
}

func TestPipelineLargeRecordsRespectLimits(t *testing.T) {
	f := newFakeKinesis(1) // the fake refuses records > 1 MiB and calls > 500 records or 5 MiB
	p, _ := startPipeline(t, testConfig(), f)
	const n, keys = 60, 3
	enqueueAll(t, p, n, keys, 300_000)
	// A record of exactly 1 MiB with its key goes alone, as is.
	big := make([]byte, 1<<20-len("k"))
	tk := NewTicket(1)
	if err := p.Enqueue([]Record{{PartitionKey: "k", Data: big}}, tk); err != nil {
		t.Fatal(err)
	}
	<-tk.Done()
	checkOrderIgnoring(t, f, n, keys, "k")
}

func checkOrderIgnoring(t *testing.T, f *fakeKinesis, n, keys int, skipKey string) {
	t.Helper()
	f.mu.Lock()
	for id, recs := range f.stored {
		var kept []storedRecord
		for _, r := range recs {
			if r.pk != skipKey {
				kept = append(kept, r)
			}
		}
		f.stored[id] = kept
	}
	f.mu.Unlock()
	checkOrder(t, f, n, keys)
}

func TestPipelineBufferIsBounded(t *testing.T) {
	f := newFakeKinesis(1)
	f.block = make(chan struct{})
	cfg := testConfig()
	cfg.MaxBufferBytes = 2 << 20
	p, _ := startPipeline(t, cfg, f)
	accepted := 0
	var err error
	for i := 0; i < 100000; i++ {
		if err = p.Enqueue([]Record{{PartitionKey: "k", Data: make([]byte, 1000)}}, nil); err != nil {
			break
		}
		accepted++
	}
	if !errors.Is(err, ErrBufferFull) {
		t.Fatalf("Enqueue never refused: %v", err)
	}
	if max := int(cfg.MaxBufferBytes) / (1000 + 1 + entryOverhead); accepted > max {
		t.Fatalf("accepted %d records, bound allows %d", accepted, max)
	}
	close(f.block)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, urs := range f.userRecords(t) {
		got += len(urs)
	}
	if got != accepted {
		t.Fatalf("stored %d, accepted %d", got, accepted)
	}
}

func TestPipelineFollowsReshard(t *testing.T) {
	f := newFakeKinesis(1)
	cfg := testConfig()
	cfg.ShardRefreshInterval = 50 * time.Millisecond
	p, m := startPipeline(t, cfg, f)
	enqueueAll(t, p, 500, 5, 20)
	// Split into two shards (new ids); the old one closes.
	old := shardmaptest.Even(1, 0)
	old[0].SequenceNumberRange.EndingSequenceNumber = aws.String("100")
	f.setShards(append(old, shardmaptest.Even(2, 1)...))
	deadline := time.Now().Add(10 * time.Second)
	for gaugeValue(m.shards) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("shard map never refreshed to 2 shards")
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.mu.Lock()
	before := len(f.stored["shardId-000000000000"])
	f.mu.Unlock()
	tk := NewTicket(1)
	if err := p.Enqueue([]Record{{PartitionKey: "after", Data: []byte("x")}}, tk); err != nil {
		t.Fatal(err)
	}
	<-tk.Done()
	if a := tk.Acks()[0]; a.ShardID == "shardId-000000000000" {
		t.Fatalf("record after reshard went to the closed shard")
	}
	f.mu.Lock()
	after := len(f.stored["shardId-000000000000"])
	f.mu.Unlock()
	if after != before {
		t.Fatal("records still routed to the closed shard")
	}
	_ = types.Shard{}
}

func gaugeValue(g interface{ Write(*dtoMetric) error }) float64 {
	var m dtoMetric
	_ = g.Write(&m)
	return m.GetGauge().GetValue()
}

type dtoMetric = dto.Metric

// TestPipelineUnorderedLanePipelines checks that records with generated keys
// may have several Kinesis records in flight to one shard while durable callers
// wait, that each is written exactly once, and that ordered records of the
// same stream still keep their order.
func TestPipelineUnorderedLanePipelines(t *testing.T) {
	f := newFakeKinesis(1)
	f.failEntry = func(call, i int) string {
		if call%5 == 1 {
			return "InternalFailure"
		}
		return ""
	}
	slow := &slowFake{fakeKinesis: f, delay: 20 * time.Millisecond}
	cfg := testConfig()
	cfg.UnorderedInflight = 4
	p, _ := startPipeline(t, cfg, slow)
	var tickets []*Ticket
	const n = 400
	for i := 0; i < n; i++ {
		tk := NewTicket(1)
		if err := p.Enqueue([]Record{{PartitionKey: randomKey(), Data: fmt.Appendf(nil, "u%d", i), Unordered: true}}, tk); err != nil {
			t.Fatal(err)
		}
		tickets = append(tickets, tk)
		time.Sleep(100 * time.Microsecond)
	}
	for _, tk := range tickets {
		<-tk.Done()
	}
	f.mu.Lock()
	maxIn := f.maxInCall
	f.mu.Unlock()
	if maxIn < 2 {
		t.Fatalf("at most %d call in flight: unordered lane did not pipeline", maxIn)
	}
	enqueueAll(t, p, 300, 3, 10) // then ordered records, with the same failures
	seen := map[string]int{}
	var ordered []kplRecord
	for _, urs := range f.userRecords(t) {
		for _, u := range urs {
			if bytes.HasPrefix(u.Data, []byte("u")) {
				seen[string(u.Data)]++
			} else {
				ordered = append(ordered, kplRecord{u.PartitionKey, u.Data})
			}
		}
	}
	for i := 0; i < n; i++ {
		if c := seen[fmt.Sprintf("u%d", i)]; c != 1 {
			t.Fatalf("unordered record %d stored %d times", i, c)
		}
	}
	// Ordered records: same check as checkOrder, on this subset.
	next := map[string]int{"key-0": 0, "key-1": 1, "key-2": 2}
	for _, r := range ordered {
		var k, i int
		fmt.Sscanf(string(r.data), "%d:%d:", &k, &i)
		if i != next[r.pk] {
			t.Fatalf("key %s: got %d, want %d", r.pk, i, next[r.pk])
		}
		next[r.pk] += 3
	}
	if len(ordered) != 300 {
		t.Fatalf("%d ordered records stored, want 300", len(ordered))
	}
}

type kplRecord struct {
	pk   string
	data []byte
}

// slowFake delays every PutRecords call, outside the fake's lock.
type slowFake struct {
	*fakeKinesis
	delay time.Duration
}

func (s *slowFake) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, o ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	s.fakeKinesis.mu.Lock()
	s.fakeKinesis.inCall++
	s.fakeKinesis.maxInCall = max(s.fakeKinesis.maxInCall, s.fakeKinesis.inCall)
	s.fakeKinesis.mu.Unlock()
	time.Sleep(s.delay)
	s.fakeKinesis.mu.Lock()
	s.fakeKinesis.inCall--
	s.fakeKinesis.mu.Unlock()
	return s.fakeKinesis.PutRecords(ctx, in, o...)
}

// TestPipelineWrapsDataThatLooksAggregated: a lone user record whose data is a
// valid KPL aggregate must reach the consumer as that one record.
func TestPipelineWrapsDataThatLooksAggregated(t *testing.T) {
	f := newFakeKinesis(1)
	p, _ := startPipeline(t, testConfig(), f)
	fake, err := kpl.Encode([]kpl.UserRecord{{PartitionKey: "injected", Data: []byte("a")}, {PartitionKey: "injected", Data: []byte("b")}})
	if err != nil {
		t.Fatal(err)
	}
	tk := NewTicket(1)
	if err := p.Enqueue([]Record{{PartitionKey: "user", Data: fake}}, tk); err != nil {
		t.Fatal(err)
	}
	<-tk.Done()
	var got []kpl.UserRecord
	for _, urs := range f.userRecords(t) {
		got = append(got, urs...)
	}
	if len(got) != 1 || got[0].PartitionKey != "user" || !bytes.Equal(got[0].Data, fake) {
		t.Fatalf("consumer sees %d records (%+v), want the one user record", len(got), got)
	}
}

// TestPipelineIdleLaneSendsWithoutLinger: a durable record for a lane with no
// call in flight leaves at once (the linger would only add latency), on both
// lanes; a fire-and-forget record on an idle lane still lingers.
func TestPipelineIdleLaneSendsWithoutLinger(t *testing.T) {
	f := newFakeKinesis(2)
	cfg := testConfig()
	cfg.Linger = 5 * time.Second
	p, _ := startPipeline(t, cfg, f)
	for _, unordered := range []bool{false, true} {
		tk := NewTicket(1)
		start := time.Now()
		if err := p.Enqueue([]Record{{PartitionKey: "k-" + strconv.FormatBool(unordered), Data: []byte("x"), Unordered: unordered}}, tk); err != nil {
			t.Fatal(err)
		}
		select {
		case <-tk.Done():
		case <-time.After(2 * time.Second):
			t.Fatalf("unordered=%v: durable record on an idle lane waited for the linger", unordered)
		}
		t.Logf("unordered=%v: acknowledged after %v", unordered, time.Since(start))
	}
	f.mu.Lock()
	calls := f.calls
	f.mu.Unlock()
	if err := p.Enqueue([]Record{{PartitionKey: "async", Data: []byte("y")}}, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	f.mu.Lock()
	after := f.calls
	f.mu.Unlock()
	if after != calls {
		t.Fatalf("async record on an idle lane sent before its linger (%d calls, was %d)", after, calls)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// keyLogFake records the user-record keys of every PutRecords call as it
// starts, then lets the fakeKinesis (and its block) handle it.
type keyLogFake struct {
	*fakeKinesis
	lmu  sync.Mutex
	keys [][]string
}

func (k *keyLogFake) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, o ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	var ks []string
	for _, r := range in.Records {
		urs, err := kpl.Deaggregate(aws.ToString(r.PartitionKey), r.Data)
		if err != nil {
			return nil, err
		}
		for _, u := range urs {
			ks = append(ks, u.PartitionKey)
		}
	}
	k.lmu.Lock()
	k.keys = append(k.keys, ks)
	k.lmu.Unlock()
	return k.fakeKinesis.PutRecords(ctx, in, o...)
}

func (k *keyLogFake) calls() [][]string {
	k.lmu.Lock()
	defer k.lmu.Unlock()
	return append([][]string(nil), k.keys...)
}

// TestPipelineOrderedSecondCallSkipsBusyKeys: with a call in flight on an
// ordered lane, a second call carries only keys not in that call; a key in
// flight waits for it.
func TestPipelineOrderedSecondCallSkipsBusyKeys(t *testing.T) {
	f := newFakeKinesis(1)
	f.block = make(chan struct{})
	kf := &keyLogFake{fakeKinesis: f}
	cfg := testConfig()
	cfg.OrderedInflight = 2
	p, _ := startPipeline(t, cfg, kf)
	enq := func(pk, data string) *Ticket {
		tk := NewTicket(1)
		if err := p.Enqueue([]Record{{PartitionKey: pk, Data: []byte(data)}}, tk); err != nil {
			t.Fatal(err)
		}
		return tk
	}
	waitCalls := func(n int) [][]string {
		deadline := time.Now().Add(5 * time.Second)
		for {
			c := kf.calls()
			if len(c) >= n {
				return c
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d calls started, want %d: %v", len(c), n, c)
			}
			time.Sleep(time.Millisecond)
		}
	}
	t1 := enq("a", "a1")
	waitCalls(1)
	t2 := enq("a", "a2")
	t3 := enq("b", "b1")
	t4 := enq("a", "a3")
	c := waitCalls(2)
	time.Sleep(50 * time.Millisecond) // no third call may start while both are in flight
	if c = kf.calls(); len(c) != 2 || strings.Join(c[0], ",") != "a" || strings.Join(c[1], ",") != "b" {
		t.Fatalf("calls %v, want [[a] [b]] while a is in flight", c)
	}
	close(f.block)
	for _, tk := range []*Ticket{t1, t2, t3, t4} {
		select {
		case <-tk.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("record never acknowledged")
		}
	}
	var as []string
	for _, u := range f.userRecords(t)["shardId-000000000000"] {
		if u.PartitionKey == "a" {
			as = append(as, string(u.Data))
		}
	}
	if strings.Join(as, ",") != "a1,a2,a3" {
		t.Fatalf("key a stored as %v", as)
	}
}

// TestPipelineOrderedTwoInFlightKeepsOrderUnderFailures: many keys on few
// shards with two calls in flight per ordered lane, random entry and call
// failures: every record stored exactly once, in order per key.
func TestPipelineOrderedTwoInFlightKeepsOrderUnderFailures(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			f := newFakeKinesis(1) // one ordered lane: two calls at once are its own
			var rmu sync.Mutex
			rng := rand.New(rand.NewPCG(seed, 7))
			f.failEntry = func(call, i int) string {
				rmu.Lock()
				defer rmu.Unlock()
				switch rng.IntN(8) {
				case 0:
					return "ProvisionedThroughputExceededException"
				case 1:
					return "InternalFailure"
				}
				return ""
			}
			f.failCall = func(call int) error {
				rmu.Lock()
				defer rmu.Unlock()
				if rng.IntN(9) == 0 {
					return apiError{"InternalFailure"}
				}
				return nil
			}
			slow := &slowFake{fakeKinesis: f, delay: 3 * time.Millisecond}
			cfg := testConfig()
			cfg.OrderedInflight = 2
			cfg.Linger = time.Millisecond
			p, _ := startPipeline(t, cfg, slow)
			const n, keys = 4000, 97
			var tickets []*Ticket
			for i := 0; i < n; i++ {
				tk := NewTicket(1)
				data := fmt.Appendf(nil, "%d:%d:", i%keys, i)
				if err := p.Enqueue([]Record{{PartitionKey: "key-" + strconv.Itoa(i%keys), Data: data}}, tk); err != nil {
					t.Fatal(err)
				}
				tickets = append(tickets, tk)
				if i%8 == 0 {
					time.Sleep(50 * time.Microsecond)
				}
			}
			for _, tk := range tickets {
				select {
				case <-tk.Done():
				case <-time.After(30 * time.Second):
					t.Fatal("record never acknowledged")
				}
			}
			checkOrder(t, f, n, keys)
			f.mu.Lock()
			maxIn := f.maxInCall
			f.mu.Unlock()
			if maxIn < 2 {
				t.Fatalf("at most %d call in flight: ordered lanes did not pipeline", maxIn)
			}
			p.Close() // the dispatcher owns the states
			for _, st := range p.states {
				if len(st.busy) != 0 {
					t.Fatalf("busy keys left after all acks: %v", st.busy)
				}
			}
		})
	}
}

// TestPipelineIdleLaneSpacesCalls: an idle lane that sent less than a linger
// ago waits for the rest of that linger (a fast Kinesis must not turn every
// durable record into a call of its own), then sends.
func TestPipelineIdleLaneSpacesCalls(t *testing.T) {
	// Generous margins, so that a loaded machine cannot fail it: the second
	// call is due 2 s after the first was sent, at least 2 s after start; it
	// is checked not to have gone at start + 1.5 s.
	f := newFakeKinesis(1)
	cfg := testConfig()
	cfg.Linger = 2 * time.Second
	p, _ := startPipeline(t, cfg, f)
	start := time.Now()
	t1 := NewTicket(1)
	if err := p.Enqueue([]Record{{PartitionKey: "a", Data: []byte("1")}}, t1); err != nil {
		t.Fatal(err)
	}
	<-t1.Done()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("first record waited %v on an idle lane", d)
	}
	t2 := NewTicket(1)
	if err := p.Enqueue([]Record{{PartitionKey: "b", Data: []byte("2")}}, t2); err != nil {
		t.Fatal(err)
	}
	select {
	case <-t2.Done():
		t.Fatalf("second record sent %v after start, within the linger of the first call", time.Since(start))
	case <-time.After(time.Until(start.Add(1500 * time.Millisecond))):
	}
	select {
	case <-t2.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("second record never sent")
	}
}

// TestPipelinePaceSpreadsCallsOverRoundTrip: a waiting caller's record on a
// lane with a call in flight goes after the smoothed round trip over the
// lane's calls in flight (60 ms ÷ 4 here), not after the whole linger
// (2 s), once a call has been timed. Margins are wide for loaded machines:
// the record must be acknowledged within 1 s of its enqueue.
func TestPipelinePaceSpreadsCallsOverRoundTrip(t *testing.T) {
	f := newFakeKinesis(1)
	cfg := testConfig()
	cfg.Linger = 2 * time.Second
	cfg.UnorderedInflight = 4
	p, _ := startPipeline(t, cfg, &slowFake{fakeKinesis: f, delay: 60 * time.Millisecond})
	send := func(data string) *Ticket {
		tk := NewTicket(1)
		if err := p.Enqueue([]Record{{PartitionKey: randomKey(), Data: []byte(data), Unordered: true}}, tk); err != nil {
			t.Fatal(err)
		}
		return tk
	}
	<-send("timed").Done() // a first call, so the round trip is known
	time.Sleep(cfg.Linger + 100*time.Millisecond)
	inFlight := send("in flight") // an idle lane: leaves at once
	time.Sleep(10 * time.Millisecond)
	start := time.Now()
	select {
	case <-send("paced").Done():
		t.Logf("acknowledged after %v", time.Since(start))
	case <-time.After(time.Second):
		t.Fatalf("a waiting record behind a call in flight waited more than 1 s (the linger is %v)", cfg.Linger)
	}
	<-inFlight.Done()
}

// TestPipelineResendsOutOfRangeAfterReshard: the stream splits while the
// producer's map is stale, so its aggregates land on a child shard whose hash
// range holds only some of their user records. Read as a Java KCL reads —
// dropping the user records of an aggregate outside the shard's range — every
// record must still be found, in order per key, because those user records
// are sent again under the new map; a consumer without the filter sees them
// twice (counted).
func TestPipelineResendsOutOfRangeAfterReshard(t *testing.T) {
	f := newFakeKinesis(1)
	cfg := testConfig()
	cfg.ShardRefreshInterval = time.Hour // only a mismatch refreshes the map
	p, m := startPipeline(t, cfg, f)
	old := shardmaptest.Even(1, 0)
	old[0].SequenceNumberRange.EndingSequenceNumber = aws.String("100")
	children := shardmaptest.Even(2, 1)
	f.setShards(append(old, children...))

	const n, keys = 400, 40
	for round := 0; round < 4; round++ { // several calls, the first under the stale map
		var recs []Record
		for i := round * n / 4; i < (round+1)*n/4; i++ {
			recs = append(recs, Record{PartitionKey: fmt.Sprintf("key-%d", i%keys), Data: fmt.Appendf(nil, "%d:%d", i%keys, i)})
		}
		tk := NewTicket(len(recs))
		if err := p.Enqueue(recs, tk); err != nil {
			t.Fatal(err)
		}
		select {
		case <-tk.Done():
		case <-time.After(20 * time.Second):
			t.Fatal("records never acknowledged")
		}
	}
	flushCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Flush(flushCtx); err != nil {
		t.Fatal(err)
	}
	cmap, err := newShardMap(children)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	kclSeen, allSeen := map[string]int{}, map[string]int{}
	last := map[int]int{}
	orderBroken := 0
	for i := range cmap.Len() {
		s := cmap.Shard(i)
		for _, sr := range f.stored[s.ID] {
			users, err := kpl.Deaggregate(sr.pk, sr.data)
			if err != nil {
				t.Fatal(err)
			}
			aggregated := kpl.IsAggregated(sr.data)
			for _, u := range users {
				allSeen[string(u.Data)]++
				h := shardmap.PartitionKeyHash(u.PartitionKey)
				if aggregated && !s.Contains(h) {
					continue // the KCL's filter
				}
				kclSeen[string(u.Data)]++
				var k, i int
				fmt.Sscanf(string(u.Data), "%d:%d", &k, &i)
				if l, ok := last[k]; ok && i <= l && kclSeen[string(u.Data)] == 1 {
					orderBroken++
				}
				last[k] = max(last[k], i)
			}
		}
	}
	dups := 0
	for _, c := range allSeen {
		dups += c - 1
	}
	t.Logf("mismatches %v, resent %v; KCL view: %d of %d records; unfiltered: %d duplicates",
		counterValue(m.shardMismatches), counterValue(m.resent), len(kclSeen), n, dups)
	if counterValue(m.shardMismatches) == 0 {
		t.Fatal("no shard mismatch happened: the test did not test anything")
	}
	if len(kclSeen) != n {
		t.Errorf("a KCL consumer would find %d of %d records", len(kclSeen), n)
	}
	if len(allSeen) != n || dups != int(counterValue(m.resent)) {
		t.Errorf("unfiltered: %d records with %d duplicates; want %d with as many duplicates as resent (%v)", len(allSeen), dups, n, counterValue(m.resent))
	}
	if orderBroken > 0 {
		t.Errorf("%d records out of order per key in the KCL view", orderBroken)
	}
}
