// Package metricsendpoint configures the manager's /metrics endpoint as
// kubebuilder v4 scaffolds it: HTTPS on :8443 behind controller-runtime's
// authentication and authorization filter (TokenReview + SubjectAccessReview
// against the API server), a self-signed certificate unless one is provided,
// and HTTP/2 off unless asked for. Plain HTTP stays possible for local use
// (--metrics-secure=false).
//
// cmd/manager and the envtest tests build the metrics server from the same
// Options.ServerOptions, so what the tests check is what the manager serves.
package metricsendpoint

import (
	"crypto/tls"
	"flag"
	"fmt"
	"path/filepath"

	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// Options are the manager's metrics flags.
type Options struct {
	// BindAddress is where /metrics listens; "0" disables it.
	BindAddress string
	// Secure serves HTTPS and requires a bearer token that the API server
	// authenticates and authorizes for GET on the non-resource URL /metrics.
	Secure bool
	// CertPath is a directory holding CertName and CertKey; empty means a
	// self-signed certificate generated in memory at start.
	CertPath, CertName, CertKey string
	// EnableHTTP2 allows HTTP/2 on the HTTPS endpoint. Off by default: the
	// HTTP/2 Rapid Reset and Stream Cancellation vulnerabilities
	// (CVE-2023-44487, CVE-2023-39325) make HTTP/1.1 the safer choice for an
	// endpoint that has no need for HTTP/2.
	EnableHTTP2 bool
}

// Defaults returns the flags' defaults: HTTPS with authn/authz on :8443.
func Defaults() Options {
	return Options{BindAddress: ":8443", Secure: true, CertName: "tls.crt", CertKey: "tls.key"}
}

// BindFlags registers the metrics flags on fs with o's values as defaults.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.BindAddress, "metrics-bind-address", o.BindAddress,
		"Address of the metrics endpoint: :8443 for HTTPS, :8080 for HTTP (with --metrics-secure=false); 0 disables it.")
	fs.BoolVar(&o.Secure, "metrics-secure", o.Secure,
		"Serve metrics over HTTPS, only to callers whose bearer token the API server authenticates and authorizes for GET /metrics. false serves plain HTTP without authentication.")
	fs.StringVar(&o.CertPath, "metrics-cert-path", o.CertPath,
		"Directory with the metrics server's certificate and key; empty: a self-signed certificate.")
	fs.StringVar(&o.CertName, "metrics-cert-name", o.CertName, "File name of the metrics server certificate in --metrics-cert-path.")
	fs.StringVar(&o.CertKey, "metrics-cert-key", o.CertKey, "File name of the metrics server key in --metrics-cert-path.")
	fs.BoolVar(&o.EnableHTTP2, "enable-http2", o.EnableHTTP2,
		"Allow HTTP/2 on the metrics endpoint (off: CVE-2023-44487 and CVE-2023-39325).")
}

// ServerOptions returns the metrics server options for the manager and, when
// CertPath is set, the watcher that reloads the certificate when its files
// change; the caller adds the watcher to the manager (mgr.Add) so that it runs.
// It fails when the certificate or key cannot be read, rather than silently
// serving a self-signed certificate instead.
func (o Options) ServerOptions() (metricsserver.Options, *certwatcher.CertWatcher, error) {
	s := metricsserver.Options{BindAddress: o.BindAddress, SecureServing: o.Secure}
	if !o.Secure {
		return s, nil, nil
	}
	s.FilterProvider = filters.WithAuthenticationAndAuthorization
	if !o.EnableHTTP2 {
		s.TLSOpts = append(s.TLSOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	if o.CertPath == "" {
		return s, nil, nil
	}
	cert, key := filepath.Join(o.CertPath, o.CertName), filepath.Join(o.CertPath, o.CertKey)
	w, err := certwatcher.New(cert, key)
	if err != nil {
		return metricsserver.Options{}, nil, fmt.Errorf("load metrics certificate %s and key %s: %w", cert, key, err)
	}
	s.TLSOpts = append(s.TLSOpts, func(c *tls.Config) { c.GetCertificate = w.GetCertificate })
	return s, w, nil
}
