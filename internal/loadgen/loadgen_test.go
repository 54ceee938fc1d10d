package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeProducer answers like the producer: every fifth single record gets 503,
// and in a batch every record whose data ends its id in 7 is "invalid".
func fakeProducer(t *testing.T) (*httptest.Server, *sync.Map) {
	t.Helper()
	seen := &sync.Map{}
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "content type", http.StatusUnsupportedMediaType)
			return
		}
		switch r.URL.Path {
		case "/":
			var rec struct{ Data string }
			if err := json.NewDecoder(r.Body).Decode(&rec); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			seen.Store(strings.Fields(rec.Data)[0], r.URL.Query().Get("ack"))
			if n.Add(1)%5 == 0 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			fmt.Fprint(w, `{"status":"ok"}`)
		case "/records":
			var recs []struct{ Data string }
			if err := json.NewDecoder(r.Body).Decode(&recs); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			results := make([]map[string]string, len(recs))
			for i, rec := range recs {
				id := strings.Fields(rec.Data)[0]
				seen.Store(id, "")
				results[i] = map[string]string{"status": "ok"}
				if strings.HasSuffix(id, "7") {
					results[i]["status"] = "invalid"
				}
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"results": results})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, seen
}

func TestRunSingleRecordsCountsEveryAnswer(t *testing.T) {
	srv, seen := fakeProducer(t)
	var mu sync.Mutex
	statuses := map[string]int{}
	s, err := Run(context.Background(), Options{
		URL: srv.URL, Schedule: Fixed(5000), MaxRecords: 200, Concurrency: 1, RunID: "r", RecordBytes: 64,
		OnResult: func(id string, st int) { mu.Lock(); statuses[id] = st; mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Sent+s.Behind != 200 {
		t.Fatalf("sent %d + behind %d, want 200 records handed out", s.Sent, s.Behind)
	}
	if got := s.ByStatus[200] + s.ByStatus[503]; got != s.Sent {
		t.Fatalf("200s + 503s = %d, want every one of %d sent: %+v", got, s.Sent, s)
	}
	if s.Acknowledged != s.ByStatus[200] || s.Throttled() != s.ByStatus[503] || s.ByStatus[503] == 0 {
		t.Fatalf("acknowledged %d, throttled %d: %+v", s.Acknowledged, s.Throttled(), s)
	}
	if len(statuses) != int(s.Sent) {
		t.Fatalf("OnResult saw %d ids, want %d", len(statuses), s.Sent)
	}
	for id := range statuses {
		if _, ok := seen.Load(id); !ok {
			t.Fatalf("id %s reported but never reached the server", id)
		}
	}
}

func TestRunBatchesCountRecordsByTheirOwnResult(t *testing.T) {
	srv, _ := fakeProducer(t)
	var acked, rejected atomic.Int64
	s, err := Run(context.Background(), Options{
		URL: srv.URL, Schedule: Fixed(20000), MaxRecords: 1000, Batch: 100, Concurrency: 4, RunID: "b",
		OnResult: func(id string, st int) {
			if st == 200 {
				acked.Add(1)
			} else {
				rejected.Add(1)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Sent != 1000-s.Behind || s.Sent%100 != 0 {
		t.Fatalf("sent %d (behind %d), want whole batches of 1000", s.Sent, s.Behind)
	}
	// ids b-0 … b-999: one in ten ends in 7.
	if s.Rejected != s.Sent/10 || s.Acknowledged != s.Sent-s.Rejected {
		t.Fatalf("rejected %d, acknowledged %d of %d", s.Rejected, s.Acknowledged, s.Sent)
	}
	if acked.Load() != s.Acknowledged || rejected.Load() != s.Rejected {
		t.Fatalf("OnResult: %d acked, %d rejected; summary %+v", acked.Load(), rejected.Load(), s)
	}
}

func TestRunAsyncAndUnanswered(t *testing.T) {
	srv, seen := fakeProducer(t)
	if _, err := Run(context.Background(), Options{URL: srv.URL, Schedule: Fixed(1000), MaxRecords: 3, Async: true, RunID: "a", Concurrency: 1}); err != nil {
		t.Fatal(err)
	}
	if v, _ := seen.Load("a-0"); v != "async" {
		t.Fatalf("ack mode reached the server as %q, want async", v)
	}
	srv.Close()
	s, err := Run(context.Background(), Options{URL: srv.URL, Schedule: Fixed(1000), MaxRecords: 3, Concurrency: 1,
		Client: &http.Client{Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if s.ByStatus[0] != s.Sent || s.Acknowledged != 0 || s.FirstError == "" {
		t.Fatalf("a closed server must give unanswered records and an error: %+v", s)
	}
}

func TestOptionsNeedABound(t *testing.T) {
	for _, o := range []Options{
		{Schedule: Fixed(1), Duration: time.Second},
		{URL: "http://x", Duration: time.Second},
		{URL: "http://x", Schedule: Fixed(1)},
		{URL: "http://x", Schedule: Fixed(1), Duration: time.Second, Batch: 10001},
	} {
		if _, err := Run(context.Background(), o); err == nil {
			t.Errorf("Run(%+v) = nil error, want a refusal", o)
		}
	}
}

func TestFromTraceFollowsTheShapeAndEnds(t *testing.T) {
	s := FromTrace([]float64{0.5, 1, 0}, 1000, 60) // a trace minute per second
	for _, c := range []struct {
		at   time.Duration
		want float64
	}{{0, 500}, {1500 * time.Millisecond, 1000}, {2 * time.Second, 0}, {3 * time.Second, -1}} {
		if got := s(c.at); got != c.want {
			t.Errorf("rate at %s = %v, want %v", c.at, got, c.want)
		}
	}
	if _, err := Run(context.Background(), Options{URL: "http://127.0.0.1:1", Schedule: s}); err != nil {
		t.Fatalf("a schedule that ends is a bound: %v", err)
	}
}
