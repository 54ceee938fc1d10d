package producer

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkHandlerAsync measures the handler's own cost per single-record
// async request (parse, validate, enqueue, answer) over a fake Kinesis.
func BenchmarkHandlerAsync(b *testing.B) {
	benchmarkHandler(b, "/?ack=async")
}

// BenchmarkHandlerDurable adds waiting for the (fake) Kinesis acknowledgement.
func BenchmarkHandlerDurable(b *testing.B) {
	benchmarkHandler(b, "/")
}

func benchmarkHandler(b *testing.B, target string) {
	cfg := testConfig()
	f := newFakeKinesis(2)
	m := NewMetrics()
	p := NewPipeline(cfg, f, m, discardLogger())
	p.Start()
	defer p.Close()
	for !p.Ready() {
	}
	h := NewHandler(cfg, p, m)
	body := `{"data":"` + strings.Repeat("x", 100) + `"}`
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest("POST", target, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code >= 300 {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
}
