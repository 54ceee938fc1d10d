package metricsendpoint

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kdp-io/streamprocessor-operator/internal/testenv/apiserver"
)

var (
	server *apiserver.Server
	skip   string
)

func TestMain(m *testing.M) {
	os.Exit(apiserver.Run(m, "../..", func(s *apiserver.Server, why string) { server, skip = s, why }))
}

// knownMetric is one of controller-runtime's own series (client-go's request
// counter in metrics.Registry): present in every manager's /metrics.
const knownMetric = "rest_client_requests_total"

func TestFlagDefaults(t *testing.T) {
	o := Defaults()
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	o.BindFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if o.BindAddress != ":8443" || !o.Secure || o.EnableHTTP2 || o.CertPath != "" || o.CertName != "tls.crt" || o.CertKey != "tls.key" {
		t.Errorf("defaults %+v; want HTTPS on :8443, HTTP/2 off, a self-signed certificate", o)
	}
	s, w, err := o.ServerOptions()
	if err != nil || w != nil {
		t.Fatalf("ServerOptions: %v, watcher %v", err, w)
	}
	if !s.SecureServing || s.FilterProvider == nil {
		t.Errorf("secure by default: SecureServing %v, FilterProvider set %v", s.SecureServing, s.FilterProvider != nil)
	}

	if err := fs.Parse([]string{"--metrics-secure=false", "--metrics-bind-address=:8080"}); err != nil {
		t.Fatal(err)
	}
	s, _, err = o.ServerOptions()
	if err != nil || s.SecureServing || s.FilterProvider != nil || s.BindAddress != ":8080" {
		t.Errorf("--metrics-secure=false: %+v, %v; want plain HTTP on :8080 without a filter", s, err)
	}
}

func TestMissingCertificateFails(t *testing.T) {
	o := Defaults()
	o.CertPath = t.TempDir()
	if _, _, err := o.ServerOptions(); err == nil || !strings.Contains(err.Error(), "tls.crt") {
		t.Errorf("ServerOptions with no certificate in %s: %v; want an error naming tls.crt", o.CertPath, err)
	}
}

// TestSecureMetricsNeedAuthorizedToken runs the manager's metrics server as
// cmd/manager configures it by default, under a service account with only the
// RBAC of config/rbac, and scrapes it with three callers.
func TestSecureMetricsNeedAuthorizedToken(t *testing.T) {
	apiserver.Require(t, skip)
	ns := setupRBAC(t)
	o := Defaults()
	addr := startManager(t, o, ns)
	url := "https://" + addr + "/metrics"
	c := httpsClient(&tls.Config{InsecureSkipVerify: true}) // the default certificate is self-signed

	if code, _, _ := scrape(t, c, url, ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", code)
	}
	if code, _, _ := scrape(t, c, url, token(t, ns, "stranger")); code != http.StatusForbidden {
		t.Errorf("token of a service account without metrics-reader: %d, want 403", code)
	}
	code, body, proto := scrape(t, c, url, token(t, ns, "scraper"))
	if code != http.StatusOK || !strings.Contains(body, knownMetric) {
		t.Errorf("token of a service account bound to metrics-reader: %d, body has %s: %v; want 200 with it", code, knownMetric, strings.Contains(body, knownMetric))
	}
	// The client offers h2; the server must answer in HTTP/1.1 (--enable-http2=false).
	if proto != "HTTP/1.1" {
		t.Errorf("protocol %s, want HTTP/1.1 with --enable-http2=false", proto)
	}
	// Go's TLS server answers a plain request with a 400 and closes.
	if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || strings.Contains(string(body), knownMetric) {
			t.Errorf("plain HTTP on the secure endpoint: %d, metrics in the body %v", resp.StatusCode, strings.Contains(string(body), knownMetric))
		}
	}
}

// TestProvidedCertificate serves the certificate of --metrics-cert-path, which
// a client that trusts only it can verify.
func TestProvidedCertificate(t *testing.T) {
	apiserver.Require(t, skip)
	ns := setupRBAC(t)
	dir := t.TempDir()
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey("metrics.test", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := Defaults()
	o.CertPath, o.CertName, o.CertKey = dir, "cert.pem", "key.pem"
	for name, b := range map[string][]byte{"cert.pem": certPEM, "key.pem": keyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	addr := startManager(t, o, ns)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(certPEM) {
		t.Fatal("parse the generated certificate")
	}
	c := httpsClient(&tls.Config{RootCAs: pool, ServerName: "metrics.test"})
	if code, body, _ := scrape(t, c, "https://"+addr+"/metrics", token(t, ns, "scraper")); code != http.StatusOK || !strings.Contains(body, knownMetric) {
		t.Errorf("scrape verifying the provided certificate: %d", code)
	}
}

// TestPlainMetrics: --metrics-secure=false serves HTTP without a token, for
// `make run` on a developer's machine.
func TestPlainMetrics(t *testing.T) {
	apiserver.Require(t, skip)
	ns := setupRBAC(t)
	o := Defaults()
	o.Secure = false
	addr := startManager(t, o, ns)
	code, body, _ := scrape(t, http.DefaultClient, "http://"+addr+"/metrics", "")
	if code != http.StatusOK || !strings.Contains(body, knownMetric) {
		t.Errorf("plain scrape without a token: %d, want 200 with %s", code, knownMetric)
	}
}

// setupRBAC creates a namespace with three service accounts — the manager
// (bound as config/rbac binds it), "scraper" (bound to metrics-reader) and
// "stranger" (no binding) — and applies the ClusterRoles of config/rbac. It
// returns the namespace.
func setupRBAC(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	ns := fmt.Sprintf("metrics-%d", time.Now().UnixNano()%1e9)
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	for _, sa := range []string{"controller-manager", "scraper", "stranger"} {
		create(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa}})
	}
	for _, f := range []string{"metrics_auth_role.yaml", "metrics_reader_role.yaml"} {
		role := &rbacv1.ClusterRole{}
		readYAML(t, f, role)
		role.Name = ns + "-" + role.Name
		create(t, role)
	}
	binding := &rbacv1.ClusterRoleBinding{}
	readYAML(t, "metrics_auth_role_binding.yaml", binding)
	if len(binding.Subjects) != 1 || binding.Subjects[0].Name != "controller-manager" {
		t.Fatalf("config/rbac/metrics_auth_role_binding.yaml binds %v; want the manager's service account", binding.Subjects)
	}
	binding.Name = ns + "-" + binding.Name
	binding.RoleRef.Name = ns + "-" + binding.RoleRef.Name
	binding.Subjects[0].Namespace = ns
	create(t, binding)
	create(t, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-scraper"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ns + "-metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "scraper"}},
	})
	t.Cleanup(func() {
		_ = server.Client.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	})
	return ns
}

// startManager starts a manager whose metrics server is built from o, as
// cmd/manager builds it, with the credentials of the manager's service
// account in ns, and returns the address it listens on.
func startManager(t *testing.T, o Options, ns string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o.BindAddress = l.Addr().String()
	_ = l.Close()
	metricsOpts, watcher, err := o.ServerOptions()
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.AnonymousClientConfig(server.Config)
	cfg.BearerToken = token(t, ns, "controller-manager")
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 server.Scheme,
		Metrics:                metricsOpts,
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		t.Fatal(err)
	}
	if watcher != nil {
		if err := mgr.Add(watcher); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager stopped: %v", err)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", o.BindAddress, time.Second)
		if err == nil {
			_ = conn.Close()
			return o.BindAddress
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics server not listening on %s: %v", o.BindAddress, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func httpsClient(c *tls.Config) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: c, ForceAttemptHTTP2: true}}
}

// scrape GETs url with the bearer token (none if empty) and returns the
// status code, the body and the protocol of the answer.
func scrape(t *testing.T, c *http.Client, url, token string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body), resp.Proto
}

// token returns a fresh token of service account sa in ns (TokenRequest).
func token(t *testing.T, ns, sa string) string {
	t.Helper()
	cs, err := kubernetes.NewForConfig(server.Config)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), sa,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token of service account %s/%s: %v", ns, sa, err)
	}
	return tr.Status.Token
}

func readYAML(t *testing.T, name string, into any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "config", "rbac", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, into); err != nil {
		t.Fatalf("config/rbac/%s: %v", name, err)
	}
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := server.Client.Create(context.Background(), obj); err != nil {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}
