package kpl

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
)

// Magic is the 4-byte prefix of a KPL aggregated record.
var Magic = []byte{0xF3, 0x89, 0x9A, 0xC2}

// DigestSize is the size of the MD5 trailer of an aggregated record.
const DigestSize = md5.Size

// MaxRecordSize is the Kinesis limit for one record: its data blob plus its
// partition key, in bytes.
const MaxRecordSize = 1 << 20

// UserRecord is one user record carried inside a Kinesis record.
type UserRecord struct {
	PartitionKey    string
	ExplicitHashKey string // "" when absent
	Data            []byte
}

// IsAggregated reports whether data starts with Magic and is long enough to hold a digest.
func IsAggregated(data []byte) bool {
	return len(data) >= len(Magic)+DigestSize && bytes.Equal(data[:len(Magic)], Magic)
}

// digestMatches reports whether the MD5 trailer of an aggregated payload matches
// its protobuf part. The caller has checked IsAggregated.
func digestMatches(data []byte) bool {
	body := data[len(Magic) : len(data)-DigestSize]
	sum := md5.Sum(body)
	return bytes.Equal(sum[:], data[len(data)-DigestSize:])
}

// Decode strictly decodes aggregated bytes (magic + protobuf AggregatedRecord +
// 16-byte MD5 of the protobuf) and fails on any fault: missing magic, digest
// mismatch, malformed protobuf, a missing required field or a table index out of
// range. Unknown fields are skipped. The Data of the returned records aliases data.
func Decode(data []byte) ([]UserRecord, error) {
	if !IsAggregated(data) {
		return nil, errors.New("decode aggregated record: no KPL magic or too short for a digest")
	}
	if !digestMatches(data) {
		return nil, errors.New("decode aggregated record: MD5 digest mismatch")
	}
	recs, err := decodeAggregated(data[len(Magic) : len(data)-DigestSize])
	if err != nil {
		return nil, fmt.Errorf("decode aggregated record: %w", err)
	}
	return recs, nil
}

// Deaggregate returns the user records of one Kinesis record the way the KCL does:
//   - data is not aggregated (no magic, or too short): the record itself, as one
//     user record with partitionKey;
//   - data starts with the magic but its MD5 trailer does not match: also the
//     record itself, unchanged — the KCL treats such a record as a plain record
//     that merely happens to start with the magic bytes, and so do we;
//   - the digest matches: the decoded user records; a malformed protobuf behind a
//     matching digest is an error (the KCL fails such a record too).
func Deaggregate(partitionKey string, data []byte) ([]UserRecord, error) {
	if !IsAggregated(data) || !digestMatches(data) {
		return []UserRecord{{PartitionKey: partitionKey, Data: data}}, nil
	}
	recs, err := decodeAggregated(data[len(Magic) : len(data)-DigestSize])
	if err != nil {
		return nil, fmt.Errorf("deaggregate record with partition key %q: %w", partitionKey, err)
	}
	return recs, nil
}

// Encode aggregates records into one Kinesis record payload (with magic and
// digest). Every record needs a partition key. Encode does not enforce the
// Kinesis size limit; use an Aggregator for that.
func Encode(records []UserRecord) ([]byte, error) {
	if len(records) == 0 {
		return nil, errors.New("encode aggregated record: no records")
	}
	var a Aggregator
	for i, r := range records {
		if r.PartitionKey == "" {
			return nil, fmt.Errorf("encode aggregated record: record %d has an empty partition key", i)
		}
		a.Add(r)
	}
	return a.AppendEncoded(nil), nil
}

func decodeAggregated(b []byte) ([]UserRecord, error) {
	var (
		pks, ehks []string
		raw       [][]byte // Record messages, decoded after the tables are complete
	)
	r := reader{b: b}
	for !r.done() {
		field, wire, err := r.key()
		if err != nil {
			return nil, err
		}
		switch {
		case field >= 1 && field <= 3 && wire == wireBytes:
			v, err := r.bytes()
			if err != nil {
				return nil, fmt.Errorf("read field %d: %w", field, err)
			}
			switch field {
			case 1:
				pks = append(pks, string(v))
			case 2:
				ehks = append(ehks, string(v))
			case 3:
				raw = append(raw, v)
			}
		case field >= 1 && field <= 3:
			return nil, fmt.Errorf("field %d has wire type %d, want %d", field, wire, wireBytes)
		default:
			if err := r.skip(wire); err != nil {
				return nil, fmt.Errorf("skip unknown field %d: %w", field, err)
			}
		}
	}
	out := make([]UserRecord, 0, len(raw))
	for i, m := range raw {
		rec, err := decodeRecord(m, pks, ehks)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		out = append(out, rec)
	}
	return out, nil
}

func decodeRecord(b []byte, pks, ehks []string) (UserRecord, error) {
	var (
		rec               UserRecord
		hasPK, hasData    bool
		pkIndex, ehkIndex uint64
		hasEHK            bool
	)
	r := reader{b: b}
	for !r.done() {
		field, wire, err := r.key()
		if err != nil {
			return rec, err
		}
		switch {
		case field == 1 && wire == wireVarint:
			if pkIndex, err = r.uvarint(); err != nil {
				return rec, fmt.Errorf("read partition key index: %w", err)
			}
			hasPK = true
		case field == 2 && wire == wireVarint:
			if ehkIndex, err = r.uvarint(); err != nil {
				return rec, fmt.Errorf("read explicit hash key index: %w", err)
			}
			hasEHK = true
		case field == 3 && wire == wireBytes:
			if rec.Data, err = r.bytes(); err != nil {
				return rec, fmt.Errorf("read data: %w", err)
			}
			hasData = true
		case field == 4 && wire == wireBytes:
			v, err := r.bytes()
			if err != nil {
				return rec, fmt.Errorf("read tag: %w", err)
			}
			if err := checkTag(v); err != nil {
				return rec, fmt.Errorf("tag: %w", err)
			}
		case field >= 1 && field <= 4:
			return rec, fmt.Errorf("field %d has unexpected wire type %d", field, wire)
		default:
			if err := r.skip(wire); err != nil {
				return rec, fmt.Errorf("skip unknown field %d: %w", field, err)
			}
		}
	}
	if !hasPK {
		return rec, errors.New("required partition_key_index missing")
	}
	if !hasData {
		return rec, errors.New("required data missing")
	}
	if pkIndex >= uint64(len(pks)) {
		return rec, fmt.Errorf("partition key index %d out of range (table has %d)", pkIndex, len(pks))
	}
	rec.PartitionKey = pks[pkIndex]
	if hasEHK {
		if ehkIndex >= uint64(len(ehks)) {
			return rec, fmt.Errorf("explicit hash key index %d out of range (table has %d)", ehkIndex, len(ehks))
		}
		rec.ExplicitHashKey = ehks[ehkIndex]
	}
	if rec.Data == nil {
		rec.Data = []byte{}
	}
	return rec, nil
}

// checkTag validates a Tag message (required key); tags are not returned.
func checkTag(b []byte) error {
	hasKey := false
	r := reader{b: b}
	for !r.done() {
		field, wire, err := r.key()
		if err != nil {
			return err
		}
		switch {
		case (field == 1 || field == 2) && wire == wireBytes:
			if _, err := r.bytes(); err != nil {
				return err
			}
			hasKey = hasKey || field == 1
		case field == 1 || field == 2:
			return fmt.Errorf("field %d has unexpected wire type %d", field, wire)
		default:
			if err := r.skip(wire); err != nil {
				return err
			}
		}
	}
	if !hasKey {
		return errors.New("required key missing")
	}
	return nil
}
