package kcl

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"
)

// producer writes records "<prefix>-<i>" in the background until stopped.
type producer struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	n    int
}

func (e *env) produce(prefix string) *producer {
	p := &producer{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			select {
			case <-p.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			p.mu.Lock()
			from := p.n
			p.mu.Unlock()
			e.putPlain(prefix, from, from+40)
			p.mu.Lock()
			p.n += 40
			p.mu.Unlock()
		}
	}()
	return p
}

// halt stops the producer and returns how many records it wrote.
func (p *producer) halt() int {
	close(p.stop)
	<-p.done
	return p.n
}

func owners(leases []Lease) map[string]int {
	m := map[string]int{}
	for _, l := range leases {
		if !l.Finished() {
			m[l.Owner]++
		}
	}
	return m
}

func sortedCounts(m map[string]int) []int {
	var c []int
	for o, n := range m {
		if o != "" {
			c = append(c, n)
		}
	}
	sort.Ints(c)
	return c
}

// A worker killed without releasing its leases (like kill -9): the other worker
// takes them only after they expire, and no record is lost.
func TestCrashedWorkerLeasesTakenAfterExpiry(t *testing.T) {
	e := newEnv(t, 4)
	rec := newRecorder()
	cfg1, cfg2 := e.config("w1"), e.config("w2")
	w1, kill1 := e.startWorker(cfg1, rec)
	w2, _ := e.startWorker(cfg2, rec)
	prod := e.produce("c")
	eventually(t, 20*time.Second, "2+2 balance", func() bool {
		return len(w1.HeldShards()) == 2 && len(w2.HeldShards()) == 2
	})
	victims := w1.HeldShards()
	kill1()
	killed := time.Now()
	<-w1.Done()
	eventually(t, 15*time.Second, "w2 holds all 4 shards", func() bool { return len(w2.HeldShards()) == 4 })
	takeover := time.Since(killed)
	total := prod.halt()
	eventually(t, 20*time.Second, "all records", func() bool { return rec.count() == total })
	if m := rec.missing("c", total); len(m) > 0 {
		t.Fatalf("%d records lost, e.g. %s", len(m), m[0])
	}
	// w2 must not have taken them before they expired: the last renewal was at
	// most LeaseDuration/3 before the kill.
	if min := cfg1.LeaseDuration - cfg1.LeaseDuration/3; takeover < min {
		t.Errorf("w2 took %v after the crash, before the leases could expire (%v)", takeover, min)
	}
	for _, l := range e.leases() {
		for _, v := range victims {
			if l.Key == v && l.Owner != "w2" {
				t.Errorf("lease %s owned by %q after the crash, want w2", l.Key, l.Owner)
			}
		}
	}
	t.Logf("takeover after crash: %v; %d records, %d duplicates", takeover.Round(time.Millisecond), total, rec.duplicates())
}

// 1 → 3 → 1 workers over 6 shards: the leases spread 2/2/2, w1 handing each
// stolen lease over (it finishes and checkpoints its batch, then releases);
// stopping two workers gracefully releases their leases at once (no expiry
// wait), and the remaining worker takes all six; no record is lost or
// repeated.
func TestRebalanceAndGracefulHandover(t *testing.T) {
	e := newEnv(t, 6)
	rec := newRecorder()
	cfg := e.config("w1")
	w1, _ := e.startWorker(cfg, rec)
	prod := e.produce("b")
	eventually(t, 15*time.Second, "w1 holds 6", func() bool { return len(w1.HeldShards()) == 6 })
	w2, _ := e.startWorker(e.config("w2"), rec)
	w3, _ := e.startWorker(e.config("w3"), rec)
	eventually(t, 30*time.Second, "2/2/2 balance", func() bool {
		c := sortedCounts(owners(e.leases()))
		return len(c) == 3 && c[0] == 2 && c[2] == 2 &&
			len(w1.HeldShards()) == 2 && len(w2.HeldShards()) == 2 && len(w3.HeldShards()) == 2
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stopped := time.Now()
	for _, w := range []*Worker{w2, w3} {
		if err := w.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Released, not left to expire: right after Shutdown no lease names w2 or w3.
	for _, l := range e.leases() {
		if l.Owner == "w2" || l.Owner == "w3" {
			t.Errorf("lease %s still owned by %s after graceful shutdown", l.Key, l.Owner)
		}
	}
	eventually(t, 10*time.Second, "w1 holds 6 again", func() bool { return len(w1.HeldShards()) == 6 })
	handover := time.Since(stopped)
	total := prod.halt()
	eventually(t, 20*time.Second, "all records", func() bool { return rec.count() == total })
	if m := rec.missing("b", total); len(m) > 0 {
		t.Fatalf("%d records lost, e.g. %s", len(m), m[0])
	}
	seen := rec.workersSeen()
	if seen["w2"] == 0 || seen["w3"] == 0 {
		t.Errorf("records processed per worker %v: w2 and w3 never worked", seen)
	}
	requested := rec.shutdownsWith(REQUESTED)
	if requested < 8 {
		t.Errorf("%d processors shut down with REQUESTED, want at least 8: 4 leases handed over by w1 while scaling out (more if w2 and w3 rebalance between them), two per stopped worker", requested)
	}
	// A hand-over repeats nothing. A lease that expired because its owner's
	// renewals (every LeaseDuration/3, here 0.67 s) did not reach DynamoDB in
	// time on a loaded machine is taken, not handed over: its processor is
	// shut down ZOMBIE and the records after its last checkpoint are
	// delivered again, as the KCL promises (at least once). Only those may
	// repeat.
	lost := rec.lostLeases()
	if d := rec.duplicatesOnShards(func(s string) bool { return !lost[s] }); d != 0 {
		t.Errorf("%d records delivered twice on shards whose lease was never lost: the steals while scaling out were not graceful hand-overs", d)
	}
	if len(lost) > 0 {
		t.Logf("%d leases expired under load and were taken instead of handed over; their %d repeated records are allowed",
			len(lost), rec.duplicatesOnShards(func(s string) bool { return lost[s] }))
	}
	t.Logf("graceful handover of 4 leases: %v; %d records, %d duplicates, %d leases lost",
		handover.Round(time.Millisecond), total, rec.duplicates(), len(lost))
}
