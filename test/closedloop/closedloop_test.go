// Package closedloop tests the product's main job end to end, with every part
// real and nothing published by hand: the operator on a real API server, the
// local data plane (metered Kinesis with AWS's per-shard limits in front of
// kinesis-local, local Fargate running the producer and consumer binaries as
// processes, the local ALB), and load over HTTP. Load at a few times one
// shard's write limit must show in the metrics the meter publishes, make the
// operator reshard and add consumer tasks (processes really started), lose no
// record acknowledged with 200, and once the load stops the counts must come
// back down.
//
//	source .local/emulators.env
//	SP_REQUIRE_EMULATORS=1 KUBEBUILDER_ASSETS=$(hack/control-plane.sh) go test ./test/closedloop/ -count=1 -v
package closedloop

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/dataplane"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/fargate"
	"github.com/kdp-io/streamprocessor-operator/internal/loadgen"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv/operator"
	testplane "github.com/kdp-io/streamprocessor-operator/internal/testenv/plane"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv/stack"
)

const repoRoot = "../.."

// The load and the deadlines. The deadlines are generous bounds for a loaded
// 2-core machine, not performance claims.
//
// kinesis-local carries about 1 MiB/s in all on a busy 2-core machine, so the
// StreamProcessor aims at 25 % of a shard's write limit: the loop's mechanics
// are what is tested, not AWS-sized throughput. Small records make the
// consumers' work per byte (and so their CPU) show at that rate.
const (
	loadMiBps       = 3 // offered: about 3x one shard's 1 MiB/s
	recordBytes     = 100
	batch           = 500
	scaleUpDeadline = 7 * time.Minute
	drainDeadline   = 4 * time.Minute
	// Scale-down needs complete CloudWatch minutes (3 min late in the policy)
	// plus the shortened window, reshard calls and task stops.
	scaleDownDeadline = 10 * time.Minute
)

var suite struct {
	skip  string
	stack *stack.Stack
}

func TestMain(m *testing.M) {
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true)))
	// No Fargate stand-in from the stack: local Fargate runs the tasks.
	os.Exit(stack.RunWithoutScheduler(m, repoRoot, "loop", func(st *stack.Stack, skip string) {
		suite.stack, suite.skip = st, skip
		if st != nil {
			removeLeftoverServices(st)
		}
	}, testenv.Kinesis, testenv.ECS, testenv.EC2, testenv.DynamoDB, testenv.CloudWatch))
}

// TestLoadScalesThePipelineAndLosesNothing is the closed loop: load → meter
// throttles and publishes → operator reshards and raises consumers → local
// Fargate starts them → every acknowledged record is processed → load stops →
// shards and consumers go back down.
func TestLoadScalesThePipelineAndLosesNothing(t *testing.T) {
	stack.Require(t, suite.skip)
	plane := startDataPlane(t)
	// The operator reaches Kinesis through the meter and ECS through local
	// Fargate, exactly as with AWS: by the SDK's endpoint variables.
	t.Setenv("AWS_ENDPOINT_URL_KINESIS", plane.MeterURL)
	t.Setenv("AWS_ENDPOINT_URL_ECS", plane.ECSURL)
	operator.Start(t, suite.stack.Config, suite.stack.Scheme, operator.Options{PollInterval: time.Second, MetricsMaxAge: time.Second})

	k8s := suite.stack.Client
	sp := newStreamProcessor(t)
	if err := k8s.Create(context.Background(), sp); err != nil {
		t.Fatalf("create StreamProcessor: %v", err)
	}
	t.Cleanup(func() { deleteAndWait(t, sp, plane.Supervisor) })
	ready := waitFor(t, sp, 3*time.Minute, "Ready", func(s *streamingv1alpha1.StreamProcessor) bool {
		c := meta.FindStatusCondition(s.Status.Conditions, "Ready")
		return c != nil && c.Status == metav1.ConditionTrue
	})
	consumerService := serviceName(ready.Status.Consumer.ServiceARN)
	t.Logf("Ready: stream %s with %d shard; producer %s, consumer %s", ready.Status.Stream.Name,
		ready.Status.Stream.OpenShards, ready.Status.Producer.Tasks, ready.Status.Consumer.Tasks)
	if got := running(plane.Supervisor, consumerService); got != 1 {
		t.Fatalf("%d consumer processes running at Ready, want 1", got)
	}
	url := testplane.ProducerURL(t, plane, sp.Spec.Producer.TargetGroupARN)

	// Load until the operator has resharded and more consumer processes run.
	acked := &ackBook{ids: map[string]bool{}}
	loadCtx, stopLoad := context.WithCancel(context.Background())
	var summary loadgen.Summary
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		summary, _ = loadgen.Run(loadCtx, loadgen.Options{
			URL: url, Batch: batch, RecordBytes: recordBytes, Concurrency: 256, RunID: "loop",
			Schedule: loadgen.Fixed(loadMiBps * (1 << 20) / recordBytes), Duration: scaleUpDeadline,
			OnResult: acked.record,
		})
	}()
	peak := waitFor(t, sp, scaleUpDeadline, "a reshard and more consumer tasks running", func(s *streamingv1alpha1.StreamProcessor) bool {
		return len(s.Status.Stream.Reshards) >= 1 && s.Status.Stream.OpenShards > 1 && running(plane.Supervisor, consumerService) > 1
	})
	stopLoad()
	<-loadDone
	t.Logf("Scaled up: %d shards after %d reshard call(s), %d consumer processes; reason: %s",
		peak.Status.Stream.OpenShards, len(peak.Status.Stream.Reshards), running(plane.Supervisor, consumerService), peak.Status.LastDecision.Reason)
	t.Logf("Load: %s", summary)
	if summary.Acknowledged == 0 {
		t.Fatalf("no record was acknowledged: %s", summary)
	}
	checkLoopClosed(t, plane, peak)
	checkLineage(t, peak.Status.Stream.Name)

	// Every record answered 200 is in the consumers' output.
	checkDelivered(t, plane.ConsumerOutputDir, acked)

	// Quiet: the counts come back down to their minimums — one shard (the
	// 60 s window no longer re-arms its "less than a window of data" hold
	// every minute: scaling.TestShortWindowScaleDownEveryPass) and one
	// consumer task.
	down := waitFor(t, sp, scaleDownDeadline, "one shard and consumer tasks back at their minimum", func(s *streamingv1alpha1.StreamProcessor) bool {
		return s.Status.Stream.OpenShards == 1 && s.Status.Stream.TargetShards == 1 &&
			s.Status.Consumer.DesiredTasks == 1 && running(plane.Supervisor, consumerService) == 1
	})
	t.Logf("Scaled down: %d shard, %d consumer task; %d reshard calls in all; reason: %s",
		down.Status.Stream.OpenShards, down.Status.Consumer.RunningTasks, len(down.Status.Stream.Reshards), down.Status.LastDecision.Reason)
}

// removeLeftoverServices deletes the services a killed earlier run left in
// the suite's cluster (emulators outlive test runs outside CI), so that local
// Fargate runs only this run's tasks.
func removeLeftoverServices(st *stack.Stack) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	api, cluster := ecs.NewFromConfig(st.AWS), aws.String(st.Account.Cluster)
	out, err := api.ListServices(ctx, &ecs.ListServicesInput{Cluster: cluster})
	if err != nil {
		return
	}
	for _, arn := range out.ServiceArns {
		_, _ = api.DeleteService(ctx, &ecs.DeleteServiceInput{Cluster: cluster, Service: aws.String(arn), Force: aws.Bool(true)})
	}
}

// startDataPlane builds the workloads and starts the local data plane in front
// of the emulators for the suite's account.
func startDataPlane(t *testing.T) *dataplane.Plane {
	t.Helper()
	return testplane.Start(t, repoRoot, suite.stack.Account.Cluster)
}

func newStreamProcessor(t *testing.T) *streamingv1alpha1.StreamProcessor {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "loop-"}}
	if err := suite.stack.Client.Create(context.Background(), ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	a := suite.stack.Account
	return &streamingv1alpha1.StreamProcessor{
		ObjectMeta: metav1.ObjectMeta{Name: "loop", Namespace: ns.Name},
		Spec: streamingv1alpha1.StreamProcessorSpec{
			Stream: streamingv1alpha1.StreamSpec{
				MinShards: 1, MaxShards: 4, TargetUtilizationPercent: 25, RetentionHours: 24,
				DeletionPolicy: streamingv1alpha1.DeletionPolicyDelete,
			},
			ECS: streamingv1alpha1.ECSSpec{
				Cluster: a.Cluster, Subnets: a.SubnetIDs, SecurityGroups: a.SecurityGroupIDs,
				ExecutionRoleARN: a.ExecutionRoleARN, TaskRoleARN: a.TaskRoleARN,
			},
			Producer: streamingv1alpha1.ProducerSpec{
				WorkloadSpec: streamingv1alpha1.WorkloadSpec{
					Image: "ghcr.io/kdp-io/streamprocessor-producer:v0.1.0", CPU: 1024, Memory: 2048,
					MinTasks: 1, MaxTasks: 1, TargetCPUPercent: 80,
					// A small buffer: after the load, what the producer still
					// holds drains in seconds, not minutes, at the emulator's rate.
					Env: []streamingv1alpha1.EnvVar{{Name: "MAX_BUFFER_BYTES", Value: "8388608"}},
				},
				ContainerPort: 8080, TargetGroupARN: a.TargetGroupARN,
			},
			Consumer: streamingv1alpha1.ConsumerSpec{
				WorkloadSpec: streamingv1alpha1.WorkloadSpec{
					// A quarter vCPU and a CPU target scaled to what
					// kinesis-local lets through: a consumer uses about 3 %
					// of a quarter vCPU at 0.5 MiB/s of 100-byte records
					// (measured), under 1 % idle.
					Image: "ghcr.io/kdp-io/streamprocessor-consumer:v0.1.0", CPU: 256, Memory: 512,
					MinTasks: 1, MaxTasks: 4, TargetCPUPercent: 2,
				},
				MaxIteratorAgeSeconds: 20,
			},
			Scaling: streamingv1alpha1.ScalingSpec{IntervalSeconds: 10, ShardScaleDownSeconds: 60, TaskScaleDownSeconds: ptr.To[int32](0)},
		},
	}
}

// waitFor polls sp until ok, failing t after timeout with the last status.
func waitFor(t *testing.T, sp *streamingv1alpha1.StreamProcessor, timeout time.Duration, what string, ok func(*streamingv1alpha1.StreamProcessor) bool) *streamingv1alpha1.StreamProcessor {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last streamingv1alpha1.StreamProcessor
	lastLog := time.Time{}
	for time.Now().Before(deadline) {
		if err := suite.stack.Client.Get(context.Background(), client.ObjectKeyFromObject(sp), &last); err == nil {
			if ok(&last) {
				return &last
			}
			if time.Since(lastLog) > 30*time.Second {
				lastLog = time.Now()
				reason := ""
				if d := last.Status.LastDecision; d != nil {
					reason = d.Reason
				}
				t.Logf("Waiting for %s: shards %s, producers %s, consumers %s; %s", what,
					last.Status.Stream.Shards, last.Status.Producer.Tasks, last.Status.Consumer.Tasks, reason)
			}
		}
		time.Sleep(time.Second)
	}
	st, _ := json.MarshalIndent(last.Status, "", "  ")
	t.Fatalf("waited %s for %s; last status:\n%s", timeout, what, st)
	return nil
}

// running counts the service's RUNNING tasks: live processes that passed
// their health check.
func running(sup *fargate.Supervisor, service string) int {
	n := 0
	for _, task := range sup.Tasks() {
		if task.Service == service && task.LastStatus == "RUNNING" {
			n++
		}
	}
	return n
}

func serviceName(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }

// ackBook is the set of record ids answered 200.
type ackBook struct {
	mu  sync.Mutex
	ids map[string]bool
}

func (a *ackBook) record(id string, status int) {
	if status == 200 {
		a.mu.Lock()
		a.ids[id] = true
		a.mu.Unlock()
	}
}

// checkLoopClosed asserts that the meter refused writes over one shard's
// limit and that the operator resharded on what CloudWatch said (its event),
// not on anything the test set.
func checkLoopClosed(t *testing.T, plane *dataplane.Plane, sp *streamingv1alpha1.StreamProcessor) {
	t.Helper()
	stats := plane.Meter.Stats()[sp.Status.Stream.Name]
	t.Logf("Meter: %d records accepted, %d throttled, %d minutes published; %d calls refused while kinesis-local was saturated",
		stats.AcceptedRecords, stats.WriteThrottled, stats.PublishedMinutes, plane.Meter.Overloaded())
	if stats.WriteThrottled == 0 {
		t.Errorf("the meter throttled no write of stream %s at %d MiB/s into one shard", sp.Status.Stream.Name, loadMiBps)
	}
	resharded := false
	for _, e := range eventsOf(t, sp) {
		if e.Reason == "StreamResharded" {
			resharded = true
			t.Logf("Event %s: %s", e.Reason, e.Message)
		}
	}
	if !resharded {
		t.Error("no StreamResharded event")
	}
}

func eventsOf(t *testing.T, sp *streamingv1alpha1.StreamProcessor) []corev1.Event {
	t.Helper()
	var list corev1.EventList
	if err := suite.stack.Client.List(context.Background(), &list, client.InNamespace(sp.Namespace)); err != nil {
		t.Fatalf("list events: %v", err)
	}
	return list.Items
}

// checkLineage asserts the reshards left a legal shard tree: every closed
// shard has children, every child names an existing parent.
func checkLineage(t *testing.T, stream string) {
	t.Helper()
	k := kinesis.NewFromConfig(suite.stack.AWS)
	out, err := k.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatalf("list shards of %s: %v", stream, err)
	}
	ids := map[string]bool{}
	for _, s := range out.Shards {
		ids[aws.ToString(s.ShardId)] = true
	}
	for _, s := range out.Shards {
		for _, p := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
			if p != nil && !ids[*p] {
				t.Errorf("shard %s names parent %s, which the stream does not list", aws.ToString(s.ShardId), *p)
			}
		}
	}
	if len(out.Shards) < 3 {
		t.Errorf("%d shards listed after a reshard of 1 shard, want the closed parent and its children", len(out.Shards))
	}
}

// checkDelivered waits until every acknowledged id is in the consumers'
// output, then reports duplicates (allowed: at-least-once) and fails on any
// acknowledged record missing.
func checkDelivered(t *testing.T, dir string, acked *ackBook) {
	t.Helper()
	acked.mu.Lock()
	want := len(acked.ids)
	acked.mu.Unlock()
	var seen map[string]int
	var missing []string
	for deadline := time.Now().Add(drainDeadline); ; time.Sleep(2 * time.Second) {
		var err error
		if seen, err = readOutput(dir); err != nil {
			t.Fatal(err)
		}
		missing = missing[:0]
		acked.mu.Lock()
		for id := range acked.ids {
			if seen[id] == 0 {
				missing = append(missing, id)
			}
		}
		acked.mu.Unlock()
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	dups := 0
	for _, n := range seen {
		dups += max(n-1, 0)
	}
	t.Logf("Delivered: %d acknowledged records, %d distinct in the output, %d duplicates, %d missing", want, len(seen), dups, len(missing))
	if len(missing) > 0 {
		t.Fatalf("%d of %d acknowledged records never reached a consumer, e.g. %v", len(missing), want, missing[:min(5, len(missing))])
	}
}

// readOutput counts each record id (the first word of its data) in every
// consumer's JSON lines.
func readOutput(dir string) (map[string]int, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	seen := map[string]int{}
	for _, f := range files {
		if err := countFile(f, seen); err != nil {
			return nil, err
		}
	}
	return seen, nil
}

func countFile(path string, seen map[string]int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var line struct {
			Data string `json:"data"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			continue // a line being written as we read
		}
		if id, _, _ := strings.Cut(line.Data, " "); id != "" {
			seen[id]++
		}
	}
	return sc.Err()
}

// deleteAndWait deletes sp, waits for its finalizer, and checks that both
// services are gone: local Fargate runs no task of theirs any more.
func deleteAndWait(t *testing.T, sp *streamingv1alpha1.StreamProcessor, sup *fargate.Supervisor) {
	t.Helper()
	ctx := context.Background()
	if err := suite.stack.Client.Delete(ctx, sp); client.IgnoreNotFound(err) != nil {
		t.Errorf("delete StreamProcessor: %v", err)
		return
	}
	gone := false
	for deadline := time.Now().Add(2 * time.Minute); !gone && time.Now().Before(deadline); time.Sleep(time.Second) {
		gone = apierrors.IsNotFound(suite.stack.Client.Get(ctx, client.ObjectKeyFromObject(sp), &streamingv1alpha1.StreamProcessor{}))
	}
	if !gone {
		t.Errorf("StreamProcessor %s/%s still there 2 minutes after delete", sp.Namespace, sp.Name)
		return
	}
	var left []string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		left = left[:0]
		for _, task := range sup.Tasks() {
			if strings.HasPrefix(task.Service, sp.Namespace+"-") && task.LastStatus != "STOPPED" {
				left = append(left, task.Service+"/"+task.ID)
			}
		}
		if len(left) == 0 {
			return
		}
	}
	t.Errorf("tasks still running a minute after the StreamProcessor was deleted (its services were not): %v", left)
}
