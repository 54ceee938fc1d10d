package kcl

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// partialProcessor checkpoints user record number at (CheckpointRecord) and
// nothing else, not even at shutdown.
type partialProcessor struct {
	mu   *sync.Mutex
	seen *[]Record
	at   int64
}

func (p *partialProcessor) Initialize(*InitializationInput) {}
func (p *partialProcessor) ProcessRecords(in *ProcessRecordsInput) {
	for _, r := range in.Records {
		p.mu.Lock()
		*p.seen = append(*p.seen, r)
		p.mu.Unlock()
		if r.SubSequenceNumber == p.at {
			if err := in.Checkpointer.CheckpointRecord(r); err != nil {
				panic(err)
			}
		}
	}
}
func (p *partialProcessor) Shutdown(*ShutdownInput) {}

// A checkpoint inside a KPL aggregate (sub-sequence number 41 of 100) is where
// the next owner resumes: it gets exactly user records 42..99 of that
// aggregate and everything after.
func TestResumeInsideAggregate(t *testing.T) {
	e := newEnv(t, 1)
	e.putAggregated("a", 0, 100, 100) // one Kinesis record, 100 user records
	e.putPlain("p", 0, 10)
	var mu sync.Mutex
	var first []Record
	w1, err := NewWorker(e.config("w1"), ProcessorFactoryFunc(func() RecordProcessor {
		return &partialProcessor{mu: &mu, seen: &first, at: 41}
	}), e.kin, e.db)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := w1.Start(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "first worker reads everything", func() bool { mu.Lock(); defer mu.Unlock(); return len(first) == 110 })
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := w1.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	ls := e.leases()
	if len(ls) != 1 || ls[0].Checkpoint.SubSequenceNumber != 41 || ls[0].Owner != "" {
		t.Fatalf("lease after stop %+v: want checkpoint sub-sequence 41, released", ls)
	}
	rec := newRecorder()
	e.startWorker(e.config("w2"), rec)
	eventually(t, 15*time.Second, "second worker resumes", func() bool { return rec.count() == 68 })
	time.Sleep(500 * time.Millisecond)
	for i := 0; i < 100; i++ {
		rec.mu.Lock()
		n := len(rec.byData[fmt.Sprintf("a-%d", i)])
		rec.mu.Unlock()
		if want := map[bool]int{true: 0, false: 1}[i <= 41]; n != want {
			t.Errorf("a-%d delivered %d times after resuming at sub-sequence 41; want %d", i, n, want)
		}
	}
	if m := rec.missing("p", 10); len(m) > 0 {
		t.Errorf("records after the aggregate missing: %v", m)
	}
}

// AT_TIMESTAMP starts at the first record at or after the time; LATEST at the
// first record after the lease is created.
func TestStartPositions(t *testing.T) {
	e := newEnv(t, 1)
	e.putPlain("old", 0, 20)
	time.Sleep(1100 * time.Millisecond)
	ts := time.Now()
	time.Sleep(100 * time.Millisecond)
	e.putPlain("new", 0, 20)

	rec := newRecorder()
	cfg := e.config("ts")
	cfg.InitialPosition, cfg.Timestamp = AtTimestamp, ts
	e.startWorker(cfg, rec)
	eventually(t, 10*time.Second, "records after the timestamp", func() bool { return rec.count() == 20 })
	time.Sleep(500 * time.Millisecond)
	if rec.count() != 20 || len(rec.missing("new", 20)) > 0 {
		t.Errorf("AT_TIMESTAMP delivered %d records, want exactly the 20 new ones", rec.count())
	}

	e2 := newEnv(t, 1)
	e2.putPlain("before", 0, 20)
	rec2 := newRecorder()
	cfg2 := e2.config("latest")
	cfg2.InitialPosition = Latest
	w, _ := e2.startWorker(cfg2, rec2)
	eventually(t, 10*time.Second, "lease taken", func() bool { return len(w.HeldShards()) == 1 })
	time.Sleep(500 * time.Millisecond) // the iterator is positioned
	e2.putPlain("after", 0, 20)
	eventually(t, 10*time.Second, "records after start", func() bool { return rec2.count() == 20 })
	if len(rec2.missing("after", 20)) > 0 {
		t.Errorf("LATEST delivered %d records, want exactly the 20 put after start", rec2.count())
	}
}
