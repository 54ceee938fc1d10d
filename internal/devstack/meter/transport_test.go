package meter

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// kinesisLocalIdleClose is when kinesis-local 0.6.2 closes an idle
// connection: measured 60.3 s (a raw connection after one request, read
// until EOF).
const kinesisLocalIdleClose = 60 * time.Second

// The meter's own connections to kinesis-local must go idle-closed on our
// side first: a POST sent as the server closes its side is not retried by
// the reverse proxy and reaches the producer as a 502.
func TestDefaultTransportClosesIdleBeforeKinesisLocal(t *testing.T) {
	m := New(Options{Upstream: &url.URL{Scheme: "http", Host: "127.0.0.1:1"}})
	tr, ok := m.forward.(*http.Transport)
	if !ok {
		t.Fatalf("default transport is %T, want *http.Transport", m.forward)
	}
	if tr.IdleConnTimeout <= 0 || tr.IdleConnTimeout >= kinesisLocalIdleClose {
		t.Errorf("IdleConnTimeout = %v, want above 0 and below kinesis-local's %v", tr.IdleConnTimeout, kinesisLocalIdleClose)
	}
	if tr.MaxIdleConnsPerHost < 64 {
		t.Errorf("MaxIdleConnsPerHost = %d, want at least 64 (every task talks through the meter)", tr.MaxIdleConnsPerHost)
	}
}
