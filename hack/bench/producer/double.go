package main

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/kdp-io/streamprocessor-operator/workloads/kpl"
)

// kinesisDouble is a loopback stand-in for Kinesis Data Streams: an HTTP
// server speaking the Kinesis JSON 1.1 protocol (X-Amz-Target
// Kinesis_20131202.<Operation>) for the operations the producer calls
// (ListShards, PutRecords) plus DescribeStreamSummary. Every PutRecords is
// held for a fixed latency and then succeeds for every entry, with the shard
// its partition key (or explicit hash key) hashes to and a fresh sequence
// number. It checks the Kinesis limits, deaggregates every Kinesis record
// (workloads/kpl) and counts calls, Kinesis records and user records, and it
// remembers which record ids (see recordID) arrived, so that the benchmark can
// check that every acknowledged record was delivered. It does not throttle.
//
// It runs inside the benchmark process (the load generator), not in the
// producer child, so its CPU is not charged to the producer.
type kinesisDouble struct {
	latency time.Duration
	stream  string
	shards  []doubleShard
	srv     *http.Server
	url     string
	seq     atomic.Uint64

	calls    atomic.Int64 // PutRecords calls answered with success
	kinRecs  atomic.Int64 // Kinesis records in them
	userRecs atomic.Int64 // user records in them (after deaggregation)
	kinBytes atomic.Int64 // data and partition key bytes of the Kinesis records
	held     atomic.Int64 // summed time from request to answer of those calls, ns
	lists    atomic.Int64 // ListShards calls

	mu   sync.Mutex
	seen []uint32 // arrivals per record id
	// keys counts arrivals per answerKey: the partition key, and with
	// keysWithSeq the sequence number too (what a durable answer names).
	keys        map[string]int32
	keysWithSeq bool
	noID        int64 // user records whose data carries no record id
	errs        int64 // protocol or limit violations, bad aggregates
	misrouted   int64 // user records whose key hashes outside the Kinesis record's shard
	firstErr    string
}

type doubleShard struct {
	id         string
	start, end [2]uint64 // 128-bit hash keys, big-endian halves
	startDec   string
	endDec     string
}

// doubleCounts is a snapshot of the double's counters.
type doubleCounts struct{ calls, kinRecs, kinBytes, userRecs, held int64 }

func (d *kinesisDouble) counts() doubleCounts {
	return doubleCounts{d.calls.Load(), d.kinRecs.Load(), d.kinBytes.Load(), d.userRecs.Load(), d.held.Load()}
}

// startDouble serves a double of one stream with n shards of equal hash key
// ranges on a loopback port.
// keysWithSeq: the producer answers durably (its answers name the sequence
// number), so arrivals are counted per partition key and sequence number.
func startDouble(stream string, n int, latency time.Duration, keysWithSeq bool) (*kinesisDouble, error) {
	d := &kinesisDouble{latency: latency, stream: stream, keys: map[string]int32{}, keysWithSeq: keysWithSeq}
	span := new(big.Int).Lsh(big.NewInt(1), 128)
	for i := 0; i < n; i++ {
		lo := new(big.Int).Div(new(big.Int).Mul(span, big.NewInt(int64(i))), big.NewInt(int64(n)))
		hi := new(big.Int).Div(new(big.Int).Mul(span, big.NewInt(int64(i+1))), big.NewInt(int64(n)))
		hi.Sub(hi, big.NewInt(1))
		d.shards = append(d.shards, doubleShard{id: fmt.Sprintf("shardId-%012d", i),
			start: halves(lo), end: halves(hi), startDec: lo.String(), endDec: hi.String()})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d.url = "http://" + ln.Addr().String()
	d.srv = &http.Server{Handler: d, ReadHeaderTimeout: 10 * time.Second}
	go d.srv.Serve(ln)
	return d, nil
}

func (d *kinesisDouble) close() { d.srv.Close() }

func halves(b *big.Int) [2]uint64 {
	var buf [16]byte
	b.FillBytes(buf[:])
	return [2]uint64{binary.BigEndian.Uint64(buf[:8]), binary.BigEndian.Uint64(buf[8:])}
}

func less(a, b [2]uint64) bool { return a[0] < b[0] || (a[0] == b[0] && a[1] < b[1]) }

// shardOf returns the index of the shard a partition key (or, when set, an
// explicit hash key) maps to, or -1 for a malformed explicit hash key.
func (d *kinesisDouble) shardOf(pk, ehk string) int {
	var h [2]uint64
	if ehk != "" {
		b, ok := new(big.Int).SetString(ehk, 10)
		if !ok || b.Sign() < 0 || b.BitLen() > 128 {
			return -1
		}
		h = halves(b)
	} else {
		sum := md5.Sum([]byte(pk))
		h = [2]uint64{binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:])}
	}
	for i, s := range d.shards {
		if !less(h, s.start) && !less(s.end, h) {
			return i
		}
	}
	return -1
}

func (d *kinesisDouble) fail(w http.ResponseWriter, code int, typ, msg string) {
	d.mu.Lock()
	d.errs++
	if d.firstErr == "" {
		d.firstErr = typ + ": " + msg
	}
	d.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}

func (d *kinesisDouble) reply(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		d.fail(w, http.StatusInternalServerError, "InternalFailure", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Write(b)
}

func (d *kinesisDouble) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.Method != http.MethodPost {
		d.fail(w, http.StatusMethodNotAllowed, "InvalidAction", "method "+r.Method)
		return
	}
	// 5 MiB of raw data and keys is up to ~7 MiB of base64 in JSON.
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		d.fail(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	switch op := r.Header.Get("X-Amz-Target"); op {
	case "Kinesis_20131202.PutRecords":
		d.putRecords(w, r, body, start)
	case "Kinesis_20131202.ListShards":
		d.listShards(w, body)
	case "Kinesis_20131202.DescribeStreamSummary":
		d.describeStreamSummary(w, body)
	default:
		d.fail(w, http.StatusBadRequest, "UnknownOperationException", "operation "+op+" not supported by the Kinesis double")
	}
}

type streamRef struct {
	StreamName string
	StreamARN  string
	NextToken  string
}

func (d *kinesisDouble) checkStream(w http.ResponseWriter, in streamRef) bool {
	if in.StreamName != d.stream && in.StreamARN != d.arn() {
		d.fail(w, http.StatusBadRequest, "ResourceNotFoundException", fmt.Sprintf("stream %q/%q not found", in.StreamName, in.StreamARN))
		return false
	}
	return true
}

func (d *kinesisDouble) arn() string {
	return "arn:aws:kinesis:us-east-1:000000000000:stream/" + d.stream
}

func (d *kinesisDouble) listShards(w http.ResponseWriter, body []byte) {
	d.lists.Add(1)
	var in streamRef
	if err := json.Unmarshal(body, &in); err != nil {
		d.fail(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	if in.NextToken == "" && !d.checkStream(w, in) {
		return
	}
	type hkr struct{ StartingHashKey, EndingHashKey string }
	type snr struct{ StartingSequenceNumber string }
	type sh struct {
		ShardId             string
		HashKeyRange        hkr
		SequenceNumberRange snr
	}
	out := struct{ Shards []sh }{}
	for _, s := range d.shards {
		out.Shards = append(out.Shards, sh{s.id, hkr{s.startDec, s.endDec}, snr{"49000000000000000000000000000000000000000000000000000000"}})
	}
	d.reply(w, out)
}

func (d *kinesisDouble) describeStreamSummary(w http.ResponseWriter, body []byte) {
	var in streamRef
	if err := json.Unmarshal(body, &in); err != nil {
		d.fail(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	if !d.checkStream(w, in) {
		return
	}
	d.reply(w, map[string]any{"StreamDescriptionSummary": map[string]any{
		"StreamName": d.stream, "StreamARN": d.arn(), "StreamStatus": "ACTIVE",
		"StreamModeDetails": map[string]string{"StreamMode": "PROVISIONED"}, "RetentionPeriodHours": 24,
		"StreamCreationTimestamp": 0, "EnhancedMonitoring": []any{}, "EncryptionType": "NONE",
		"OpenShardCount": len(d.shards), "ConsumerCount": 0,
	}})
}

type putRecordsIn struct {
	streamRef
	Records []struct {
		Data            []byte // base64 in JSON
		PartitionKey    string
		ExplicitHashKey string
	}
}

type putRecordsResultEntry struct {
	ShardId        string
	SequenceNumber string
}

func (d *kinesisDouble) putRecords(w http.ResponseWriter, r *http.Request, body []byte, start time.Time) {
	var in putRecordsIn
	if err := json.Unmarshal(body, &in); err != nil {
		d.fail(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	if !d.checkStream(w, in.streamRef) {
		return
	}
	if n := len(in.Records); n == 0 || n > 500 {
		d.fail(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("%d records in one call; 1 to 500 allowed", n))
		return
	}
	total := 0
	out := struct {
		FailedRecordCount int
		Records           []putRecordsResultEntry
		EncryptionType    string
	}{EncryptionType: "NONE", Records: make([]putRecordsResultEntry, len(in.Records))}
	var users int64
	var ids []uint64
	var keys []string
	var noID, misrouted int64
	for i, rec := range in.Records {
		size := len(rec.Data) + len(rec.PartitionKey)
		total += size
		if n := utf8.RuneCountInString(rec.PartitionKey); n < 1 || n > 256 {
			d.fail(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("record %d: partition key of %d characters", i, n))
			return
		}
		if size > kpl.MaxRecordSize {
			d.fail(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("record %d: %d bytes of data and key exceed 1 MiB", i, size))
			return
		}
		s := d.shardOf(rec.PartitionKey, rec.ExplicitHashKey)
		if s < 0 {
			d.fail(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("record %d: bad explicit hash key %q", i, rec.ExplicitHashKey))
			return
		}
		urs, err := kpl.Deaggregate(rec.PartitionKey, rec.Data)
		if err != nil {
			d.fail(w, http.StatusBadRequest, "BenchDoubleAggregateError", fmt.Sprintf("record %d: %v", i, err))
			return
		}
		seq := fmt.Sprintf("49%054d", d.seq.Add(1))
		for _, u := range urs {
			if d.keysWithSeq {
				keys = append(keys, answerKey(u.PartitionKey, seq))
			} else {
				keys = append(keys, u.PartitionKey)
			}
			if d.shardOf(u.PartitionKey, u.ExplicitHashKey) != s {
				misrouted++
			}
			users++
			if id, ok := recordID(u.Data); ok {
				ids = append(ids, id)
			} else {
				noID++
			}
		}
		out.Records[i] = putRecordsResultEntry{ShardId: d.shards[s].id, SequenceNumber: seq}
	}
	if total > 5<<20 {
		d.fail(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("%d bytes in one call exceed 5 MiB", total))
		return
	}
	// The added latency stands for the network round trip and Kinesis's own
	// work; time spent reading and decoding above counts towards it.
	if wait := d.latency - time.Since(start); wait > 0 {
		select {
		case <-time.After(wait):
		case <-r.Context().Done():
			return // the caller gave up: nothing is acknowledged, nothing counted
		}
	}
	d.mu.Lock()
	for _, id := range ids {
		if id >= uint64(len(d.seen)) {
			if id >= 1<<28 {
				noID++
				continue
			}
			d.seen = append(d.seen, make([]uint32, int(id)+1-len(d.seen)+len(d.seen)/2)...)
		}
		d.seen[id]++
	}
	for _, k := range keys {
		d.keys[k]++
	}
	d.noID += noID
	d.misrouted += misrouted
	d.mu.Unlock()
	d.calls.Add(1)
	d.kinRecs.Add(int64(len(in.Records)))
	d.userRecs.Add(users)
	d.kinBytes.Add(int64(total))
	d.held.Add(int64(time.Since(start)))
	d.reply(w, out)
}

// idDigits is the width of the record id the load generator writes at the
// start of each record's data (when the record is at least that large).
const idDigits = 12

// recordID reads the decimal record id at the start of data.
func recordID(data []byte) (uint64, bool) {
	if len(data) < idDigits {
		return 0, false
	}
	var id uint64
	for _, c := range data[:idDigits] {
		if c < '0' || c > '9' {
			return 0, false
		}
		id = id*10 + uint64(c-'0')
	}
	return id, true
}

// appendRecordData appends record-size bytes of data: the id in idDigits
// decimal digits, then 'x' padding (only padding if size < idDigits).
func appendRecordData(b []byte, id uint64, size int) []byte {
	if size >= idDigits {
		b = fmt.Appendf(b, "%0*d", idDigits, id)
		size -= idDigits
	}
	for ; size > 0; size-- {
		b = append(b, 'x')
	}
	return b
}

// verification compares what the load generator saw acknowledged with what
// arrived at the double.
type verification struct {
	acked, arrived, missing, duplicated, unacked, noID, misrouted, errs int64
	// Answers to wrk, matched by partition key (and sequence number).
	ackedKeys, missingKeys int64
	firstErr               string
}

// ok reports whether the check passed; byID is false when records were too
// small to carry an id, and then only the counts are compared.
func (v verification) ok(byID bool) bool {
	if v.misrouted != 0 || v.errs != 0 {
		return false
	}
	if !byID {
		return v.arrived >= v.acked+v.ackedKeys
	}
	return v.missing == 0 && v.missingKeys == 0 && v.duplicated == 0 && v.noID == 0
}

// verify checks the acknowledged record ids against the arrivals. Call it only
// after the producer flushed and exited.
//
// ackedKeys are the answers wrk got (answerKey), which name no record id: each
// must be matched by an arrival of the same key (and sequence number); a key
// answered n times must have arrived at least n times. Duplicates are found by
// id, for every record.
func (d *kinesisDouble) verify(acked []uint64, ackedKeys []string) verification {
	d.mu.Lock()
	defer d.mu.Unlock()
	v := verification{acked: int64(len(acked)), ackedKeys: int64(len(ackedKeys)), arrived: d.userRecs.Load(), noID: d.noID, misrouted: d.misrouted, errs: d.errs, firstErr: d.firstErr}
	isAcked := make([]bool, len(d.seen))
	var found int64
	for _, id := range acked {
		if id >= uint64(len(d.seen)) || d.seen[id] == 0 {
			v.missing++
			continue
		}
		if !isAcked[id] {
			found++
		}
		isAcked[id] = true
	}
	var distinct int64
	for _, n := range d.seen {
		if n > 1 {
			v.duplicated += int64(n - 1)
		}
		if n > 0 {
			distinct++
		}
	}
	want := map[string]int32{}
	for _, k := range ackedKeys {
		want[k]++
	}
	for k, n := range want {
		if got := d.keys[k]; got < n {
			v.missingKeys += int64(n - got)
		}
	}
	// Records that arrived but were never answered 2xx (in flight when a
	// client stopped, or 503 ack_timeout): allowed, reported.
	v.unacked = max(distinct-found-(v.ackedKeys-v.missingKeys), 0)
	return v
}
