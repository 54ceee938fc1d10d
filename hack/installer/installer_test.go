package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

const root = "../.."

// TestDistIsUpToDate fails when dist/install.yaml or dist/chart differ from
// what `make build-installer` writes from config/ and hack/installer/chart.
func TestDistIsUpToDate(t *testing.T) {
	fresh := t.TempDir()
	if err := Write(root, fresh, DefaultImage); err != nil {
		t.Fatal(err)
	}
	want := files(t, fresh)
	got := files(t, filepath.Join(root, "dist"))
	for name, b := range want {
		if !bytes.Equal(got[name], b) {
			t.Errorf("dist/%s is stale or missing: run `make build-installer` and commit it", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok && !strings.HasPrefix(name, "images/") {
			t.Errorf("dist/%s is not generated any more: remove it", name)
		}
	}
}

// TestBundleAppliesToAPIServer builds the bundle with another image, applies
// it with a server-side dry run and then for real to a real kube-apiserver,
// and reads the objects back.
func TestBundleAppliesToAPIServer(t *testing.T) {
	c := apiServer(t)
	const img = "registry.example.com/sp/manager:v9.9.9"
	b, err := Bundle(root, img)
	if err != nil {
		t.Fatal(err)
	}
	objs := decode(t, b)
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
	}
	for _, k := range []string{"CustomResourceDefinition", "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Deployment"} {
		if kinds[k] == 0 {
			t.Errorf("install.yaml has no %s (has %v)", k, kinds)
		}
	}
	apply(t, c, objs)

	dep := get(t, c, "apps/v1", "Deployment", "streamprocessor-system", "streamprocessor-controller-manager")
	containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	if len(containers) != 1 || containers[0].(map[string]any)["image"] != img {
		t.Errorf("manager containers %v; want one with image %s", containers, img)
	}
	if sa, _, _ := unstructured.NestedString(dep.Object, "spec", "template", "spec", "serviceAccountName"); sa != "streamprocessor-controller-manager" {
		t.Errorf("service account %q", sa)
	}
	get(t, c, "apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "streamprocessors.streaming.kdp.io")
	get(t, c, "rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "streamprocessor-manager-rolebinding")
	get(t, c, "v1", "ServiceAccount", "streamprocessor-system", "streamprocessor-controller-manager")

	// The metrics endpoint: HTTPS on 8443 behind authn/authz, its Service and RBAC.
	if args, _ := containers[0].(map[string]any)["args"].([]any); !slices.Contains(args, "--metrics-bind-address=:8443") {
		t.Errorf("manager args %v; want --metrics-bind-address=:8443", args)
	}
	wantHTTPSPort(t, get(t, c, "v1", "Service", "streamprocessor-system", "streamprocessor-controller-manager-metrics-service"))
	wantRules(t, get(t, c, "rbac.authorization.k8s.io/v1", "ClusterRole", "", "streamprocessor-metrics-auth-role"), "tokenreviews", "subjectaccessreviews")
	wantRules(t, get(t, c, "rbac.authorization.k8s.io/v1", "ClusterRole", "", "streamprocessor-metrics-reader"), "/metrics")
	binding := get(t, c, "rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "streamprocessor-metrics-auth-rolebinding")
	if subj, _, _ := unstructured.NestedSlice(binding.Object, "subjects"); len(subj) != 1 || subj[0].(map[string]any)["name"] != "streamprocessor-controller-manager" {
		t.Errorf("metrics-auth binding subjects %v; want the manager's service account", subj)
	}
}

// wantHTTPSPort fails unless the metrics Service has one port, named https, on 8443.
func wantHTTPSPort(t *testing.T, svc *unstructured.Unstructured) {
	t.Helper()
	if ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports"); len(ports) != 1 ||
		ports[0].(map[string]any)["name"] != "https" || ports[0].(map[string]any)["port"] != int64(8443) {
		t.Errorf("metrics Service %s ports %v; want one named https on 8443", svc.GetName(), ports)
	}
}

// wantRules fails unless the ClusterRole's rules name every one of want (a
// resource or a non-resource URL).
func wantRules(t *testing.T, role *unstructured.Unstructured, want ...string) {
	t.Helper()
	rules, _, _ := unstructured.NestedSlice(role.Object, "rules")
	var has []any
	for _, r := range rules {
		r := r.(map[string]any)
		res, _ := r["resources"].([]any)
		urls, _ := r["nonResourceURLs"].([]any)
		has = append(append(has, res...), urls...)
	}
	for _, w := range want {
		if !slices.Contains(has, any(w)) {
			t.Errorf("ClusterRole %s has %v; want %s", role.GetName(), has, w)
		}
	}
}

// TestChartLintsRendersAndApplies lints the chart with Helm's Go SDK, renders it
// with non-default values, applies the CRD and the manifests (dry run, then for
// real) and reads the objects back.
func TestChartLintsRendersAndApplies(t *testing.T) {
	dir := t.TempDir()
	if err := Chart(root, dir); err != nil {
		t.Fatal(err)
	}
	values := map[string]any{
		"image":          map[string]any{"repository": "registry.example.com/sp/manager", "tag": "v1.2.3"},
		"replicas":       3,
		"region":         "eu-west-1",
		"leaderElection": map[string]any{"enabled": false},
		"serviceAccount": map[string]any{"annotations": map[string]any{"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/sp-operator"}},
		"env":            []any{map[string]any{"name": "AWS_ENDPOINT_URL_KINESIS", "value": "http://kinesis.local:4567"}},
		"resources":      map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "128Mi"}},
	}
	linter := lint.AllWithKubeVersion(dir, values, "sp-chart", nil)
	for _, m := range linter.Messages {
		if m.Severity >= support.WarningSev {
			t.Errorf("helm lint: %s", m)
		}
	}

	ch, err := loader.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	rv, err := chartutil.ToRenderValues(ch, values, chartutil.ReleaseOptions{Name: "sp", Namespace: "sp-chart", IsInstall: true, Revision: 1}, chartutil.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := engine.Render(ch, rv)
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(rendered))
	for n := range rendered {
		names = append(names, n)
	}
	sort.Strings(names)
	var manifests bytes.Buffer
	for _, n := range names {
		if strings.HasSuffix(n, ".yaml") {
			manifests.WriteString("---\n" + rendered[n] + "\n")
		}
	}
	var objs []*unstructured.Unstructured
	for _, crd := range ch.CRDObjects() {
		objs = append(objs, decode(t, crd.File.Data)...)
	}
	objs = append(objs, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "sp-chart"}}})
	objs = append(objs, decode(t, manifests.Bytes())...)
	for _, o := range objs {
		if o.GetKind() == "Role" && strings.Contains(o.GetName(), "leader-election") {
			t.Errorf("leaderElection.enabled=false still renders %s", o.GetName())
		}
	}

	c := apiServer(t)
	apply(t, c, objs)

	dep := get(t, c, "apps/v1", "Deployment", "sp-chart", "sp-streamprocessor-operator")
	if r, _, _ := unstructured.NestedInt64(dep.Object, "spec", "replicas"); r != 3 {
		t.Errorf("replicas %d, want 3", r)
	}
	containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	if len(containers) != 1 {
		t.Fatalf("containers %v", containers)
	}
	m := containers[0].(map[string]any)
	if m["image"] != "registry.example.com/sp/manager:v1.2.3" {
		t.Errorf("image %v", m["image"])
	}
	env := map[string]string{}
	for _, e := range m["env"].([]any) {
		e := e.(map[string]any)
		env[e["name"].(string)], _ = e["value"].(string)
	}
	if env["AWS_REGION"] != "eu-west-1" || env["AWS_ENDPOINT_URL_KINESIS"] != "http://kinesis.local:4567" {
		t.Errorf("env %v", env)
	}
	if args := m["args"].([]any); args[0] != "--leader-elect=false" {
		t.Errorf("args %v", args)
	}
	sa := get(t, c, "v1", "ServiceAccount", "sp-chart", "sp-streamprocessor-operator")
	if sa.GetAnnotations()["eks.amazonaws.com/role-arn"] != "arn:aws:iam::123456789012:role/sp-operator" {
		t.Errorf("service account annotations %v", sa.GetAnnotations())
	}
	role := get(t, c, "rbac.authorization.k8s.io/v1", "ClusterRole", "", "sp-streamprocessor-operator-manager")
	if rules, _, _ := unstructured.NestedSlice(role.Object, "rules"); len(rules) == 0 {
		t.Error("the chart's ClusterRole has no rules")
	}
	get(t, c, "apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "streamprocessors.streaming.kdp.io")

	// Metrics by default: HTTPS on 8443 behind authn/authz.
	if args := m["args"].([]any); !slices.Contains(args, "--metrics-bind-address=:8443") || !slices.Contains(args, "--metrics-secure=true") {
		t.Errorf("args %v; want HTTPS metrics on :8443", args)
	}
	wantHTTPSPort(t, get(t, c, "v1", "Service", "sp-chart", "sp-streamprocessor-operator-metrics"))
	wantRules(t, get(t, c, "rbac.authorization.k8s.io/v1", "ClusterRole", "", "sp-streamprocessor-operator-metrics-auth"), "tokenreviews", "subjectaccessreviews")
	wantRules(t, get(t, c, "rbac.authorization.k8s.io/v1", "ClusterRole", "", "sp-streamprocessor-operator-metrics-reader"), "/metrics")
	get(t, c, "rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "sp-streamprocessor-operator-metrics-auth")
}

// apiServer starts a real kube-apiserver and etcd (envtest) for one test. It
// skips where the binaries are missing, except under SP_REQUIRE_EMULATORS=1 or
// CI=true (`make test` provides them).
func apiServer(t *testing.T) client.Client {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a kube-apiserver: skipped with -short")
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(root, "bin", "k8s", "v1.35.4")
	}
	if _, err := os.Stat(filepath.Join(assets, "kube-apiserver")); err != nil {
		msg := "no kube-apiserver in " + assets + ": run `make test` (or hack/control-plane.sh)"
		if os.Getenv("SP_REQUIRE_EMULATORS") == "1" || os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start envtest: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c, err := client.New(cfg, client.Options{Scheme: runtime.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// apply applies objs in order — namespaces and CRDs first — each first with a
// server-side dry run, then for real.
func apply(t *testing.T, c client.Client, objs []*unstructured.Unstructured) {
	t.Helper()
	rank := func(o *unstructured.Unstructured) int {
		switch {
		case o.GetKind() == "Namespace":
			return 0
		case o.GetKind() == "CustomResourceDefinition":
			return 1
		case o.GetNamespace() == "":
			return 2
		}
		return 3
	}
	sort.SliceStable(objs, func(i, j int) bool { return rank(objs[i]) < rank(objs[j]) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, o := range objs {
		what := o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), client.FieldOwner("install-test"), client.ForceOwnership, client.DryRunAll); err != nil {
			t.Fatalf("server-side dry run of %s: %v", what, err)
		}
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), client.FieldOwner("install-test"), client.ForceOwnership); err != nil {
			t.Fatalf("apply %s: %v", what, err)
		}
	}
}

func get(t *testing.T, c client.Client, apiVersion, kind, ns, name string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
		t.Fatalf("read back %s %s/%s: %v", kind, ns, name, err)
	}
	return u
}

func decode(t *testing.T, b []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	for {
		var m map[string]any
		if err := d.Decode(&m); err == io.EOF {
			return objs
		} else if err != nil {
			t.Fatalf("decode manifests: %v", err)
		}
		if len(m) > 0 {
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
}

// files maps every file under dir (slash-separated relative names) to its bytes.
func files(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = b
		return nil
	})
	return out
}

// TestPrometheusComponentScrapesMetricsService builds config/default with the
// optional config/prometheus component and checks that its ServiceMonitor
// selects the metrics Service and scrapes its https port with a bearer token
// over TLS, as the secure endpoint requires.
func TestPrometheusComponentScrapesMetricsService(t *testing.T) {
	// A copy of config/ with the component enabled as config/default's
	// comment says: uncomment its two lines.
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(root, "config"))); err != nil {
		t.Fatal(err)
	}
	kpath := filepath.Join(dir, "default", "kustomization.yaml")
	k, err := os.ReadFile(kpath)
	if err != nil {
		t.Fatal(err)
	}
	const commented = "# components:\n# - ../prometheus\n"
	if !bytes.Contains(k, []byte(commented)) {
		t.Fatalf("config/default/kustomization.yaml has no %q to uncomment", commented)
	}
	k = bytes.Replace(k, []byte(commented), []byte("components:\n- ../prometheus\n"), 1)
	if err := os.WriteFile(kpath, k, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(dir, "default"))
	if err != nil {
		t.Fatalf("kustomize build config/default with config/prometheus: %v", err)
	}
	b, err := res.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	var svc, mon *unstructured.Unstructured
	for _, o := range decode(t, b) {
		switch o.GetKind() {
		case "Service":
			svc = o
		case "ServiceMonitor":
			mon = o
		}
	}
	if svc == nil || mon == nil {
		t.Fatalf("Service %v, ServiceMonitor %v: want both", svc != nil, mon != nil)
	}
	if mon.GetNamespace() != svc.GetNamespace() {
		t.Errorf("ServiceMonitor in %q, Service in %q", mon.GetNamespace(), svc.GetNamespace())
	}
	sel, _, _ := unstructured.NestedStringMap(mon.Object, "spec", "selector", "matchLabels")
	if len(sel) == 0 {
		t.Error("ServiceMonitor selects nothing")
	}
	for k, v := range sel {
		if svc.GetLabels()[k] != v {
			t.Errorf("ServiceMonitor selects %s=%s; the Service has labels %v", k, v, svc.GetLabels())
		}
	}
	ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	eps, _, _ := unstructured.NestedSlice(mon.Object, "spec", "endpoints")
	if len(eps) != 1 || len(ports) != 1 {
		t.Fatalf("endpoints %v, service ports %v: want one each", eps, ports)
	}
	ep := eps[0].(map[string]any)
	if ep["port"] != ports[0].(map[string]any)["name"] || ep["scheme"] != "https" || ep["path"] != "/metrics" ||
		ep["bearerTokenFile"] != "/var/run/secrets/kubernetes.io/serviceaccount/token" {
		t.Errorf("endpoint %v; want port %v over https with the service account token", ep, ports[0].(map[string]any)["name"])
	}
	if tls, _ := ep["tlsConfig"].(map[string]any); tls == nil {
		t.Errorf("endpoint %v has no tlsConfig", ep)
	}
}
