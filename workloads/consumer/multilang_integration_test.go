package consumer

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kdp-io/streamprocessor-operator/workloads/kcl"
	"github.com/kdp-io/streamprocessor-operator/workloads/kpl"
)

// mlHarness runs consumer processes (this test binary as cmd/consumer) in
// MultiLang mode against the emulators.
type mlHarness struct {
	t      *testing.T
	c      clients
	stream string
	app    string
	dir    string
	env    []string // for every consumer process
}

func newMLHarness(t *testing.T, shards int32) *mlHarness {
	c := newClients(t)
	h := &mlHarness{t: t, c: c, stream: c.createStream(t, shards), dir: t.TempDir()}
	h.app = h.stream + "-app"
	t.Cleanup(func() {
		_, _ = c.db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(h.app)})
	})
	return h
}

// start starts consumer process id; its log (JSON, with the processors'
// stderr) goes to <dir>/<id>.log.
func (h *mlHarness) start(id string, env ...string) *exec.Cmd {
	h.t.Helper()
	logf, err := os.Create(filepath.Join(h.dir, id+".log"))
	if err != nil {
		h.t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(append(os.Environ(), "CONSUMER_TEST_CHILD=1", "WORKER_ID="+id, "LEASE_DURATION=2s", "SHARD_SYNC_INTERVAL=1s",
		"POLL_INTERVAL=200ms", "HTTP_ADDR=127.0.0.1:0", "CLOUDWATCH_ENABLED=false", "SHUTDOWN_TIMEOUT=15s"), h.env...), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = logf.Close()
		if h.t.Failed() { // the consumer's last words, for the failure's cause
			b, _ := os.ReadFile(logf.Name())
			var lines []string // the consumer's own entries, not its processors' output
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				if !strings.Contains(l, `"msg":"Processor stderr"`) {
					lines = append(lines, l)
				}
			}
			h.t.Logf("last lines of consumer %s's log:\n%s", id, strings.Join(lines[max(0, len(lines)-60):], "\n"))
		}
	})
	return cmd
}

// put writes records with the given partition keys and data and returns the
// shard each landed in, by data.
func (h *mlHarness) put(keys, data []string) map[string]string {
	h.t.Helper()
	shardOf := map[string]string{}
	for from := 0; from < len(data); from += 100 {
		to := min(from+100, len(data))
		var entries []ktypes.PutRecordsRequestEntry
		for i := from; i < to; i++ {
			entries = append(entries, ktypes.PutRecordsRequestEntry{PartitionKey: aws.String(keys[i]), Data: []byte(data[i])})
		}
		out, err := h.c.kin.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(h.stream), Records: entries})
		if err != nil || aws.ToInt32(out.FailedRecordCount) > 0 {
			h.t.Fatalf("put records: %v", err)
		}
		for i, r := range out.Records {
			shardOf[data[from+i]] = aws.ToString(r.ShardId)
		}
	}
	return shardOf
}

func (h *mlHarness) reshard(target int32) {
	h.t.Helper()
	if _, err := h.c.kin.UpdateShardCount(context.Background(), &kinesis.UpdateShardCountInput{StreamName: aws.String(h.stream),
		TargetShardCount: aws.Int32(target), ScalingType: ktypes.ScalingTypeUniformScaling}); err != nil {
		h.t.Fatalf("reshard to %d: %v", target, err)
	}
	h.eventually(30*time.Second, "stream ACTIVE after reshard", func() bool {
		out, err := h.c.kin.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(h.stream)})
		return err == nil && out.StreamDescriptionSummary.StreamStatus == ktypes.StreamStatusActive
	})
}

func (h *mlHarness) leases() []kcl.Lease {
	ls, err := (&kcl.LeaseStore{DB: h.c.db, Table: h.app}).List(context.Background())
	if err != nil {
		return nil
	}
	return ls
}

func (h *mlHarness) owners() map[string]int {
	m := map[string]int{}
	for _, l := range h.leases() {
		if l.Checkpoint.SequenceNumber != kcl.CheckpointShardEnd {
			m[l.Owner]++
		}
	}
	return m
}

func (h *mlHarness) eventually(d time.Duration, what string, cond func() bool) {
	h.t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out after %v waiting for %s (lease owners %v)", d, what, h.owners())
		}
	}
}

// checkLeaseTable asserts that after a graceful stop every lease is
// released, every closed shard is checkpointed at SHARD_END and every open
// one at a sequence number (the processors' shutdownRequested checkpoint).
func (h *mlHarness) checkLeaseTable(open int) {
	h.t.Helper()
	out, err := h.c.kin.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String(h.stream)})
	if err != nil {
		h.t.Fatal(err)
	}
	closed := map[string]bool{}
	for _, s := range out.Shards {
		closed[aws.ToString(s.ShardId)] = s.SequenceNumberRange.EndingSequenceNumber != nil
	}
	nOpen := 0
	for _, l := range h.leases() {
		cp := l.Checkpoint.SequenceNumber
		switch {
		case l.Owner != "":
			h.t.Errorf("lease %s still owned by %q after SIGTERM", l.Key, l.Owner)
		case closed[l.Key] && cp != kcl.CheckpointShardEnd:
			h.t.Errorf("closed shard %s checkpointed at %q; want SHARD_END", l.Key, cp)
		case !closed[l.Key] && !isDecimal(cp):
			h.t.Errorf("open shard %s checkpointed at %q; want the sequence number its processor checkpointed", l.Key, cp)
		}
		if !closed[l.Key] {
			nOpen++
		}
	}
	if nOpen != open {
		h.t.Errorf("%d leases of open shards; want %d", nOpen, open)
	}
}

// processorPIDs lists the running processes whose command line contains
// marker (a path in this test's temporary directory: only processors this
// test started).
func processorPIDs(marker string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), marker) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func (h *mlHarness) stop(cmd *exec.Cmd) {
	h.t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		h.t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		h.t.Fatalf("consumer did not exit cleanly on SIGTERM: %v", err)
	}
}

// The seed's consumer exactly as it ships — record_processor.py with its
// log directory redirected, run through the seed's own sample.properties
// with its placeholders filled — consumes a stream that is split (2→4) and
// merged (4→2) while its shards are behind, and before each reshard one of
// its processor subprocesses is killed with SIGKILL. Every record's data appears in the processor's log; for every
// partition key, no record written after a reshard is logged before the last
// log of a record written before it (parents before children, with both
// parents of a merge); SIGTERM makes each processor checkpoint (its
// shutdownRequested) and the lease table holds SHARD_END for the closed
// shards and sequence numbers for the open ones.
func TestMultiLangSeedProcessorThroughReshards(t *testing.T) {
	compat := compatDir(t)
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	h := newMLHarness(t, 2)
	src, err := os.ReadFile(filepath.Join(compat, "seed-consumer", "record_processor.py"))
	if err != nil {
		t.Fatal(err)
	}
	logDir := filepath.Join(h.dir, "app-logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	processor := filepath.Join(h.dir, "record_processor.py")
	if err := os.WriteFile(processor, []byte(strings.ReplaceAll(string(src), "/app/logs", logDir)), 0o755); err != nil {
		t.Fatal(err)
	}
	props, err := os.ReadFile(filepath.Join(compat, "seed-consumer", "sample.properties"))
	if err != nil {
		t.Fatal(err)
	}
	propsPath := filepath.Join(h.dir, "record_processor.properties")
	filled := strings.NewReplacer("= STREAM_NAME", "= "+h.stream, "= APPLICATION_NAME", "= "+h.app, "= AWS_REGION", "= us-east-1").Replace(string(props))
	if err := os.WriteFile(propsPath, []byte(filled), 0o644); err != nil {
		t.Fatal(err)
	}
	// executableName stays the seed's /usr/bin/record_processor.py; the
	// environment overrides it with the copy, as it may any key.
	h.env = []string{"PROPERTIES_FILE=" + propsPath, "PROCESSOR_COMMAND=" + processor,
		"PYTHONPATH=" + filepath.Join(compat, "amazon_kclpy")}
	consumer := h.start("seed", "MAX_RECORDS=10")

	const keys = 16
	phase := func(p, n int) []string {
		var ks, data []string
		for i := range n {
			ks = append(ks, fmt.Sprintf("key-%d", i%keys))
			data = append(data, fmt.Sprintf("seed p%d r%d key-%d", p, i, i%keys))
		}
		h.put(ks, data)
		return data
	}
	// One KPL-aggregated record per phase, under its own partition key: its
	// user records reach the processor one by one, with sub-sequence numbers.
	aggregated := func(p int) []string {
		var users []kpl.UserRecord
		var data []string
		for i := range 5 {
			d := fmt.Sprintf("seed p%d a%d aggkey", p, i)
			users = append(users, kpl.UserRecord{PartitionKey: "aggkey", Data: []byte(d)})
			data = append(data, d)
		}
		agg, err := kpl.Encode(users)
		if err != nil {
			t.Fatal(err)
		}
		h.c.put(t, h.stream, ktypes.PutRecordsRequestEntry{PartitionKey: aws.String("aggkey"), Data: agg})
		return data
	}
	logged := func() []string { return seedLogLines(t, filepath.Join(logDir, "record_processor.log")) }
	var all []string
	waitAll := func(what string) {
		h.eventually(3*time.Minute, what, func() bool {
			seen := map[string]bool{}
			for _, l := range logged() {
				seen[l] = true
			}
			for _, d := range all {
				if !seen[d] {
					return false
				}
			}
			return true
		})
	}
	// Each shard is read 10 records at a time, so a reshard finds its parents
	// still behind: a child started before its parents ended would log its
	// records among theirs. Before each reshard one processor is also killed
	// (with SIGKILL): its shard's records since the last checkpoint are
	// delivered again by a fresh subprocess, and still before the children's.
	var killed []int
	killOne := func() {
		pids := processorPIDs(processor)
		if len(pids) == 0 {
			t.Fatal("no processor subprocess found to kill")
		}
		if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		killed = append(killed, pids[0])
	}
	all = append(all, phase(1, 400)...)
	all = append(all, aggregated(1)...)
	h.eventually(time.Minute, "the first records logged", func() bool { return len(logged()) >= 40 })
	killOne()
	h.reshard(4) // split
	all = append(all, phase(2, 400)...)
	all = append(all, phase(3, 400)...)
	h.eventually(2*time.Minute, "the split's children at work", func() bool { return len(processorPIDs(processor)) >= 3 })
	killOne()
	h.reshard(2) // merge
	all = append(all, phase(4, 400)...)
	all = append(all, aggregated(4)...)
	waitAll("every record after the kills, the split and the merge")
	time.Sleep(time.Second)
	h.stop(consumer)

	lines := logged()
	epoch := map[string]int{"p1": 0, "p2": 1, "p3": 1, "p4": 2} // a reshard between epochs
	last := map[string]map[int]int{}                            // key → epoch → last line index
	first := map[string]map[int]int{}
	counts := map[string]int{}
	for i, l := range lines {
		f := strings.Fields(l) // seed pN rI key-K
		if len(f) != 4 || f[0] != "seed" {
			continue
		}
		counts[l]++
		e := epoch[f[1]]
		if last[f[3]] == nil {
			last[f[3]], first[f[3]] = map[int]int{}, map[int]int{}
		}
		last[f[3]][e] = i
		if _, ok := first[f[3]][e]; !ok {
			first[f[3]][e] = i
		}
	}
	for k := range last {
		for e := 0; e < 2; e++ {
			if f, ok := first[k][e+1]; ok && last[k][e] > f {
				t.Errorf("%s: a record of epoch %d logged at line %d, after the first record of epoch %d (line %d): child before parent", k, e, last[k][e], e+1, f)
			}
		}
	}
	dups := 0
	for _, d := range all {
		if counts[d] == 0 {
			t.Errorf("record %q never logged", d)
		}
		dups += max(counts[d]-1, 0)
	}
	h.checkLeaseTable(2)
	if dups == 0 {
		t.Error("no record was delivered twice: the processor kills did not happen mid-shard")
	}
	t.Logf("%d records, %d log lines, %d redelivered (processors killed: pids %v)", len(all), len(lines), dups, killed)
}

// seedLogLines returns the messages of record_processor.py's log, in order:
// "HH:MM:SS.mmm [record_processor] INFO  process_record - <data>".
func seedLogLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if _, msg, ok := strings.Cut(sc.Text(), " process_record - "); ok {
			out = append(out, msg)
		}
	}
	return out
}

var sampleRecord = regexp.MustCompile(`Record \(Partition Key: (\S+), Sequence Number: (\d+), Subsequence Number: (\d+), Data Size: (\d+)`)

// amazon_kclpy's sample processor, unmodified, in two consumer processes:
// the stream is split (2→4), one consumer is killed with SIGKILL (its
// processors die with it), the survivor takes every lease and the stream is
// merged (4→2) while records keep coming. Every record is logged by a
// sample processor at least once, and SIGTERM leaves the checkpoints in the
// lease table.
func TestMultiLangKCLPySampleTwoConsumersKillAndReshard(t *testing.T) {
	compat := compatDir(t)
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	h := newMLHarness(t, 2)
	// The sample writes to stderr without newlines; unbuffered, its text
	// reaches the consumer's log as it writes it.
	h.env = []string{"PROCESSOR_COMMAND=" + python + " " + filepath.Join(compat, "amazon_kclpy", "samples", "sample_kclpy_app.py"),
		"PYTHONPATH=" + filepath.Join(compat, "amazon_kclpy"), "PYTHONUNBUFFERED=1", "APPLICATION_NAME=" + h.app, "STREAM_NAME=" + h.stream}
	a, b := h.start("a"), h.start("b")

	stop, stopped := make(chan struct{}), make(chan []string)
	go func() {
		var written []string
		for n := 0; ; n += 20 {
			select {
			case <-stop:
				stopped <- written
				return
			case <-time.After(100 * time.Millisecond):
			}
			var ks []string
			var data []string
			for i := n; i < n+20; i++ {
				ks = append(ks, fmt.Sprintf("pk-%d", i))
				data = append(data, fmt.Sprintf("record-%d", i))
			}
			var entries []ktypes.PutRecordsRequestEntry
			for i := range ks {
				entries = append(entries, ktypes.PutRecordsRequestEntry{PartitionKey: aws.String(ks[i]), Data: []byte(data[i])})
			}
			out, err := h.c.kin.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(h.stream), Records: entries})
			if err != nil || aws.ToInt32(out.FailedRecordCount) > 0 {
				n -= 20 // write the same keys again
				continue
			}
			written = append(written, ks...)
		}
	}()
	h.eventually(90*time.Second, "a 1/1 split of the leases", func() bool { o := h.owners(); return o["a"] == 1 && o["b"] == 1 })
	h.reshard(4)
	h.eventually(90*time.Second, "4 open leases held", func() bool { o := h.owners(); return o["a"]+o["b"] == 4 })
	time.Sleep(2 * time.Second) // a works on its child shards, checkpointing nothing yet
	if err := a.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = a.Wait()
	h.eventually(90*time.Second, "b to hold every open lease", func() bool { return h.owners()["b"] == 4 })
	h.reshard(2)
	h.eventually(90*time.Second, "b to hold the merged shards", func() bool { return h.owners()["b"] == 2 })
	time.Sleep(time.Second)
	close(stop)
	written := <-stopped

	seen, byConsumer := map[string]int{}, map[string]int{}
	collect := func() {
		seen, byConsumer = map[string]int{}, map[string]int{}
		for _, id := range []string{"a", "b"} {
			b, _ := os.ReadFile(filepath.Join(h.dir, id+".log"))
			text := processorStderr(t, string(b))
			for _, m := range sampleRecord.FindAllStringSubmatch(text, -1) {
				seen[m[1]]++
				byConsumer[id]++
			}
		}
	}
	h.eventually(3*time.Minute, "every record logged by a sample processor", func() bool {
		collect()
		for _, k := range written {
			if seen[k] == 0 {
				return false
			}
		}
		return true
	})
	h.stop(b)
	collect()
	dups := 0
	for _, k := range written {
		dups += seen[k] - 1
	}
	if byConsumer["a"] == 0 || byConsumer["b"] == 0 {
		t.Errorf("records logged per consumer %v; want both to have processed records", byConsumer)
	}
	h.checkLeaseTable(2)
	t.Logf("%d records, %d logged more than once (consumer a killed with SIGKILL); logged by consumer %v", len(written), dups, byConsumer)
}

// A processor that never answers — a batch, or shutdownRequested — does not
// keep the consumer from stopping: when the graceful budget after SIGTERM is
// spent it is killed and Run returns; nothing is checkpointed that the
// processor did not ask for.
func TestMultiLangHungProcessorDoesNotBlockStop(t *testing.T) {
	for _, mode := range []string{"hang", "hang-on-shutdown"} {
		t.Run(mode, func(t *testing.T) { testHungProcessorStop(t, mode) })
	}
}

func testHungProcessorStop(t *testing.T, mode string) {
	c := newClients(t)
	stream := c.createStream(t, 1)
	t.Cleanup(func() {
		_, _ = c.db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(stream + "-app")})
	})
	c.put(t, stream, ktypes.PutRecordsRequestEntry{PartitionKey: aws.String("k"), Data: []byte("stuck")})
	logPath := filepath.Join(t.TempDir(), "received.jsonl")
	t.Setenv("MULTILANG_FAKE", mode) // the processor subprocess inherits the environment
	t.Setenv("MULTILANG_FAKE_LOG", logPath)
	cfg := testConfig(stream)
	cfg.CloudWatchEnabled = false
	cfg.ShutdownTimeout = 2 * time.Second
	cfg.ProcessorCommand = []string{os.Args[0], "-test.run=^$"}
	svc, err := New(cfg, Deps{Kinesis: c.kin, DynamoDB: c.db, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(logPath)
		if strings.Contains(string(b), `"processRecords"`) && (mode == "hang" || strings.Contains(string(b), `"checkpoint"`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the processor never received its batch")
		}
		time.Sleep(100 * time.Millisecond)
	}
	stopped := time.Now()
	cancel()
	select {
	case <-done:
		t.Logf("Run returned %v after SIGTERM", time.Since(stopped).Round(time.Millisecond))
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return 15 s after SIGTERM with a hung processor (shutdown budget 2 s)")
	}
	leases, err := (&kcl.LeaseStore{DB: c.db, Table: stream + "-app"}).List(context.Background())
	if err != nil || len(leases) != 1 {
		t.Fatalf("leases %v %v", leases, err)
	}
	want := kcl.CheckpointTrimHorizon // the batch was never answered
	if mode == "hang-on-shutdown" {
		want = "a sequence number" // what the processor checkpointed in its batch
	}
	if cp := leases[0].Checkpoint.SequenceNumber; (mode == "hang" && cp != want) || (mode != "hang" && !isDecimal(cp)) {
		t.Errorf("checkpoint %q; want %s", cp, want)
	}
}
