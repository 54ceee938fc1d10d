package kcl

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"
)

// leaseWatch polls the lease table and notes, per shard, when a hand-over was
// first requested and when the requester became the owner.
type leaseWatch struct {
	mu        sync.Mutex
	requested map[string]time.Time
	taken     map[string]time.Time
	stop      chan struct{}
	done      chan struct{}
}

func (e *env) watchHandovers(to string) *leaseWatch {
	lw := &leaseWatch{requested: map[string]time.Time{}, taken: map[string]time.Time{},
		stop: make(chan struct{}), done: make(chan struct{})}
	store := &LeaseStore{DB: e.db, Table: e.app}
	go func() {
		defer close(lw.done)
		for {
			select {
			case <-lw.stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			ls, err := store.List(context.Background())
			if err != nil {
				continue
			}
			now := time.Now()
			lw.mu.Lock()
			for _, l := range ls {
				if _, ok := lw.requested[l.Key]; !ok && l.HandoverTo == to {
					lw.requested[l.Key] = now
				}
				if _, ok := lw.taken[l.Key]; !ok && l.Owner == to {
					lw.taken[l.Key] = now
				}
			}
			lw.mu.Unlock()
		}
	}()
	return lw
}

func (lw *leaseWatch) halt() {
	close(lw.stop)
	<-lw.done
}

// handovers returns, for each shard that was requested and then taken, the time
// from the request to the take, sorted.
func (lw *leaseWatch) handovers() []time.Duration {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	var ds []time.Duration
	for k, r := range lw.requested {
		if t, ok := lw.taken[k]; ok {
			ds = append(ds, t.Sub(r))
		}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds
}

// TestStealWhileBatchesInFlight: w1 holds four shards and processes slow
// batches (checkpointing after each) while records flow; w2 joins and steals
// two. Each steal is a hand-over: w1 finishes the batch in hand, checkpoints
// and releases before w2 reads, so every record is delivered exactly once
// and, per shard, no w1 delivery comes after a w2 delivery. Taking the stolen
// lease at once (the old behaviour) repeats w1's batch in hand. In "long",
// the batches in hand when w2 joins last 4 s, twice the lease duration: w2
// must wait for them (HandoverTimeout), not take the leases a lease duration
// after asking, as the first version did.
func TestStealWhileBatchesInFlight(t *testing.T) {
	t.Run("500ms", func(t *testing.T) { stealWhileBatchesInFlight(t, 0) })
	t.Run("long", func(t *testing.T) { stealWhileBatchesInFlight(t, 4*time.Second) })
}

// stealWhileBatchesInFlight runs 500 ms batches; batches in hand when w2 joins
// last at least hold from then.
func stealWhileBatchesInFlight(t *testing.T, hold time.Duration) {
	e := newEnv(t, 4)
	rec := newRecorder()
	rec.delay = 500 * time.Millisecond
	w1, _ := e.startWorker(e.config("w1"), rec)
	prod := e.produce("s")
	eventually(t, 15*time.Second, "w1 holds 4", func() bool { return len(w1.HeldShards()) == 4 })
	eventually(t, 15*time.Second, "w1 delivering", func() bool { return rec.count() > 0 })
	lw := e.watchHandovers("w2")
	joined := time.Now()
	rec.mu.Lock()
	rec.holdUntil = joined.Add(hold)
	rec.mu.Unlock()
	w2, _ := e.startWorker(e.config("w2"), rec)
	eventually(t, 30*time.Second, "2/2 balance", func() bool {
		return len(w1.HeldShards()) == 2 && len(w2.HeldShards()) == 2
	})
	balanced := time.Since(joined)
	time.Sleep(2 * time.Second) // w2 processes its shards for a while
	total := prod.halt()
	eventually(t, 30*time.Second, "all records", func() bool { return rec.count() == total })
	lw.halt()
	if m := rec.missing("s", total); len(m) > 0 {
		t.Fatalf("%d of %d records lost, e.g. %s", len(m), total, m[0])
	}
	// A steal repeats records across workers. A renewal that DynamoDB answers
	// late (a loaded emulator) can make w1 lose a lease and take it back,
	// repeating a batch on w1 alone: that is the lost-lease path, not a steal.
	if d := rec.duplicatesAcrossWorkers(); d != 0 {
		t.Errorf("%d of %d records delivered by both workers: a steal was not a hand-over", d, total)
	}
	// Per shard, deliveries never interleave between the two workers.
	for shard, ds := range rec.byShard() {
		sawW2 := false
		for _, d := range ds {
			if d.worker == "w2" {
				sawW2 = true
			} else if sawW2 {
				t.Errorf("shard %s: w1 delivered %s after w2 had started on the shard", shard, d.seq)
				break
			}
		}
	}
	requested := rec.shutdownsWith(REQUESTED)
	if requested < 2 {
		t.Errorf("%d processors shut down with REQUESTED, want at least 2 (the handed-over leases)", requested)
	}
	hs := lw.handovers()
	if len(hs) < 2 {
		t.Errorf("saw %d hand-overs to w2 in the lease table (request, then take), want at least 2", len(hs))
	}
	t.Logf("steal hand-over (request seen → w2 owner), lease duration %v, batches in hand held %v: %v; 2/2 balance %v after w2 joined; %d records, %d duplicates (%d across workers)",
		e.config("").LeaseDuration, hold, hs, balanced.Round(time.Millisecond), total, rec.duplicates(), rec.duplicatesAcrossWorkers())
}

// TestStealFromDeadOwnerTakenAfterExpiry: w1 dies (no release) just as w2
// joins. w2 sees w1's leases still live, so it asks for hand-overs that never
// come; the leases are still taken once they expire, within a lease duration
// and a poll or two, and nothing is lost (repeats are allowed: a crash).
func TestStealFromDeadOwnerTakenAfterExpiry(t *testing.T) {
	e := newEnv(t, 4)
	rec := newRecorder()
	w1, kill := e.startWorker(e.config("w1"), rec)
	prod := e.produce("d")
	eventually(t, 15*time.Second, "w1 holds 4", func() bool { return len(w1.HeldShards()) == 4 })
	lw := e.watchHandovers("w2")
	kill()
	<-w1.Done()
	joined := time.Now()
	w2, _ := e.startWorker(e.config("w2"), rec)
	d := e.config("").LeaseDuration
	// Expiry on w2's clock is a lease duration after it first saw the
	// counters, plus up to one poll (d/3) to notice; 3d is when a pending
	// request would be forgotten, so a worker that waited for the hand-over
	// would fail this.
	eventually(t, 3*d-300*time.Millisecond, "w2 holds 4", func() bool { return len(w2.HeldShards()) == 4 })
	takeover := time.Since(joined)
	lw.halt()
	lw.mu.Lock()
	asked := len(lw.requested)
	lw.mu.Unlock()
	if asked == 0 {
		t.Error("w2 never asked the dead owner for a hand-over: the test did not exercise a pending request")
	}
	total := prod.halt()
	eventually(t, 20*time.Second, "all records", func() bool { return rec.count() == total })
	if m := rec.missing("d", total); len(m) > 0 {
		t.Fatalf("%d of %d records lost, e.g. %s", len(m), total, m[0])
	}
	t.Logf("dead owner's leases taken %v after w2 joined (lease duration %v, %d hand-overs asked); %d records, %d duplicates",
		takeover.Round(time.Millisecond), d, asked, total, rec.duplicates())
}
