package meter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/kdp-io/streamprocessor-operator/internal/shardmap/shardmaptest"
)

// Doubles for the logic of the handler and the publisher, with no emulator:
// kinesis-local's answers are canned, CloudWatch records what it gets.

type fakeKinesis struct {
	mu     sync.Mutex
	status map[string]types.StreamStatus // stream → status
	shards []types.Shard                 // of every stream; one when nil
}

func (f *fakeKinesis) ListShards(_ context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.status[aws.ToString(in.StreamName)]; !ok {
		return nil, &types.ResourceNotFoundException{Message: aws.String("no stream")}
	}
	if f.shards != nil {
		return &kinesis.ListShardsOutput{Shards: f.shards}, nil
	}
	return &kinesis.ListShardsOutput{Shards: []types.Shard{shardmaptest.Open("shardId-000000000000", "0", shardmaptest.MaxHashKey)}}, nil
}

func (f *fakeKinesis) ListStreams(context.Context, *kinesis.ListStreamsInput, ...func(*kinesis.Options)) (*kinesis.ListStreamsOutput, error) {
	out := &kinesis.ListStreamsOutput{HasMoreStreams: aws.Bool(false)}
	for name := range f.status {
		out.StreamNames = append(out.StreamNames, name)
	}
	return out, nil
}

func (f *fakeKinesis) DescribeStreamSummary(_ context.Context, in *kinesis.DescribeStreamSummaryInput, _ ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	return &kinesis.DescribeStreamSummaryOutput{StreamDescriptionSummary: &types.StreamDescriptionSummary{StreamStatus: f.status[aws.ToString(in.StreamName)]}}, nil
}

type fakeCloudWatch struct {
	mu       sync.Mutex
	failures int // calls to refuse before accepting
	got      []*cloudwatch.PutMetricDataInput
}

func (f *fakeCloudWatch) PutMetricData(_ context.Context, in *cloudwatch.PutMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failures > 0 {
		f.failures--
		return nil, errors.New("moto is down")
	}
	f.got = append(f.got, in)
	return &cloudwatch.PutMetricDataOutput{}, nil
}

// sums returns metric → stream → minute → Sum of everything received.
func (f *fakeCloudWatch) sums() map[string]map[string]map[time.Time]float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]map[string]map[time.Time]float64{}
	for _, in := range f.got {
		for _, d := range in.MetricData {
			name, stream := aws.ToString(d.MetricName), aws.ToString(d.Dimensions[0].Value)
			if out[name] == nil {
				out[name] = map[string]map[time.Time]float64{}
			}
			if out[name][stream] == nil {
				out[name][stream] = map[time.Time]float64{}
			}
			out[name][stream][aws.ToTime(d.Timestamp)] += aws.ToFloat64(d.StatisticValues.Sum)
		}
	}
	return out
}

// fakeUpstream records the requests it gets and answers with answer.
type fakeUpstream struct {
	mu       sync.Mutex
	requests []*http.Request
	bodies   [][]byte
	answer   func(body []byte) (int, string)
}

func (f *fakeUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, r)
	f.bodies = append(f.bodies, body)
	f.mu.Unlock()
	status, out := f.answer(body)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Upstream", "kinesis-local")
	w.WriteHeader(status)
	io.WriteString(w, out)
}

type unit struct {
	t        *testing.T
	clock    *clocktesting.FakeClock
	meter    *Meter
	upstream *fakeUpstream
	kinesis  *fakeKinesis
	cw       *fakeCloudWatch
}

func newUnit(t *testing.T, opts Options) *unit {
	u := &unit{
		t:        t,
		clock:    clocktesting.NewFakeClock(t0.Add(30 * time.Second)),
		upstream: &fakeUpstream{answer: func([]byte) (int, string) { return 200, "{}" }},
		kinesis:  &fakeKinesis{status: map[string]types.StreamStatus{"s": types.StreamStatusActive}},
		cw:       &fakeCloudWatch{},
	}
	srv := httptest.NewServer(u.upstream)
	t.Cleanup(srv.Close)
	opts.Upstream, _ = url.Parse(srv.URL)
	opts.Kinesis, opts.CloudWatch, opts.Clock = u.kinesis, u.cw, u.clock
	u.meter = New(opts)
	return u
}

// do sends a Kinesis JSON 1.1 request for op to the meter.
func (u *unit) do(op, contentType string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
	r.Header.Set("Content-Type", contentType)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260102/us-east-1/kinesis/aws4_request")
	w := httptest.NewRecorder()
	u.meter.ServeHTTP(w, r)
	return w
}

const jsonType = "application/x-amz-json-1.1"

func TestCBORAndUnmeteredOperationsPassThroughUntouched(t *testing.T) {
	u := newUnit(t, Options{})
	u.upstream.answer = func([]byte) (int, string) { return 200, `{"from":"upstream"}` }
	cbor := []byte{0xbf, 0x6a, 'S', 't', 'r', 'e', 'a', 'm', 'N', 'a', 'm', 'e', 0x61, 's', 0xff}
	for _, c := range []struct{ op, contentType string }{
		{"PutRecords", "application/x-amz-cbor-1.1"},
		{"DescribeStreamSummary", jsonType},
	} {
		w := u.do(c.op, c.contentType, cbor)
		if w.Code != 200 || w.Body.String() != `{"from":"upstream"}` || w.Header().Get("X-Upstream") != "kinesis-local" {
			t.Errorf("%s (%s): answer %d %q with headers %v, want upstream's", c.op, c.contentType, w.Code, w.Body, w.Header())
		}
		last := len(u.upstream.bodies) - 1
		if last < 0 || !bytes.Equal(u.upstream.bodies[last], cbor) || u.upstream.requests[last].Header.Get("Authorization") == "" {
			t.Errorf("%s (%s): upstream did not get the body and headers unchanged", c.op, c.contentType)
		}
	}
	// Even a body the meter could read is not metered when declared CBOR:
	// two records go through a budget of one.
	u.meter.limits.WriteRecordsPerSecond = 1
	w := u.do("PutRecords", "application/x-amz-cbor-1.1", putRecordsBody(1, 1))
	if w.Code != 200 || w.Body.String() != `{"from":"upstream"}` {
		t.Errorf("CBOR PutRecords: answer %d %q, want upstream's", w.Code, w.Body)
	}
	if st := u.meter.Stats(); len(st) != 0 {
		t.Errorf("Stats %v: nothing should have been metered", st)
	}
}

func TestOversizeBodyRefusedWithoutForwarding(t *testing.T) {
	u := newUnit(t, Options{})
	w := u.do("PutRecords", jsonType, bytes.Repeat([]byte("a"), maxRequestBody+1))
	var e struct {
		Type string `json:"__type"`
	}
	if w.Code != 400 || json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Type != "InvalidArgumentException" {
		t.Errorf("answer %d %s, want 400 InvalidArgumentException", w.Code, w.Body)
	}
	if len(u.upstream.bodies) != 0 {
		t.Error("an oversize body was forwarded")
	}
}

// putRecordsBody is a PutRecords request of stream "s" with one record of
// size data bytes (partition key "k<index>") per size.
func putRecordsBody(sizes ...int) []byte {
	var recs []map[string]any
	for i, n := range sizes {
		recs = append(recs, map[string]any{"Data": make([]byte, n), "PartitionKey": "k" + string(rune('0'+i))})
	}
	b, _ := json.Marshal(map[string]any{"StreamName": "s", "Records": recs})
	return b
}

type putRecordsAnswer struct {
	FailedRecordCount int
	EncryptionType    string
	Records           []struct{ ErrorCode, ErrorMessage, SequenceNumber, ShardId string }
}

func TestPutRecordsMergesThrottledAndUpstreamFailuresByIndex(t *testing.T) {
	// 100 bytes/s: of 38+2, 68+2, 38+2, 8+2, 68+2 bytes, records 1 and 4 do not fit.
	u := newUnit(t, Options{Limits: Limits{WriteBytesPerSecond: 100}})
	u.upstream.answer = func(body []byte) (int, string) {
		return 200, `{"EncryptionType":"NONE","FailedRecordCount":1,"Records":[` +
			`{"SequenceNumber":"1","ShardId":"shardId-000000000000"},` +
			`{"ErrorCode":"InternalFailure","ErrorMessage":"boom"},` +
			`{"SequenceNumber":"3","ShardId":"shardId-000000000000"}]}`
	}
	w := u.do("PutRecords", jsonType, putRecordsBody(38, 68, 38, 8, 68))
	var got putRecordsAnswer
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &got) != nil {
		t.Fatalf("answer %d %s", w.Code, w.Body)
	}
	var fwd struct {
		StreamName string
		Records    []struct{ PartitionKey string }
	}
	if len(u.upstream.bodies) != 1 || json.Unmarshal(u.upstream.bodies[0], &fwd) != nil {
		t.Fatalf("upstream got %d calls, want one PutRecords", len(u.upstream.bodies))
	}
	var keys []string
	for _, r := range fwd.Records {
		keys = append(keys, r.PartitionKey)
	}
	if fwd.StreamName != "s" || strings.Join(keys, ",") != "k0,k2,k3" {
		t.Errorf("forwarded stream %q records %v, want s with k0,k2,k3", fwd.StreamName, keys)
	}
	want := []string{"", errThrottled, "InternalFailure", "", errThrottled}
	for i, code := range want {
		if got.Records[i].ErrorCode != code {
			t.Errorf("record %d: code %q, want %q", i, got.Records[i].ErrorCode, code)
		}
	}
	if got.Records[3].SequenceNumber != "3" || got.Records[4].ErrorMessage != "Rate exceeded for shard shardId-000000000000 in stream s under account 000000000000." {
		t.Errorf("records not merged by index: %+v", got.Records)
	}
	if got.FailedRecordCount != 3 || got.EncryptionType != "NONE" {
		t.Errorf("FailedRecordCount %d (want 3), EncryptionType %q (want upstream's NONE)", got.FailedRecordCount, got.EncryptionType)
	}
	if st := u.meter.Stats()["s"]; st.AcceptedRecords != 2 || st.WriteThrottled != 2 {
		t.Errorf("Stats: %d accepted, %d throttled; want 2 and 2", st.AcceptedRecords, st.WriteThrottled)
	}
}

func TestPutRecordsAllThrottledDoesNotCallUpstream(t *testing.T) {
	u := newUnit(t, Options{Limits: Limits{WriteRecordsPerSecond: 1}})
	u.do("PutRecords", jsonType, putRecordsBody(1))
	w := u.do("PutRecords", jsonType, putRecordsBody(1, 1))
	var got putRecordsAnswer
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &got) != nil || got.FailedRecordCount != 2 || len(got.Records) != 2 {
		t.Fatalf("answer %d %s, want both records throttled", w.Code, w.Body)
	}
	if len(u.upstream.bodies) != 1 {
		t.Errorf("upstream called %d times, want once (the first call only)", len(u.upstream.bodies))
	}
}

func TestInvalidRecordGoesUpstreamWhole(t *testing.T) {
	u := newUnit(t, Options{})
	u.upstream.answer = func([]byte) (int, string) {
		return 400, `{"__type":"InvalidArgumentException","message":"ExplicitHashKey contains invalid characters"}`
	}
	body := []byte(`{"StreamName":"s","Records":[{"Data":"aGk=","PartitionKey":"a"},{"Data":"aGk=","PartitionKey":"a","ExplicitHashKey":"-1"}]}`)
	w := u.do("PutRecords", jsonType, body)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "ExplicitHashKey contains invalid characters") {
		t.Errorf("answer %d %s, want upstream's validation error", w.Code, w.Body)
	}
	if len(u.upstream.bodies) != 1 || !bytes.Equal(u.upstream.bodies[0], body) {
		t.Error("the request did not reach upstream unchanged")
	}
}

func TestUnknownIteratorIsNotMetered(t *testing.T) {
	u := newUnit(t, Options{Limits: Limits{ReadCallsPerSecond: 1}})
	u.upstream.answer = func([]byte) (int, string) {
		return 200, `{"Records":[],"NextShardIterator":"it-2","MillisBehindLatest":0}`
	}
	for range 3 {
		if w := u.do("GetRecords", jsonType, []byte(`{"ShardIterator":"never-seen"}`)); w.Code != 200 {
			t.Fatalf("GetRecords on an unknown iterator: %d %s", w.Code, w.Body)
		}
	}
	if len(u.meter.Stats()) != 0 {
		t.Errorf("Stats %v: calls on an unknown iterator were metered", u.meter.Stats())
	}
}

func TestPublishRetriesAFailedMinuteAndNeverSendsItTwice(t *testing.T) {
	u := newUnit(t, Options{})
	u.cw.failures = 1
	minute := u.clock.Now().Truncate(time.Minute)
	u.meter.recordPut("s", putSample{records: 7, bytes: 70})
	ctx := context.Background()

	u.clock.Step(time.Minute)
	if err := u.meter.publish(ctx); err == nil {
		t.Fatal("publish reported no error while CloudWatch refused")
	}
	for range 3 { // the retry, then nothing left to send
		if err := u.meter.publish(ctx); err != nil {
			t.Fatal(err)
		}
	}
	got := u.cw.sums()
	if n := got[incomingRecords]["s"][minute]; n != 7 {
		t.Errorf("IncomingRecords of the minute summed to %v in CloudWatch, want 7 (sent exactly once)", n)
	}
	if st := u.meter.Stats()["s"]; st.PublishedMinutes != 1 {
		t.Errorf("PublishedMinutes %d, want 1", st.PublishedMinutes)
	}
}

func TestPublishDelayAndZerosOnlyForLiveStreams(t *testing.T) {
	u := newUnit(t, Options{PublishDelay: 2 * time.Minute})
	u.kinesis.status["resharding"] = types.StreamStatusUpdating
	u.kinesis.status["new"] = types.StreamStatusCreating
	minute := u.clock.Now().Truncate(time.Minute)
	ctx := context.Background()

	u.clock.Step(2 * time.Minute) // the minute closed 1.5 min ago: not yet due
	if err := u.meter.publish(ctx); err != nil {
		t.Fatal(err)
	}
	if len(u.cw.got) != 0 {
		t.Fatalf("published %d calls before the delay passed", len(u.cw.got))
	}
	u.clock.Step(time.Minute)
	if err := u.meter.publish(ctx); err != nil {
		t.Fatal(err)
	}
	got := u.cw.sums()[incomingRecords]
	for stream, want := range map[string]bool{"s": true, "resharding": true, "new": false} {
		if v, ok := got[stream][minute]; ok != want || v != 0 {
			t.Errorf("stream %s: zero datapoint published %v (value %v), want %v", stream, ok, v, want)
		}
	}
	if len(got["s"]) != 1 {
		t.Errorf("minutes published for s: %v, want only the one closed 2 minutes ago", got["s"])
	}
}

func TestReshardReloadsTheShardMapOfAnIdleStream(t *testing.T) {
	u := newUnit(t, Options{})
	ctx := context.Background()
	u.do("PutRecords", jsonType, putRecordsBody(1)) // the meter learns "s": one shard
	u.clock.Step(2 * time.Minute)                   // then no traffic
	u.kinesis.mu.Lock()
	u.kinesis.shards = []types.Shard{
		shardmaptest.Closed("shardId-000000000000", "0", shardmaptest.MaxHashKey),
		shardmaptest.Open("shardId-000000000001", "0", "170141183460469231731687303715884105727"),
		shardmaptest.Open("shardId-000000000002", "170141183460469231731687303715884105728", shardmaptest.MaxHashKey),
	}
	u.kinesis.mu.Unlock()
	u.meter.refreshShardMaps(ctx)
	if n := u.meter.Stats()["s"].OpenShards; n != 1 {
		t.Fatalf("an idle stream's map was reloaded (%d shards): idle streams cost no ListShards", n)
	}
	if w := u.do("UpdateShardCount", jsonType, []byte(`{"StreamName":"s","TargetShardCount":2,"ScalingType":"UNIFORM_SCALING"}`)); w.Code != 200 {
		t.Fatalf("UpdateShardCount: %d %s", w.Code, w.Body)
	}
	u.meter.refreshShardMaps(ctx)
	if n := u.meter.Stats()["s"].OpenShards; n != 2 {
		t.Errorf("after a reshard passed through the map has %d open shards, want 2", n)
	}
}

func TestSaturatedUpstreamRefusesUnforwardedWith503(t *testing.T) {
	u := newUnit(t, Options{MaxUpstreamCalls: 1, UpstreamWait: time.Second})
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // before the upstream server's Close, which waits for the call
	u.upstream.answer = func([]byte) (int, string) {
		<-release
		return 200, `{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000"}]}`
	}
	first := make(chan *httptest.ResponseRecorder)
	go func() { first <- u.do("PutRecords", jsonType, putRecordsBody(1)) }()
	// The first call holds the only slot; the second waits for it, and is
	// refused when the wait runs out.
	waitFor(t, "the first call to take the slot", func() bool { return len(u.meter.slots) == 1 })
	second := make(chan *httptest.ResponseRecorder)
	go func() { second <- u.do("PutRecords", jsonType, putRecordsBody(1)) }()
	waitFor(t, "the second call to wait for a slot", u.clock.HasWaiters)
	u.clock.Step(time.Second)
	w := <-second
	var e struct {
		Type string `json:"__type"`
	}
	if w.Code != http.StatusServiceUnavailable || json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Type != "ServiceUnavailable" {
		t.Errorf("second call: answer %d %s, want 503 ServiceUnavailable", w.Code, w.Body)
	}
	free()
	if w := <-first; w.Code != 200 {
		t.Errorf("first call: answer %d %s, want upstream's 200", w.Code, w.Body)
	}
	u.upstream.mu.Lock()
	forwarded := len(u.upstream.bodies)
	u.upstream.mu.Unlock()
	if forwarded != 1 || u.meter.Overloaded() != 1 {
		t.Errorf("%d calls forwarded and %d refused, want 1 and 1: a refused call must not reach kinesis-local", forwarded, u.meter.Overloaded())
	}
	// The slot is free again: the next call goes through.
	if w := u.do("PutRecords", jsonType, putRecordsBody(1)); w.Code != 200 {
		t.Errorf("third call: answer %d %s, want 200 once the slot is free", w.Code, w.Body)
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
