// Package stack starts what the operator's integration tests run against: a
// real kube-apiserver and etcd (envtest, binaries from hack/control-plane.sh)
// with the CRD installed, and an emulated AWS account (internal/devstack)
// on the emulators of hack/emulators.sh. The controllers suite and the
// end-to-end suite share it; each starts its own operator.
package stack

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
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/awsconfig"
	"github.com/kdp-io/streamprocessor-operator/internal/devstack"
)

// K8sVersion is the control plane hack/control-plane.sh builds.
const K8sVersion = "v1.35.4"

// Stack is a running control plane and a prepared emulated account.
type Stack struct {
	Config  *rest.Config
	Client  client.Client
	Scheme  *runtime.Scheme
	AWS     aws.Config
	Account devstack.Account

	env *envtest.Environment
}

// Start starts the control plane (CRDs from <root>/config/crd/bases) and
// prepares the emulated account named account. root is the module root as
// seen from the test's package directory. When a variable of needs (emulator
// endpoints) or the control-plane binaries are missing it starts nothing and
// returns why as skip, for the tests to skip (or fail under
// SP_REQUIRE_EMULATORS=1).
func Start(root, account string, needs ...string) (s *Stack, skip string, err error) {
	var missing []string
	for _, v := range append([]string{"AWS_REGION"}, needs...) {
		if os.Getenv(v) == "" {
			missing = append(missing, v)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Sprintf("AWS emulators not configured (%s unset): run `make test`, or `hack/emulators.sh up && source .local/emulators.env`", strings.Join(missing, ", ")), nil
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(root, "bin", "k8s", K8sVersion)
	}
	if _, err := os.Stat(filepath.Join(assets, "kube-apiserver")); err != nil {
		return nil, "no kube-apiserver in " + assets + ": run `make test` (or hack/control-plane.sh)", nil
	}
	// envtest picks its ports by opening and closing a listener; a suite
	// starting beside others (go test runs packages in parallel) can lose
	// such a port to another suite's etcd or API server before binding it.
	// A failed start is stopped, printed and tried afresh.
	var errs []error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		s = &Stack{env: &envtest.Environment{
			BinaryAssetsDirectory: assets,
			CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
			ErrorIfCRDPathMissing: true,
		}}
		err := s.start(account)
		if err == nil {
			return s, "", nil
		}
		_ = s.env.Stop()
		fmt.Fprintf(os.Stderr, "stack %s: start %d of %d failed: %v\n", account, attempt, startAttempts, err)
		errs = append(errs, err)
	}
	return nil, "", errors.Join(errs...)
}

// startAttempts is how many times Start tries the control plane and the
// account before it gives up.
const startAttempts = 3

func (s *Stack) start(account string) error {
	cfg, err := s.env.Start()
	if err != nil {
		return fmt.Errorf("start envtest: %w", err)
	}
	s.Config = cfg
	s.Scheme = runtime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(s.Scheme), streamingv1alpha1.AddToScheme(s.Scheme)); err != nil {
		return fmt.Errorf("build scheme: %w", err)
	}
	if s.Client, err = client.New(cfg, client.Options{Scheme: s.Scheme}); err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if s.AWS, err = awsconfig.Load(ctx, ""); err != nil {
		return err
	}
	if s.Account, err = devstack.PrepareAccount(ctx, s.AWS, account); err != nil {
		return err
	}
	return nil
}

// Stop stops the control plane.
func (s *Stack) Stop() error { return s.env.Stop() }

// PlayFargateScheduler stands in, until ctx ends, for what moto's ECS lacks:
// it never starts tasks, so a service stays at 0 running until an
// UpdateService sets its desiredCount, which moto then reports as all
// running. Every interval this re-sets the desiredCount of each ACTIVE
// service of the account's cluster whose running count differs — the value
// the service already has, so the operator sees no change made outside it.
// This is test scaffolding, never operator code.
func (s *Stack) PlayFargateScheduler(ctx context.Context, interval time.Duration) {
	api, cluster := ecs.NewFromConfig(s.AWS), aws.String(s.Account.Cluster)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		var arns []string
		pages := ecs.NewListServicesPaginator(api, &ecs.ListServicesInput{Cluster: cluster})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				break // try again next tick
			}
			arns = append(arns, page.ServiceArns...)
		}
		for start := 0; start < len(arns); start += 10 { // DescribeServices takes 10 at most
			out, err := api.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: cluster, Services: arns[start:min(start+10, len(arns))]})
			if err != nil {
				continue
			}
			for _, svc := range out.Services {
				if aws.ToString(svc.Status) == "ACTIVE" && svc.RunningCount != svc.DesiredCount {
					_, _ = api.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: cluster, Service: svc.ServiceName, DesiredCount: aws.Int32(svc.DesiredCount)})
				}
			}
		}
	}
}

// Run is the body of a TestMain: it starts the stack (as Start), hands it
// to setup, plays the Fargate scheduler while m runs, and stops it. When the
// control plane or the emulators are missing, setup gets nil and the reason,
// and the tests run anyway so that each can skip (see Require). Under -short
// nothing starts and setup is not called.
func Run(m *testing.M, root, account string, setup func(st *Stack, skip string), needs ...string) int {
	return run(m, root, account, setup, true, needs)
}

// RunWithoutScheduler is Run for suites that run tasks with local Fargate
// (internal/devstack/fargate): nothing touches their services but the operator.
func RunWithoutScheduler(m *testing.M, root, account string, setup func(st *Stack, skip string), needs ...string) int {
	return run(m, root, account, setup, false, needs)
}

func run(m *testing.M, root, account string, setup func(st *Stack, skip string), schedule bool, needs []string) int {
	flag.Parse()
	if testing.Short() {
		return m.Run() // integration tests skip themselves
	}
	st, skip, err := Start(root, account, needs...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration suite %s: %v\n", account, err)
		return 1
	}
	if skip != "" {
		setup(nil, skip)
		return m.Run()
	}
	defer func() {
		if err := st.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop envtest:", err)
		}
	}()
	setup(st, "")
	if schedule {
		ctx, stopScheduler := context.WithCancel(context.Background())
		defer stopScheduler()
		go st.PlayFargateScheduler(ctx, time.Second)
	}
	return m.Run()
}

// Require skips t with skip (the reason Start gave), or fails it under
// SP_REQUIRE_EMULATORS=1 — as `make test` sets, so CI never passes by
// skipping. With -short it always skips.
func Require(t testing.TB, skip string) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
	if skip == "" {
		return
	}
	if os.Getenv("SP_REQUIRE_EMULATORS") == "1" {
		t.Fatal(skip)
	}
	t.Skip(skip)
}
