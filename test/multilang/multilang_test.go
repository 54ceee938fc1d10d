// Package multilang runs config/samples' MultiLang sample on the local stack
// as a user would: the operator on a real API server, the sample pointed at
// the emulated account (devstack.LocalizeSample), local Fargate running the
// seed's Python processor from the image's local stand-in
// (internal/devstack/localimage), records POSTed to the producer behind the
// local ALB. docs/multilang.md#on-the-local-stack.
package multilang

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	cloudwatchaws "github.com/kdp-io/streamprocessor-operator/internal/aws/cloudwatch"
	logsaws "github.com/kdp-io/streamprocessor-operator/internal/aws/logs"
	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack/localimage"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv/operator"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv/plane"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv/stack"
)

const (
	repoRoot = "../.."
	sample   = repoRoot + "/config/samples/streaming_v1alpha1_streamprocessor_multilang.yaml"
)

var suite struct {
	skip  string
	stack *stack.Stack
}

func TestMain(m *testing.M) {
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true)))
	os.Exit(stack.RunWithoutScheduler(m, repoRoot, "multilang", func(st *stack.Stack, skip string) {
		suite.stack, suite.skip = st, skip
	}, testenv.Kinesis, testenv.ECS, testenv.EC2, testenv.DynamoDB, testenv.CloudWatch, testenv.Logs))
}

// TestSeedSampleOnTheLocalStack: the MultiLang sample becomes Ready on the
// local stack, and every record POSTed to its producer is in the seed
// processor's log.
func TestSeedSampleOnTheLocalStack(t *testing.T) {
	stack.Require(t, suite.skip)
	compat := testenv.CompatFixtures(t)
	testenv.Python3(t)
	data, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	dp := plane.Start(t, repoRoot, suite.stack.Account.Cluster)
	image, err := devstack.SampleConsumerImage(data)
	if err != nil {
		t.Fatal(err)
	}
	img, err := localimage.BuildSeedProcessor(compat, dp.ImagesDir, image)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ENDPOINT_URL_KINESIS", dp.MeterURL)
	t.Setenv("AWS_ENDPOINT_URL_ECS", dp.ECSURL)
	operator.Start(t, suite.stack.Config, suite.stack.Scheme, operator.Options{PollInterval: time.Second, MetricsMaxAge: time.Second})

	sp := applySample(t, data)
	t.Cleanup(func() { deleteAndWait(t, sp) })
	waitReady(t, sp, 3*time.Minute)

	url := plane.ProducerURL(t, dp, sp.Spec.Producer.TargetGroupARN)
	var want []string
	for i := range 20 {
		d := fmt.Sprintf("%s record %02d", sp.Namespace, i)
		want = append(want, d)
		post(t, url, d)
	}
	plane.WaitForLines(t, filepath.Join(img.Root, "app", "logs", "record_processor.log"), want, time.Minute)
	requireDashboardAndLogGroup(t, sp)
}

// requireDashboardAndLogGroup: the object's CloudWatch dashboard and the log
// group the operator created for its tasks exist in the emulators, and the
// consumer's task has put its output into the group (local Fargate plays the
// awslogs driver).
func requireDashboardAndLogGroup(t *testing.T, sp *streamingv1alpha1.StreamProcessor) {
	t.Helper()
	ctx := context.Background()
	got := &streamingv1alpha1.StreamProcessor{}
	if err := suite.stack.Client.Get(ctx, client.ObjectKeyFromObject(sp), got); err != nil {
		t.Fatal(err)
	}
	st := got.Status
	if st.DashboardName == "" || st.LogGroupName == "" {
		t.Fatalf("status names no dashboard (%q) or log group (%q)", st.DashboardName, st.LogGroupName)
	}
	if _, found, err := (cloudwatchaws.Dashboards{API: cloudwatch.NewFromConfig(suite.stack.AWS, awsconfig.CloudWatchQueryProtocol)}).Get(ctx, st.DashboardName); err != nil || !found {
		t.Errorf("dashboard %s: found %t, %v", st.DashboardName, found, err)
	}
	logs := cloudwatchlogs.NewFromConfig(suite.stack.AWS)
	if g, err := (logsaws.Groups{API: logs}).Describe(ctx, st.LogGroupName); err != nil || g == nil {
		t.Fatalf("log group %s: %+v, %v", st.LogGroupName, g, err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Second) {
		out, err := logs.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{
			LogGroupName: aws.String(st.LogGroupName), LogStreamNamePrefix: aws.String("consumer/")})
		if err == nil && len(out.LogStreams) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no consumer/ log stream in %s after a minute: %v", st.LogGroupName, err)
		}
	}
}

// applySample creates the sample pointed at the stack's account, in a
// namespace of its own, with deletionPolicy Delete so that the test leaves no
// stream; as kubectl apply does, it sends only the fields the file has, so
// the API server fills in the defaults (a typed object would send minTasks 0).
func applySample(t *testing.T, data []byte) *streamingv1alpha1.StreamProcessor {
	t.Helper()
	local, err := devstack.LocalizeSample(data, suite.stack.Account, suite.stack.AWS.Region)
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(local, &obj.Object); err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "multilang-"}}
	if err := suite.stack.Client.Create(context.Background(), ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	obj.SetNamespace(ns.Name)
	if err := unstructured.SetNestedField(obj.Object, string(streamingv1alpha1.DeletionPolicyDelete), "spec", "stream", "deletionPolicy"); err != nil {
		t.Fatal(err)
	}
	if err := suite.stack.Client.Create(context.Background(), obj); err != nil {
		t.Fatalf("create the sample: %v", err)
	}
	sp := &streamingv1alpha1.StreamProcessor{}
	if err := suite.stack.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), sp); err != nil {
		t.Fatal(err)
	}
	if sp.Spec.Consumer.Processor == nil {
		t.Fatal("the sample has no spec.consumer.processor")
	}
	return sp
}

func waitReady(t *testing.T, sp *streamingv1alpha1.StreamProcessor, timeout time.Duration) {
	t.Helper()
	var last streamingv1alpha1.StreamProcessor
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(time.Second) {
		if err := suite.stack.Client.Get(context.Background(), client.ObjectKeyFromObject(sp), &last); err == nil {
			if c := meta.FindStatusCondition(last.Status.Conditions, "Ready"); c != nil && c.Status == metav1.ConditionTrue {
				return
			}
		}
	}
	t.Fatalf("not Ready after %s; conditions: %+v", timeout, last.Status.Conditions)
}

// post sends one record as the seed's clients do and requires a 200. A 503
// (the ALB has no healthy target yet: registration and health checks follow
// the task's RUNNING, as on AWS) is retried for up to a minute.
func post(t *testing.T, url, data string) {
	t.Helper()
	body := fmt.Sprintf(`{"data":%q}`, data)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Second) {
		resp, err := http.Post(url, "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatalf("POST %s: %v", url, err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK:
			return
		case resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline):
			t.Fatalf("POST %s: %d %s", url, resp.StatusCode, b)
		}
	}
}

func deleteAndWait(t *testing.T, sp *streamingv1alpha1.StreamProcessor) {
	t.Helper()
	ctx := context.Background()
	if err := suite.stack.Client.Delete(ctx, sp); client.IgnoreNotFound(err) != nil {
		t.Errorf("delete StreamProcessor: %v", err)
		return
	}
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		if apierrors.IsNotFound(suite.stack.Client.Get(ctx, client.ObjectKeyFromObject(sp), &streamingv1alpha1.StreamProcessor{})) {
			return
		}
	}
	t.Errorf("StreamProcessor %s/%s still there 2 minutes after delete", sp.Namespace, sp.Name)
}
