package meter

import (
	"encoding/json"
	"net/http"
	"time"
)

// Iterators expire five minutes after AWS issues them; the table forgets them
// then, and holds at most maxIterators, beyond which new ones go unmetered.
const (
	iteratorLifetime = 5 * time.Minute
	maxIterators     = 100_000
)

// iteratorTable remembers which shard each known iterator reads; guarded by
// Meter.mu.
type iteratorTable struct {
	byIterator map[string]iteratorShard
}

type iteratorShard struct {
	stream, shard string
	issued        time.Time
}

func newIteratorTable() *iteratorTable {
	return &iteratorTable{byIterator: map[string]iteratorShard{}}
}

func (t *iteratorTable) add(it string, at iteratorShard) {
	if it == "" {
		return
	}
	if len(t.byIterator) >= maxIterators {
		t.expire(at.issued)
		if len(t.byIterator) >= maxIterators {
			return
		}
	}
	t.byIterator[it] = at
}

func (t *iteratorTable) lookup(it string) (iteratorShard, bool) {
	at, ok := t.byIterator[it]
	return at, ok
}

// expire forgets iterators issued more than iteratorLifetime before now.
func (t *iteratorTable) expire(now time.Time) {
	for it, at := range t.byIterator {
		if now.Sub(at.issued) > iteratorLifetime {
			delete(t.byIterator, it)
		}
	}
}

// getShardIterator forwards the call and remembers the shard of the iterator
// upstream returns.
func (m *Meter) getShardIterator(w http.ResponseWriter, r *http.Request, body []byte) {
	resp, ok := m.call(w, r, body)
	if !ok {
		return
	}
	defer resp.write(w)
	if resp.status != http.StatusOK {
		return
	}
	var in struct {
		streamRef
		ShardId string `json:"ShardId"`
	}
	var out struct {
		ShardIterator string `json:"ShardIterator"`
	}
	if json.Unmarshal(body, &in) != nil || json.Unmarshal(resp.body, &out) != nil || in.name() == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.iterators.add(out.ShardIterator, iteratorShard{stream: in.name(), shard: in.ShardId, issued: m.clock.Now()})
}

// getRecordsOutput is the part of a GetRecords answer the Meter reads.
type getRecordsOutput struct {
	Records []struct {
		Data                        string   `json:"Data"`
		ApproximateArrivalTimestamp *float64 `json:"ApproximateArrivalTimestamp"` // epoch seconds
	} `json:"Records"`
	NextShardIterator  *string `json:"NextShardIterator"`
	MillisBehindLatest *int64  `json:"MillisBehindLatest"`
}

// readSample is what one GetRecords call adds to its stream's minute.
type readSample struct {
	throttled             bool
	records, bytes, ageMs int64
}

// getRecords meters a call on a known iterator: the sixth call within a
// second on one shard, or any call while the shard's read bytes are overdrawn,
// is refused with ProvisionedThroughputExceededException (HTTP 400). The bytes
// returned are charged after the call, so one call may return up to 10 MiB.
// A call on an unknown iterator is forwarded unmetered.
func (m *Meter) getRecords(w http.ResponseWriter, r *http.Request, body []byte) {
	var in struct {
		ShardIterator string `json:"ShardIterator"`
	}
	now := m.clock.Now()
	m.mu.Lock()
	at, known := iteratorShard{}, false
	if json.Unmarshal(body, &in) == nil {
		at, known = m.iterators.lookup(in.ShardIterator)
	}
	admitted := true
	if known {
		admitted = m.buckets(m.stream(at.stream), at.shard, now).admitRead(now)
	}
	m.mu.Unlock()
	if !known {
		m.forwardBuffered(w, r, body)
		return
	}
	if !admitted {
		m.recordRead(at, readSample{throttled: true}, nil)
		writeError(w, http.StatusBadRequest, errThrottled, m.throttleMessage(at.stream, at.shard))
		return
	}
	resp, ok := m.call(w, r, body)
	if !ok {
		return
	}
	defer resp.write(w)
	var out getRecordsOutput
	if resp.status != http.StatusOK || json.Unmarshal(resp.body, &out) != nil {
		return
	}
	sample := readSample{records: int64(len(out.Records))}
	for _, rec := range out.Records {
		sample.bytes += int64(base64Len(rec.Data))
	}
	end := m.clock.Now()
	switch {
	case out.MillisBehindLatest != nil:
		sample.ageMs = *out.MillisBehindLatest
	case len(out.Records) > 0 && out.Records[len(out.Records)-1].ApproximateArrivalTimestamp != nil:
		arrived := time.UnixMilli(int64(*out.Records[len(out.Records)-1].ApproximateArrivalTimestamp * 1000))
		sample.ageMs = max(0, end.Sub(arrived).Milliseconds())
	}
	m.recordRead(at, sample, out.NextShardIterator)
}

// recordRead charges a call's bytes to its shard, adds it to the totals and
// the minute, and remembers the next iterator of the same shard.
func (m *Meter) recordRead(at iteratorShard, r readSample, next *string) {
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stream(at.stream)
	if r.throttled {
		s.stats.ReadThrottled++
	} else {
		m.buckets(s, at.shard, now).readBytes.charge(now, float64(r.bytes), m.limits.MaxReadBytesPerCall)
		s.stats.ReadCalls++
		s.stats.ReadRecords += r.records
		s.stats.ReadBytes += r.bytes
	}
	m.minutes.read(now, at.stream, r)
	if next != nil {
		m.iterators.add(*next, iteratorShard{stream: at.stream, shard: at.shard, issued: now})
	}
}
