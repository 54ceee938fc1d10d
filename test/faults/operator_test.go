package faults

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/faultproxy"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv/stack"
)

// The operator scenarios run cmd/manager as processes (so that a leader can
// be killed with SIGKILL) against a real API server (envtest) and the
// emulators, with Kinesis and ECS reached only through fault proxies.

const leaderElectionID = "streamprocessor-operator.streaming.kdp.io" // cmd/manager's

var managerBinary struct {
	once sync.Once
	path string
	err  error
}

// buildManager builds cmd/manager once per test binary.
func buildManager(t *testing.T) string {
	t.Helper()
	managerBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "faults-manager-")
		if err != nil {
			managerBinary.err = err
			return
		}
		managerBinary.path = filepath.Join(dir, "manager")
		out, err := exec.Command("go", "build", "-o", managerBinary.path, "../../cmd/manager").CombinedOutput()
		if err != nil {
			managerBinary.err = fmt.Errorf("go build ./cmd/manager: %v\n%s", err, out)
		}
	})
	if managerBinary.err != nil {
		t.Fatal(managerBinary.err)
	}
	return managerBinary.path
}

// controlPlane starts an API server with the CRD and prepares the emulated
// account; it plays moto's missing Fargate scheduler until t ends.
func controlPlane(t *testing.T) *stack.Stack {
	t.Helper()
	ctrllog.SetLogger(logr.Discard()) // envtest logs through controller-runtime's logger
	st, skip, err := stack.Start("../..", "faults-operator", "AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL_ECS",
		"AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2", "AWS_ENDPOINT_URL_CLOUDWATCH")
	stack.Require(t, skip)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go st.PlayFargateScheduler(ctx, time.Second)
	t.Cleanup(func() {
		cancel()
		_ = st.Stop()
	})
	return st
}

// kubeconfig writes a kubeconfig for cfg (envtest's admin) for the managers.
func kubeconfig(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	c := clientcmdapi.NewConfig()
	c.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	c.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	c.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	c.CurrentContext = "envtest"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*c, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// manager is one cmd/manager process.
type manager struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

// startManager runs cmd/manager with Kinesis and ECS behind the given
// proxies, 3 s per AWS call attempt and a 500 ms poll interval.
func startManager(t *testing.T, name, kc string, kin, ecsProxy *faultproxy.Proxy, args ...string) *manager {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	args = append([]string{"--metrics-bind-address=0", "--health-probe-bind-address=0", "--poll-interval=500ms", "--aws-call-timeout=3s"}, args...)
	cmd := exec.Command(buildManager(t), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kc,
		"AWS_ENDPOINT_URL_KINESIS="+kin.URL(), "AWS_ENDPOINT_URL_ECS="+ecsProxy.URL())
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m := &manager{name: name, cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() { _ = cmd.Wait(); logFile.Close(); close(m.done) }()
	t.Cleanup(func() {
		m.kill()
		if t.Failed() || os.Getenv("FAULTS_LOG") != "" {
			b, _ := os.ReadFile(logPath)
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("last of %s's log:\n%s", name, b)
		}
	})
	return m
}

// kill sends SIGKILL (no lease release, no graceful stop) and waits.
func (m *manager) kill() {
	select {
	case <-m.done:
		return
	default:
	}
	_ = m.cmd.Process.Signal(syscall.SIGKILL)
	<-m.done
}

// operatorSample is a StreamProcessor for the emulated account with one shard.
func operatorSample(st *stack.Stack, name string) *streamingv1alpha1.StreamProcessor {
	a := st.Account
	return &streamingv1alpha1.StreamProcessor{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: streamingv1alpha1.StreamProcessorSpec{
			Stream: streamingv1alpha1.StreamSpec{Name: name, MinShards: 1, MaxShards: 8, DeletionPolicy: streamingv1alpha1.DeletionPolicyDelete},
			ECS: streamingv1alpha1.ECSSpec{Cluster: a.Cluster, Subnets: a.SubnetIDs, SecurityGroups: a.SecurityGroupIDs,
				ExecutionRoleARN: a.ExecutionRoleARN, TaskRoleARN: a.TaskRoleARN},
			Producer: streamingv1alpha1.ProducerSpec{
				WorkloadSpec:   streamingv1alpha1.WorkloadSpec{Image: "example.com/producer:1", CPU: 256, Memory: 512, MinTasks: 1, MaxTasks: 2},
				TargetGroupARN: a.TargetGroupARN,
			},
			Consumer: streamingv1alpha1.ConsumerSpec{WorkloadSpec: streamingv1alpha1.WorkloadSpec{Image: "example.com/consumer:1", CPU: 256, Memory: 512, MinTasks: 1, MaxTasks: 2}},
			Scaling:  streamingv1alpha1.ScalingSpec{IntervalSeconds: 10},
		},
	}
}

// createAndCleanUp creates sp (a unique name: services are named after it)
// and, at the end of the test while a manager still runs, deletes it so that
// its finalizer removes the stream and the services.
func createAndCleanUp(t *testing.T, c client.Client, sp *streamingv1alpha1.StreamProcessor) {
	t.Helper()
	if err := c.Create(context.Background(), sp); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Delete(context.Background(), sp)
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
			if err := c.Get(context.Background(), client.ObjectKeyFromObject(sp), &streamingv1alpha1.StreamProcessor{}); err != nil {
				return
			}
		}
		t.Logf("StreamProcessor %s not deleted within 60 s", sp.Name)
	})
}

// waitConverged waits until sp is Ready at its generation with open shards.
func waitConverged(t *testing.T, c client.Client, sp *streamingv1alpha1.StreamProcessor, open int32, timeout time.Duration) *streamingv1alpha1.StreamProcessor {
	t.Helper()
	var got streamingv1alpha1.StreamProcessor
	var why string
	for deadline := time.Now().Add(timeout); ; time.Sleep(250 * time.Millisecond) {
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(sp), &got); err != nil {
			why = err.Error()
		} else if ready := meta.FindStatusCondition(got.Status.Conditions, "Ready"); ready == nil || ready.Status != metav1.ConditionTrue || got.Status.ObservedGeneration != got.Generation || got.Status.Stream.OpenShards != open {
			why = fmt.Sprintf("open shards %d (want %d), generation %d observed %d, conditions %+v", got.Status.Stream.OpenShards, open, got.Generation, got.Status.ObservedGeneration, got.Status.Conditions)
		} else {
			return &got
		}
		if time.Now().After(deadline) {
			t.Fatalf("not converged after %v: %s", timeout, why)
		}
	}
}

// setMinShards raises spec.stream.minShards, retrying on conflicts.
func setMinShards(t *testing.T, c client.Client, sp *streamingv1alpha1.StreamProcessor, n int32) {
	t.Helper()
	for i := 0; ; i++ {
		var cur streamingv1alpha1.StreamProcessor
		err := c.Get(context.Background(), client.ObjectKeyFromObject(sp), &cur)
		if err == nil {
			cur.Spec.Stream.MinShards = n
			if err = c.Update(context.Background(), &cur); err == nil {
				return
			}
		}
		if i == 50 {
			t.Fatalf("set minShards: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// lineage counts the stream's shards (open, closed) and checks every
// parent named is a closed shard of the stream.
func lineage(t *testing.T, kc *kinesis.Client, stream string) (open, closed int) {
	t.Helper()
	var shards []string
	parents := map[string]bool{}
	isClosed := map[string]bool{}
	in := &kinesis.ListShardsInput{StreamName: aws.String(stream)}
	for {
		out, err := kc.ListShards(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range out.Shards {
			id := aws.ToString(s.ShardId)
			shards = append(shards, id)
			isClosed[id] = s.SequenceNumberRange.EndingSequenceNumber != nil
			for _, p := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
				if p != nil {
					parents[*p] = true
				}
			}
		}
		if out.NextToken == nil {
			break
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
	for p := range parents {
		if !isClosed[p] {
			t.Errorf("parent shard %s is not a closed shard of the stream", p)
		}
	}
	for _, id := range shards {
		if isClosed[id] {
			closed++
		} else {
			open++
		}
	}
	return open, closed
}

// refused sums the answers other than 200 that the service gave to op.
func refused(codes map[int]int) int {
	n := 0
	for code, c := range codes {
		if code != 200 {
			n += c
		}
	}
	return n
}

// services returns the ACTIVE ECS services named name in the cluster.
func activeServices(t *testing.T, api *ecs.Client, cluster string, names ...string) int {
	t.Helper()
	out, err := api.DescribeServices(context.Background(), &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: names})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range out.Services {
		if aws.ToString(s.Status) == "ACTIVE" {
			n++
		}
	}
	return n
}

// TestOperatorUnderAWSFaults: one manager creates a StreamProcessor and then
// reshards it 1→2→4 while its Kinesis and ECS calls are throttled, answered
// 500, reset, and applied without an answer (ambiguous timeouts: the stream's
// creation, the first reshard, a service's creation). It must converge, make
// each change exactly once, never make a call the stream refuses, and keep a
// reshard ledger that counts every call that took effect.
func TestOperatorUnderAWSFaults(t *testing.T) {
	st := controlPlane(t)
	kin, ecsP := proxyFor(t, "AWS_ENDPOINT_URL_KINESIS"), proxyFor(t, "AWS_ENDPOINT_URL_ECS")
	kin.Set(
		faultproxy.Rule{Op: "CreateStream", Fault: faultproxy.Ambiguous, Limit: 1},
		faultproxy.Rule{Op: "DescribeStreamSummary", Fault: faultproxy.Throttle, Every: 3, Limit: 4},
		faultproxy.Rule{Op: "ListTagsForStream", Fault: faultproxy.Reset, Limit: 1},
		faultproxy.Rule{Op: "UpdateShardCount", Fault: faultproxy.Ambiguous, Limit: 1},
		faultproxy.Rule{Op: "UpdateShardCount", Fault: faultproxy.ServerError, Limit: 1},
	)
	ecsP.Set(
		faultproxy.Rule{Op: "RegisterTaskDefinition", Fault: faultproxy.ServerError, Limit: 1},
		faultproxy.Rule{Op: "CreateService", Fault: faultproxy.Ambiguous, Limit: 1},
		faultproxy.Rule{Op: "DescribeServices", Fault: faultproxy.Throttle, Every: 4, Limit: 3},
		faultproxy.Rule{Op: "UpdateService", Fault: faultproxy.Reset, Limit: 1},
	)
	startManager(t, "manager", kubeconfig(t, st.Config), kin, ecsP, "--leader-elect=false")

	sp := operatorSample(st, testenv.UniqueName("op-faults"))
	createAndCleanUp(t, st.Client, sp)
	start := time.Now()
	waitConverged(t, st.Client, sp, 1, 90*time.Second)
	created := time.Since(start)
	setMinShards(t, st.Client, sp, 4)
	got := waitConverged(t, st.Client, sp, 4, 150*time.Second)
	faults := describe(kin, ecsP)
	t.Logf("converged: created in %v, resharded to 4 in %v; faults %s", created.Round(time.Second), (time.Since(start) - created).Round(time.Second), faults)

	for _, f := range []faultproxy.Fault{faultproxy.Ambiguous, faultproxy.Throttle, faultproxy.ServerError, faultproxy.Reset} {
		if kin.Injected()[f]+ecsP.Injected()[f] == 0 {
			t.Errorf("no %s was injected: the scenario did not test it", f)
		}
	}
	// Each change took effect once: one stream, two reshards (1→2, 2→4), one
	// task definition and one service per workload.
	applied := kin.Upstream("UpdateShardCount")[200]
	checks := []struct {
		what      string
		got, want int
	}{
		{"CreateStream calls that took effect", kin.Upstream("CreateStream")[200], 1},
		{"UpdateShardCount calls that took effect", applied, 2},
		{"UpdateShardCount calls the stream refused (illegal or while UPDATING)", refused(kin.Upstream("UpdateShardCount")), 0},
		{"RegisterTaskDefinition calls that took effect", ecsP.Upstream("RegisterTaskDefinition")[200], 2},
		{"CreateService calls that took effect", ecsP.Upstream("CreateService")[200], 2},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %d, want %d", c.what, c.got, c.want)
		}
	}
	open, closed := lineage(t, kinesis.NewFromConfig(st.AWS), got.Status.Stream.Name)
	if open != 4 || closed != 3 {
		t.Errorf("stream has %d open and %d closed shards, want 4 and 3 (1→2→4)", open, closed)
	}
	names := []string{got.Status.Producer.ServiceName, got.Status.Consumer.ServiceName}
	if n := activeServices(t, ecs.NewFromConfig(st.AWS), st.Account.Cluster, names...); n != 2 {
		t.Errorf("%d ACTIVE services named %v, want 2", n, names)
	}
	// The ledger counts every call that took effect, and no more than were made.
	ledger := len(got.Status.Stream.Reshards)
	if ledger < applied || ledger > kin.Requests("UpdateShardCount") {
		t.Errorf("reshard ledger has %d entries; %d calls took effect, %d were made", ledger, applied, kin.Requests("UpdateShardCount"))
	}
	record(row{scenario: "operator: Kinesis and ECS faults mid-create and mid-reshard (1→2→4)", faults: faults,
		sent: kin.Requests("UpdateShardCount"), acked: ledger, delivered: applied, duplicated: max(0, applied-2), lost: max(0, applied-ledger),
		outcome: outcome(t) + fmt.Sprintf(", converged in %v", time.Since(start).Round(time.Second))})
}

// TestLeaderFailoverMidReshard: two managers with leader election on the
// API server, each with its own proxies. The leader creates the pipeline;
// the standby makes no AWS call. The stream is resharded 1→2→4→8; the
// leader's second UpdateShardCount takes effect without an answer and the
// leader is killed with SIGKILL right then. The standby must take over within
// the lease duration plus a retry period (and one pass), and finish with
// exactly one more UpdateShardCount: none repeated, none refused.
func TestLeaderFailoverMidReshard(t *testing.T) {
	st := controlPlane(t)
	kc := kubeconfig(t, st.Config)
	const lease, renew, retry = 6 * time.Second, 4 * time.Second, time.Second
	election := []string{"--leader-elect=true", "--leader-election-namespace=default",
		"--leader-election-lease-duration=" + lease.String(), "--leader-election-renew-deadline=" + renew.String(), "--leader-election-retry-period=" + retry.String()}
	kinA, ecsA := proxyFor(t, "AWS_ENDPOINT_URL_KINESIS"), proxyFor(t, "AWS_ENDPOINT_URL_ECS")
	kinB, ecsB := proxyFor(t, "AWS_ENDPOINT_URL_KINESIS"), proxyFor(t, "AWS_ENDPOINT_URL_ECS")

	a := startManager(t, "leader", kc, kinA, ecsA, election...)
	holder := func() string {
		var l coordinationv1.Lease
		if err := st.Client.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: leaderElectionID}, &l); err != nil || l.Spec.HolderIdentity == nil {
			return ""
		}
		return *l.Spec.HolderIdentity
	}
	eventually(t, 30*time.Second, "the first manager leads", func() bool { return holder() != "" })
	leaderA := holder()
	startManager(t, "standby", kc, kinB, ecsB, election...)

	sp := operatorSample(st, testenv.UniqueName("failover"))
	createAndCleanUp(t, st.Client, sp)
	waitConverged(t, st.Client, sp, 1, 90*time.Second)
	if n := kinB.Requests("DescribeStreamSummary") + ecsB.Requests("DescribeServices"); n != 0 {
		t.Fatalf("the standby made %d AWS calls while the other manager led", n)
	}

	// The leader's 2nd UpdateShardCount (2→4) takes effect unanswered.
	kinA.Set(faultproxy.Rule{Op: "UpdateShardCount", Fault: faultproxy.Ambiguous, Every: 2, Limit: 1})
	setMinShards(t, st.Client, sp, 8)
	eventually(t, 90*time.Second, "the leader's second reshard reaches Kinesis", func() bool { return kinA.Upstream("UpdateShardCount")[200] == 2 })
	a.kill()
	killed := time.Now()
	eventually(t, lease+retry+20*time.Second, "the standby calls AWS", func() bool { return kinB.Requests("DescribeStreamSummary") > 0 })
	takeover := time.Since(killed)
	if h := holder(); h == leaderA || h == "" {
		t.Errorf("lease holder after the takeover is %q (the killed leader was %q)", h, leaderA)
	}
	got := waitConverged(t, st.Client, sp, 8, 120*time.Second)

	appliedA, appliedB := kinA.Upstream("UpdateShardCount")[200], kinB.Upstream("UpdateShardCount")[200]
	refusedCalls := refused(kinA.Upstream("UpdateShardCount")) + refused(kinB.Upstream("UpdateShardCount"))
	if appliedA != 2 || appliedB != 1 {
		t.Errorf("UpdateShardCount took effect %d times from the killed leader and %d from the new one, want 2 and 1 (1→2→4→8)", appliedA, appliedB)
	}
	if refusedCalls != 0 {
		t.Errorf("%d UpdateShardCount calls refused by the stream (illegal, or while UPDATING)", refusedCalls)
	}
	open, closed := lineage(t, kinesis.NewFromConfig(st.AWS), got.Status.Stream.Name)
	if open != 8 || closed != 7 {
		t.Errorf("stream has %d open and %d closed shards, want 8 and 7 (1→2→4→8)", open, closed)
	}
	if ledger := len(got.Status.Stream.Reshards); ledger != appliedA+appliedB {
		t.Errorf("reshard ledger has %d entries, want %d: the calls that took effect", ledger, appliedA+appliedB)
	}
	// The standby takes the lease once it expires: at most its duration plus
	// a retry period after the leader's last renewal, plus one pass to its
	// first AWS call.
	if limit := lease + retry + 3*time.Second; takeover > limit {
		t.Errorf("the standby's first AWS call came %v after the kill, want within %v", takeover.Round(100*time.Millisecond), limit)
	}
	applied := appliedA + appliedB
	record(row{scenario: fmt.Sprintf("operator: leader failover, SIGKILL right after the leader's 2→4 reshard took effect unanswered (takeover in %.1f s)", takeover.Seconds()),
		faults: describe(kinA, ecsA, kinB, ecsB) + ", leader killed", sent: kinA.Requests("UpdateShardCount") + kinB.Requests("UpdateShardCount"),
		acked: len(got.Status.Stream.Reshards), delivered: applied, duplicated: max(0, applied-3), lost: max(0, applied-len(got.Status.Stream.Reshards)), outcome: outcome(t)})
}
