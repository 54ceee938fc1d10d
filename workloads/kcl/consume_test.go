package kcl

import (
	"testing"
	"time"
)

// Every user record — plain and KPL-aggregated — is delivered at least once,
// with few duplicates, and the checkpoints reach the end of every shard.
func TestConsumesPlainAndAggregatedRecords(t *testing.T) {
	e := newEnv(t, 2)
	const plain, aggregated = 1000, 3000
	e.putPlain("plain", 0, plain)
	e.putAggregated("agg", 0, aggregated, 50)
	rec := newRecorder()
	e.startWorker(e.config("w1"), rec)
	eventually(t, 30*time.Second, "all records", func() bool { return rec.count() == plain+aggregated })
	if m := rec.missing("plain", plain); len(m) > 0 {
		t.Fatalf("%d plain records never delivered, e.g. %v", len(m), m[0])
	}
	if m := rec.missing("agg", aggregated); len(m) > 0 {
		t.Fatalf("%d aggregated records never delivered, e.g. %v", len(m), m[0])
	}
	if d := rec.duplicates(); d != 0 {
		t.Errorf("%d duplicates with one worker and no failures; want 0", d)
	}
	// Sub-sequence numbers of aggregated records run 0..49.
	rec.mu.Lock()
	d := rec.byData["agg-49"][0]
	rec.mu.Unlock()
	if d.sub != 49 {
		t.Errorf("agg-49 delivered with sub-sequence number %d, want 49", d.sub)
	}
	t.Logf("delivered %d records, %d duplicates", rec.count(), rec.duplicates())
}
