package controllers

import (
	"context"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	etypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv/stack"
)

// The integration suite: a real kube-apiserver and etcd (envtest, binaries from
// hack/control-plane.sh) with the CRD installed, and the AWS emulators of
// hack/emulators.sh (kinesis-local for Kinesis, moto for ECS/EC2/ELBv2/IAM).
var suite struct {
	skip    string // why integration tests cannot run, or ""
	cfg     *rest.Config
	k8s     client.Client
	scheme  *runtime.Scheme
	account devstack.Account
	kinesis *kinesis.Client
	ecs     *ecs.Client
	ddb     *dynamodb.Client
	cw      *cloudwatch.Client
	logs    *cloudwatchlogs.Client
}

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true), zap.Level(zapLevel())))
	return stack.Run(m, "..", "envtest", func(st *stack.Stack, skip string) {
		if suite.skip = skip; st == nil {
			return
		}
		suite.cfg, suite.k8s, suite.scheme, suite.account = st.Config, st.Client, st.Scheme, st.Account
		suite.kinesis = kinesis.NewFromConfig(st.AWS)
		suite.ecs = ecs.NewFromConfig(st.AWS)
		suite.ddb = dynamodb.NewFromConfig(st.AWS)
		suite.cw = cloudwatch.NewFromConfig(st.AWS, awsconfig.CloudWatchQueryProtocol)
		suite.logs = cloudwatchlogs.NewFromConfig(st.AWS)
	}, testenv.Kinesis, testenv.ECS, testenv.EC2, testenv.DynamoDB, testenv.CloudWatch, testenv.Logs)
}

// zapLevel logs the reconciler at info level; TEST_VERBOSE=1 adds V(1) detail.
func zapLevel() zapcore.Level {
	if os.Getenv("TEST_VERBOSE") != "" {
		return zapcore.DebugLevel
	}
	return zapcore.InfoLevel
}

// configController lets every test start a manager of its own: controller
// names must otherwise be unique per process.
func configController() config.Controller {
	return config.Controller{SkipNameValidation: ptr.To(true)}
}

// requireSuite skips t (fails it under SP_REQUIRE_EMULATORS=1) when the
// control plane or emulators are missing.
func requireSuite(t *testing.T) {
	t.Helper()
	stack.Require(t, suite.skip)
}

// operator is a running manager with the reconciler, and its AWS call counter.
type operator struct {
	calls *prometheus.CounterVec
	stop  func()
}

// startOperator runs a manager until the returned operator is stopped (at
// the latest when t ends). Each test runs its own, so a test can also stop one
// and start another, as a restart would.
func startOperator(t *testing.T, opts ...func(*StreamProcessorReconciler)) *operator {
	t.Helper()
	mgr, err := ctrl.NewManager(suite.cfg, ctrl.Options{
		Scheme:                 suite.scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             configController(),
	})
	if err != nil {
		t.Fatalf("new manager: %v", err)
	}
	calls := awsapi.NewCallsCounter()
	r := &StreamProcessorReconciler{
		Client:           mgr.GetClient(),
		Recorder:         mgr.GetEventRecorder("streamprocessor-operator"),
		AWS:              NewClientFactory(calls, WithCallTimeout(15*time.Second)),
		Metrics:          NewMetricsBatcher(time.Second),
		Clock:            clock.RealClock{},
		PollInterval:     300 * time.Millisecond,
		InvalidSpecRetry: 5 * time.Second,
		DriftRecheck:     3 * time.Second,
	}
	for _, o := range opts {
		o(r)
	}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatalf("setup: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	op := &operator{calls: calls}
	op.stop = func() { cancel(); <-done }
	t.Cleanup(op.stop)
	return op
}

// callCount is how many calls of operation ended with outcome.
func (o *operator) callCount(service, operation, outcome string) int {
	return int(testutil.ToFloat64(o.calls.WithLabelValues(service, operation, outcome)))
}

// expectNoRefusedReshards asserts that kinesis-local — which refuses steps
// beyond 2x / ½ and calls while UPDATING — refused no UpdateShardCount call.
func (o *operator) expectNoRefusedReshards(g Gomega) {
	for _, outcome := range []string{"InUse", "LimitExceeded", "Invalid", "Other"} {
		g.Expect(o.callCount("Kinesis", "UpdateShardCount", outcome)).To(BeZero(), "UpdateShardCount calls refused with %s", outcome)
	}
}

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "sp-"}}
	if err := suite.k8s.Create(context.Background(), ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	return ns.Name
}

// sample returns a valid StreamProcessor for the emulated account, with a
// unique stream name.
func sample(ns, name string) *streamingv1alpha1.StreamProcessor {
	a := suite.account
	return &streamingv1alpha1.StreamProcessor{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: streamingv1alpha1.StreamProcessorSpec{
			Stream: streamingv1alpha1.StreamSpec{
				Name: testenv.UniqueName(name), MinShards: 1, MaxShards: 32, DeletionPolicy: streamingv1alpha1.DeletionPolicyDelete,
				Tags: map[string]streamingv1alpha1.TagValue{"team": "data"},
			},
			ECS: streamingv1alpha1.ECSSpec{
				Cluster: a.Cluster, Subnets: a.SubnetIDs, SecurityGroups: a.SecurityGroupIDs,
				ExecutionRoleARN: a.ExecutionRoleARN, TaskRoleARN: a.TaskRoleARN,
			},
			Producer: streamingv1alpha1.ProducerSpec{
				WorkloadSpec:   streamingv1alpha1.WorkloadSpec{Image: "example.com/producer:1", CPU: 512, Memory: 1024, MinTasks: 1, MaxTasks: 4},
				TargetGroupARN: a.TargetGroupARN,
			},
			Consumer: streamingv1alpha1.ConsumerSpec{
				WorkloadSpec: streamingv1alpha1.WorkloadSpec{Image: "example.com/consumer:1", CPU: 256, Memory: 512, MinTasks: 1, MaxTasks: 4},
			},
			Scaling: streamingv1alpha1.ScalingSpec{IntervalSeconds: 10},
		},
	}
}

// get reads sp back from the API server.
func get(g Gomega, sp *streamingv1alpha1.StreamProcessor) *streamingv1alpha1.StreamProcessor {
	out := &streamingv1alpha1.StreamProcessor{}
	g.Expect(suite.k8s.Get(context.Background(), client.ObjectKeyFromObject(sp), out)).To(Succeed())
	return out
}

// update applies change to the stored sp, retrying on conflicts.
func update(t *testing.T, sp *streamingv1alpha1.StreamProcessor, change func(*streamingv1alpha1.StreamProcessor)) {
	t.Helper()
	NewWithT(t).Eventually(func() error {
		cur := &streamingv1alpha1.StreamProcessor{}
		if err := suite.k8s.Get(context.Background(), client.ObjectKeyFromObject(sp), cur); err != nil {
			return err
		}
		change(cur)
		return suite.k8s.Update(context.Background(), cur)
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
}

// conditionStatus returns the status of condition ct, or "".
func conditionStatus(sp *streamingv1alpha1.StreamProcessor, ct string) metav1.ConditionStatus {
	if c := meta.FindStatusCondition(sp.Status.Conditions, ct); c != nil {
		return c.Status
	}
	return ""
}

// waitReady waits until sp is Ready with its generation observed.
func waitReady(t *testing.T, sp *streamingv1alpha1.StreamProcessor, timeout time.Duration) *streamingv1alpha1.StreamProcessor {
	t.Helper()
	var got *streamingv1alpha1.StreamProcessor
	NewWithT(t).Eventually(func(g Gomega) {
		got = get(g, sp)
		g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation), "observedGeneration")
		g.Expect(conditionStatus(got, ConditionReady)).To(Equal(metav1.ConditionTrue), "Ready: %+v", got.Status.Conditions)
	}, timeout, 200*time.Millisecond).Should(Succeed())
	return got
}

// deleteAndWait deletes sp and waits until it is gone (the finalizer ran).
func deleteAndWait(t *testing.T, sp *streamingv1alpha1.StreamProcessor) {
	t.Helper()
	ctx := context.Background()
	if err := suite.k8s.Delete(ctx, sp); err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("delete: %v", err)
	}
	NewWithT(t).Eventually(func() bool {
		err := suite.k8s.Get(ctx, client.ObjectKeyFromObject(sp), &streamingv1alpha1.StreamProcessor{})
		return apierrors.IsNotFound(err)
	}, 60*time.Second, 200*time.Millisecond).Should(BeTrue(), "StreamProcessor %s still exists", sp.Name)
}

// service describes the ECS service of a workload of sp.
func service(g Gomega, sp *streamingv1alpha1.StreamProcessor, workload string) *etypes.Service {
	out, err := suite.ecs.DescribeServices(context.Background(), &ecs.DescribeServicesInput{
		Cluster: aws.String(suite.account.Cluster), Services: []string{serviceName(sp, workload)},
	})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out.Services).To(HaveLen(1), "service %s", serviceName(sp, workload))
	return &out.Services[0]
}

// openShards returns the open shard count and status of sp's stream.
func streamSummary(g Gomega, sp *streamingv1alpha1.StreamProcessor) (int32, string) {
	out, err := suite.kinesis.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(streamName(sp))})
	g.Expect(err).NotTo(HaveOccurred())
	return aws.ToInt32(out.StreamDescriptionSummary.OpenShardCount), string(out.StreamDescriptionSummary.StreamStatus)
}

// streamTags returns the tags of a stream.
func streamTags(g Gomega, stream string) map[string]string {
	out, err := suite.kinesis.ListTagsForStream(context.Background(), &kinesis.ListTagsForStreamInput{StreamName: aws.String(stream)})
	g.Expect(err).NotTo(HaveOccurred())
	tags := map[string]string{}
	for _, tg := range out.Tags {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return tags
}

// eventReasons lists the reasons of the events about sp, oldest first.
func eventReasons(g Gomega, sp *streamingv1alpha1.StreamProcessor) []string {
	list := &eventsv1.EventList{}
	g.Expect(suite.k8s.List(context.Background(), list, client.InNamespace(sp.Namespace))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Name == sp.Name {
			out = append(out, e.Reason)
		}
	}
	return out
}

// eventNotes lists the notes of the events of a reason about sp.
func eventNotes(g Gomega, sp *streamingv1alpha1.StreamProcessor, reason string) []string {
	list := &eventsv1.EventList{}
	g.Expect(suite.k8s.List(context.Background(), list, client.InNamespace(sp.Namespace))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Name == sp.Name && e.Reason == reason {
			out = append(out, e.Note)
		}
	}
	return out
}

func findCondition(sp *streamingv1alpha1.StreamProcessor, ct string) *metav1.Condition {
	return meta.FindStatusCondition(sp.Status.Conditions, ct)
}

// createLeaseTable creates a table shaped like the consumer's lease table.
func createLeaseTable(t *testing.T, name string) {
	t.Helper()
	_, err := suite.ddb.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("leaseKey"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("leaseKey"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("create lease table %s: %v", name, err)
	}
}

// leaseTableExists reports whether the table exists (and is not being deleted).
func leaseTableExists(t *testing.T, name string) bool {
	t.Helper()
	out, err := suite.ddb.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		if strings.Contains(err.Error(), "ResourceNotFoundException") {
			return false
		}
		t.Fatalf("describe table %s: %v", name, err)
	}
	return out.Table.TableStatus != ddbtypes.TableStatusDeleting
}
