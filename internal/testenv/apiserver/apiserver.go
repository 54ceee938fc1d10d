// Package apiserver starts a bare envtest control plane (kube-apiserver and
// etcd, binaries from hack/control-plane.sh) with the StreamProcessor CRD, for
// tests that need the API server but no AWS emulator: the Prometheus gauges
// and the kubectl plugin.
package apiserver

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	streamingv1alpha1 "github.com/kdp-io/streamprocessor-operator/api/v1alpha1"
	"github.com/kdp-io/streamprocessor-operator/internal/testenv/stack"
)

// Server is a running control plane.
type Server struct {
	Config *rest.Config
	Client client.Client
	Scheme *runtime.Scheme
	// Kubeconfig is a kubeconfig file for Config (a user with admin rights),
	// for code that loads its configuration as kubectl does.
	Kubeconfig string

	env *envtest.Environment
}

// Run is the body of a TestMain: it starts the control plane (CRDs from
// <root>/config/crd/bases), passes it to setup, runs m and stops it. Without
// the binaries setup gets nil and the reason, and each test skips through
// Require (or fails under SP_REQUIRE_EMULATORS=1). Under -short nothing starts.
func Run(m *testing.M, root string, setup func(s *Server, skip string)) int {
	flag.Parse()
	if testing.Short() {
		setup(nil, "skipped with -short")
		return m.Run()
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(root, "bin", "k8s", stack.K8sVersion)
	}
	if _, err := os.Stat(filepath.Join(assets, "kube-apiserver")); err != nil {
		setup(nil, "no kube-apiserver in "+assets+": run `make test` (or hack/control-plane.sh)")
		return m.Run()
	}
	s := &Server{env: &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}}
	if err := s.start(); err != nil {
		fmt.Fprintln(os.Stderr, "start envtest:", err)
		_ = s.env.Stop()
		return 1
	}
	defer func() {
		_ = os.Remove(s.Kubeconfig)
		if err := s.env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop envtest:", err)
		}
	}()
	setup(s, "")
	return m.Run()
}

func (s *Server) start() error {
	cfg, err := s.env.Start()
	if err != nil {
		return err
	}
	s.Config = cfg
	s.Scheme = runtime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(s.Scheme), streamingv1alpha1.AddToScheme(s.Scheme)); err != nil {
		return fmt.Errorf("build scheme: %w", err)
	}
	if s.Client, err = client.New(cfg, client.Options{Scheme: s.Scheme}); err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	user, err := s.env.ControlPlane.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("add kubeconfig user: %w", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("render kubeconfig: %w", err)
	}
	f, err := os.CreateTemp("", "envtest-kubeconfig-*")
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(kc); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	s.Kubeconfig = f.Name()
	return nil
}

// Require skips t with skip (the reason Run gave), or fails it under
// SP_REQUIRE_EMULATORS=1, so that CI never passes by skipping.
func Require(t testing.TB, skip string) {
	t.Helper()
	if skip == "" {
		return
	}
	if os.Getenv("SP_REQUIRE_EMULATORS") == "1" && !testing.Short() {
		t.Fatal(skip)
	}
	t.Skip(skip)
}
