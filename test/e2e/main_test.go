package e2e

import (
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/kdp-io/streamprocessor-operator/internal/devstack"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv/operator"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv/stack"
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
	account  devstack.Account
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
	return stack.Run(m, repoRoot, "e2e", func(st *stack.Stack, skip string) {
		if suite.skip = skip; st == nil {
			return
		}
		suite.cfg, suite.k8s, suite.scheme, suite.aws, suite.account = st.Config, st.Client, st.Scheme, st.AWS, st.Account
		suite.kinesis = kinesis.NewFromConfig(st.AWS)
		suite.ecs = ecs.NewFromConfig(st.AWS)
		suite.dynamodb = dynamodb.NewFromConfig(st.AWS)
	}, testenv.Kinesis, testenv.ECS, testenv.EC2, testenv.DynamoDB, testenv.CloudWatch)
}

// requireSuite skips t (fails it under SP_REQUIRE_EMULATORS=1) when the
// control plane or the emulators are missing.
func requireSuite(t *testing.T) {
	t.Helper()
	stack.Require(t, suite.skip)
}

// startOperator runs a manager with the StreamProcessor reconciler, wired as
// cmd/manager wires it but with a short poll interval, until t ends.
func startOperator(t *testing.T) {
	t.Helper()
	operator.Start(t, suite.cfg, suite.scheme, operator.Options{PollInterval: 300 * time.Millisecond, MetricsMaxAge: time.Second})
}
