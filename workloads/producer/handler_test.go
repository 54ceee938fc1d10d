package producer

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// newTestHandler returns a handler over a pipeline writing to f.
func newTestHandler(t *testing.T, cfg Config, f KinesisAPI) (*Handler, *Pipeline) {
	t.Helper()
	p, m := startPipeline(t, cfg, f)
	return NewHandler(cfg, p, m), p
}

func do(h http.Handler, method, target, ctype, body string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if ctype != "" {
		r.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

const js = "application/json"

func TestHandlerRejectsBadInput(t *testing.T) {
	cfg := testConfig()
	cfg.MaxRequestBytes = 2 << 20
	f := newFakeKinesis(1)
	h, _ := newTestHandler(t, cfg, f)
	big := `{"data":"` + strings.Repeat("a", 1<<20) + `"}`
	huge := strings.Repeat(" ", 2<<20+1)
	cases := []struct {
		name, method, path, ctype, body string
		want                            int
		wantIn                          string // substring of the error
	}{
		{"malformed JSON", "POST", "/", js, `{"data":`, 400, "malformed JSON"},
		{"not an object", "POST", "/", js, `["x"]`, 400, "malformed JSON"},
		{"empty body", "POST", "/", js, ``, 400, "malformed JSON"},
		{"missing data", "POST", "/", js, `{"other":"x"}`, 400, `missing \"data\"`},
		{"top-level null", "POST", "/", js, `null`, 400, `missing \"data\"`},
		{"null data", "POST", "/", js, `{"data":null}`, 400, "must not be null"},
		{"empty partition key", "POST", "/", js, `{"data":"x","partitionKey":""}`, 400, "must not be empty"},
		{"long partition key", "POST", "/", js, `{"data":"x","partitionKey":"` + strings.Repeat("é", 257) + `"}`, 400, "257 characters"},
		{"non-string partition key", "POST", "/", js, `{"data":"x","partitionKey":5}`, 400, "malformed JSON"},
		{"record over 1 MiB", "POST", "/", js, big, 413, "exceeds the Kinesis limit"},
		{"body over limit", "POST", "/", js, huge, 413, "exceeds the limit"},
		{"text content type", "POST", "/", "text/plain", `{"data":"x"}`, 415, "Content-Type"},
		{"no content type", "POST", "/", "", `{"data":"x"}`, 415, "Content-Type"},
		{"form content type", "POST", "/", "application/x-www-form-urlencoded", `{"data":"x"}`, 415, "Content-Type"},
		{"ndjson on /", "POST", "/", "application/x-ndjson", `{"data":"x"}`, 415, "Content-Type"},
		{"bad ack mode", "POST", "/?ack=maybe", js, `{"data":"x"}`, 400, "ack must be"},
		{"GET /", "GET", "/", "", ``, 405, "not allowed"},
		{"PUT /records", "PUT", "/records", js, `[]`, 405, "not allowed"},
		{"POST /healthcheck", "POST", "/healthcheck", js, `{}`, 405, "not allowed"},
		{"unknown path", "POST", "/nope", js, `{"data":"x"}`, 404, "no such path"},
		{"records: not an array", "POST", "/records", js, `{"data":"x"}`, 400, "JSON array"},
		{"records: malformed", "POST", "/records", js, `[{"data":"x"`, 400, "JSON array"},
		{"records: empty array", "POST", "/records", js, `[]`, 400, "no records"},
		{"records: empty ndjson", "POST", "/records", "application/x-ndjson", "\n\n", 400, "no records"},
		{"records: text", "POST", "/records", "text/csv", `a,b`, 415, "Content-Type"},
		{"records: too many", "POST", "/records", js, "[" + strings.Repeat(`{"data":"x"},`, MaxRecordsPerRequest) + `{"data":"x"}]`, 413, "records exceed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := do(h, c.method, c.path, c.ctype, c.body)
			if w.Code != c.want {
				t.Fatalf("status %d, want %d; body %s", w.Code, c.want, w.Body.String())
			}
			if !strings.Contains(w.Body.String(), c.wantIn) {
				t.Fatalf("body %s does not name the problem (%q)", w.Body.String(), c.wantIn)
			}
			if c.want == 405 && w.Header().Get("Allow") == "" {
				t.Fatal("405 without Allow header")
			}
		})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.stored) != 0 {
		t.Fatalf("bad input reached Kinesis: %v", f.stored)
	}
}

func TestHandlerAcceptsRecords(t *testing.T) {
	f := newFakeKinesis(2)
	h, _ := newTestHandler(t, testConfig(), f)

	// The seed's exact request, durable.
	w := do(h, "POST", "/", js, `{"data":"This is a load testing record"}`)
	if w.Code != 200 {
		t.Fatalf("seed request: %d %s", w.Code, w.Body)
	}
	var one oneResult
	if err := json.Unmarshal(w.Body.Bytes(), &one); err != nil || one.Status != "ok" || one.SequenceNumber == "" || len(one.PartitionKey) != 36 {
		t.Fatalf("seed response %s (%v)", w.Body, err)
	}
	// Other data values are kept as compact JSON text; escapes are decoded.
	for body, want := range map[string]string{
		`{"data":{"a": [1, 2]},"partitionKey":"p1"}`:  `{"a":[1,2]}`,
		`{"data":42,"partitionKey":"p1"}`:             `42`,
		`{"data":"tab\tquote\"","partitionKey":"p1"}`: "tab\tquote\"",
		`{"data":"","partitionKey":"p1"}`:             "",
	} {
		if w := do(h, "POST", "/", "application/json; charset=utf-8", body); w.Code != 200 {
			t.Fatalf("%s: %d %s", body, w.Code, w.Body)
		}
		got := lastUserRecord(t, f, "p1")
		if got != want {
			t.Fatalf("%s stored %q, want %q", body, got, want)
		}
	}
	// Async answers 202 once buffered.
	if w := do(h, "POST", "/?ack=async", js, `{"data":"a"}`); w.Code != 202 || !strings.Contains(w.Body.String(), `"accepted"`) {
		t.Fatalf("async: %d %s", w.Code, w.Body)
	}
	if w := do(h, "POST", "/", js, `{"data":"a"}`, "X-Ack", "async"); w.Code != 202 {
		t.Fatalf("async header: %d %s", w.Code, w.Body)
	}
	// Batch with a bad record in the middle: per-record results, others written.
	w = do(h, "POST", "/records", js, `[{"data":"r0","partitionKey":"b"},{"nodata":1},{"data":"r2","partitionKey":"b"}]`)
	var br batchResult
	if err := json.Unmarshal(w.Body.Bytes(), &br); err != nil || w.Code != 200 {
		t.Fatalf("batch: %d %s", w.Code, w.Body)
	}
	if br.Accepted != 2 || br.Rejected != 1 || br.Results[0].Status != "ok" || br.Results[1].Status != "invalid" || br.Results[2].SequenceNumber == "" {
		t.Fatalf("batch results %+v", br)
	}
	if got := userRecordsWithKey(t, f, "b"); strings.Join(got, ",") != "r0,r2" {
		t.Fatalf("batch stored %v", got)
	}
	// NDJSON, async.
	w = do(h, "POST", "/records?ack=async", "application/x-ndjson", "{\"data\":\"n0\",\"partitionKey\":\"n\"}\n\n{\"data\":\"n1\",\"partitionKey\":\"n\"}\n")
	if w.Code != 202 || !strings.Contains(w.Body.String(), `"accepted":2`) {
		t.Fatalf("ndjson: %d %s", w.Code, w.Body)
	}
	// All invalid: 400 with results.
	if w := do(h, "POST", "/records", js, `[{"data":null}]`); w.Code != 400 || !strings.Contains(w.Body.String(), `"results"`) {
		t.Fatalf("all invalid: %d %s", w.Code, w.Body)
	}
}

func lastUserRecord(t *testing.T, f *fakeKinesis, pk string) string {
	got := userRecordsWithKey(t, f, pk)
	if len(got) == 0 {
		t.Fatalf("no record with key %q stored", pk)
	}
	return got[len(got)-1]
}

func userRecordsWithKey(t *testing.T, f *fakeKinesis, pk string) []string {
	t.Helper()
	var out []string
	for _, urs := range f.userRecords(t) {
		for _, u := range urs {
			if u.PartitionKey == pk {
				out = append(out, string(u.Data))
			}
		}
	}
	return out
}

func TestHandlerHealthAndAuth(t *testing.T) {
	cfg := testConfig()
	cfg.AuthToken = "s3cret"
	h, _ := newTestHandler(t, cfg, newFakeKinesis(1))
	for _, p := range []string{"/healthcheck", "/healthz", "/readyz"} {
		if w := do(h, "GET", p, "", ""); w.Code != 200 {
			t.Fatalf("%s without token: %d (health checks must stay open)", p, w.Code)
		}
	}
	if w := do(h, "POST", "/", js, `{"data":"x"}`); w.Code != 401 || w.Header().Get("WWW-Authenticate") == "" {
		t.Fatalf("no token: %d", w.Code)
	}
	if w := do(h, "POST", "/", js, `{"data":"x"}`, "Authorization", "Bearer wrong"); w.Code != 401 {
		t.Fatalf("wrong token: %d", w.Code)
	}
	if w := do(h, "GET", "/metrics", "", ""); w.Code != 401 {
		t.Fatalf("metrics without token: %d", w.Code)
	}
	if w := do(h, "POST", "/", js, `{"data":"x"}`, "Authorization", "Bearer s3cret"); w.Code != 200 {
		t.Fatalf("right token: %d %s", w.Code, w.Body)
	}
	w := do(h, "GET", "/metrics", "", "", "Authorization", "Bearer s3cret")
	if w.Code != 200 {
		t.Fatalf("metrics: %d", w.Code)
	}
	for _, name := range []string{"producer_records_received_total", "producer_records_rejected_total{reason=\"unauthorized\"} 3",
		"producer_putrecords_duration_seconds", "producer_buffer_bytes", "producer_kinesis_throttles_total", "producer_putrecords_retries_total",
		"producer_putrecords_batch_records", "producer_records_accepted_total 1",
		`producer_aws_calls_total{operation="PutRecords",outcome="ok",service="kinesis"}`,
		`producer_aws_calls_total{operation="ListShards",outcome="ok",service="kinesis"}`} {
		if !strings.Contains(w.Body.String(), name) {
			t.Errorf("metrics lack %s", name)
		}
	}
	h.SetDraining()
	if w := do(h, "GET", "/readyz", "", ""); w.Code != 503 {
		t.Fatalf("readyz while draining: %d", w.Code)
	}
	if w := do(h, "POST", "/", js, `{"data":"x"}`, "Authorization", "Bearer s3cret"); w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("ingest while draining: %d", w.Code)
	}
	if w := do(h, "GET", "/healthz", "", ""); w.Code != 200 {
		t.Fatalf("healthz while draining: %d", w.Code)
	}
}

func TestHandlerBackPressure(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBufferBytes = 2 << 20
	cfg.AckTimeout = 200 * time.Millisecond
	f := newFakeKinesis(1)
	f.block = make(chan struct{})
	h, p := newTestHandler(t, cfg, f)
	rec := `{"data":"` + strings.Repeat("x", 100_000) + `"}`
	// Durable request while Kinesis hangs: 503 after the ack timeout.
	if w := do(h, "POST", "/", js, rec); w.Code != 503 || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "may still be written") {
		t.Fatalf("ack timeout: %d %s", w.Code, w.Body)
	}
	// Fill the buffer: 429 with Retry-After while Kinesis is healthy.
	code := 0
	for i := 0; i < 100 && code != 429; i++ {
		code = do(h, "POST", "/?ack=async", js, rec).Code
	}
	if code != 429 {
		t.Fatalf("full buffer answered %d, want 429", code)
	}
	// Kinesis failing and buffer full: 503.
	p.healthy.Store(false)
	if w := do(h, "POST", "/?ack=async", js, rec); w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("full buffer with Kinesis down: %d", w.Code)
	}
	p.healthy.Store(true)
	close(f.block)
	// Recovery: the buffer drains and requests succeed again.
	deadline := time.Now().Add(10 * time.Second)
	for {
		w := do(h, "POST", "/", js, `{"data":"again"}`)
		if w.Code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery: %d %s", w.Code, w.Body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHandlerNotReady(t *testing.T) {
	m := NewMetrics()
	p := NewPipeline(testConfig(), newFakeKinesis(1), m, discardLogger()) // not started: no shard map
	h := NewHandler(testConfig(), p, m)
	if w := do(h, "GET", "/readyz", "", ""); w.Code != 503 {
		t.Fatalf("readyz before shard map: %d", w.Code)
	}
	if w := do(h, "POST", "/", js, `{"data":"x"}`); w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("ingest before shard map: %d", w.Code)
	}
}

// FuzzHandler feeds arbitrary bodies, content types and paths to the handler:
// it must never answer 500 or panic, and every answer must be JSON.
func FuzzHandler(f *testing.F) {
	f.Add("/", js, []byte(`{"data":"x"}`))
	f.Add("/records", js, []byte(`[{"data":{"a":1},"partitionKey":"k"}]`))
	f.Add("/records", "application/x-ndjson", []byte("{\"data\":1}\n{\"data\":\"\\u00e9\"}"))
	f.Add("/?ack=async", "application/json; charset=utf-8", []byte(`{"data":"x","partitionKey":"\ud800"}`))
	cfg := testConfig()
	cfg.MaxRequestBytes = 64 << 10
	kin := newFakeKinesis(2)
	m := NewMetrics()
	p := NewPipeline(cfg, kin, m, discardLogger())
	p.Start()
	f.Cleanup(p.Close)
	for !p.Ready() {
		time.Sleep(time.Millisecond)
	}
	h := NewHandler(cfg, p, m)
	f.Fuzz(func(t *testing.T, target, ctype string, body []byte) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\t#") {
			return
		}
		r, err := http.NewRequest("POST", "http://x"+target, bytes.NewReader(body))
		if err != nil {
			return
		}
		r.Header.Set("Content-Type", ctype)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 && w.Code != 503 {
			t.Fatalf("status %d for %q %q %q", w.Code, target, ctype, body)
		}
		b, _ := io.ReadAll(w.Body)
		if !json.Valid(b) {
			t.Fatalf("non-JSON answer %q", b)
		}
	})
}
