package producer

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// TestHandlerInflightRequestLimit: MAX_INFLIGHT_REQUESTS requests are served
// at once, the next gets 429 overloaded, and a finished request frees its
// place (the count is an atomic counter, not a channel, since 2026-11-27).
func TestHandlerInflightRequestLimit(t *testing.T) {
	cfg := testConfig()
	cfg.MaxInflightRequests = 1
	f := newFakeKinesis(1)
	f.block = make(chan struct{})
	h, _ := newTestHandler(t, cfg, f)
	first := make(chan int)
	go func() { first <- do(h, "POST", "/", js, `{"data":"held"}`).Code }()
	// The durable request waits for the blocked Kinesis, holding its place.
	deadline := time.Now().Add(10 * time.Second)
	for h.inflight.Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the first request never started")
		}
		time.Sleep(time.Millisecond)
	}
	if w := do(h, "POST", "/?ack=async", js, `{"data":"second"}`); w.Code != 429 || !strings.Contains(w.Body.String(), `"overloaded"`) {
		t.Fatalf("second request while one is in flight: %d %s, want 429 overloaded", w.Code, w.Body)
	}
	close(f.block)
	if code := <-first; code != 200 {
		t.Fatalf("first request: %d", code)
	}
	if w := do(h, "POST", "/?ack=async", js, `{"data":"third"}`); w.Code != 202 {
		t.Fatalf("request after the first finished: %d %s", w.Code, w.Body)
	}
	if n := h.inflight.Load(); n != 0 {
		t.Fatalf("%d requests counted in flight after all finished", n)
	}
}

// TestHandlerAnswerHeaders checks the headers written without Header.Set over
// a real server: JSON content type, a Date, and a Content-Length (not a
// chunked body) both for a short answer (net/http computes it) and for one
// over 1 KiB (declared by the handler).
func TestHandlerAnswerHeaders(t *testing.T) {
	h, _ := newTestHandler(t, testConfig(), newFakeKinesis(2))
	srv := httptest.NewServer(h)
	defer srv.Close()
	var batch strings.Builder
	batch.WriteString("[")
	for i := range 40 {
		if i > 0 {
			batch.WriteString(",")
		}
		fmt.Fprintf(&batch, `{"data":"r%d"}`, i)
	}
	batch.WriteString("]")
	for _, c := range []struct{ path, body string }{
		{"/?ack=async", `{"data":"short"}`},
		{"/", `{"data":"short"}`},
		{"/records?ack=async", batch.String()},
	} {
		resp, err := http.Post(srv.URL+c.path, js, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("%s: %d %s", c.path, resp.StatusCode, body)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", c.path, ct)
		}
		if resp.ContentLength != int64(len(body)) || len(resp.TransferEncoding) != 0 {
			t.Errorf("%s: Content-Length %d, transfer encoding %v, body of %d bytes", c.path, resp.ContentLength, resp.TransferEncoding, len(body))
		}
		if _, err := http.ParseTime(resp.Header.Get("Date")); err != nil {
			t.Errorf("%s: Date %q: %v", c.path, resp.Header.Get("Date"), err)
		}
		if c.path == "/records?ack=async" && len(body) <= 1024 {
			t.Errorf("the batch answer (%d bytes) does not exercise the declared Content-Length", len(body))
		}
	}
}

// TestParseRecordOwnedAliasing: a body handed over keeps the data of a record
// without a caller key (no copy), copies it when a caller key is given (the
// key would be held twice), and parseRecord (whose buffer is reused) always
// copies.
func TestParseRecordOwnedAliasing(t *testing.T) {
	inside := func(b, raw []byte) bool {
		p, lo := uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(unsafe.Pointer(unsafe.SliceData(raw)))
		return p >= lo && p < lo+uintptr(len(raw))
	}
	for _, c := range []struct {
		name    string
		parse   func([]byte) (Record, string, string)
		body    string
		aliases bool
	}{
		{"owned, generated key", parseRecordOwned, `{"data":"abc"}`, true},
		{"owned, caller key", parseRecordOwned, `{"data":"abc","partitionKey":"k"}`, false},
		{"owned, slow path", parseRecordOwned, `{ "data": "abc" }`, false},
		{"reused buffer", parseRecord, `{"data":"abc"}`, false},
	} {
		raw := []byte(c.body)
		rec, reason, _ := c.parse(raw)
		if reason != "" || string(rec.Data) != "abc" {
			t.Fatalf("%s: %q %q", c.name, rec.Data, reason)
		}
		if got := inside(rec.Data, raw); got != c.aliases {
			t.Errorf("%s: data inside the body: %v, want %v", c.name, got, c.aliases)
		}
	}
}

// TestAwaitReusesTimers: a pooled ACK_TIMEOUT timer that fired without being
// read must not time out the next request (Reset clears it since Go 1.23).
func TestAwaitReusesTimers(t *testing.T) {
	cfg := testConfig()
	cfg.AckTimeout = time.Hour
	h := &Handler{cfg: cfg, metrics: NewMetrics()}
	stale := time.NewTimer(time.Nanosecond)
	time.Sleep(5 * time.Millisecond) // fired, not read
	h.timers.Put(stale)
	tk := NewTicket(1)
	go func() {
		time.Sleep(20 * time.Millisecond)
		tk.ack(0, Ack{ShardID: "s", SequenceNumber: "1"})
	}()
	w := httptest.NewRecorder()
	if !h.await(w, httptest.NewRequest("POST", "/", nil), "/", tk) {
		t.Fatalf("await gave up: %d %s", w.Code, w.Body)
	}
}
