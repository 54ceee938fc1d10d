package meter

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// hashKey is a 128-bit Kinesis hash key, big-endian, so that byte order is
// numeric order.
type hashKey [16]byte

// partitionKeyHash is where Kinesis puts a record with partition key pk: the
// MD5 digest of its UTF-8 bytes read as an unsigned 128-bit integer.
func partitionKeyHash(pk string) hashKey { return md5.Sum([]byte(pk)) }

// parseHashKey reads a decimal hash key (ListShards' ranges, a record's
// ExplicitHashKey).
func parseHashKey(s string) (hashKey, error) {
	var h hashKey
	n, ok := new(big.Int).SetString(s, 10)
	if !ok || n.Sign() < 0 || n.BitLen() > 128 {
		return h, fmt.Errorf("invalid hash key %q", s)
	}
	n.FillBytes(h[:])
	return h, nil
}

// recordHash is the hash key of a record: its ExplicitHashKey when given,
// else the hash of its partition key.
func recordHash(pk string, explicit *string) (hashKey, error) {
	if explicit != nil {
		return parseHashKey(*explicit)
	}
	return partitionKeyHash(pk), nil
}

type shardRange struct {
	id         string
	start, end hashKey
}

// shardMap holds the open shards of a stream, sorted by their first hash key.
// It is immutable.
type shardMap struct {
	shards []shardRange
}

// newShardMap keeps the open shards of all (those without an ending sequence
// number) and refuses ranges that overlap, as a half-done reshard could show.
func newShardMap(all []types.Shard) (*shardMap, error) {
	m := &shardMap{}
	for _, s := range all {
		if s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil {
			continue
		}
		id := aws.ToString(s.ShardId)
		if s.HashKeyRange == nil {
			return nil, fmt.Errorf("shard %s has no hash key range", id)
		}
		start, err := parseHashKey(aws.ToString(s.HashKeyRange.StartingHashKey))
		if err != nil {
			return nil, fmt.Errorf("shard %s: %w", id, err)
		}
		end, err := parseHashKey(aws.ToString(s.HashKeyRange.EndingHashKey))
		if err != nil {
			return nil, fmt.Errorf("shard %s: %w", id, err)
		}
		m.shards = append(m.shards, shardRange{id: id, start: start, end: end})
	}
	if len(m.shards) == 0 {
		return nil, errors.New("no open shards")
	}
	sort.Slice(m.shards, func(i, j int) bool { return bytes.Compare(m.shards[i].start[:], m.shards[j].start[:]) < 0 })
	for i := 1; i < len(m.shards); i++ {
		if bytes.Compare(m.shards[i].start[:], m.shards[i-1].end[:]) <= 0 {
			return nil, fmt.Errorf("open shards %s and %s overlap", m.shards[i-1].id, m.shards[i].id)
		}
	}
	return m, nil
}

// shardFor returns the id of the open shard whose range holds h.
func (m *shardMap) shardFor(h hashKey) (string, bool) {
	i := sort.Search(len(m.shards), func(i int) bool { return bytes.Compare(m.shards[i].end[:], h[:]) >= 0 })
	if i == len(m.shards) || bytes.Compare(m.shards[i].start[:], h[:]) > 0 {
		return "", false
	}
	return m.shards[i].id, true
}

// sameShards reports whether both maps hold the same open shards.
func (m *shardMap) sameShards(o *shardMap) bool {
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

// loadShardMap lists every shard of stream (all pages) from upstream.
func loadShardMap(ctx context.Context, api KinesisAPI, stream string) (*shardMap, error) {
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

// streamName is the stream a request names, by StreamName or by StreamARN
// (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME).
func streamName(name, arn string) string {
	if name != "" {
		return name
	}
	if i := strings.LastIndex(arn, ":stream/"); i >= 0 {
		return arn[i+len(":stream/"):]
	}
	return ""
}
