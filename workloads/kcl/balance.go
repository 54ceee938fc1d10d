package kcl

import (
	"sort"
	"time"
)

// expiryTracker decides, as the KCL does, that a lease owned by another worker
// has expired when its leaseCounter has not changed for the lease duration on
// this worker's clock: no comparison of clocks across machines.
type expiryTracker struct {
	seen map[string]observation
}

type observation struct {
	counter int64
	since   time.Time
}

// observe records the counters of leases read at now and forgets leases that
// are gone.
func (t *expiryTracker) observe(leases []Lease, now time.Time) {
	if t.seen == nil {
		t.seen = map[string]observation{}
	}
	present := make(map[string]bool, len(leases))
	for _, l := range leases {
		present[l.Key] = true
		if o, ok := t.seen[l.Key]; !ok || o.counter != l.Counter {
			t.seen[l.Key] = observation{counter: l.Counter, since: now}
		}
	}
	for k := range t.seen {
		if !present[k] {
			delete(t.seen, k)
		}
	}
}

// expired reports whether l's counter has stood still for longer than d at now.
// A lease never observed counts as just observed.
func (t *expiryTracker) expired(l Lease, now time.Time, d time.Duration) bool {
	o, ok := t.seen[l.Key]
	if !ok || o.counter != l.Counter {
		return false
	}
	return now.Sub(o.since) > d
}

// planTakes is the pure lease-balancing decision of worker self. leases are the
// unfinished leases whose shards are ready to process; available says which of
// them anyone may take now (unowned, or expired). It returns the leases to take
// and, only when nothing is available, at most maxSteal leases to steal from the
// most loaded worker.
//
// Workers are the owners of unavailable leases plus self; target is ⌈S/W⌉. A
// worker below target takes available leases up to target. With none available,
// it steals from the most loaded worker L only if L holds at least two more than
// it: every steal narrows the spread, so the workers settle at ⌊S/W⌋ or ⌈S/W⌉.
func planTakes(leases []Lease, available func(Lease) bool, self string, maxSteal int) (take, steal []Lease) {
	counts := map[string]int{self: 0}
	byOwner := map[string][]Lease{}
	var free []Lease
	for _, l := range leases {
		if l.Owner != self && (l.Owner == "" || available(l)) {
			free = append(free, l)
			continue
		}
		counts[l.Owner]++
		byOwner[l.Owner] = append(byOwner[l.Owner], l)
	}
	if len(leases) == 0 {
		return nil, nil
	}
	workers := len(counts)
	target := (len(leases) + workers - 1) / workers
	mine := counts[self]
	if mine >= target {
		return nil, nil
	}
	if len(free) > 0 {
		n := min(target-mine, len(free))
		return free[:n], nil
	}
	most, mostN := "", -1
	owners := make([]string, 0, len(counts))
	for o := range counts {
		owners = append(owners, o)
	}
	sort.Strings(owners)
	for _, o := range owners {
		if counts[o] > mostN {
			most, mostN = o, counts[o]
		}
	}
	if mostN-mine < 2 {
		return nil, nil
	}
	n := min(maxSteal, target-mine, mostN-mine-1)
	return nil, byOwner[most][:n]
}

// ready reports whether a lease's shard may be processed: it is not finished,
// and every parent shard is finished — or is neither leased nor listed any more
// (trimmed away by retention). A parent that is listed but not leased yet means
// the shard sync has not caught up: not ready.
func ready(l Lease, byKey map[string]Lease, listed map[string]bool) bool {
	if l.Finished() {
		return false
	}
	for _, p := range l.ParentShardIDs {
		pl, ok := byKey[p]
		if !ok {
			if listed[p] {
				return false
			}
			continue
		}
		if !pl.Finished() {
			return false
		}
	}
	return true
}
