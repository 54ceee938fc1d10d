package devstack_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kdp-io/streamprocessor-operator/internal/devstack"
)

const widgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.test.kdp.io}
spec:
  group: test.kdp.io
  names: {kind: Widget, listKind: WidgetList, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`

// assetsDir returns the control-plane binaries directory or skips the test
// (fails under SP_REQUIRE_EMULATORS=1, as make test sets).
func assetsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir != "" {
		return dir
	}
	msg := "KUBEBUILDER_ASSETS unset: run `make test`, or export KUBEBUILDER_ASSETS=$(hack/control-plane.sh)"
	if os.Getenv("SP_REQUIRE_EMULATORS") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func TestRunControlPlaneServesAdminAndStopsCleanly(t *testing.T) {
	assets := assetsDir(t)
	dir := t.TempDir()
	crds := filepath.Join(dir, "crds")
	if err := os.MkdirAll(crds, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(crds, "widgets.yaml"), []byte(widgetCRD), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := devstack.ControlPlaneOptions{
		AssetsDir:    assets,
		CRDDir:       crds,
		Kubeconfig:   filepath.Join(dir, "kubeconfig"),
		ChildPIDFile: filepath.Join(dir, "children"),
		LogDir:       filepath.Join(dir, "logs"),
		User:         "tester",
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- devstack.RunControlPlane(ctx, opts) }()
	defer func() {
		cancel()
		<-done
	}()

	waitFor(t, 120*time.Second, done, func() bool { _, err := os.Stat(opts.Kubeconfig); return err == nil })
	if fi, _ := os.Stat(opts.Kubeconfig); fi.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode %v, want 0600: it holds a client key", fi.Mode().Perm())
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", opts.Kubeconfig)
	if err != nil {
		t.Fatalf("load written kubeconfig: %v", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()

	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(rctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("who am I: %v", err)
	}
	if u := review.Status.UserInfo; u.Username != "tester" || !slices.Contains(u.Groups, "system:masters") {
		t.Errorf("kubeconfig authenticates as %q in %v, want tester in system:masters", u.Username, u.Groups)
	}

	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	crd := &unstructured.Unstructured{}
	crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	if err := c.Get(rctx, client.ObjectKey{Name: "widgets.test.kdp.io"}, crd); err != nil {
		t.Fatalf("CRD from %s not installed: %v", crds, err)
	}
	widget := &unstructured.Unstructured{}
	widget.SetGroupVersionKind(schema.GroupVersionKind{Group: "test.kdp.io", Version: "v1", Kind: "Widget"})
	widget.SetNamespace("default")
	widget.SetName("w")
	if err := c.Create(rctx, widget); err != nil {
		t.Errorf("create a Widget through the installed CRD: %v", err)
	}

	pids := readPIDs(t, opts.ChildPIDFile)
	if len(pids) != 2 {
		t.Errorf("child PIDs = %v, want etcd and kube-apiserver", pids)
	}

	cancel()
	select {
	case err := <-done:
		done <- err // for the deferred receive
		if err != nil {
			t.Fatalf("RunControlPlane after cancel: %v", err)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("RunControlPlane did not return within 90 s of cancel")
	}
	for _, f := range []string{opts.Kubeconfig, opts.ChildPIDFile} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s still exists after stop (err %v)", f, err)
		}
	}
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil && !isZombie(pid) {
			t.Errorf("child process %d still running after stop", pid)
		}
	}
}

func TestRunControlPlaneToleratesMissingOrRejectedCRDs(t *testing.T) {
	assets := assetsDir(t)
	for name, crd := range map[string]string{
		"missing":  "",
		"rejected": strings.Replace(widgetCRD, "type: object", "type: bogus", 1),
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			crds := filepath.Join(dir, "crds")
			if crd != "" {
				if err := os.MkdirAll(crds, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(crds, "widgets.yaml"), []byte(crd), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			opts := devstack.ControlPlaneOptions{AssetsDir: assets, CRDDir: crds, Kubeconfig: filepath.Join(dir, "kubeconfig")}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- devstack.RunControlPlane(ctx, opts) }()
			waitFor(t, 120*time.Second, done, func() bool { _, err := os.Stat(opts.Kubeconfig); return err == nil })
			cfg, err := clientcmd.BuildConfigFromFlags("", opts.Kubeconfig)
			if err != nil {
				t.Fatal(err)
			}
			cs, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
				t.Errorf("control plane without CRDs does not serve: %v", err)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("RunControlPlane: %v", err)
			}
		})
	}
}

func TestRunControlPlaneMissingAssets(t *testing.T) {
	dir := t.TempDir()
	err := devstack.RunControlPlane(context.Background(), devstack.ControlPlaneOptions{AssetsDir: dir, Kubeconfig: filepath.Join(dir, "kc")})
	if err == nil || !strings.Contains(err.Error(), "hack/control-plane.sh") {
		t.Fatalf("err = %v, want one pointing at hack/control-plane.sh", err)
	}
}

// waitFor polls cond until it holds; it fails early if RunControlPlane returns.
func waitFor(t *testing.T, limit time.Duration, done chan error, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("RunControlPlane returned before it was ready: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready within %v", limit)
		}
	}
}

func readPIDs(t *testing.T, file string) []int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read child PID file: %v", err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("child PID file holds %q", f)
		}
		pids = append(pids, pid)
	}
	return pids
}

// isZombie reports whether pid has exited but not been reaped yet.
func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}
