package meter

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kdp-io/streamprocessor-operator/internal/shardmap"
)

// Limits of a record that AWS checks before any throttling; a request that
// breaks them goes upstream whole, for kinesis-local's validation error.
const (
	maxPartitionKey = 256
	maxRecordData   = 1 << 20
)

// putEntry is one record of PutRecord or PutRecords, as JSON 1.1 carries it.
type putEntry struct {
	Data            string  `json:"Data"` // base64
	PartitionKey    string  `json:"PartitionKey"`
	ExplicitHashKey *string `json:"ExplicitHashKey"`
}

// size is what the record counts against the write budget: its data blob
// plus its partition key.
func (e putEntry) size() int { return base64Len(e.Data) + len(e.PartitionKey) }

// base64Len is the decoded length of standard base64 text.
func base64Len(s string) int {
	n := len(s) / 4 * 3
	if strings.HasSuffix(s, "==") {
		n -= 2
	} else if strings.HasSuffix(s, "=") {
		n--
	}
	return n
}

// route returns the shard of e, or false when e is not a record AWS would
// accept (then upstream should say why).
func (e putEntry) route(sm *shardmap.Map) (string, bool) {
	if e.PartitionKey == "" || len(e.PartitionKey) > maxPartitionKey || base64Len(e.Data) > maxRecordData {
		return "", false
	}
	h, err := shardmap.RecordHashKey(e.PartitionKey, e.ExplicitHashKey)
	if err != nil {
		return "", false
	}
	i := sm.Lookup(h)
	if i < 0 {
		return "", false
	}
	return sm.Shard(i).ID, true
}

// streamRef is how a request names its stream.
type streamRef struct {
	StreamName string `json:"StreamName"`
	StreamARN  string `json:"StreamARN"`
}

func (s streamRef) name() string { return streamName(s.StreamName, s.StreamARN) }

// putRecord meters one record: over the budget of its shard it is refused
// with ProvisionedThroughputExceededException (HTTP 400), else forwarded.
func (m *Meter) putRecord(w http.ResponseWriter, r *http.Request, body []byte) {
	var in struct {
		putEntry
		streamRef
	}
	stream, shard, ok := "", "", false
	if json.Unmarshal(body, &in) == nil && in.name() != "" {
		stream = in.name()
		if sm, err := m.shardMap(r.Context(), stream); err == nil {
			shard, ok = in.route(sm)
		}
	}
	if !ok {
		m.forwardBuffered(w, r, body)
		return
	}
	now := m.clock.Now()
	m.mu.Lock()
	admitted := m.buckets(m.stream(stream), shard, now).admitWrite(now, in.size())
	m.mu.Unlock()
	if !admitted {
		m.recordPut(stream, putSample{throttled: 1})
		writeError(w, http.StatusBadRequest, errThrottled, m.throttleMessage(stream, shard))
		return
	}
	resp, ok := m.call(w, r, body)
	if !ok {
		return
	}
	if resp.status == http.StatusOK {
		m.recordPut(stream, putSample{records: 1, bytes: int64(in.size())})
	}
	resp.write(w)
}

// putSample is what one put call adds to its stream's minute.
type putSample struct {
	records, bytes, throttled int64
	batch                     bool // a PutRecords call
}

// recordPut adds a forwarded put call's outcome to the totals and the minute.
func (m *Meter) recordPut(stream string, p putSample) {
	now := m.clock.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stream(stream)
	s.stats.AcceptedRecords += p.records
	s.stats.AcceptedBytes += p.bytes
	s.stats.WriteThrottled += p.throttled
	m.minutes.put(now, stream, p)
}

// putRecords meters each record against its shard. Records over budget get
// ProvisionedThroughputExceededException at their own index; the others go
// upstream in one PutRecords call (none when all are refused) whose results
// are merged back by index, with FailedRecordCount the total of both.
func (m *Meter) putRecords(w http.ResponseWriter, r *http.Request, body []byte) {
	var fields map[string]json.RawMessage
	var in struct {
		Records []json.RawMessage `json:"Records"`
		streamRef
	}
	if json.Unmarshal(body, &fields) != nil || json.Unmarshal(body, &in) != nil || in.name() == "" || len(in.Records) == 0 {
		m.forwardBuffered(w, r, body)
		return
	}
	stream := in.name()
	sm, err := m.shardMap(r.Context(), stream)
	if err != nil {
		m.forwardBuffered(w, r, body)
		return
	}
	entries := make([]putEntry, len(in.Records))
	shards := make([]string, len(in.Records))
	for i, raw := range in.Records {
		var ok bool
		if json.Unmarshal(raw, &entries[i]) == nil {
			shards[i], ok = entries[i].route(sm)
		}
		if !ok {
			m.forwardBuffered(w, r, body)
			return
		}
	}

	throttled := m.admitRecords(stream, entries, shards)
	var accepted []json.RawMessage
	for i, raw := range in.Records {
		if !throttled[i] {
			accepted = append(accepted, raw)
		}
	}
	answer := map[string]json.RawMessage{}
	header := http.Header{}
	header.Set("Content-Type", "application/x-amz-json-1.1")
	header.Set("X-Amzn-Requestid", requestID())
	var upstream []json.RawMessage
	if len(accepted) > 0 {
		fields["Records"], _ = json.Marshal(accepted)
		fwd, _ := json.Marshal(fields)
		resp, ok := m.call(w, r, fwd)
		if !ok {
			return
		}
		var out struct {
			Records []json.RawMessage `json:"Records"`
		}
		if resp.status != http.StatusOK || json.Unmarshal(resp.body, &answer) != nil ||
			json.Unmarshal(resp.body, &out) != nil || len(out.Records) != len(accepted) {
			resp.write(w) // upstream's error, or an answer that cannot be merged
			return
		}
		header, upstream = resp.header, out.Records
	}
	results, failed, stored := m.mergeResults(stream, entries, shards, throttled, upstream)
	answer["Records"], _ = json.Marshal(results)
	answer["FailedRecordCount"], _ = json.Marshal(failed)
	merged, _ := json.Marshal(answer)
	m.recordPut(stream, stored)
	writeResponse(w, http.StatusOK, header, merged)
}

// admitRecords charges each record, in order, to its shard's write budgets
// and reports which did not fit.
func (m *Meter) admitRecords(stream string, entries []putEntry, shards []string) (throttled []bool) {
	now := m.clock.Now()
	throttled = make([]bool, len(entries))
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stream(stream)
	for i, e := range entries {
		throttled[i] = !m.buckets(s, shards[i], now).admitWrite(now, e.size())
	}
	return throttled
}

// mergeResults puts upstream's results for the accepted records (in order)
// and a throttling error for each refused one at their original indexes. It
// returns them with the number failed either way and what was stored.
func (m *Meter) mergeResults(stream string, entries []putEntry, shards []string, throttled []bool, upstream []json.RawMessage) ([]json.RawMessage, int, putSample) {
	results := make([]json.RawMessage, len(entries))
	failed, stored := 0, putSample{batch: true}
	for i := range entries {
		if throttled[i] {
			results[i], _ = json.Marshal(map[string]string{
				"ErrorCode":    errThrottled,
				"ErrorMessage": m.throttleMessage(stream, shards[i]),
			})
			failed++
			stored.throttled++
			continue
		}
		results[i], upstream = upstream[0], upstream[1:]
		var res struct{ ErrorCode *string }
		if json.Unmarshal(results[i], &res) == nil && aws.ToString(res.ErrorCode) != "" {
			failed++
			continue
		}
		stored.records++
		stored.bytes += int64(entries[i].size())
	}
	return results, failed, stored
}

// reshard forwards UpdateShardCount, SplitShard or MergeShards and, when
// upstream accepted it, reloads the stream's shard map every tick until the
// new shards show (kinesis-local keeps the stream UPDATING for a while first).
func (m *Meter) reshard(w http.ResponseWriter, r *http.Request, body []byte) {
	resp, ok := m.call(w, r, body)
	if !ok {
		return
	}
	defer resp.write(w)
	var in streamRef
	if resp.status != http.StatusOK || json.Unmarshal(body, &in) != nil || in.name() == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stream(in.name())
	s.resharding, s.reshardAt = s.shards, m.clock.Now()
	if s.resharding == nil {
		s.resharding = &shardmap.Map{}
	}
	m.log.V(1).Info("Reshard passed through", "stream", in.name())
}
