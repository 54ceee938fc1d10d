package producer

import (
	"context"
	"testing"
	"time"

	"github.com/kdp-io/streamprocessor-operator/internal/testenv/cwtest"
)

// TestRefusedRecordsArePublished: records answered 429/503 are published as
// RefusedRecords, counted by record where the body was read (the valid
// records of a batch), as one where it was not (draining); client mistakes
// (400) are not demand and not counted.
func TestRefusedRecordsArePublished(t *testing.T) {
	m := NewMetrics()
	p := NewPipeline(testConfig(), newFakeKinesis(1), m, discardLogger()) // not started: 503 not_ready
	h := NewHandler(testConfig(), p, m)
	batch := `[{"data":"a"},{"data":"b"},{"data":"c"},{"nodata":1}]`
	if w := do(h, "POST", "/records", js, batch); w.Code != 503 {
		t.Fatalf("batch before shard map: %d %s", w.Code, w.Body)
	}
	if w := do(h, "POST", "/", js, `{"data":"x"}`); w.Code != 503 {
		t.Fatalf("record before shard map: %d", w.Code)
	}
	if w := do(h, "POST", "/", js, `{"nodata":1}`); w.Code != 400 {
		t.Fatalf("invalid record: %d", w.Code)
	}
	h.SetDraining()
	if w := do(h, "POST", "/records", js, batch); w.Code != 503 {
		t.Fatalf("batch while draining: %d", w.Code)
	}
	api := &cwtest.Recorder{}
	now := time.Now()
	pub := &publisher{api: api, namespace: "StreamProcessor/Producer", stream: "s", metrics: m, interval: time.Minute, start: now.Add(-time.Minute)}
	if err := pub.publish(context.Background(), now); err != nil {
		t.Fatal(err)
	}
	// 3 valid records of the batch + 1 single record + 1 for the draining batch (body not read).
	if got := api.Value(t, MetricRefusedRecords); got != 5 {
		t.Errorf("RefusedRecords = %v, want 5", got)
	}
	if err := pub.publish(context.Background(), now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := api.Value(t, MetricRefusedRecords); got != 0 {
		t.Errorf("RefusedRecords in a quiet period = %v, want 0 (a delta, not the total)", got)
	}
}
