package kpl

import "crypto/md5"

// Aggregator accumulates the user records bound for one shard and knows, before
// each Add, how large the resulting Kinesis record would be. The zero value is
// ready to use; it is not safe for concurrent use.
//
// The Kinesis record it describes carries the first user record's partition key
// (and explicit hash key, if any), so it lands on the shard that key hashes to;
// the caller must only add records that hash to the same shard.
type Aggregator struct {
	pkIndex  map[string]uint64
	pkTable  []string
	ehkIndex map[string]uint64
	ehkTable []string
	records  []aggRecord
	size     int // encoded protobuf size
}

type aggRecord struct {
	pk, ehk uint64
	hasEHK  bool
	data    []byte
}

// Len returns the number of user records added since the last Reset.
func (a *Aggregator) Len() int { return len(a.records) }

// PartitionKey returns the partition key of the aggregated Kinesis record: the
// first user record's key, or "" when empty.
func (a *Aggregator) PartitionKey() string {
	if len(a.pkTable) == 0 {
		return ""
	}
	return a.pkTable[0]
}

// ExplicitHashKey returns the explicit hash key of the first user record, or "".
func (a *Aggregator) ExplicitHashKey() string {
	if len(a.records) == 0 || !a.records[0].hasEHK {
		return ""
	}
	return a.ehkTable[a.records[0].ehk]
}

// Size returns the size that counts against the Kinesis per-record limit
// (MaxRecordSize) for the aggregated record: magic, protobuf and digest plus the
// partition key. It is 0 when empty.
func (a *Aggregator) Size() int {
	if len(a.records) == 0 {
		return 0
	}
	return len(Magic) + a.size + DigestSize + len(a.pkTable[0])
}

// SizeWith returns what Size would be after Add(r).
func (a *Aggregator) SizeWith(r UserRecord) int {
	s := len(Magic) + a.size + DigestSize
	if len(a.pkTable) == 0 {
		s += len(r.PartitionKey)
	} else {
		s += len(a.pkTable[0])
	}
	pk, ok := a.pkIndex[r.PartitionKey]
	if !ok {
		pk = uint64(len(a.pkTable))
		s += bytesFieldLen(len(r.PartitionKey))
	}
	var ehk uint64
	if r.ExplicitHashKey != "" {
		var ok bool
		ehk, ok = a.ehkIndex[r.ExplicitHashKey]
		if !ok {
			ehk = uint64(len(a.ehkTable))
			s += bytesFieldLen(len(r.ExplicitHashKey))
		}
	}
	return s + bytesFieldLen(recordLen(pk, ehk, r.ExplicitHashKey != "", len(r.Data)))
}

// recordLen is the encoded size of one Record message.
func recordLen(pk, ehk uint64, hasEHK bool, dataLen int) int {
	n := 1 + uvarintLen(pk) + bytesFieldLen(dataLen)
	if hasEHK {
		n += 1 + uvarintLen(ehk)
	}
	return n
}

// Add appends r. Data is referenced, not copied, until the next Reset.
func (a *Aggregator) Add(r UserRecord) {
	if a.pkIndex == nil {
		a.pkIndex = make(map[string]uint64)
		a.ehkIndex = make(map[string]uint64)
	}
	pk, ok := a.pkIndex[r.PartitionKey]
	if !ok {
		pk = uint64(len(a.pkTable))
		a.pkIndex[r.PartitionKey] = pk
		a.pkTable = append(a.pkTable, r.PartitionKey)
		a.size += bytesFieldLen(len(r.PartitionKey))
	}
	rec := aggRecord{pk: pk, data: r.Data}
	if r.ExplicitHashKey != "" {
		ehk, ok := a.ehkIndex[r.ExplicitHashKey]
		if !ok {
			ehk = uint64(len(a.ehkTable))
			a.ehkIndex[r.ExplicitHashKey] = ehk
			a.ehkTable = append(a.ehkTable, r.ExplicitHashKey)
			a.size += bytesFieldLen(len(r.ExplicitHashKey))
		}
		rec.ehk, rec.hasEHK = ehk, true
	}
	a.records = append(a.records, rec)
	a.size += bytesFieldLen(recordLen(rec.pk, rec.ehk, rec.hasEHK, len(rec.data)))
}

// AppendEncoded appends the aggregated Kinesis record payload (magic, protobuf
// AggregatedRecord, MD5 digest) to dst and returns the extended slice.
func (a *Aggregator) AppendEncoded(dst []byte) []byte {
	need := len(Magic) + a.size + DigestSize
	if cap(dst)-len(dst) < need {
		n := make([]byte, len(dst), len(dst)+need)
		copy(n, dst)
		dst = n
	}
	dst = append(dst, Magic...)
	body := len(dst)
	for _, pk := range a.pkTable {
		dst = appendStringField(dst, 1, pk)
	}
	for _, ehk := range a.ehkTable {
		dst = appendStringField(dst, 2, ehk)
	}
	for _, r := range a.records {
		dst = appendKey(dst, 3, wireBytes)
		dst = appendUvarint(dst, uint64(recordLen(r.pk, r.ehk, r.hasEHK, len(r.data))))
		dst = appendKey(dst, 1, wireVarint)
		dst = appendUvarint(dst, r.pk)
		if r.hasEHK {
			dst = appendKey(dst, 2, wireVarint)
			dst = appendUvarint(dst, r.ehk)
		}
		dst = appendBytesField(dst, 3, r.data)
	}
	sum := md5.Sum(dst[body:])
	dst = append(dst, sum[:]...)
	return dst
}

// Reset empties the aggregator, keeping its allocations.
func (a *Aggregator) Reset() {
	clear(a.pkIndex)
	clear(a.ehkIndex)
	a.pkTable = a.pkTable[:0]
	a.ehkTable = a.ehkTable[:0]
	clear(a.records)
	a.records = a.records[:0]
	a.size = 0
}
