package consumer

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kdp-io/streamprocessor-operator/workloads/kcl"
)

func TestLineOf(t *testing.T) {
	tests := []struct {
		name   string
		data   []byte
		want   string
		base64 bool
	}{
		{"text", []byte(`{"a":"ü"}`), `{"a":"ü"}`, false},
		{"empty", []byte{}, "", false},
		{"invalid UTF-8", []byte{0xff, 0xfe, 'x'}, "//54", true},
	}
	for _, tt := range tests {
		l := LineOf(Record{ShardID: "s", Record: kcl.Record{SequenceNumber: "1", SubSequenceNumber: 2, PartitionKey: "pk", Data: tt.data}})
		if l.Data != tt.want || l.Base64 != tt.base64 {
			t.Errorf("%s: data %q base64 %v, want %q %v", tt.name, l.Data, l.Base64, tt.want, tt.base64)
		}
	}
	b, _ := json.Marshal(LineOf(Record{ShardID: "shardId-1", Record: kcl.Record{SequenceNumber: "42", SubSequenceNumber: 3, PartitionKey: "k", Data: []byte("hi")}}))
	if want := `{"shardId":"shardId-1","sequenceNumber":"42","subSequenceNumber":3,"partitionKey":"k","data":"hi"}`; string(b) != want {
		t.Errorf("line %s, want %s", b, want)
	}
}

func TestLoadConfig(t *testing.T) {
	env := map[string]string{"STREAM_NAME": "s", "APPLICATION_NAME": "app", "START_POSITION": "latest", "LEASE_DURATION": "3s",
		"OUTPUT": "/tmp/out", "RETRY_ATTEMPTS": "2"}
	getenv := func(k string) string { return env[k] }
	c, err := LoadConfig([]string{"--lease-duration=5s", "--output=/tmp/flag"}, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if c.StreamName != "s" || c.ApplicationName != "app" || c.StartPosition != kcl.Latest || c.RetryAttempts != 2 {
		t.Errorf("env not applied: %+v", c)
	}
	if c.LeaseDuration != 5*time.Second || c.Output != "/tmp/flag" {
		t.Errorf("flags do not override env: lease %v output %q", c.LeaseDuration, c.Output)
	}
	if c.ShardSyncInterval != 60*time.Second || c.PollInterval != time.Second || !c.CloudWatchEnabled || c.CloudWatchNamespace != DefaultCloudWatchNamespace {
		t.Errorf("defaults wrong: %+v", c)
	}
	bad := []map[string]string{
		{"APPLICATION_NAME": "app"},
		{"STREAM_NAME": "s", "APPLICATION_NAME": "app", "START_POSITION": "AT_TIMESTAMP"},
		{"STREAM_NAME": "s", "APPLICATION_NAME": "app", "START_POSITION": "EARLIEST"},
		{"STREAM_NAME": "s", "APPLICATION_NAME": "app", "LEASE_DURATION": "soon"},
		{"STREAM_NAME": "s", "APPLICATION_NAME": "app", "DEAD_LETTER_FILE": "f", "DEAD_LETTER_STREAM": "d"},
		{"STREAM_NAME": "s", "APPLICATION_NAME": "app", "RETRY_ATTEMPTS": "0"},
	}
	for _, e := range bad {
		if _, err := LoadConfig(nil, func(k string) string { return e[k] }); err == nil {
			t.Errorf("config %v accepted", e)
		}
	}
	ts := map[string]string{"STREAM_NAME": "s", "APPLICATION_NAME": "app", "START_POSITION": "AT_TIMESTAMP", "START_TIMESTAMP": "2026-01-02T03:04:05Z"}
	if c, err := LoadConfig(nil, func(k string) string { return ts[k] }); err != nil || c.StartTimestamp.Year() != 2026 {
		t.Errorf("AT_TIMESTAMP: %+v %v", c, err)
	}
}

// fakeCheckpointer records checkpoints.
type fakeCheckpointer struct {
	mu    sync.Mutex
	calls int
	err   error
}

func (f *fakeCheckpointer) Checkpoint(*string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.err
}
func (f *fakeCheckpointer) CheckpointRecord(kcl.Record) error { return f.Checkpoint(nil) }

type memDeadLetter struct {
	mu      sync.Mutex
	records []string
	causes  []string
	failN   int // fail this many writes first
}

func (m *memDeadLetter) Write(_ context.Context, r Record, cause error, attempts int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failN > 0 {
		m.failN--
		return errors.New("dead-letter store down")
	}
	m.records = append(m.records, string(r.Data))
	m.causes = append(m.causes, cause.Error())
	return nil
}

func batch(data ...string) *kcl.ProcessRecordsInput {
	in := &kcl.ProcessRecordsInput{ShardID: "shardId-0"}
	for i, d := range data {
		in.Records = append(in.Records, kcl.Record{SequenceNumber: string(rune('0' + i)), Data: []byte(d)})
	}
	return in
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// A record that keeps failing is retried RETRY_ATTEMPTS times, then
// dead-lettered with its error (even if the dead-letter store fails at first);
// the others are processed; the batch is checkpointed after all of them.
func TestProcessorRetriesThenDeadLetters(t *testing.T) {
	attempts := map[string]int{}
	var out []string
	h := HandlerFunc(func(_ context.Context, r Record) error {
		attempts[string(r.Data)]++
		if string(r.Data) == "poison" {
			return errors.New("cannot parse poison")
		}
		if string(r.Data) == "flaky" && attempts["flaky"] < 3 {
			return errors.New("temporarily down")
		}
		out = append(out, string(r.Data))
		return nil
	})
	dl := &memDeadLetter{failN: 2}
	m := NewMetrics()
	f := &processorFactory{ctx: context.Background(), handler: h, dead: dl, attempts: 4, backoff: time.Millisecond, metrics: m, log: quietLogger()}
	p := f.CreateProcessor()
	p.Initialize(&kcl.InitializationInput{ShardID: "shardId-0"})
	cp := &fakeCheckpointer{}
	in := batch("a", "poison", "flaky", "b")
	in.Checkpointer = cp
	p.ProcessRecords(in)
	if strings.Join(out, ",") != "a,flaky,b" {
		t.Errorf("processed %v, want a,flaky,b", out)
	}
	if attempts["poison"] != 4 || attempts["flaky"] != 3 {
		t.Errorf("attempts %v, want poison 4, flaky 3", attempts)
	}
	if len(dl.records) != 1 || dl.records[0] != "poison" || !strings.Contains(dl.causes[0], "cannot parse poison") {
		t.Errorf("dead letters %v causes %v", dl.records, dl.causes)
	}
	if cp.calls != 1 {
		t.Errorf("%d checkpoints, want 1 after the batch", cp.calls)
	}
	if got := testCounter(t, m, "streamprocessor_consumer_records_dead_lettered_total"); got != 1 {
		t.Errorf("dead-lettered metric %v, want 1", got)
	}
	if got := testCounter(t, m, "streamprocessor_consumer_records_processed_total"); got != 3 {
		t.Errorf("processed metric %v, want 3", got)
	}
}

// Without a dead-letter destination, a failing record blocks its shard (keeps
// being retried) instead of being skipped; when the service stops, the batch is
// not checkpointed and later batches of the shard are not either.
func TestProcessorWithoutDeadLetterNeverSkips(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var tries int
	h := HandlerFunc(func(_ context.Context, r Record) error {
		if string(r.Data) == "poison" {
			tries++
			if tries == 10 {
				cancel() // the service is being stopped
			}
			return errors.New("always fails")
		}
		return nil
	})
	f := &processorFactory{ctx: ctx, handler: h, attempts: 2, backoff: time.Millisecond, metrics: NewMetrics(), log: quietLogger()}
	p := f.CreateProcessor()
	p.Initialize(&kcl.InitializationInput{ShardID: "shardId-0"})
	cp := &fakeCheckpointer{}
	in := batch("a", "poison", "b")
	in.Checkpointer = cp
	p.ProcessRecords(in)
	next := batch("c")
	next.Checkpointer = cp
	p.ProcessRecords(next)
	p.Shutdown(&kcl.ShutdownInput{ShardID: "shardId-0", ShutdownReason: kcl.REQUESTED, Checkpointer: cp})
	if tries < 10 {
		t.Errorf("poison tried %d times; want retries until the stop", tries)
	}
	if cp.calls != 0 {
		t.Errorf("%d checkpoints after an unprocessed record; want 0", cp.calls)
	}
}

func TestJSONLinesAndFileDeadLetter(t *testing.T) {
	var buf bytes.Buffer
	j := NewJSONLines(&buf)
	for _, d := range []string{"one", "two"} {
		if err := j.Handle(context.Background(), Record{ShardID: "s", Record: kcl.Record{SequenceNumber: "9", Data: []byte(d)}}); err != nil {
			t.Fatal(err)
		}
	}
	if buf.Len() != 0 {
		t.Error("JSONLines wrote before Flush; want buffered")
	}
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], `"data":"two"`) {
		t.Errorf("output %q", buf.String())
	}
	var dbuf bytes.Buffer
	fd := &FileDeadLetter{W: &dbuf}
	if err := fd.Write(context.Background(), Record{ShardID: "s", Record: kcl.Record{SequenceNumber: "9", Data: []byte{0xff}}}, errors.New("boom"), 5); err != nil {
		t.Fatal(err)
	}
	var l Line
	if err := json.Unmarshal(dbuf.Bytes(), &l); err != nil {
		t.Fatal(err)
	}
	if l.Error != "boom" || l.Attempts != 5 || !l.Base64 || l.Data != "/w==" || l.FailedAt == nil {
		t.Errorf("dead letter %+v", l)
	}
}

func testCounter(t *testing.T, m *Metrics, name string) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

// Whatever the payload, the JSON line gives back exactly its bytes: as text
// when it is valid UTF-8, else through base64.
func FuzzLineRoundTrip(f *testing.F) {
	f.Add([]byte("hello"))
	f.Add([]byte{0xff, 0xfe})
	f.Add([]byte("a\x00b\"c\\"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := json.Marshal(LineOf(Record{ShardID: "s", Record: kcl.Record{SequenceNumber: "1", Data: data}}))
		if err != nil {
			t.Fatal(err)
		}
		var l Line
		if err := json.Unmarshal(b, &l); err != nil {
			t.Fatal(err)
		}
		got := []byte(l.Data)
		if l.Base64 {
			if got, err = base64.StdEncoding.DecodeString(l.Data); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("round trip of %q gave %q (base64 %v)", data, got, l.Base64)
		}
	})
}
