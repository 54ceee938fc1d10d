// Package shardmap routes records to the shards of a Kinesis data stream as
// Kinesis does: a record's 128-bit hash key (the MD5 of its partition key, or
// its ExplicitHashKey) falls in the hash key range of exactly one open shard.
// It lists a stream's shards, keeps the open shards' ranges in an immutable
// Map and finds the shard that holds a hash key. The producer, the KCL and
// the local stack's Kinesis meter share it, so they all route alike.
//
// It needs only the standard library and the Kinesis SDK's request types,
// which every caller links already.
package shardmap

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"math/bits"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// HashKey is a 128-bit Kinesis hash key, an unsigned integer in
// [0, 2^128-1]. The zero value is 0. HashKeys are comparable with ==.
type HashKey struct{ hi, lo uint64 }

// MaxHashKey is 2^128-1, the end of the last shard's range.
var MaxHashKey = HashKey{^uint64(0), ^uint64(0)}

// HashKeyFromBytes reads b as a big-endian unsigned integer.
func HashKeyFromBytes(b [16]byte) HashKey {
	return HashKey{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// Less reports whether h < o.
func (h HashKey) Less(o HashKey) bool { return h.hi < o.hi || (h.hi == o.hi && h.lo < o.lo) }

// Bytes returns h as 16 big-endian bytes.
func (h HashKey) Bytes() [16]byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], h.hi)
	binary.BigEndian.PutUint64(b[8:], h.lo)
	return b
}

// String returns h in decimal, as ListShards and ExplicitHashKey write it.
func (h HashKey) String() string {
	b := h.Bytes()
	return new(big.Int).SetBytes(b[:]).String()
}

// PartitionKeyHash returns the hash key Kinesis assigns to a partition key:
// the MD5 digest of its UTF-8 bytes read as a big-endian 128-bit integer.
// It does not allocate for keys of up to 64 bytes.
func PartitionKeyHash(pk string) HashKey {
	var sum [md5.Size]byte
	if len(pk) <= 64 {
		// Copied to the stack: []byte(pk) would allocate for keys over 32
		// bytes (a UUID has 36).
		var b [64]byte
		sum = md5.Sum(b[:copy(b[:], pk)])
	} else {
		sum = md5.Sum([]byte(pk))
	}
	return HashKeyFromBytes(sum)
}

// ParseHashKey reads a decimal hash key (a ListShards range end, a record's
// ExplicitHashKey) in the form Kinesis accepts, 0|[1-9][0-9]{0,38}, with a
// value in [0, 2^128-1]; anything else (a sign, a leading zero, spaces, a
// value past 2^128-1) returns an error `invalid hash key "<s>"`. The callers
// do not relay this error to a Kinesis client: one that sends a bad
// ExplicitHashKey gets the refusal from Kinesis itself.
func ParseHashKey(s string) (HashKey, error) {
	if s == "" || len(s) > 39 || (s[0] == '0' && len(s) > 1) {
		return HashKey{}, fmt.Errorf("invalid hash key %q", s)
	}
	var h HashKey
	for i := 0; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return HashKey{}, fmt.Errorf("invalid hash key %q", s)
		}
		var ok bool
		if h, ok = h.times10plus(uint64(d)); !ok {
			return HashKey{}, fmt.Errorf("invalid hash key %q", s)
		}
	}
	return h, nil
}

// times10plus returns h×10+d and whether it fits in 128 bits.
func (h HashKey) times10plus(d uint64) (HashKey, bool) {
	hiCarry, lo := bits.Mul64(h.lo, 10)
	hiOver, hi := bits.Mul64(h.hi, 10)
	hi, c1 := bits.Add64(hi, hiCarry, 0)
	lo, c2 := bits.Add64(lo, d, 0)
	hi, c3 := bits.Add64(hi, 0, c2)
	return HashKey{hi, lo}, hiOver == 0 && c1 == 0 && c3 == 0
}

// RecordHashKey is the hash key of a record: its ExplicitHashKey when one is
// given (non-nil, even if empty), else the hash of its partition key.
func RecordHashKey(partitionKey string, explicitHashKey *string) (HashKey, error) {
	if explicitHashKey != nil {
		return ParseHashKey(*explicitHashKey)
	}
	return PartitionKeyHash(partitionKey), nil
}

// Shard is an open shard and its inclusive hash key range [Start, End].
type Shard struct {
	ID         string
	Start, End HashKey
}

// Contains reports whether h is in s's range.
func (s Shard) Contains(h HashKey) bool { return !h.Less(s.Start) && !s.End.Less(h) }

// Map holds the open shards of a stream sorted by range. It is immutable; the
// zero value is an empty map.
type Map struct {
	shards []Shard // sorted by Start; ranges do not overlap
}

// New builds a map of the open shards among all (those without an ending
// sequence number; closed parents are skipped). It refuses a shard without a
// range or with an unreadable one, a list without open shards, and
// overlapping ranges, which a half-finished reshard could show. Gaps are
// allowed: see Tiles.
func New(all []types.Shard) (*Map, error) {
	m := &Map{}
	for _, s := range all {
		if s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil {
			continue // closed by a reshard
		}
		id := aws.ToString(s.ShardId)
		if s.HashKeyRange == nil {
			return nil, fmt.Errorf("shard %s has no hash key range", id)
		}
		start, err := ParseHashKey(aws.ToString(s.HashKeyRange.StartingHashKey))
		if err != nil {
			return nil, fmt.Errorf("shard %s: %w", id, err)
		}
		end, err := ParseHashKey(aws.ToString(s.HashKeyRange.EndingHashKey))
		if err != nil {
			return nil, fmt.Errorf("shard %s: %w", id, err)
		}
		m.shards = append(m.shards, Shard{ID: id, Start: start, End: end})
	}
	if len(m.shards) == 0 {
		return nil, errors.New("no open shards")
	}
	sort.Slice(m.shards, func(i, j int) bool { return m.shards[i].Start.Less(m.shards[j].Start) })
	for i := 1; i < len(m.shards); i++ {
		if !m.shards[i-1].End.Less(m.shards[i].Start) {
			return nil, fmt.Errorf("open shards %s and %s overlap", m.shards[i-1].ID, m.shards[i].ID)
		}
	}
	return m, nil
}

// Tiles returns nil when the map's ranges cover the whole space [0, 2^128-1]
// without gaps, as the open shards of a stream do between reshards, and
// otherwise an error naming the first shard where they do not.
func (m *Map) Tiles() error {
	next := HashKey{}
	for i, s := range m.shards {
		if s.Start != next {
			return fmt.Errorf("open shards do not tile the hash key space at shard %s (a reshard in progress?)", s.ID)
		}
		if i == len(m.shards)-1 {
			if s.End != MaxHashKey {
				return fmt.Errorf("last open shard %s does not end at 2^128-1", s.ID)
			}
			return nil
		}
		next = s.End
		next.lo++
		if next.lo == 0 {
			next.hi++
		}
	}
	return errors.New("no open shards")
}

// Len is the number of open shards in the map.
func (m *Map) Len() int { return len(m.shards) }

// Shard returns the i-th open shard in hash key order, 0 <= i < Len().
func (m *Map) Shard(i int) Shard { return m.shards[i] }

// Index returns the position of the shard with the given id, or -1.
func (m *Map) Index(id string) int {
	for i := range m.shards {
		if m.shards[i].ID == id {
			return i
		}
	}
	return -1
}

// Lookup returns the index of the shard whose range holds h, or -1 when h
// falls in a gap.
func (m *Map) Lookup(h HashKey) int {
	i := sort.Search(len(m.shards), func(i int) bool { return h.Less(m.shards[i].Start) }) - 1
	if i < 0 || m.shards[i].End.Less(h) {
		return -1
	}
	return i
}

// Equal reports whether both maps hold the same shards with the same ranges.
// Two nil maps are equal; nil equals no non-nil map.
func (m *Map) Equal(o *Map) bool {
	if m == nil || o == nil {
		return m == o
	}
	if len(m.shards) != len(o.shards) {
		return false
	}
	for i := range m.shards {
		if m.shards[i] != o.shards[i] {
			return false
		}
	}
	return true
}

// Lister is the part of the Kinesis API that List needs (*kinesis.Client
// satisfies it).
type Lister interface {
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
}

// List returns every shard of the stream, open and closed, following
// NextToken through all pages. An error is the ListShards error, wrapped.
func List(ctx context.Context, api Lister, stream string) ([]types.Shard, error) {
	var shards []types.Shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(stream)}
	for {
		out, err := api.ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list shards of stream %q: %w", stream, err)
		}
		shards = append(shards, out.Shards...)
		if out.NextToken == nil || *out.NextToken == "" {
			return shards, nil
		}
		// With a NextToken, ListShards refuses the stream name.
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}

// Load lists the stream's shards and builds the map of the open ones (New).
func Load(ctx context.Context, api Lister, stream string) (*Map, error) {
	all, err := List(ctx, api, stream)
	if err != nil {
		return nil, err
	}
	m, err := New(all)
	if err != nil {
		return nil, fmt.Errorf("map shards of stream %q: %w", stream, err)
	}
	return m, nil
}
