package kcl

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// gatedProcessor records like recordingProcessor but blocks in its first
// ProcessRecords (the first of all processors sharing blocked) until gate is closed, so its shard cannot reach SHARD_END
// (which would make the worker list shards at once).
type gatedProcessor struct {
	recordingProcessor
	gate    <-chan struct{}
	blocked *sync.Once
	entered chan<- struct{}
}

func (p *gatedProcessor) ProcessRecords(in *ProcessRecordsInput) {
	p.blocked.Do(func() {
		p.rec.mu.Lock()
		for _, r := range in.Records {
			p.rec.n++
			p.rec.byData[string(r.Data)] = append(p.rec.byData[string(r.Data)], delivery{
				shard: in.ShardID, worker: p.worker, seq: r.SequenceNumber, sub: r.SubSequenceNumber, at: time.Now(), n: p.rec.n})
		}
		p.rec.mu.Unlock()
		close(p.entered)
		<-p.gate
		_ = in.Checkpointer.Checkpoint(nil)
		in = &ProcessRecordsInput{}
	})
	if len(in.Records) > 0 {
		p.recordingProcessor.ProcessRecords(in)
	}
}

// With START_POSITION=LATEST, shards that appear after the start read from
// TRIM_HORIZON. A running worker holds the stream's one shard; while it is
// busy with a batch of it, the stream is resharded 1→2 and 2→1 and records are
// written into the two children and into their merged child, none of which the
// worker has leased (nor listed: its shard sync interval is long and the
// parent has not ended). When the batch finishes, the worker finds children
// and grandchild in one sync; every record written after the start is
// delivered — the grandchild's too, whose parents had no lease yet.
func TestLatestStartsLaterShardsAtTrimHorizon(t *testing.T) {
	e := newEnv(t, 1)
	e.putPlain("before", 0, 20) // before the start: LATEST skips them
	rec := newRecorder()
	gate, entered := make(chan struct{}), make(chan struct{})
	cfg := e.config("w1")
	cfg.InitialPosition = Latest
	cfg.ShardSyncInterval = 10 * time.Minute // only the parent's SHARD_END triggers a sync
	once := &sync.Once{}                     // the first batch of the whole test blocks, once
	w, err := NewWorker(cfg, ProcessorFactoryFunc(func() RecordProcessor {
		return &gatedProcessor{recordingProcessor: recordingProcessor{rec: rec, worker: "w1"}, gate: gate, blocked: once, entered: entered}
	}), e.kin, e.db)
	if err != nil {
		t.Fatal(err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			close(gate)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := w.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		release()
		sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		_ = w.Shutdown(sctx)
		cancel()
	})
	eventually(t, 10*time.Second, "lease of the first shard", func() bool { return len(w.HeldShards()) == 1 })
	parent := w.HeldShards()[0]
	time.Sleep(500 * time.Millisecond) // the LATEST iterator is positioned

	e.putPlain("parent", 0, 50)
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the worker never delivered the parent's records")
	}
	e.reshard(2)
	e.putPlain("child", 0, 200)
	e.reshard(1)
	e.putPlain("grandchild", 0, 200)
	if held := w.HeldShards(); !slices.Equal(held, []string{parent}) {
		t.Fatalf("before the parent's batch finished the worker held %v, want only %s: the records were not written before the children were taken", held, parent)
	}
	leases := e.leases()
	if len(leases) != 1 {
		t.Fatalf("lease table before the parent ended: %d leases, want the parent's only", len(leases))
	}

	release()
	// Wait for all 450; on a timeout the counts below say what was skipped.
	for deadline := time.Now().Add(30 * time.Second); rec.count() < 450 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	for prefix, n := range map[string]int{"parent": 50, "child": 200, "grandchild": 200} {
		if m := rec.missing(prefix, n); len(m) > 0 {
			t.Errorf("%d of %d %s records never delivered, e.g. %s", len(m), n, prefix, m[0])
		}
	}
	if n := 20 - len(rec.missing("before", 20)); n != 0 {
		t.Errorf("%d records written before the start delivered with LATEST, want 0", n)
	}
	shards := rec.byShard()
	leases = e.leases()
	if len(leases) != 4 {
		t.Errorf("lease table has %d leases, want 4 (1 + 2 children + their merged child)", len(leases))
	}
	t.Logf("delivered %d records (%d duplicates) from %d shards; %d leases", rec.count(), rec.duplicates(), len(shards), len(leases))
}
