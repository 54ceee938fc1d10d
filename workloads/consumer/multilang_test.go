package consumer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
	"github.com/kdp-io/streamprocessor-operator/workloads/kcl"
)

// runFakeProcessor is a MultiLang record processor written in Go, run as a
// subprocess of the test binary when MULTILANG_FAKE names its behaviour. It
// appends every line it reads to MULTILANG_FAKE_LOG and answers as a
// processor does (or misbehaves as asked):
//
//	ok            checkpoints the last record of each batch (with its
//	              sub-sequence number), SHARD_END at shardEnded, the last
//	              delivered record at shutdownRequested; prints a non-protocol
//	              line and writes stderr on each batch
//	no-shard-end  answers shardEnded without checkpointing
//	die           exits 3 on processRecords
//	wrong-status  answers processRecords with the status of another action
//	hang          never answers processRecords
//	hang-on-shutdown  like ok, but never answers shutdownRequested
//	bad-checkpoint asks to checkpoint "not-a-number" and at initialize
func runFakeProcessor(mode string) int {
	logf, err := os.OpenFile(os.Getenv("MULTILANG_FAKE_LOG"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return 2
	}
	defer logf.Close()
	in := bufio.NewReader(os.Stdin)
	read := func() (map[string]any, bool) {
		for {
			line, err := in.ReadString('\n')
			if err != nil {
				return nil, false
			}
			fmt.Fprint(logf, line)
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil {
				return m, true
			}
		}
	}
	write := func(m map[string]any) {
		b, _ := json.Marshal(m)
		fmt.Printf("\n%s\n", b)
	}
	checkpoint := func(seq, sub any) {
		write(map[string]any{"action": "checkpoint", "sequenceNumber": seq, "subSequenceNumber": sub})
		read() // the answer, logged
	}
	for {
		m, ok := read()
		if !ok {
			return 0
		}
		action, _ := m["action"].(string)
		switch action {
		case "initialize":
			if mode == "bad-checkpoint" {
				checkpoint(nil, nil)
			}
		case "processRecords":
			switch mode {
			case "die":
				return 3
			case "hang":
				select {}
			case "wrong-status":
				write(map[string]any{"action": "status", "responseFor": "initialize"})
				continue
			case "bad-checkpoint":
				checkpoint("not-a-number", nil)
			default:
				fmt.Println("a line that is not a protocol message")
				fmt.Fprintln(os.Stderr, "processing a batch")
				recs, _ := m["records"].([]any)
				last, _ := recs[len(recs)-1].(map[string]any)
				checkpoint(last["sequenceNumber"], last["subSequenceNumber"])
			}
		case "shardEnded":
			if mode != "no-shard-end" {
				checkpoint(nil, nil)
			}
		case "shutdownRequested":
			if mode == "hang-on-shutdown" {
				select {}
			}
			checkpoint(nil, nil)
		}
		write(map[string]any{"action": "status", "responseFor": action})
	}
}

// fakeCheckpoints records checkpoint calls and fails them with err.
type fakeCheckpoints struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (f *fakeCheckpoints) Checkpoint(seq *string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "seq="+deref(seq))
	return f.err
}

func (f *fakeCheckpoints) CheckpointRecord(r kcl.Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("record=%s/%d", r.SequenceNumber, r.SubSequenceNumber))
	return f.err
}

// fakeFactory runs the fake processor in mode; it returns the factory and
// the path of the processor's log of received lines.
func fakeFactory(t *testing.T, mode string, timeout time.Duration) (*multiLangFactory, string) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "received.jsonl")
	f := &multiLangFactory{command: []string{os.Args[0], "-test.run=^$"},
		env:     append(os.Environ(), "MULTILANG_FAKE="+mode, "MULTILANG_FAKE_LOG="+logPath),
		timeout: timeout, grace: 2 * time.Second, metrics: NewMetrics(), log: quietLogger()}
	t.Cleanup(f.killAll)
	return f, logPath
}

// compatDir is the third-party compatibility fixtures' directory (the seed's
// consumer and amazon_kclpy, kept outside the repository); tests that need
// them skip without them (testenv.CompatFixtures).
func compatDir(t *testing.T) string {
	t.Helper()
	return testenv.CompatFixtures(t)
}

func received(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("processor received a line that is not JSON: %q", l)
		}
		out = append(out, m)
	}
	return out
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// panics runs f and returns what it panicked with (nil if it returned).
func panics(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}

// A whole shard life with the well-behaved fake: the exact messages the
// processor receives (as the Java daemon writes them), the checkpoint each
// request turns into, and the answers it gets.
func TestMultiLangProtocolMessages(t *testing.T) {
	f, logPath := fakeFactory(t, "ok", 10*time.Second)
	p := f.CreateProcessor()
	p.Initialize(&kcl.InitializationInput{ShardID: "shardId-000000000001",
		ExtendedSequenceNumber: kcl.ExtendedSequenceNumber{SequenceNumber: "100", SubSequenceNumber: 2}})
	arrival := time.UnixMilli(1700000000123)
	cp := &fakeCheckpoints{}
	p.ProcessRecords(&kcl.ProcessRecordsInput{ShardID: "shardId-000000000001", MillisBehindLatest: 42, Checkpointer: cp, Records: []kcl.Record{
		{SequenceNumber: "200", PartitionKey: "pk-a", Data: []byte("hello"), ApproximateArrivalTimestamp: arrival},
		{SequenceNumber: "300", SubSequenceNumber: 1, Aggregated: true, PartitionKey: "pk-b", Data: []byte{0, 1, 0xff}, ApproximateArrivalTimestamp: arrival},
	}})
	p.Shutdown(&kcl.ShutdownInput{ShardID: "shardId-000000000001", ShutdownReason: kcl.TERMINATE, Checkpointer: cp})

	got := received(t, logPath)
	want := []string{
		`{"action":"initialize","sequenceNumber":"100","shardId":"shardId-000000000001","subSequenceNumber":2}`,
		`{"action":"processRecords","millisBehindLatest":42,"records":[` +
			`{"action":"record","approximateArrivalTimestamp":1700000000123,"data":"aGVsbG8=","partitionKey":"pk-a","sequenceNumber":"200","subSequenceNumber":0},` +
			`{"action":"record","approximateArrivalTimestamp":1700000000123,"data":"AAH/","partitionKey":"pk-b","sequenceNumber":"300","subSequenceNumber":1}]}`,
		`{"action":"checkpoint","error":null,"sequenceNumber":"300","subSequenceNumber":1}`,
		`{"action":"shardEnded"}`,
		`{"action":"checkpoint","error":null,"sequenceNumber":null,"subSequenceNumber":null}`,
	}
	if len(got) != len(want) {
		t.Fatalf("processor received %d messages, want %d:\n%v", len(got), len(want), got)
	}
	for i := range want {
		if g := mustJSON(got[i]); g != want[i] {
			t.Errorf("message %d:\n got %s\nwant %s", i, g, want[i])
		}
	}
	if c := strings.Join(cp.calls, " "); c != "record=300/1 seq=<latest>" {
		t.Errorf("checkpoints written: %q; want the record of the batch, then SHARD_END", c)
	}
	if n := testCounter(t, f.metrics, "streamprocessor_consumer_records_processed_total"); n != 2 {
		t.Errorf("processed counter %v, want 2", n)
	}
	if len(f.sessions) != 0 {
		t.Errorf("%d subprocesses still tracked after shutdown", len(f.sessions))
	}
}

// Each checkpoint failure reaches the processor under the name the Java
// daemon uses, and a request without a checkpointer (during initialize) is
// an InvalidStateException.
func TestMultiLangCheckpointErrorNames(t *testing.T) {
	throttled := &smithy.GenericAPIError{Code: "ProvisionedThroughputExceededException", Message: "slow down"}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("checkpoint shard %q: %w", "s", kcl.ErrLeaseLost), ErrNameShutdown},
		{fmt.Errorf("checkpoint: %w", kcl.ErrInvalidCheckpoint), ErrNameIllegalArgument},
		{fmt.Errorf("update item: %w", throttled), ErrNameThrottling},
		{errors.New("connection refused"), ErrNameDependency},
	} {
		t.Run(tc.want, func(t *testing.T) {
			f, logPath := fakeFactory(t, "ok", 10*time.Second)
			p := f.CreateProcessor()
			p.Initialize(&kcl.InitializationInput{ShardID: "s"})
			p.ProcessRecords(&kcl.ProcessRecordsInput{ShardID: "s", Checkpointer: &fakeCheckpoints{err: tc.err},
				Records: []kcl.Record{{SequenceNumber: "7", Data: []byte("x")}}})
			p.Shutdown(&kcl.ShutdownInput{ShardID: "s", ShutdownReason: kcl.ZOMBIE})
			got := received(t, logPath)
			if len(got) < 3 || got[2]["action"] != "checkpoint" || got[2]["error"] != tc.want {
				t.Fatalf("answer to the checkpoint: %v; want error %q", got, tc.want)
			}
			if got[len(got)-1]["action"] != "leaseLost" {
				t.Errorf("last message %v; want leaseLost", got[len(got)-1])
			}
		})
	}
	t.Run("bad sequence number and no checkpointer", func(t *testing.T) {
		f, logPath := fakeFactory(t, "bad-checkpoint", 10*time.Second)
		p := f.CreateProcessor()
		p.Initialize(&kcl.InitializationInput{ShardID: "s"})
		cp := &fakeCheckpoints{}
		p.ProcessRecords(&kcl.ProcessRecordsInput{ShardID: "s", Checkpointer: cp, Records: []kcl.Record{{SequenceNumber: "7"}}})
		p.Shutdown(&kcl.ShutdownInput{ShardID: "s", ShutdownReason: kcl.REQUESTED, Checkpointer: cp})
		got := received(t, logPath)
		if got[1]["error"] != ErrNameInvalidState {
			t.Errorf("checkpoint during initialize answered %v; want %s", got[1], ErrNameInvalidState)
		}
		if got[3]["error"] != ErrNameIllegalArgument {
			t.Errorf("checkpoint at a non-number answered %v; want %s", got[3], ErrNameIllegalArgument)
		}
		if got[4]["action"] != "shutdownRequested" || got[5]["error"] != nil {
			t.Errorf("shutdownRequested and its checkpoint: %v %v", got[4], got[5])
		}
		if c := strings.Join(cp.calls, " "); c != "seq=<latest>" {
			t.Errorf("checkpoints written %q; want only the shutdown's", c)
		}
	})
}

// A processor that dies, answers the wrong status, hangs past the timeout or
// ends a shard without checkpointing SHARD_END fails with ErrProcessorFailed
// (Failed, without a panic: the library then releases the lease without
// writing anything), and nothing was checkpointed for it; its subprocess is
// gone.
func TestMultiLangProcessorFailures(t *testing.T) {
	batch := func(cp kcl.Checkpointer) *kcl.ProcessRecordsInput {
		return &kcl.ProcessRecordsInput{ShardID: "s", Checkpointer: cp, Records: []kcl.Record{{SequenceNumber: "7", Data: []byte("x")}}}
	}
	for _, mode := range []string{"die", "wrong-status", "hang"} {
		t.Run(mode, func(t *testing.T) {
			f, _ := fakeFactory(t, mode, 2*time.Second)
			p := f.CreateProcessor()
			p.Initialize(&kcl.InitializationInput{ShardID: "s"})
			cp := &fakeCheckpoints{}
			start := time.Now()
			if v := panics(func() { p.ProcessRecords(batch(cp)) }); v != nil {
				t.Fatalf("ProcessRecords panicked with %v; want Failed to report it", v)
			}
			err := p.(kcl.FailingRecordProcessor).Failed()
			if !errors.Is(err, ErrProcessorFailed) {
				t.Fatalf("Failed() = %v; want ErrProcessorFailed", err)
			}
			t.Logf("%s: %v (after %v)", mode, err, time.Since(start).Round(time.Millisecond))
			if len(cp.calls) != 0 {
				t.Errorf("checkpoints written for a failed processor: %v", cp.calls)
			}
			if len(f.sessions) != 0 {
				t.Errorf("failed subprocess still tracked")
			}
		})
	}
	t.Run("no-shard-end", func(t *testing.T) {
		f, _ := fakeFactory(t, "no-shard-end", 2*time.Second)
		p := f.CreateProcessor()
		p.Initialize(&kcl.InitializationInput{ShardID: "s"})
		p.Shutdown(&kcl.ShutdownInput{ShardID: "s", ShutdownReason: kcl.TERMINATE, Checkpointer: &fakeCheckpoints{}})
		if err := p.(kcl.FailingRecordProcessor).Failed(); !errors.Is(err, ErrProcessorFailed) || !strings.Contains(err.Error(), "SHARD_END") {
			t.Fatalf("Shutdown(TERMINATE) without a SHARD_END checkpoint: Failed() = %v; want ErrProcessorFailed about SHARD_END", err)
		}
	})
	t.Run("command not found", func(t *testing.T) {
		f := &multiLangFactory{command: []string{filepath.Join(t.TempDir(), "missing")}, metrics: NewMetrics(), log: quietLogger()}
		p := f.CreateProcessor()
		p.Initialize(&kcl.InitializationInput{ShardID: "s"})
		if err := p.(kcl.FailingRecordProcessor).Failed(); !errors.Is(err, ErrProcessorFailed) {
			t.Fatalf("Initialize with a missing command: Failed() = %v; want ErrProcessorFailed", err)
		}
	})
}

// The seed's sample.properties, its placeholders filled as the seed's
// set_properties.py fills them, configures the consumer as it is; the
// environment overrides the file; an unsupported key or value is an error
// naming it.
func TestPropertiesFile(t *testing.T) {
	seed, err := os.ReadFile(filepath.Join(compatDir(t), "seed-consumer", "sample.properties"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	filled := strings.NewReplacer("= STREAM_NAME", "= orders", "= APPLICATION_NAME", "= orders-app", "= AWS_REGION", "= eu-west-1",
		"/usr/bin/record_processor.py", "/bin/true").Replace(string(seed))
	path := write("sample.properties", filled)
	env := map[string]string{"PROPERTIES_FILE": path}
	getenv := func(k string) string { return env[k] }
	c, err := LoadConfig(nil, getenv)
	if err != nil {
		t.Fatalf("seed properties refused: %v", err)
	}
	if c.StreamName != "orders" || c.ApplicationName != "orders-app" || c.Region != "eu-west-1" ||
		c.StartPosition != kcl.TrimHorizon || strings.Join(c.ProcessorCommand, " ") != "/bin/true" || c.PropertiesFile != path {
		t.Errorf("config from the seed's properties: %+v", c)
	}

	env["STREAM_NAME"] = "from-env"
	env["PROCESSOR_COMMAND"] = "/bin/sh -c true"
	if c, err = LoadConfig(nil, getenv); err != nil || c.StreamName != "from-env" || len(c.ProcessorCommand) != 3 {
		t.Errorf("environment does not override the file: %v %+v", err, c)
	}
	delete(env, "STREAM_NAME")
	delete(env, "PROCESSOR_COMMAND")

	// Java's format: ':' and blank separators, continuation lines, escapes.
	env["PROPERTIES_FILE"] = write("java.properties", "! comment\nexecutableName : /bin/sh \\\n   -c true\nstreamName\tx\\u0079z\n"+
		"applicationName=app\nfailoverTimeMillis = 2500\ntimeoutInSeconds = 30\nmaxRecords = 500\n")
	c, err = LoadConfig(nil, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.ProcessorCommand, "|") != "/bin/sh|-c|true" || c.StreamName != "xyz" || c.LeaseDuration != 2500*time.Millisecond ||
		c.ProcessorTimeout != 30*time.Second || c.MaxRecords != 500 {
		t.Errorf("java properties format: %+v", c)
	}

	for name, tc := range map[string]struct{ text, want string }{
		"unsupported key":   {"executableName=/bin/true\nstreamName=s\napplicationName=a\nmaxActiveThreads = 4\n", `"maxActiveThreads" is not supported`},
		"other credentials": {"executableName=/bin/true\nstreamName=s\napplicationName=a\nAWSCredentialsProvider = ProfileCredentialsProvider\n", `"AWSCredentialsProvider"`},
		"bad millis":        {"executableName=/bin/true\nstreamName=s\napplicationName=a\nfailoverTimeMillis = soon\n", `"failoverTimeMillis"`},
		"no executable":     {"streamName=s\napplicationName=a\n", "executableName is required"},
		"missing command":   {"executableName=/no/such/processor\nstreamName=s\napplicationName=a\n", "PROCESSOR_COMMAND"},
	} {
		env["PROPERTIES_FILE"] = write(strings.ReplaceAll(name, " ", "-")+".properties", tc.text)
		if _, err := LoadConfig(nil, getenv); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v; want one containing %s", name, err, tc.want)
		}
	}
	env["PROPERTIES_FILE"] = filepath.Join(dir, "absent.properties")
	if _, err := LoadConfig(nil, getenv); err == nil {
		t.Error("a missing properties file is accepted")
	}
	delete(env, "PROPERTIES_FILE")
	env["STREAM_NAME"], env["APPLICATION_NAME"], env["PROCESSOR_COMMAND"], env["DEAD_LETTER_FILE"] = "s", "a", "/bin/true", "/tmp/dl"
	if _, err := LoadConfig(nil, getenv); err == nil || !strings.Contains(err.Error(), "DEAD_LETTER_FILE") {
		t.Errorf("dead-letter file with a processor command: %v; want an error", err)
	}
}

// A lease lost while the processor works on a batch: the subprocess is
// killed at once (it must not go on with records another worker now owns),
// without a panic, and the ZOMBIE shutdown that follows sends nothing.
func TestMultiLangLeaseLostDuringBatch(t *testing.T) {
	f, logPath := fakeFactory(t, "hang", 0)
	p := f.CreateProcessor()
	p.Initialize(&kcl.InitializationInput{ShardID: "s"})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	if v := panics(func() {
		p.ProcessRecords(&kcl.ProcessRecordsInput{ShardID: "s", Context: ctx, Checkpointer: &fakeCheckpoints{}, Records: []kcl.Record{{SequenceNumber: "1"}}})
	}); v != nil {
		t.Fatalf("ProcessRecords panicked with %v after the lease was lost; want a quiet stop", v)
	}
	if err := p.(kcl.FailingRecordProcessor).Failed(); err != nil {
		t.Errorf("a lost lease is not a processor failure: Failed() = %v", err)
	}
	p.Shutdown(&kcl.ShutdownInput{ShardID: "s", ShutdownReason: kcl.ZOMBIE})
	if len(f.sessions) != 0 {
		t.Error("subprocess still tracked after the lease was lost")
	}
	if got := received(t, logPath); len(got) != 2 {
		t.Errorf("processor received %v; want initialize and processRecords only", got)
	}
}

// amazon_kclpy's own sample processor, unmodified, through one shard life
// without AWS: it logs every record (to stderr, which reaches our log) and
// checkpoints SHARD_END when the shard ends.
func TestMultiLangAmazonKCLPySample(t *testing.T) {
	compat := compatDir(t)
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	var logs syncBuffer
	f := &multiLangFactory{command: []string{python, filepath.Join(compat, "amazon_kclpy", "samples", "sample_kclpy_app.py")},
		env:     append(os.Environ(), "PYTHONPATH="+filepath.Join(compat, "amazon_kclpy")),
		timeout: 20 * time.Second, grace: 5 * time.Second, metrics: NewMetrics(),
		log: slog.New(slog.NewJSONHandler(&logs, nil))}
	t.Cleanup(f.killAll)
	p := f.CreateProcessor()
	p.Initialize(&kcl.InitializationInput{ShardID: "shardId-000000000000", ExtendedSequenceNumber: kcl.ExtendedSequenceNumber{SequenceNumber: kcl.CheckpointTrimHorizon}})
	cp := &fakeCheckpoints{}
	var recs []kcl.Record
	for i := range 50 {
		recs = append(recs, kcl.Record{SequenceNumber: fmt.Sprint(1000 + i), PartitionKey: fmt.Sprintf("pk-%d", i), Data: []byte(fmt.Sprintf("data-%d", i)),
			ApproximateArrivalTimestamp: time.Now()})
	}
	p.ProcessRecords(&kcl.ProcessRecordsInput{ShardID: "shardId-000000000000", Records: recs, Checkpointer: cp})
	p.Shutdown(&kcl.ShutdownInput{ShardID: "shardId-000000000000", ShutdownReason: kcl.TERMINATE, Checkpointer: cp})
	stderr := processorStderr(t, logs.String())
	for i := range 50 {
		if want := fmt.Sprintf("Record (Partition Key: pk-%d, Sequence Number: %d, Subsequence Number: 0, Data Size: %d", i, 1000+i, len(recs[i].Data)); !strings.Contains(stderr, want) {
			t.Fatalf("sample did not log record %d (%q) in its stderr:\n%s", i, want, truncate(stderr, 2000))
		}
	}
	if c := strings.Join(cp.calls, " "); c != "seq=<latest>" {
		t.Errorf("checkpoints %q; want the sample's SHARD_END checkpoint only", c)
	}
}

// processorStderr is what processors wrote to stderr, from the consumer's
// JSON log: each subprocess's pieces joined in order (a processor that writes
// no newlines is logged in pieces), one subprocess after the other.
func processorStderr(t *testing.T, log string) string {
	t.Helper()
	byPID := map[int]*strings.Builder{}
	var order []int
	for _, l := range strings.Split(log, "\n") {
		var e struct {
			Msg  string `json:"msg"`
			Line string `json:"line"`
			PID  int    `json:"pid"`
		}
		if json.Unmarshal([]byte(l), &e) != nil || e.Msg != "Processor stderr" {
			continue
		}
		if byPID[e.PID] == nil {
			byPID[e.PID] = &strings.Builder{}
			order = append(order, e.PID)
		}
		byPID[e.PID].WriteString(e.Line)
	}
	var b strings.Builder
	for _, pid := range order {
		b.WriteString(byPID[pid].String())
		b.WriteByte('\n')
	}
	return b.String()
}
