package kubectlsp

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/override"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv/apiserver"
)

var (
	server *apiserver.Server
	skip   string
	nsSeq  atomic.Int32
)

func TestMain(m *testing.M) {
	os.Exit(apiserver.Run(m, "../..", func(s *apiserver.Server, why string) { server, skip = s, why }))
}

// run runs `kubectl sp args...` against the envtest API server through its
// kubeconfig, as a user would, and returns the exit code and outputs.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = Main(append(args, "--kubeconfig", server.Kubeconfig), &o, &e)
	return code, o.String(), e.String()
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := run(t, args...)
	if code != 0 {
		t.Fatalf("kubectl sp %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func newNamespace(t *testing.T) string {
	t.Helper()
	ns := fmt.Sprintf("sp-%05d-%03d", time.Now().Unix()%1e5, nsSeq.Add(1)) // one length: top aligns columns
	if err := server.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	return ns
}

// create makes a valid StreamProcessor and gives it the status a reconciler
// would write: 3 of 4 shards open, ten reshards in 24 h, tasks, a decision.
func create(t *testing.T, ns, name string, now time.Time) *streamingv1alpha1.StreamProcessor {
	t.Helper()
	ctx := context.Background()
	sp := &streamingv1alpha1.StreamProcessor{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	sp.Spec.ECS = streamingv1alpha1.ECSSpec{Cluster: "streaming", Subnets: []string{"subnet-0123456789abcdef0"},
		ExecutionRoleARN: "arn:aws:iam::123456789012:role/sp-execution"}
	sp.Spec.Producer.Image, sp.Spec.Consumer.Image = "producer:v1", "consumer:v1"
	sp.Spec.Producer.MinTasks, sp.Spec.Producer.MaxTasks = 1, 15
	sp.Spec.Consumer.MinTasks, sp.Spec.Consumer.MaxTasks = 1, 15
	if err := server.Client.Create(ctx, sp); err != nil {
		t.Fatal(err)
	}
	var ledger []metav1.Time
	for i := range 10 {
		ledger = append(ledger, metav1.NewTime(now.Add(-time.Duration(23-i)*time.Hour).Truncate(time.Second)))
	}
	sp.Status = streamingv1alpha1.StreamProcessorStatus{
		ObservedGeneration: sp.Generation,
		Stream:             streamingv1alpha1.StreamStatus{Name: ns + "-" + name, Status: "ACTIVE", OpenShards: 3, TargetShards: 4, Reshards: ledger},
		Producer:           streamingv1alpha1.ServiceStatus{ServiceName: name + "-producer", DesiredTasks: 5, RunningTasks: 4, PendingTasks: 1, TargetTasks: 6},
		Consumer:           streamingv1alpha1.ServiceStatus{ServiceName: name + "-consumer", DesiredTasks: 2, RunningTasks: 2, TargetTasks: 2},
		DashboardURL:       "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/" + ns + "-" + name,
		LogGroupName:       ns + "-" + name + "-1a2b3c4d",
		LastDecision: &streamingv1alpha1.ScalingDecision{
			Time: metav1.NewTime(now.Add(-90 * time.Second).Truncate(time.Second)), Shards: 4, ProducerTasks: 6, ConsumerTasks: 2,
			Reason: "shards: 3.2 needed at 70% of capacity", Inputs: map[string]string{"incomingRecordsPerSec": "2500", "iteratorAgeSeconds": "1.5", "throttledPercent": "0.000", "incomingMiBPerSec": "2.441"},
		},
	}
	meta.SetStatusCondition(&sp.Status.Conditions, metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: "Resharding", Message: "stream resharding 3→4"})
	meta.SetStatusCondition(&sp.Status.Conditions, metav1.Condition{Type: "StreamReady", Status: metav1.ConditionFalse, Reason: "ReshardBudgetSpent", Message: "budget spent"})
	if err := server.Client.Status().Update(ctx, sp); err != nil {
		t.Fatal(err)
	}
	return sp
}

// event records an event about sp as the operator's recorder does (events.k8s.io/v1).
func event(t *testing.T, sp *streamingv1alpha1.StreamProcessor, at time.Time, typ, reason, note string) {
	t.Helper()
	e := &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Namespace: sp.Namespace, GenerateName: sp.Name + "-"},
		EventTime:           metav1.NewMicroTime(at),
		ReportingController: "streamprocessor-operator", ReportingInstance: "streamprocessor-operator-test",
		Action: reason, Reason: reason, Type: typ, Note: note,
		Regarding: corev1.ObjectReference{APIVersion: streamingv1alpha1.GroupVersion.String(), Kind: "StreamProcessor", Namespace: sp.Namespace, Name: sp.Name, UID: sp.UID},
	}
	if err := server.Client.Create(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

func fetch(t *testing.T, ns, name string) *streamingv1alpha1.StreamProcessor {
	t.Helper()
	sp := &streamingv1alpha1.StreamProcessor{}
	if err := server.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, sp); err != nil {
		t.Fatal(err)
	}
	return sp
}

func wantLines(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestStatus(t *testing.T) {
	apiserver.Require(t, skip)
	ns, now := newNamespace(t), time.Now()
	sp := create(t, ns, "clicks", now)
	other := create(t, ns, "orders", now)
	event(t, sp, now.Add(-time.Hour), "Normal", "Resharded", "Resharded stream 2→3")
	event(t, sp, now.Add(-time.Minute), "Warning", "ReshardBudgetSpent", "Reshard budget spent")
	event(t, other, now, "Normal", "TargetsChanged", "not about clicks")

	out := mustRun(t, "status", "clicks", "-n", ns)
	next := sp.Status.Stream.Reshards[0].Add(24 * time.Hour).UTC().Format(time.RFC3339)
	wantLines(t, out,
		"StreamProcessor:  "+ns+"/clicks (generation 1, observed 1)",
		"Stream:           "+ns+"-clicks ACTIVE in the operator's region",
		"Shards:           open 3, target 4 (bounds 1–16)",
		"Reshard budget:   0 of 10 UpdateShardCount calls left in the rolling 24 h; next call allowed "+next,
		"Producer:         clicks-producer: running 4, desired 5, pending 1, target 6 (bounds 1–15)",
		"Consumer:         clicks-consumer: running 2, desired 2, pending 0, target 2 (bounds 1–15)",
		"Scaling:          active, every 60s",
		": 4 shards, 6 producer tasks, 2 consumer tasks",
		"reason:         shards: 3.2 needed at 70% of capacity",
		"inputs:         incomingMiBPerSec=2.441 incomingRecordsPerSec=2500 iteratorAgeSeconds=1.5 throttledPercent=0.000",
		"Dashboard:        https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards/dashboard/"+ns+"-clicks",
		"Logs:             "+ns+"-clicks-1a2b3c4d",
		"  Ready        False   Resharding",
		"stream resharding 3→4",
		"Normal   Resharded           Resharded stream 2→3",
		"Warning  ReshardBudgetSpent  Reshard budget spent",
	)
	if strings.Contains(out, "not about clicks") {
		t.Errorf("status shows another object's event:\n%s", out)
	}
	if strings.Index(out, "Resharded stream") > strings.Index(out, "Reshard budget spent") {
		t.Errorf("events are not oldest first:\n%s", out)
	}

	for _, format := range []string{"yaml", "json"} {
		raw := mustRun(t, "status", "clicks", "-n", ns, "-o", format)
		var got streamingv1alpha1.StreamProcessor
		if err := yaml.Unmarshal([]byte(raw), &got); err != nil {
			t.Fatalf("-o %s: %v\n%s", format, err, raw)
		}
		if got.Kind != "StreamProcessor" || got.Name != "clicks" || got.Status.Stream.OpenShards != 3 {
			t.Errorf("-o %s printed %s %s with %d open shards", format, got.Kind, got.Name, got.Status.Stream.OpenShards)
		}
	}
}

func TestPauseResumeDryRun(t *testing.T) {
	apiserver.Require(t, skip)
	ns := newNamespace(t)
	create(t, ns, "clicks", time.Now())

	out := mustRun(t, "pause", "clicks", "-n", ns)
	wantLines(t, out, "StreamProcessor "+ns+"/clicks paused", "now 3 open shards, producer 4/5, consumer 2/2")
	if !fetch(t, ns, "clicks").Spec.Scaling.Paused {
		t.Fatal("pause did not set spec.scaling.paused")
	}
	wantLines(t, mustRun(t, "pause", "clicks", "-n", ns), "already paused; nothing changed")
	wantLines(t, mustRun(t, "status", "clicks", "-n", ns), "Scaling:          paused (counts frozen), every 60s")

	wantLines(t, mustRun(t, "resume", "clicks", "-n", ns), "StreamProcessor "+ns+"/clicks resumed")
	if fetch(t, ns, "clicks").Spec.Scaling.Paused {
		t.Fatal("resume did not clear spec.scaling.paused")
	}

	wantLines(t, mustRun(t, "dry-run", "clicks", "on", "-n", ns), "dry run on")
	if !fetch(t, ns, "clicks").Spec.Scaling.DryRun {
		t.Fatal("dry-run on did not set spec.scaling.dryRun")
	}
	wantLines(t, mustRun(t, "dry-run", "clicks", "off", "-n", ns), "dry run off")
	if fetch(t, ns, "clicks").Spec.Scaling.DryRun {
		t.Fatal("dry-run off did not clear spec.scaling.dryRun")
	}
	if code, _, errOut := run(t, "dry-run", "clicks", "maybe", "-n", ns); code != 2 || !strings.Contains(errOut, `dry-run takes on or off, not "maybe"`) {
		t.Errorf("dry-run maybe: exit %d, %q", code, errOut)
	}
}

func TestScaleOverride(t *testing.T) {
	apiserver.Require(t, skip)
	ns := newNamespace(t)
	create(t, ns, "clicks", time.Now())

	out := mustRun(t, "scale", "clicks", "--shards", "8", "--for", "1h", "-n", ns)
	wantLines(t, out, "shards pinned at 8 (bounds 1–16 after) until ", "(in 1h0m0s)",
		"needs 2 UpdateShardCount call(s), 3→6→8; 0 of 10 calls are left", "Not enough: the next call is allowed at")
	sp := fetch(t, ns, "clicks")
	o, err := override.Get(sp)
	if err != nil || o == nil || o.Until == nil || o.Shards == nil {
		t.Fatalf("override annotation: %+v, %v", o, err)
	}
	if sp.Spec.Stream.MinShards != 8 || sp.Spec.Stream.MaxShards != 8 || *o.Shards != (override.Pin{N: 8, Min: 1, Max: 16}) {
		t.Fatalf("after scale: bounds %d–%d, pin %+v", sp.Spec.Stream.MinShards, sp.Spec.Stream.MaxShards, o.Shards)
	}
	if left := time.Until(*o.Until); left < 59*time.Minute || left > time.Hour {
		t.Errorf("override ends in %s, want about 1h", left)
	}
	wantLines(t, mustRun(t, "status", "clicks", "-n", ns), "Pinned:           shards pinned at 8 (bounds 1–16 after) until ")

	// A second scale keeps the shard pin with the user's bounds, pins the
	// producer and drops the expiry.
	out = mustRun(t, "scale", "clicks", "--shards", "12", "--producer-tasks", "3", "-n", ns)
	wantLines(t, out, "shards pinned at 12 (bounds 1–16 after), producer tasks pinned at 3 (bounds 1–15 after) until `kubectl sp scale clicks --reset`")
	sp = fetch(t, ns, "clicks")
	o, _ = override.Get(sp)
	if sp.Spec.Stream.MinShards != 12 || sp.Spec.Producer.MinTasks != 3 || sp.Spec.Producer.MaxTasks != 3 || sp.Spec.Consumer.MaxTasks != 15 ||
		*o.Shards != (override.Pin{N: 12, Min: 1, Max: 16}) || *o.ProducerTasks != (override.Pin{N: 3, Min: 1, Max: 15}) || o.ConsumerTasks != nil || o.Until != nil {
		t.Fatalf("second scale: spec %+v %+v, override %s", sp.Spec.Stream, sp.Spec.Producer.WorkloadSpec, sp.Annotations[override.Annotation])
	}
	for _, tc := range []struct{ flag, value, message string }{
		{"--shards", "17", "--shards 17 is outside the spec's bounds 1–16 (spec.stream.minShards/maxShards)"},
		{"--consumer-tasks", "16", "--consumer-tasks 16 is outside the spec's bounds 1–15 (spec.consumer.minTasks/maxTasks)"},
	} {
		code, _, errOut := run(t, "scale", "clicks", tc.flag, tc.value, "-n", ns)
		if code != 1 || !strings.Contains(errOut, tc.message) {
			t.Errorf("scale %s %s: exit %d, %q", tc.flag, tc.value, code, errOut)
		}
	}
	if sp := fetch(t, ns, "clicks"); sp.Spec.Consumer.MinTasks != 1 || sp.Spec.Stream.MinShards != 12 {
		t.Errorf("a refused scale changed the spec: %+v", sp.Spec)
	}

	wantLines(t, mustRun(t, "scale", "clicks", "--reset", "-n", ns), "pins lifted; shards 1–16, producer tasks 1–15, consumer tasks 1–15")
	sp = fetch(t, ns, "clicks")
	if _, ok := sp.Annotations[override.Annotation]; ok || sp.Spec.Stream.MinShards != 1 || sp.Spec.Stream.MaxShards != 16 || sp.Spec.Producer.MinTasks != 1 || sp.Spec.Producer.MaxTasks != 15 {
		t.Fatalf("after reset: spec %+v, annotations %v", sp.Spec, sp.Annotations)
	}
	wantLines(t, mustRun(t, "scale", "clicks", "--reset", "-n", ns), "has no pinned counts; nothing changed")
}

// TestOverrideExpires runs the override controller as cmd/manager does:
// a pin with --for is lifted when it ends.
func TestOverrideExpires(t *testing.T) {
	apiserver.Require(t, skip)
	mgr, err := ctrl.NewManager(server.Config, ctrl.Options{
		Scheme: server.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := (&override.Reconciler{Client: mgr.GetClient(), Clock: clock.RealClock{}}).SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = mgr.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	ns := newNamespace(t)
	create(t, ns, "clicks", time.Now())
	create(t, ns, "forever", time.Now())
	mustRun(t, "scale", "clicks", "--shards", "4", "--consumer-tasks", "2", "--for", "3s", "-n", ns)
	mustRun(t, "scale", "forever", "--shards", "4", "-n", ns)
	if sp := fetch(t, ns, "clicks"); sp.Spec.Stream.MinShards != 4 {
		t.Fatalf("pin lifted at once: bounds %d–%d", sp.Spec.Stream.MinShards, sp.Spec.Stream.MaxShards)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		sp := fetch(t, ns, "clicks")
		_, pinned := sp.Annotations[override.Annotation]
		if !pinned && sp.Spec.Stream.MinShards == 1 && sp.Spec.Stream.MaxShards == 16 && sp.Spec.Consumer.MinTasks == 1 && sp.Spec.Consumer.MaxTasks == 15 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("override not lifted 17 s after it ended: shards %d–%d, consumer tasks %d–%d, annotations %v", sp.Spec.Stream.MinShards, sp.Spec.Stream.MaxShards, sp.Spec.Consumer.MinTasks, sp.Spec.Consumer.MaxTasks, sp.Annotations)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if sp := fetch(t, ns, "forever"); sp.Spec.Stream.MinShards != 4 || sp.Annotations[override.Annotation] == "" {
		t.Errorf("a pin without --for was lifted: bounds %d–%d", sp.Spec.Stream.MinShards, sp.Spec.Stream.MaxShards)
	}
}

func TestHistory(t *testing.T) {
	apiserver.Require(t, skip)
	ns, now := newNamespace(t), time.Now()
	sp := create(t, ns, "clicks", now)
	event(t, sp, now.Add(-30*time.Minute), "Normal", "Resharded", "Resharded stream 2→3")

	out := mustRun(t, "history", "clicks", "-n", ns)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// Header, 10 reshard calls, the decision, the event.
	if len(lines) != 13 {
		t.Fatalf("history has %d lines, want 13:\n%s", len(lines), out)
	}
	wantLines(t, lines[0], "TIME", "KIND", "REASON", "WHAT")
	wantLines(t, lines[1], sp.Status.Stream.Reshards[0].UTC().Format(time.RFC3339), "Reshard", "call 1 of the 10 in the ledger")
	wantLines(t, lines[10], "call 10 of the 10")
	wantLines(t, lines[11], "Normal", "Resharded stream 2→3")
	wantLines(t, lines[12], "Decision", "4 shards, 6 producer tasks, 2 consumer tasks: shards: 3.2 needed")
}

func TestTop(t *testing.T) {
	apiserver.Require(t, skip)
	a, b := newNamespace(t), newNamespace(t)
	now := time.Now()
	create(t, a, "clicks", now)
	create(t, b, "orders", now)
	out := mustRun(t, "top", "-n", a)
	// 3 shards × 0.015 + 6 running tasks × (0.25 × 0.04048 + 0.5 × 0.004445) = 0.045 + 0.074055
	wantLines(t, out, "NAMESPACE", "USD/H", a+"  clicks  3/4     4/5        2/2        2500       2.441  1.5s  0.000%     0.119  NotReady")
	if strings.Contains(out, "orders") {
		t.Errorf("top -n %s lists another namespace:\n%s", a, out)
	}
	wantLines(t, mustRun(t, "top", "-A"), a+"  clicks", b+"  orders")
	var list streamingv1alpha1.StreamProcessorList
	if err := yaml.Unmarshal([]byte(mustRun(t, "top", "-n", b, "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if list.Kind != "StreamProcessorList" || len(list.Items) != 1 || list.Items[0].Name != "orders" || list.Items[0].Status.Stream.OpenShards != 3 {
		t.Errorf("top -o json: %s with %d items", list.Kind, len(list.Items))
	}
	empty := newNamespace(t)
	wantLines(t, mustRun(t, "top", "-n", empty), "No StreamProcessors in namespace "+empty)
}

func TestErrorsAreClear(t *testing.T) {
	apiserver.Require(t, skip)
	a, b := newNamespace(t), newNamespace(t)
	lonely := "lonely-" + a // unique in the cluster: the hint lists every namespace holding the name
	create(t, a, lonely, time.Now())
	for _, tc := range []struct {
		args    []string
		code    int
		message string
	}{
		{[]string{"status", "nosuch", "-n", a}, 1, `error: StreamProcessor "nosuch" not found in namespace "` + a + `"`},
		{[]string{"pause", lonely, "-n", b}, 1, `StreamProcessor "` + lonely + `" not found in namespace "` + b + `" (it exists in namespace ` + a + `: add -n ` + a + `)`},
		{[]string{"frobnicate", "clicks"}, 2, `unknown command "frobnicate"`},
		{[]string{"status"}, 2, "status needs exactly one NAME"},
		{[]string{"status", "clicks", "--shards", "3", "-n", a}, 2, "--shards applies to scale only"},
		{[]string{"scale", "clicks", "-n", a}, 2, "scale needs --shards, --producer-tasks or --consumer-tasks (or --reset)"},
		{[]string{"scale", "clicks", "--reset", "--shards", "2", "-n", a}, 2, "--reset goes alone"},
		{[]string{"status", "clicks", "-o", "wide", "-n", a}, 2, `--output must be json or yaml, not "wide"`},
		{[]string{"history", "clicks", "-o", "json", "-n", a}, 2, "--output applies to status, top only"},
		{[]string{"top", "extra"}, 2, "top takes no NAME"},
	} {
		code, _, errOut := run(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.message) {
			t.Errorf("kubectl sp %s: exit %d, stderr %q; want exit %d with %q", strings.Join(tc.args, " "), code, errOut, tc.code, tc.message)
		}
	}
	// Nothing was changed in the namespace that was named wrongly.
	if fetch(t, a, lonely).Spec.Scaling.Paused {
		t.Error("pause in the wrong namespace paused the object anyway")
	}
}

func TestClearKeepsBoundsChangedDuringTheOverride(t *testing.T) {
	sp := &streamingv1alpha1.StreamProcessor{}
	sp.Spec.Stream.MinShards, sp.Spec.Stream.MaxShards = 2, 16
	sp.Spec.Producer.MinTasks, sp.Spec.Producer.MaxTasks = 1, 10
	if _, err := override.Apply(sp, override.Request{Shards: ptr.To[int32](4), ProducerTasks: ptr.To[int32](5)}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	sp.Spec.Stream.MinShards, sp.Spec.Stream.MaxShards = 3, 5 // the user edits the shard bounds meanwhile
	if changed, err := override.Clear(sp); !changed || err != nil {
		t.Fatalf("Clear = %v, %v", changed, err)
	}
	if sp.Spec.Stream.MinShards != 3 || sp.Spec.Stream.MaxShards != 5 || len(sp.Annotations) != 0 {
		t.Errorf("after Clear: shard bounds %d–%d, annotations %v; want the user's 3–5 and none", sp.Spec.Stream.MinShards, sp.Spec.Stream.MaxShards, sp.Annotations)
	}
	if sp.Spec.Producer.MinTasks != 1 || sp.Spec.Producer.MaxTasks != 10 {
		t.Errorf("after Clear: producer bounds %d–%d, want 1–10 back", sp.Spec.Producer.MinTasks, sp.Spec.Producer.MaxTasks)
	}
	if _, err := override.Apply(sp, override.Request{Shards: ptr.To[int32](6)}, time.Time{}); err == nil {
		t.Error("Apply accepted 6 outside the bounds 3–5")
	}
	if _, err := override.Apply(sp, override.Request{}, time.Time{}); err == nil {
		t.Error("Apply accepted an empty request")
	}
}

// TestStatusLogGroupLine: status says where the tasks' output goes — the
// user's group, the operator's, or nowhere without an execution role.
func TestStatusLogGroupLine(t *testing.T) {
	sp := &streamingv1alpha1.StreamProcessor{}
	if got := logGroup(sp); got != "not collected: no spec.ecs.executionRoleArn" {
		t.Errorf("no execution role: %q", got)
	}
	sp.Spec.ECS.ExecutionRoleARN = "arn:aws:iam::123456789012:role/x"
	if got := logGroup(sp); got != "-" {
		t.Errorf("operator's group not created yet: %q", got)
	}
	sp.Status.LogGroupName = "team-a-clicks-1a2b3c4d"
	if got := logGroup(sp); got != "team-a-clicks-1a2b3c4d" {
		t.Errorf("operator's group: %q", got)
	}
	sp.Spec.Logs = &streamingv1alpha1.LogsSpec{Group: "/streamprocessor/streaming"}
	if got := logGroup(sp); got != "/streamprocessor/streaming (spec.logs.group)" {
		t.Errorf("user's group: %q", got)
	}
}
