package kcl

import (
	"context"

	"testing"
	"time"

	"github.com/kdp-io/streamprocessor-operator/internal/shardmap"
)

// Resharding 1→2→4→2 while two workers consume: every record is delivered, and
// no record of a child shard is delivered before the last record of each of its
// parents — including both parents of a merged shard (AdjacentParentShardId).
func TestReshardKeepsParentsBeforeChildren(t *testing.T) {
	e := newEnv(t, 1)
	rec := newRecorder()
	// Slow processing in small batches keeps a backlog in the parents while
	// their children already receive records, so ignoring a parent would show.
	rec.delay = 150 * time.Millisecond
	// The 1s shard sync finds children while their parents still have a backlog.
	for _, id := range []string{"w1", "w2"} {
		cfg := e.config(id)
		cfg.MaxRecords = 25
		e.startWorker(cfg, rec)
	}
	total := 0
	put := func(n int) { e.putPlain("r", total, total+n); total += n }
	put(300)
	for _, target := range []int32{2, 4, 2} {
		e.reshard(target)
		put(300)
	}
	eventually(t, 60*time.Second, "all records after resharding", func() bool { return rec.count() == total })
	if m := rec.missing("r", total); len(m) > 0 {
		t.Fatalf("%d records never delivered, e.g. %s", len(m), m[0])
	}

	// Wait until every closed shard's lease is checkpointed at SHARD_END.
	var leases []Lease
	eventually(t, 20*time.Second, "SHARD_END on every parent", func() bool {
		leases = e.leases()
		byKey := map[string]Lease{}
		for _, l := range leases {
			byKey[l.Key] = l
		}
		for _, l := range leases {
			for _, p := range l.ParentShardIDs {
				if !byKey[p].Finished() {
					return false
				}
			}
		}
		return true
	})
	shards := rec.byShard()
	merges := 0
	for _, l := range leases {
		if len(l.ParentShardIDs) == 2 {
			merges++
		}
		child := shards[l.Key]
		if len(l.ParentShardIDs) == 0 || len(child) == 0 {
			continue
		}
		for _, p := range l.ParentShardIDs {
			parent := shards[p]
			if len(parent) == 0 {
				continue
			}
			last := parent[len(parent)-1]
			if first := child[0]; first.n < last.n {
				t.Errorf("shard %s: record %s delivered (#%d) before the last record of parent %s (#%d)",
					l.Key, first.seq, first.n, p, last.n)
			}
		}
	}
	if merges == 0 {
		t.Fatalf("no merged shard (two parents) in the lease table %v: the 4→2 step did not exercise AdjacentParentShardId", leases)
	}
	if len(leases) != 1+2+4+2 {
		t.Errorf("lease table has %d leases, want 9 (one per shard ever created)", len(leases))
	}
	t.Logf("%d records, %d duplicates, %d leases, %d merged shards", total, rec.duplicates(), len(leases), merges)
}

// The ordering guarantee does not come from luck: while the adjacent parent of
// a merged shard is held and unfinished, no worker takes the child, even though
// its other parent is finished and the child has records (vmware-go-kcl-v2 would
// start it). Once the adjacent parent finishes, the child is processed.
func TestChildWaitsForAdjacentParent(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, 2)
	e.reshard(1) // merge: the new shard has a parent and an adjacent parent
	e.putPlain("m", 0, 50)
	shards, err := shardmap.List(ctx, e.kin, e.stream)
	if err != nil {
		t.Fatal(err)
	}
	var childID, parentID, adjacentID string
	for _, s := range shards {
		if s.AdjacentParentShardId != nil {
			childID, parentID, adjacentID = *s.ShardId, *s.ParentShardId, *s.AdjacentParentShardId
		}
	}
	if childID == "" {
		t.Fatalf("no merged shard in %v", shards)
	}
	store := &LeaseStore{DB: e.db, Table: e.app}
	w, err := NewWorker(e.config("sync"), ProcessorFactoryFunc(func() RecordProcessor { return nil }), e.kin, e.db)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureTable(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.syncShards(ctx); err != nil {
		t.Fatal(err)
	}
	lease := func(id string) Lease {
		for _, l := range e.leases() {
			if l.Key == id {
				return l
			}
		}
		t.Fatalf("no lease for %s", id)
		return Lease{}
	}
	// ParentShardId is finished; AdjacentParentShardId is held by a live
	// foreign worker that keeps renewing it.
	p, err := store.Take(ctx, lease(parentID), "other")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Checkpoint(ctx, p, ExtendedSequenceNumber{SequenceNumber: CheckpointShardEnd}); err != nil {
		t.Fatal(err)
	}
	adj, err := store.Take(ctx, lease(adjacentID), "other")
	if err != nil {
		t.Fatal(err)
	}
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
				if l, err := store.Renew(ctx, adj); err == nil {
					adj = l
				}
			}
		}
	}()
	rec := newRecorder()
	e.startWorker(e.config("w1"), rec)
	time.Sleep(3 * time.Second) // longer than the lease duration
	if got := rec.byShard()[childID]; len(got) > 0 {
		t.Fatalf("child %s delivered %d records while adjacent parent %s was unfinished", childID, len(got), adjacentID)
	}
	if o := lease(childID).Owner; o != "" {
		t.Fatalf("child lease taken by %q while adjacent parent %s was unfinished", o, adjacentID)
	}
	close(stop)
	<-stopped
	if _, err := store.Checkpoint(ctx, adj, ExtendedSequenceNumber{SequenceNumber: CheckpointShardEnd}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "child records after both parents finished", func() bool { return len(rec.byShard()[childID]) == 50 })
}

// A worker finds the children of a shard as soon as it finishes the shard,
// without waiting for the periodic shard sync (here: an hour).
func TestShardEndTriggersShardSync(t *testing.T) {
	e := newEnv(t, 1)
	rec := newRecorder()
	cfg := e.config("w1")
	cfg.ShardSyncInterval = time.Hour
	e.startWorker(cfg, rec)
	e.putPlain("s", 0, 100)
	e.reshard(2)
	e.putPlain("s", 100, 300)
	eventually(t, 20*time.Second, "records of the child shards", func() bool { return rec.count() == 300 })
}
