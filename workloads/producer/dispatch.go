package producer

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kdp-io/streamprocessor-operator/internal/shardmap"
	"github.com/kdp-io/streamprocessor-operator/workloads/kpl"
)

// This file holds the dispatcher goroutine of a Pipeline and the shard map
// refresher: everything that decides when and how records go to Kinesis.

func (p *Pipeline) refreshLoop() {
	defer p.stopped.Done()
	tick := time.NewTicker(p.refreshEvery)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), p.callTimeout)
		m, err := loadShardMap(ctx, p.api, p.stream)
		cancel()
		p.metrics.shardMapRefreshes.WithLabelValues(outcome(err)).Inc()
		p.metrics.awsCalls.WithLabelValues("kinesis", "ListShards", classifyOutcome(err)).Inc()
		if err != nil {
			p.log.Warn("Shard map refresh failed", "stream", p.stream, "error", err)
		} else {
			select {
			case p.maps <- m:
			case <-p.stop:
				return
			}
		}
		wait := time.Second // no faster than once a second, whatever asks
		if err != nil && !p.ready.Load() {
			wait = 500 * time.Millisecond
		}
		select {
		case <-p.stop:
			return
		case <-time.After(wait):
		}
		if err != nil && !p.ready.Load() {
			continue
		}
		select {
		case <-p.stop:
			return
		case <-tick.C:
		case <-p.refresh:
		}
	}
}

func outcome(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

func (p *Pipeline) dispatchLoop() {
	defer p.stopped.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-p.wake:
		case <-timer.C:
		case r := <-p.results:
			p.handleResult(r)
		case m := <-p.maps:
			p.handleMap(m)
		}
		next := p.dispatch(time.Now())
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		if next.IsZero() {
			timer.Reset(time.Hour)
		} else {
			timer.Reset(max(time.Until(next), 0))
		}
	}
}

// handleMap installs a first map at once; a changed map waits (nextMap) until
// nothing of the old map is in flight or waiting for a retry.
func (p *Pipeline) handleMap(m *shardmap.Map) {
	p.mu.Lock()
	cur := p.smap
	p.mu.Unlock()
	if cur == nil {
		p.installMap(m)
		p.ready.Store(true)
		p.log.Info("Loaded shard map", "stream", p.stream, "shards", m.Len())
		return
	}
	if cur.Equal(m) {
		p.nextMap = nil
		if len(p.resend) > 0 {
			// Our map had already moved on: reinstall it, as for a change,
			// to send the records again ahead of what waits.
			p.nextMap = cur
		}
		return
	}
	p.nextMap = m
}

// installMap swaps the shard map and re-queues every unsent record under it,
// keeping the relative order of records of each old shard (so of each key).
func (p *Pipeline) installMap(m *shardmap.Map) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	all := p.takeResends(m) // older than anything pending
	for i := range p.pending {
		all = append(all, p.states[i].carry...)
		all = append(all, p.pending[i]...)
	}
	n := m.Len() * lanesPerShard
	p.smap = m
	p.pending = make([][]entry, n)
	p.pendingBytes = make([]int, n)
	p.pendingSince = make([]time.Time, n)
	p.pendingDurable = make([]int, n)
	p.states = make([]*shardState, n)
	for i := range p.states {
		p.states[i] = &shardState{id: m.Shard(i / lanesPerShard).ID, maxInflight: p.orderedMax}
		if i%lanesPerShard == 1 {
			p.states[i].maxInflight = p.unorderedMax
		} else if p.orderedMax > 1 {
			p.states[i].busy = map[string]int{}
		}
	}
	for _, e := range all {
		s := e.lane(m.Lookup(e.hash))
		if len(p.pending[s]) == 0 {
			p.pendingSince[s] = now
		}
		if e.t != nil {
			p.pendingDurable[s]++
		}
		p.pending[s] = append(p.pending[s], e)
		p.pendingBytes[s] += len(e.pk) + len(e.data)
	}
	p.metrics.shards.Set(float64(m.Len()))
}

// dispatch starts PutRecords calls for every shard that is due and returns when
// it next needs to run (zero: only when woken).
func (p *Pipeline) dispatch(now time.Time) time.Time {
	if p.nextMap != nil && p.inflightCalls == 0 && !p.anyRetry() {
		p.log.Info("Shard map changed", "stream", p.stream, "shards", p.nextMap.Len())
		p.installMap(p.nextMap)
		p.nextMap = nil
	}
	due, next := p.dueLanes(now)
	p.send(due, now)
	return next
}

// dueLanes returns the lanes that send now, in round-robin order from p.rr
// (their pending records moved to their carry), and the earliest time a lane
// that is not due yet will be (zero: none has a time).
func (p *Pipeline) dueLanes(now time.Time) (due []int, next time.Time) {
	later := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	draining := p.draining.Load()
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.states)
	for k := 0; k < n; k++ {
		i := (p.rr + k) % n
		st := p.states[i]
		switch {
		case st.inflight >= st.maxInflight:
			continue
		case now.Before(st.notBefore):
			later(st.notBefore)
			continue
		case len(st.retries) > 0:
			due = append(due, i)
			continue
		case p.nextMap != nil || (len(st.carry) == 0 && len(p.pending[i]) == 0):
			continue
		}
		since := st.carrySince
		if len(st.carry) == 0 {
			since = p.pendingSince[i]
		}
		if !draining {
			if until, wait := p.lingerUntil(st, i, since, now); wait {
				later(until)
				continue
			}
		}
		p.moveToCarry(st, i, since)
		due = append(due, i)
	}
	if n > 0 {
		p.rr = (p.rr + 1) % n
	}
	return due, next
}

// lingerUntil says whether lane i's records (the oldest waiting since since)
// wait for companions and until when (zero: until its call in flight
// returns). A full aggregate never waits. Otherwise, adaptive linger: a lane
// with no call in flight sends at once when a caller waits (the linger would
// only add latency: nothing could be sent sooner) — unless it sent less than
// a linger ago: then it waits until a linger after that send (or after its
// oldest record, if sooner), so that a fast Kinesis does not turn every
// record into a call of its own. While a call of the lane is in flight,
// waiting callers justify another call (up to maxInflight) once the oldest
// record has waited the pace: the recent PutRecords latency over
// maxInflight, at most the linger, so the lane's calls leave evenly spread
// over a round trip instead of in bursts a linger apart. Records nobody
// waits for (async) linger on an idle lane and otherwise wait for the call in
// flight to return, which makes aggregates large. Called with p.mu held.
func (p *Pipeline) lingerUntil(st *shardState, i int, since, now time.Time) (time.Time, bool) {
	if st.carryBytes+p.pendingBytes[i] >= kpl.MaxRecordSize {
		return time.Time{}, false
	}
	waiters := st.carryDurable+p.pendingDurable[i] > 0
	switch {
	case st.inflight == 0 && waiters:
		if at := st.lastSent.Add(p.linger); now.Before(at) && now.Sub(since) < p.linger {
			return earliest(at, since.Add(p.linger)), true
		}
	case st.inflight == 0:
		if now.Sub(since) < p.linger {
			return since.Add(p.linger), true
		}
	case waiters:
		if pace := p.pace(st); now.Sub(since) < pace {
			return since.Add(pace), true
		}
	default:
		return time.Time{}, true
	}
	return time.Time{}, false
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// moveToCarry moves lane i's pending records behind its carry, the records
// its next calls take from. Called with p.mu held.
func (p *Pipeline) moveToCarry(st *shardState, i int, since time.Time) {
	if len(st.carry) == 0 {
		st.carry, st.carrySince = p.pending[i], since
		p.pending[i] = nil
	} else {
		st.carry = append(st.carry, p.pending[i]...)
		p.pending[i] = p.pending[i][:0:0]
	}
	st.carryBytes += p.pendingBytes[i]
	st.carryDurable += p.pendingDurable[i]
	p.pendingBytes[i], p.pendingDurable[i] = 0, 0
}

// send takes one Kinesis record from each due lane (a retry first) and
// launches them in PutRecords calls of at most maxCallRecords records and
// maxCallBytes, up to maxCalls calls in flight; a record that does not fit
// under that goes first in the lane's next pass.
func (p *Pipeline) send(due []int, now time.Time) {
	var batch []*kRecord
	batchBytes := 0
	for _, i := range due {
		if p.inflightCalls >= p.maxCalls {
			break
		}
		st := p.states[i]
		var r *kRecord
		if len(st.retries) > 0 {
			r, st.retries = st.retries[0], st.retries[1:]
		} else if r = p.take(i, st, now); r == nil {
			continue // every key waiting is in flight: wait for its call
		}
		size := len(r.pk) + len(r.payload)
		if len(batch) == maxCallRecords || batchBytes+size > maxCallBytes {
			p.launch(batch)
			batch, batchBytes = nil, 0
			if p.inflightCalls >= p.maxCalls {
				st.retries = append([]*kRecord{r}, st.retries...)
				break
			}
		}
		st.inflight++
		st.lastSent = now
		batch = append(batch, r)
		batchBytes += size
	}
	if len(batch) > 0 {
		p.launch(batch)
	}
}

// pace is how long a waiting caller's record waits for companions while its
// lane has a call in flight: the smoothed PutRecords latency spread over the
// lane's calls in flight, never more than the linger.
func (p *Pipeline) pace(st *shardState) time.Duration {
	if p.callLatency <= 0 {
		return p.linger
	}
	return min(p.linger, p.callLatency/time.Duration(st.maxInflight))
}

func (p *Pipeline) anyRetry() bool {
	for _, st := range p.states {
		if len(st.retries) > 0 {
			return true
		}
	}
	return false
}

// take builds the next Kinesis record of shard i from its carry: as many user
// records as fit in one Kinesis record, or a lone record as is. On an ordered
// lane with keys busy (in flight or waiting for a retry), it takes only records
// of other keys, in carry order, and leaves the busy keys' records in the carry
// in their order; it returns nil when every record's key is busy.
func (p *Pipeline) take(i int, st *shardState, now time.Time) *kRecord {
	a := &p.agg
	a.Reset()
	var entries []entry
	if len(st.busy) == 0 {
		n := 0
		for n < len(st.carry) {
			e := &st.carry[n]
			ur := kpl.UserRecord{PartitionKey: e.pk, Data: e.data}
			if a.SizeWith(ur) > kpl.MaxRecordSize {
				if n == 0 {
					n = 1 // too big to aggregate; its data plus key fit (checked on input)
				}
				break
			}
			a.Add(ur)
			n++
		}
		entries = st.carry[:n:n]
		st.carry = st.carry[n:]
	} else {
		// Per key, the records taken are the oldest of that key in the carry
		// (a key is skipped whole, or taken up to the point where the
		// Kinesis record is full, after which nothing more is taken).
		rest := make([]entry, 0, len(st.carry))
		full := false
		for k := range st.carry {
			e := &st.carry[k]
			if full || st.busy[e.pk] > 0 {
				rest = append(rest, *e)
				continue
			}
			ur := kpl.UserRecord{PartitionKey: e.pk, Data: e.data}
			if a.SizeWith(ur) > kpl.MaxRecordSize {
				full = true
				if len(entries) == 0 {
					entries = append(entries, *e) // too big to aggregate; goes as is
				} else {
					rest = append(rest, *e)
				}
				continue
			}
			a.Add(ur)
			entries = append(entries, *e)
		}
		if len(entries) == 0 {
			a.Reset()
			return nil
		}
		st.carry = rest
	}
	n := len(entries)
	r := &kRecord{shard: i, entries: entries}
	// A lone record goes as is, unless its data could be taken for an aggregate
	// (it starts with the KPL magic): then it is wrapped, so that a consumer
	// cannot be made to deaggregate a user's payload. Only a record too large
	// to wrap goes as is regardless.
	if n == 1 && (a.Len() == 0 || !bytes.HasPrefix(entries[0].data, kpl.Magic)) {
		r.pk, r.payload = entries[0].pk, entries[0].data
	} else {
		r.pk, r.aggregated = a.PartitionKey(), true
		r.payload = a.AppendEncoded(make([]byte, 0, a.Size()))
	}
	a.Reset()
	for _, e := range r.entries {
		st.carryBytes -= len(e.pk) + len(e.data)
		if e.t != nil {
			st.carryDurable--
		}
		if st.busy != nil {
			st.busy[e.pk]++
		}
	}
	if len(st.carry) == 0 {
		st.carry, st.carryBytes, st.carryDurable = nil, 0, 0
	} else {
		st.carrySince = now // the rest goes next, as soon as this one is written
	}
	p.metrics.userRecordsPerKinesisRecord.Observe(float64(n))
	return r
}

func (p *Pipeline) launch(batch []*kRecord) {
	p.inflightCalls++
	p.metrics.batchRecords.Observe(float64(len(batch)))
	in := &kinesis.PutRecordsInput{StreamName: aws.String(p.stream), Records: make([]types.PutRecordsRequestEntry, len(batch))}
	for i, r := range batch {
		in.Records[i] = types.PutRecordsRequestEntry{Data: r.payload, PartitionKey: aws.String(r.pk)}
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), p.callTimeout)
		defer cancel()
		start := time.Now()
		out, err := p.api.PutRecords(ctx, in)
		p.results <- callResult{batch: batch, out: out, err: err, took: time.Since(start)}
	}()
}

func (p *Pipeline) handleResult(res callResult) {
	p.inflightCalls--
	now := time.Now()
	if res.err == nil && (res.out == nil || len(res.out.Records) != len(res.batch)) {
		res.err = fmt.Errorf("PutRecords answered a malformed result for %d records", len(res.batch))
	}
	if res.err != nil {
		kind := classify(res.err)
		p.metrics.putRecordsCalls.WithLabelValues(kind).Inc()
		p.metrics.awsCalls.WithLabelValues("kinesis", "PutRecords", kind).Inc()
		p.metrics.putRecordsLatency.WithLabelValues(kind).Observe(res.took.Seconds())
		if kind == "throttled" {
			p.metrics.throttles.Inc()
		} else {
			p.healthy.Store(false)
			p.poke(p.refresh)
		}
		p.log.Warn("PutRecords failed", "stream", p.stream, "records", len(res.batch), "error", res.err)
		for _, r := range res.batch {
			p.retryLater(r, now)
		}
		return
	}
	p.healthy.Store(true)
	// Smoothed latency of successful calls (weight 1/8, as TCP's SRTT).
	if p.callLatency == 0 {
		p.callLatency = res.took
	} else {
		p.callLatency += (res.took - p.callLatency) / 8
	}
	p.metrics.putRecordsCalls.WithLabelValues("ok").Inc()
	p.metrics.awsCalls.WithLabelValues("kinesis", "PutRecords", "ok").Inc()
	p.metrics.putRecordsLatency.WithLabelValues("ok").Observe(res.took.Seconds())
	for i, rr := range res.out.Records {
		r := res.batch[i]
		if rr.ErrorCode != nil {
			if aws.ToString(rr.ErrorCode) == "ProvisionedThroughputExceededException" {
				p.metrics.throttles.Inc()
			}
			p.retryLater(r, now)
			continue
		}
		st := p.states[r.shard]
		st.inflight--
		if len(st.retries) == 0 {
			// (a failed sibling keeps its backoff)
			st.attempts, st.notBefore = 0, time.Time{}
		}
		if st.busy != nil {
			for k := range r.entries {
				pk := r.entries[k].pk
				if st.busy[pk]--; st.busy[pk] <= 0 {
					delete(st.busy, pk)
				}
			}
		}
		if id := aws.ToString(rr.ShardId); id != st.id {
			// The stream resharded under us: the record is stored, but the map
			// is stale. A KCL consumer drops the user records of an aggregate
			// whose hash keys lie outside the shard it read them from, so they
			// are sent again once the new map says which ones (our consumer,
			// which does not filter, sees them twice).
			p.metrics.shardMismatches.Inc()
			p.poke(p.refresh)
			if r.aggregated {
				p.queueResend(id, r.entries)
			}
		}
		p.complete(r, Ack{ShardID: aws.ToString(rr.ShardId), SequenceNumber: aws.ToString(rr.SequenceNumber)})
	}
}

// queueResend keeps copies of entries (without their tickets: the callers
// are answered by this write) for the next map; they count in the buffer
// until sent.
func (p *Pipeline) queueResend(shardID string, entries []entry) {
	g := resendGroup{shardID: shardID, entries: make([]entry, len(entries))}
	var cost int64
	for i, e := range entries {
		e.t = nil
		g.entries[i] = e
		cost += e.cost()
	}
	p.resend = append(p.resend, g)
	p.buffered.Add(cost)
	p.outstanding.Add(int64(len(entries)))
}

// takeResends returns, in their original order, the queued user records that
// map m places outside the shard their aggregate was stored on (all of them
// when m does not know that shard), and forgets the others.
func (p *Pipeline) takeResends(m *shardmap.Map) []entry {
	var out []entry
	var dropped int64
	for _, g := range p.resend {
		si := m.Index(g.shardID)
		for _, e := range g.entries {
			if si >= 0 && m.Shard(si).Contains(e.hash) {
				p.buffered.Add(-e.cost())
				dropped++
				continue
			}
			out = append(out, e)
		}
	}
	p.resend = nil
	p.outstanding.Add(-dropped)
	p.metrics.resent.Add(float64(len(out)))
	return out
}

func (p *Pipeline) retryLater(r *kRecord, now time.Time) {
	st := p.states[r.shard]
	st.inflight--
	st.retries = append(st.retries, r)
	st.attempts++
	st.notBefore = now.Add(backoff(st.attempts))
	p.metrics.retries.Inc()
}

// backoff is exponential from backoffBase to backoffCap with equal jitter.
func backoff(attempt int) time.Duration {
	d := backoffBase << min(attempt-1, 10)
	if d > backoffCap || d <= 0 {
		d = backoffCap
	}
	return d/2 + rand.N(d/2+1)
}

func (p *Pipeline) complete(r *kRecord, a Ack) {
	var cost int64
	for i := range r.entries {
		e := &r.entries[i]
		cost += e.cost()
		if e.t != nil {
			e.t.ack(e.idx, a)
		}
	}
	p.buffered.Add(-cost)
	p.outstanding.Add(-int64(len(r.entries)))
	p.metrics.written.Add(float64(len(r.entries)))
}
