package producer

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// hashKey is a 128-bit Kinesis hash key as two big-endian halves.
type hashKey struct{ hi, lo uint64 }

func (a hashKey) less(b hashKey) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

// partitionHash returns the hash key Kinesis assigns to a partition key: the MD5
// digest of the key's UTF-8 bytes read as a 128-bit big-endian integer.
func partitionHash(pk string) hashKey {
	var sum [md5.Size]byte
	if len(pk) <= 64 {
		// Copied to the stack: []byte(pk) would allocate for keys over 32
		// bytes (a UUID has 36).
		var b [64]byte
		sum = md5.Sum(b[:copy(b[:], pk)])
	} else {
		sum = md5.Sum([]byte(pk))
	}
	return hashKey{binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:])}
}

// parseHashKey parses a decimal hash key from ListShards.
func parseHashKey(s string) (hashKey, error) {
	b, ok := new(big.Int).SetString(s, 10)
	if !ok || b.Sign() < 0 || b.BitLen() > 128 {
		return hashKey{}, fmt.Errorf("invalid hash key %q", s)
	}
	lo := new(big.Int).And(b, new(big.Int).SetUint64(^uint64(0))).Uint64()
	hi := new(big.Int).Rsh(b, 64).Uint64()
	return hashKey{hi, lo}, nil
}

// shard is one open shard and its hash key range.
type shard struct {
	id         string
	start, end hashKey
}

// shardMap maps hash keys to the open shards of a stream. It is immutable.
type shardMap struct {
	shards []shard // sorted by start
}

// lookup returns the index of the shard whose range holds h, or -1.
func (m *shardMap) lookup(h hashKey) int {
	i := sort.Search(len(m.shards), func(i int) bool { return h.less(m.shards[i].start) }) - 1
	if i < 0 || m.shards[i].end.less(h) {
		return -1
	}
	return i
}

// equal reports whether both maps hold the same shards.
func (m *shardMap) equal(o *shardMap) bool {
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

// newShardMap builds a map from the open shards among shards and checks that
// their ranges cover the whole 128-bit space without gaps or overlaps.
func newShardMap(all []types.Shard) (*shardMap, error) {
	m := &shardMap{}
	for _, s := range all {
		if s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil {
			continue // closed by a reshard
		}
		if s.HashKeyRange == nil {
			return nil, fmt.Errorf("shard %s has no hash key range", aws.ToString(s.ShardId))
		}
		start, err := parseHashKey(aws.ToString(s.HashKeyRange.StartingHashKey))
		if err != nil {
			return nil, fmt.Errorf("shard %s: %w", aws.ToString(s.ShardId), err)
		}
		end, err := parseHashKey(aws.ToString(s.HashKeyRange.EndingHashKey))
		if err != nil {
			return nil, fmt.Errorf("shard %s: %w", aws.ToString(s.ShardId), err)
		}
		m.shards = append(m.shards, shard{id: aws.ToString(s.ShardId), start: start, end: end})
	}
	if len(m.shards) == 0 {
		return nil, errors.New("no open shards")
	}
	sort.Slice(m.shards, func(i, j int) bool { return m.shards[i].start.less(m.shards[j].start) })
	next := hashKey{}
	for i, s := range m.shards {
		if s.start != next {
			return nil, fmt.Errorf("open shards do not tile the hash key space at shard %s (a reshard in progress?)", s.id)
		}
		if i == len(m.shards)-1 {
			if s.end != (hashKey{^uint64(0), ^uint64(0)}) {
				return nil, fmt.Errorf("last open shard %s does not end at 2^128-1", s.id)
			}
			break
		}
		next = s.end
		next.lo++
		if next.lo == 0 {
			next.hi++
		}
	}
	return m, nil
}

// ShardLister is the part of the Kinesis API the shard map needs.
type ShardLister interface {
	ListShards(ctx context.Context, params *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
}

// loadShardMap lists the stream's shards (all pages) and builds the map of the
// open ones.
func loadShardMap(ctx context.Context, api ShardLister, stream string) (*shardMap, error) {
	var all []types.Shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(stream)}
	for {
		out, err := api.ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list shards of stream %q: %w", stream, err)
		}
		all = append(all, out.Shards...)
		if out.NextToken == nil {
			break
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
	m, err := newShardMap(all)
	if err != nil {
		return nil, fmt.Errorf("map shards of stream %q: %w", stream, err)
	}
	return m, nil
}
