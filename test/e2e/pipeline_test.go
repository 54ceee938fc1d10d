package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/controllers"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/ecstask"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
)

// Shape of the test's pipeline and traffic.
const (
	shards         = 2
	consumerTasks  = 2
	seedRecords    = 60 // POST / one at a time, the seed's request
	arrayRecords   = 100
	keyedRecords   = 40 // NDJSON batch, keyedPartitions keys, order checked per key
	keyedPartition = 4
	totalRecords   = seedRecords + arrayRecords + keyedRecords
	consumeTimeout = 60 * time.Second
	// producerLinger is set through spec.producer.env, to see spec env reach
	// the process.
	producerLinger = "20ms"
)

// ack is what the producer answered for one record (POST / or one result of
// POST /records).
type ack struct {
	Status         string `json:"status"`
	PartitionKey   string `json:"partitionKey"`
	ShardID        string `json:"shardId"`
	SequenceNumber string `json:"sequenceNumber"`
	Error          string `json:"error"`
}

// outputLine is one JSON line the consumer writes per user record.
type outputLine struct {
	ShardID           string `json:"shardId"`
	SequenceNumber    string `json:"sequenceNumber"`
	SubSequenceNumber int64  `json:"subSequenceNumber"`
	PartitionKey      string `json:"partitionKey"`
	Data              string `json:"data"`
	Base64            bool   `json:"base64"`
}

// sent is one record the test sent and what the producer answered.
type sent struct {
	payload string
	key     string // the caller's partition key, "" for a generated one
	index   int    // position among the records of key
	ack     ack
}

var (
	shardIDPattern  = regexp.MustCompile(`^shardId-[0-9]{12}$`)
	sequencePattern = regexp.MustCompile(`^[0-9]{1,128}$`)
)

// TestPipelineEndToEnd creates a StreamProcessor, runs the producer and two
// consumers as ECS would run its task definitions, sends records over HTTP,
// checks every record comes out of the consumers where the producer said it
// went, stops the workloads as ECS stops tasks, and deletes the
// StreamProcessor with everything it owns.
func TestPipelineEndToEnd(t *testing.T) {
	requireSuite(t)
	g := NewWithT(t)
	began := time.Now()
	work := t.TempDir()
	binDir := filepath.Join(work, "bin")
	if err := os.Mkdir(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	built := buildWorkloads(binDir)
	startOperator(t)

	// 3. A StreamProcessor with two shards; wait for Ready.
	sp := newStreamProcessor(t, newNamespace(t))
	if err := suite.k8s.Create(context.Background(), sp); err != nil {
		t.Fatalf("create StreamProcessor: %v", err)
	}
	t.Cleanup(func() { deleteStreamIfPresent(t, sp.Spec.Stream.Name) }) // runs last: after the operator's finalizer had its chance
	t.Cleanup(func() { deleteIfPresent(t, sp) })
	ready := waitReady(t, sp, 60*time.Second)
	stream := ready.Status.Stream.Name
	t.Logf("StreamProcessor %s/%s Ready after %s: stream %s, producer %s, consumer %s", sp.Namespace, sp.Name,
		time.Since(began).Round(time.Millisecond), stream, ready.Status.Producer.Tasks, ready.Status.Consumer.Tasks)
	g.Expect(stream).To(Equal(sp.Spec.Stream.Name), "status.stream.name")
	summary, err := suite.kinesis.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
	g.Expect(err).NotTo(HaveOccurred(), "describe stream %s", stream)
	g.Expect(aws.ToInt32(summary.StreamDescriptionSummary.OpenShardCount)).To(BeEquivalentTo(shards), "open shards of %s", stream)

	// 4. The task definitions, as ECS would read them.
	prodTask := lookupTask(t, ready.Status.Producer.ServiceARN)
	consTask := lookupTask(t, ready.Status.Consumer.ServiceARN)
	checkTaskEnv(t, prodTask, consTask, stream)
	t.Cleanup(func() { deleteLeaseTable(t, consTask.Env["APPLICATION_NAME"]) })

	producerBin, consumerBin, err := built()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Built the workloads; %s since start", time.Since(began).Round(time.Millisecond))
	hc := &http.Client{Timeout: 20 * time.Second}
	host := os.Environ()

	prodPort := freePort(t)
	producerURL := fmt.Sprintf("http://127.0.0.1:%d", prodPort)
	// ECS gives each awsvpc task its own network namespace; one host gives each
	// process a port of its own instead.
	prod := startProcess(t, work, "producer", producerBin, prodTask.Environ(host, map[string]string{"PORT": strconv.Itoa(prodPort)}))
	type consumerProc struct {
		*process
		url, output string
	}
	var consumers []consumerProc
	for i := range int(consTask.DesiredCount) {
		port := freePort(t)
		c := consumerProc{url: fmt.Sprintf("http://127.0.0.1:%d", port), output: filepath.Join(work, fmt.Sprintf("consumer-%d.jsonl", i))}
		c.process = startProcess(t, work, fmt.Sprintf("consumer-%d", i), consumerBin, consTask.Environ(host, map[string]string{
			"HTTP_ADDR": fmt.Sprintf("127.0.0.1:%d", port),
			"OUTPUT":    c.output,
			// Leases renewed every 2 s, so the second worker's steal (the
			// balance of two tasks on two shards) comes within seconds.
			"LEASE_DURATION": "6s",
		}))
		consumers = append(consumers, c)
	}
	if err := prod.waitReady(hc, producerURL, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, c := range consumers {
		if err := c.waitReady(hc, c.url, 30*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	// Two tasks on two shards settle at one lease each (docs/consumer.md).
	g.Eventually(func() ([]float64, error) {
		var held []float64
		for _, c := range consumers {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			n, err := gauge(ctx, hc, c.url, "streamprocessor_consumer_leases_held")
			cancel()
			if err != nil {
				return nil, err
			}
			held = append(held, n)
		}
		return held, nil
	}, 30*time.Second, 250*time.Millisecond).Should(Equal([]float64{1, 1}), "leases held by the two consumers")
	t.Logf("Workloads ready, one lease per consumer; %s since start", time.Since(began).Round(time.Millisecond))

	// 5. Records over HTTP.
	sendStart := time.Now()
	records := sendRecords(t, hc, producerURL, stream)
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("Sent %d records in %s", len(records), time.Since(sendStart).Round(time.Millisecond))

	// 6. Every payload out of the consumers.
	outputs := make([]string, len(consumers))
	for i, c := range consumers {
		outputs[i] = c.output
	}
	waitStart := time.Now()
	var missing []string
	for deadline := time.Now().Add(consumeTimeout); ; {
		lines, err := readOutputs(outputs)
		if err != nil {
			t.Fatal(err)
		}
		missing = missingPayloads(records, lines)
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d payloads not in the consumers' output after %s, e.g. %q", len(missing), len(records), consumeTimeout, missing[:min(5, len(missing))])
	} else {
		t.Logf("All %d payloads in the consumers' output %s after the last answer", len(records), time.Since(waitStart).Round(time.Millisecond))
	}

	// 7. Stop the tasks as ECS does: SIGTERM, SIGKILL after the stop timeout.
	stopTask(t, prod, prodTask.StopTimeout)
	var wg sync.WaitGroup
	for _, c := range consumers {
		wg.Go(func() { stopTask(t, c.process, consTask.StopTimeout) })
	}
	wg.Wait()

	// Everything written, after a graceful stop flushed the outputs.
	lines, err := readOutputs(outputs)
	if err != nil {
		t.Fatal(err)
	}
	checkOutput(t, records, lines, len(consumers))

	deleteAndCheck(t, sp, stream, []string{prodTask.Service, consTask.Service})
	t.Logf("Done in %s", time.Since(began).Round(time.Millisecond))
}

// newNamespace creates a namespace of its own for a test.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-"}}
	if err := suite.k8s.Create(context.Background(), ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	return ns.Name
}

// newStreamProcessor is the test's pipeline in the emulated account: two
// shards deleted with the object, one producer task, two consumer tasks.
func newStreamProcessor(t *testing.T, ns string) *streamingv1alpha1.StreamProcessor {
	a := suite.account
	return &streamingv1alpha1.StreamProcessor{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pipeline"},
		Spec: streamingv1alpha1.StreamProcessorSpec{
			Stream: streamingv1alpha1.StreamSpec{
				Name:      testenv.UniqueName("e2e"),
				MinShards: shards, MaxShards: shards,
				DeletionPolicy: streamingv1alpha1.DeletionPolicyDelete,
			},
			ECS: streamingv1alpha1.ECSSpec{
				Cluster: a.Cluster, Subnets: a.SubnetIDs, SecurityGroups: a.SecurityGroupIDs,
				ExecutionRoleARN: a.ExecutionRoleARN, TaskRoleARN: a.TaskRoleARN,
			},
			Producer: streamingv1alpha1.ProducerSpec{
				WorkloadSpec: streamingv1alpha1.WorkloadSpec{
					Image: "example.com/streamprocessor-producer:e2e", CPU: 256, Memory: 512, MinTasks: 1, MaxTasks: 1,
					Env: []streamingv1alpha1.EnvVar{{Name: "LINGER", Value: producerLinger}},
				},
				TargetGroupARN: a.TargetGroupARN,
			},
			Consumer: streamingv1alpha1.ConsumerSpec{
				WorkloadSpec: streamingv1alpha1.WorkloadSpec{
					Image: "example.com/streamprocessor-consumer:e2e", CPU: 256, Memory: 512, MinTasks: consumerTasks, MaxTasks: consumerTasks,
				},
			},
			Scaling: streamingv1alpha1.ScalingSpec{IntervalSeconds: 10},
		},
	}
}

// waitReady waits until sp is Ready for its current generation.
func waitReady(t *testing.T, sp *streamingv1alpha1.StreamProcessor, timeout time.Duration) *streamingv1alpha1.StreamProcessor {
	t.Helper()
	got := &streamingv1alpha1.StreamProcessor{}
	NewWithT(t).Eventually(func(g Gomega) {
		g.Expect(suite.k8s.Get(context.Background(), client.ObjectKeyFromObject(sp), got)).To(Succeed())
		g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation), "observedGeneration")
		g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, controllers.ConditionReady)).To(BeTrue(), "Ready: %+v", got.Status.Conditions)
	}, timeout, 200*time.Millisecond).Should(Succeed())
	return got
}

// lookupTask reads a service's task definition from the ECS emulator, as the
// ECS agent would before starting a task.
func lookupTask(t *testing.T, serviceARN string) ecstask.Task {
	t.Helper()
	if serviceARN == "" {
		t.Fatal("status has no service ARN")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	task, err := ecstask.Lookup(ctx, suite.ecs, suite.account.Cluster, serviceARN)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Task definition %s, container %s, %d desired, stop timeout %s, env %v", task.TaskDefinitionARN, task.Container, task.DesiredCount, task.StopTimeout, task.Env)
	return task
}

// checkTaskEnv checks what the operator put in the task definitions that the
// processes are about to run with; running them checks it is enough.
func checkTaskEnv(t *testing.T, prod, cons ecstask.Task, stream string) {
	t.Helper()
	region := suite.aws.Region
	want := func(task ecstask.Task, key, value string) {
		if got, ok := task.Env[key]; !ok || got != value {
			t.Errorf("task definition %s: %s=%q (set: %t), want %q", task.TaskDefinitionARN, key, got, ok, value)
		}
	}
	want(prod, "STREAM_NAME", stream)
	want(prod, "AWS_REGION", region)
	want(prod, "PORT", "8080")
	want(prod, "LINGER", producerLinger)
	if !slices.Equal(prod.Ports, []int32{8080}) {
		t.Errorf("producer container ports %v, want [8080] (the PORT it listens on)", prod.Ports)
	}
	want(cons, "STREAM_NAME", stream)
	want(cons, "AWS_REGION", region)
	if cons.Env["APPLICATION_NAME"] == "" {
		t.Errorf("consumer task definition %s has no APPLICATION_NAME", cons.TaskDefinitionARN)
	}
	if cons.DesiredCount != consumerTasks {
		t.Errorf("consumer service wants %d tasks, want %d", cons.DesiredCount, consumerTasks)
	}
	if prod.DesiredCount != 1 {
		t.Errorf("producer service wants %d tasks, want 1", prod.DesiredCount)
	}
	if t.Failed() {
		t.FailNow()
	}
}

// sendRecords posts totalRecords unique payloads to the producer: seedRecords
// with the seed's request (POST /, {"data": …}, a few at a time), a JSON
// array batch and an NDJSON batch with caller partition keys on /records.
// Every answer must be 200 with a result per record.
func sendRecords(t *testing.T, hc *http.Client, base, run string) []sent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := make([]sent, 0, totalRecords)

	seed := make([]sent, seedRecords)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 6)
	for i := range seed {
		seed[i].payload = fmt.Sprintf("%s seed #%03d: This is a load testing record, ünïcödé ✓", run, i)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			body, _ := json.Marshal(map[string]string{"data": seed[i].payload})
			code, resp, err := httpPost(ctx, hc, base, "application/json", body)
			switch {
			case err != nil:
				t.Errorf("record %d: %v", i, err)
			case code != http.StatusOK:
				t.Errorf("POST / record %d: status %d, want 200: %s", i, code, resp)
			default:
				if err := json.Unmarshal(resp, &seed[i].ack); err != nil {
					t.Errorf("POST / record %d: answer %s: %v", i, resp, err)
				}
			}
		})
	}
	wg.Wait()
	out = append(out, seed...)

	array := make([]sent, arrayRecords)
	docs := make([]map[string]string, arrayRecords)
	for i := range array {
		array[i].payload = fmt.Sprintf("%s array #%03d", run, i)
		docs[i] = map[string]string{"data": array[i].payload}
	}
	body, _ := json.Marshal(docs)
	postBatch(ctx, t, hc, base, "application/json", body, array)
	out = append(out, array...)

	keyed := make([]sent, keyedRecords)
	var nd bytes.Buffer
	for i := range keyed {
		keyed[i].key = fmt.Sprintf("%s-key-%d", run, i%keyedPartition)
		keyed[i].index = i / keyedPartition
		keyed[i].payload = fmt.Sprintf("%s keyed %s #%02d", run, keyed[i].key, keyed[i].index)
		line, _ := json.Marshal(map[string]string{"data": keyed[i].payload, "partitionKey": keyed[i].key})
		nd.Write(append(line, '\n'))
	}
	postBatch(ctx, t, hc, base, "application/x-ndjson", nd.Bytes(), keyed)
	out = append(out, keyed...)

	for _, s := range out {
		a := s.ack
		if a.Status != "ok" || !shardIDPattern.MatchString(a.ShardID) || !sequencePattern.MatchString(a.SequenceNumber) || a.PartitionKey == "" {
			t.Errorf("answer for %q: %+v, want status ok with partitionKey, shardId and sequenceNumber", s.payload, a)
		} else if s.key != "" && a.PartitionKey != s.key {
			t.Errorf("answer for %q: partitionKey %q, want %q", s.payload, a.PartitionKey, s.key)
		}
	}
	return out
}

// postBatch posts one /records request for recs and stores each result.
func postBatch(ctx context.Context, t *testing.T, hc *http.Client, base, contentType string, body []byte, recs []sent) {
	t.Helper()
	code, resp, err := httpPost(ctx, hc, base+"/records", contentType, body)
	if err != nil {
		t.Errorf("POST /records (%s): %v", contentType, err)
		return
	}
	if code != http.StatusOK {
		t.Errorf("POST /records (%s): status %d, want 200: %s", contentType, code, resp)
		return
	}
	var answer struct {
		Accepted int   `json:"accepted"`
		Rejected int   `json:"rejected"`
		Results  []ack `json:"results"`
	}
	if err := json.Unmarshal(resp, &answer); err != nil {
		t.Errorf("POST /records (%s): answer %s: %v", contentType, resp, err)
		return
	}
	if answer.Accepted != len(recs) || answer.Rejected != 0 || len(answer.Results) != len(recs) {
		t.Errorf("POST /records (%s): accepted %d, rejected %d, %d results; want %d, 0, %d", contentType, answer.Accepted, answer.Rejected, len(answer.Results), len(recs), len(recs))
		return
	}
	for i := range recs {
		recs[i].ack = answer.Results[i]
	}
}

// line is one complete line of a consumer's output.
type line struct {
	consumer int
	text     string
	parsed   outputLine
	err      error
}

// readOutputs reads the complete lines of every output file (a file not yet
// created has none; a last line without its newline is still being written).
func readOutputs(paths []string) ([]line, error) {
	var out []line
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read consumer output: %w", err)
		}
		if end := bytes.LastIndexByte(b, '\n'); end >= 0 {
			b = b[:end+1]
		} else {
			b = nil
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
		for sc.Scan() {
			l := line{consumer: i, text: sc.Text()}
			l.err = json.Unmarshal(sc.Bytes(), &l.parsed)
			out = append(out, l)
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("scan %s: %w", p, err)
		}
	}
	return out, nil
}

// missingPayloads lists the payloads of recs not in lines.
func missingPayloads(recs []sent, lines []line) []string {
	seen := make(map[string]bool, len(lines))
	for _, l := range lines {
		if l.err == nil {
			seen[l.parsed.Data] = true
		}
	}
	var missing []string
	for _, r := range recs {
		if !seen[r.payload] {
			missing = append(missing, r.payload)
		}
	}
	return missing
}

// checkOutput checks the consumers' output against what was sent: every line
// a well-formed record of this run, every payload there (duplicates counted
// and reported), each where the producer's answer said it was stored, records
// of one key in the order sent, and work on every consumer.
func checkOutput(t *testing.T, recs []sent, lines []line, consumers int) {
	t.Helper()
	bySent := make(map[string]*sent, len(recs))
	for i := range recs {
		bySent[recs[i].payload] = &recs[i]
	}
	count := map[string]int{}
	perConsumer := make([]int, consumers)
	var bad []string
	report := func(format string, args ...any) {
		if len(bad) < 10 {
			bad = append(bad, fmt.Sprintf(format, args...))
		} else if len(bad) == 10 {
			bad = append(bad, "…")
		}
	}
	// Where each keyed record was stored, for the order check.
	type position struct {
		index  int
		seq    *big.Int
		subSeq int64
	}
	byKey := map[string][]position{}
	for _, l := range lines {
		o := l.parsed
		switch {
		case l.err != nil:
			report("consumer-%d: line %q: %v", l.consumer, l.text, l.err)
			continue
		case !shardIDPattern.MatchString(o.ShardID) || !sequencePattern.MatchString(o.SequenceNumber) || o.PartitionKey == "" || o.SubSequenceNumber < 0:
			report("consumer-%d: line %q lacks shardId, sequenceNumber or partitionKey", l.consumer, l.text)
			continue
		case o.Base64:
			report("consumer-%d: line %q: UTF-8 payload written as base64", l.consumer, l.text)
			continue
		}
		s, ok := bySent[o.Data]
		if !ok {
			report("consumer-%d: payload %q was never sent", l.consumer, o.Data)
			continue
		}
		count[o.Data]++
		perConsumer[l.consumer]++
		if o.ShardID != s.ack.ShardID || o.SequenceNumber != s.ack.SequenceNumber || o.PartitionKey != s.ack.PartitionKey {
			report("payload %q read as (%s, %s, key %q), producer answered (%s, %s, key %q)", o.Data,
				o.ShardID, o.SequenceNumber, o.PartitionKey, s.ack.ShardID, s.ack.SequenceNumber, s.ack.PartitionKey)
		}
		if s.key != "" && count[o.Data] == 1 {
			seq, _ := new(big.Int).SetString(o.SequenceNumber, 10)
			byKey[s.key] = append(byKey[s.key], position{s.index, seq, o.SubSequenceNumber})
		}
	}
	for _, b := range bad {
		t.Error(b)
	}
	var missing []string
	duplicates, duplicated := 0, 0
	for _, r := range recs {
		switch n := count[r.payload]; {
		case n == 0:
			missing = append(missing, r.payload)
		case n > 1:
			duplicates += n - 1
			duplicated++
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d records never processed, e.g. %q", len(missing), len(recs), missing[:min(5, len(missing))])
	}
	t.Logf("Consumers wrote %d lines for %d records: %d duplicate lines of %d records; per consumer %v", len(lines), len(recs), duplicates, duplicated, perConsumer)
	for i, n := range perConsumer {
		if n == 0 {
			t.Errorf("consumer-%d processed no record: two tasks on two shards should share the work", i)
		}
	}
	for key, pos := range byKey {
		slices.SortFunc(pos, func(a, b position) int {
			if c := a.seq.Cmp(b.seq); c != 0 {
				return c
			}
			return int(a.subSeq - b.subSeq)
		})
		for i := 1; i < len(pos); i++ {
			if pos[i].index < pos[i-1].index {
				t.Errorf("key %s: record #%d stored after #%d, sent before it", key, pos[i].index, pos[i-1].index)
			}
		}
	}
}

// stopTask stops p as ECS stops a task and checks it exits 0 in time.
func stopTask(t *testing.T, p *process, stopTimeout time.Duration) {
	t.Helper()
	code, took, err := p.terminate(stopTimeout)
	switch {
	case err != nil:
		t.Errorf("stop %s: %v\n%s", p.name, err, p.tail(20))
	case code != 0:
		t.Errorf("%s exited with code %d after SIGTERM, want 0:\n%s", p.name, code, p.tail(20))
	default:
		t.Logf("%s exited 0, %s after SIGTERM (stop timeout %s)", p.name, took.Round(time.Millisecond), stopTimeout)
	}
}

// deleteAndCheck deletes sp and checks the finalizer removed what it owns:
// the stream (deletionPolicy Delete) and both ECS services.
func deleteAndCheck(t *testing.T, sp *streamingv1alpha1.StreamProcessor, stream string, services []string) {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	start := time.Now()
	g.Expect(suite.k8s.Delete(ctx, sp)).To(Succeed(), "delete StreamProcessor")
	g.Eventually(func() error {
		return suite.k8s.Get(ctx, client.ObjectKeyFromObject(sp), &streamingv1alpha1.StreamProcessor{})
	}, 60*time.Second, 200*time.Millisecond).Should(Satisfy(apierrors.IsNotFound), "StreamProcessor still exists")
	t.Logf("StreamProcessor gone %s after delete", time.Since(start).Round(time.Millisecond))
	g.Eventually(func() error {
		out, err := suite.kinesis.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
		if _, gone := errors.AsType[*ktypes.ResourceNotFoundException](err); gone {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("stream %s is %s", stream, out.StreamDescriptionSummary.StreamStatus)
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed(), "DescribeStreamSummary should say ResourceNotFound after the delete")
	out, err := suite.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(suite.account.Cluster), Services: services})
	g.Expect(err).NotTo(HaveOccurred(), "describe services")
	for _, s := range out.Services {
		g.Expect(aws.ToString(s.Status)).NotTo(Equal("ACTIVE"), "service %s after delete", aws.ToString(s.ServiceName))
		t.Logf("Service %s: %s, desired %d", aws.ToString(s.ServiceName), aws.ToString(s.Status), s.DesiredCount)
	}
	for _, f := range out.Failures {
		t.Logf("Service %s: %s", aws.ToString(f.Arn), aws.ToString(f.Reason))
	}
}

// deleteIfPresent deletes sp at the end of a failed test and waits a little
// for the finalizer, so the emulators do not keep its stream and services.
func deleteIfPresent(t *testing.T, sp *streamingv1alpha1.StreamProcessor) {
	ctx := context.Background()
	if err := suite.k8s.Delete(ctx, sp); err != nil {
		if !apierrors.IsNotFound(err) {
			t.Logf("Cleanup: delete StreamProcessor: %v", err)
		}
		return
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if err := suite.k8s.Get(ctx, client.ObjectKeyFromObject(sp), &streamingv1alpha1.StreamProcessor{}); apierrors.IsNotFound(err) {
			return
		}
	}
	t.Logf("Cleanup: StreamProcessor %s/%s not gone after 30 s", sp.Namespace, sp.Name)
}

// deleteStreamIfPresent deletes a stream the finalizer left behind (a test
// that failed before or at deletion), so the emulator does not keep it.
func deleteStreamIfPresent(t *testing.T, stream string) {
	_, err := suite.kinesis.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: aws.String(stream), EnforceConsumerDeletion: aws.Bool(true)})
	if err == nil {
		t.Logf("Cleanup: deleted stream %s, which was left behind", stream)
	} else if _, gone := errors.AsType[*ktypes.ResourceNotFoundException](err); !gone {
		t.Logf("Cleanup: delete stream %s: %v", stream, err)
	}
}

// deleteLeaseTable removes the consumers' lease table: nothing else owns it
// (the operator does not), and every run makes a new one.
func deleteLeaseTable(t *testing.T, table string) {
	if table == "" {
		return
	}
	_, err := suite.dynamodb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	if _, gone := errors.AsType[*dtypes.ResourceNotFoundException](err); err != nil && !gone {
		t.Logf("Cleanup: delete lease table %s: %v", table, err)
	}
}
