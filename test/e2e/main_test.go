package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/controllers"
	"github.com/kdp-io/streamprocessor-operator/internal/awsapi"
	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/internal/localstack"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
)

// repoRoot is the module root, seen from this package's directory (where go
// test runs the test binary).
const repoRoot = "../.."

// suite is what TestMain set up for every test of the package.
var suite struct {
	skip     string // why the end-to-end tests cannot run here, or ""
	cfg      *rest.Config
	k8s      client.Client
	scheme   *runtime.Scheme
	aws      aws.Config
	account  localstack.Account
	kinesis  *kinesis.Client
	ecs      *ecs.Client
	dynamodb *dynamodb.Client
}

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

// runSuite starts envtest, prepares the emulated account "e2e" and plays the
// Fargate scheduler for its cluster while the tests run. When the emulators
// or the control-plane binaries are missing it records why and runs the
// tests anyway, so each can skip (or fail under SP_REQUIRE_EMULATORS=1).
func runSuite(m *testing.M) int {
	logf.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true)))
	flag.Parse()
	if testing.Short() {
		return m.Run() // the end-to-end test skips itself
	}
	if missing := missingEnv(); len(missing) > 0 {
		suite.skip = fmt.Sprintf("AWS emulators not configured (%s unset): run `make test`, or `hack/emulators.sh up && source .local/emulators.env`", strings.Join(missing, ", "))
		return m.Run()
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(repoRoot, "bin", "k8s", "v1.35.4")
	}
	if _, err := os.Stat(filepath.Join(assets, "kube-apiserver")); err != nil {
		suite.skip = "no kube-apiserver in " + assets + ": run `make test` (or hack/control-plane.sh)"
		return m.Run()
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(repoRoot, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	if err := setUp(env); err != nil {
		fmt.Fprintln(os.Stderr, "e2e suite:", err)
		_ = env.Stop()
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop envtest:", err)
		}
	}()
	schedCtx, stopScheduler := context.WithCancel(context.Background())
	defer stopScheduler()
	go playFargateScheduler(schedCtx, suite.ecs, suite.account.Cluster, time.Second)
	return m.Run()
}

// missingEnv lists the variables the suite needs that are unset: the region
// and every emulator endpoint the operator and the workloads use.
func missingEnv() []string {
	var missing []string
	for _, v := range []string{"AWS_REGION", testenv.Kinesis, testenv.ECS, testenv.EC2, testenv.DynamoDB, testenv.CloudWatch} {
		if os.Getenv(v) == "" {
			missing = append(missing, v)
		}
	}
	return missing
}

// setUp starts env and fills suite.
func setUp(env *envtest.Environment) error {
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("start envtest: %w", err)
	}
	suite.cfg = cfg
	suite.scheme = runtime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(suite.scheme), streamingv1alpha1.AddToScheme(suite.scheme)); err != nil {
		return fmt.Errorf("build scheme: %w", err)
	}
	if suite.k8s, err = client.New(cfg, client.Options{Scheme: suite.scheme}); err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if suite.aws, err = awsconfig.Load(ctx, ""); err != nil {
		return err
	}
	if suite.account, err = localstack.PrepareAccount(ctx, suite.aws, "e2e"); err != nil {
		return err
	}
	suite.kinesis = kinesis.NewFromConfig(suite.aws)
	suite.ecs = ecs.NewFromConfig(suite.aws)
	suite.dynamodb = dynamodb.NewFromConfig(suite.aws)
	return nil
}

// requireSuite skips t (fails it under SP_REQUIRE_EMULATORS=1) when the
// control plane or the emulators are missing.
func requireSuite(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	if suite.skip == "" {
		return
	}
	if os.Getenv("SP_REQUIRE_EMULATORS") == "1" {
		t.Fatal(suite.skip)
	}
	t.Skip(suite.skip)
}

// startOperator runs a manager with the StreamProcessor reconciler, wired as
// cmd/manager wires it but with a short poll interval, until t ends.
func startOperator(t *testing.T) {
	t.Helper()
	mgr, err := ctrl.NewManager(suite.cfg, ctrl.Options{
		Scheme:                 suite.scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Tests may start more than one manager in this process.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatalf("new manager: %v", err)
	}
	r := &controllers.StreamProcessorReconciler{
		Client:       mgr.GetClient(),
		Recorder:     mgr.GetEventRecorder("streamprocessor-operator"),
		AWS:          controllers.NewClientFactory(awsapi.NewCallsCounter()),
		Metrics:      controllers.NewMetricsBatcher(time.Second),
		Clock:        clock.RealClock{},
		PollInterval: 300 * time.Millisecond,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatalf("set up reconciler: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// playFargateScheduler stands in for what moto's ECS lacks: it never starts
// tasks, so a service stays at 0 running until an UpdateService sets its
// desiredCount, which moto then reports as all running. Every interval this
// loop re-sets the desiredCount of each ACTIVE service of cluster whose
// running count differs — the value the service already has, so the operator
// sees no change made outside it. The tasks' processes are started by the
// tests themselves.
func playFargateScheduler(ctx context.Context, api *ecs.Client, cluster string, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var arns []string
		pages := ecs.NewListServicesPaginator(api, &ecs.ListServicesInput{Cluster: aws.String(cluster)})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				break // try again next tick
			}
			arns = append(arns, page.ServiceArns...)
		}
		for start := 0; start < len(arns); start += 10 { // DescribeServices takes 10 at most
			out, err := api.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: arns[start:min(start+10, len(arns))]})
			if err != nil {
				continue
			}
			for _, s := range out.Services {
				if aws.ToString(s.Status) == "ACTIVE" && s.RunningCount != s.DesiredCount {
					_, _ = api.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(cluster), Service: s.ServiceName, DesiredCount: aws.Int32(s.DesiredCount)})
				}
			}
		}
	}
}
