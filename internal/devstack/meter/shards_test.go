package meter

import (
	"crypto/md5"
	"math/big"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

const maxHashKey = "340282366920938463463374607431768211455" // 2^128-1

func openShard(id, start, end string) types.Shard {
	return types.Shard{
		ShardId:             aws.String(id),
		HashKeyRange:        &types.HashKeyRange{StartingHashKey: aws.String(start), EndingHashKey: aws.String(end)},
		SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("1")},
	}
}

func closedShard(id, start, end string) types.Shard {
	s := openShard(id, start, end)
	s.SequenceNumberRange.EndingSequenceNumber = aws.String("2")
	return s
}

// Two open shards split at 2^127, as UpdateShardCount 1→2 leaves them, and
// their closed parent.
func twoShards(t *testing.T) *shardMap {
	t.Helper()
	half := new(big.Int).Lsh(big.NewInt(1), 127)
	m, err := newShardMap([]types.Shard{
		closedShard("shardId-000000000000", "0", maxHashKey),
		openShard("shardId-000000000002", half.String(), maxHashKey),
		openShard("shardId-000000000001", "0", new(big.Int).Sub(half, big.NewInt(1)).String()),
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRouteByPartitionKeyMD5(t *testing.T) {
	m := twoShards(t)
	if len(m.shards) != 2 {
		t.Fatalf("%d shards in the map, want the 2 open ones", len(m.shards))
	}
	seen := map[string]int{}
	for _, pk := range []string{"", "a", "b", "user-1", "user-2", "user-3", "order-42", "x"} {
		sum := md5.Sum([]byte(pk))
		want := "shardId-000000000001"
		if sum[0]&0x80 != 0 { // the digest as an unsigned integer is at least 2^127
			want = "shardId-000000000002"
		}
		h, err := recordHash(pk, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := m.shardFor(h)
		if !ok || got != want {
			t.Errorf("key %q (md5 %x) → %q, want %q", pk, sum, got, want)
		}
		seen[got]++
	}
	if len(seen) != 2 {
		t.Errorf("keys routed to %v: the test keys should reach both shards", seen)
	}
}

func TestRouteByExplicitHashKeyAtRangeEdges(t *testing.T) {
	m := twoShards(t)
	half := new(big.Int).Lsh(big.NewInt(1), 127)
	for _, c := range []struct{ key, want string }{
		{"0", "shardId-000000000001"},
		{new(big.Int).Sub(half, big.NewInt(1)).String(), "shardId-000000000001"},
		{half.String(), "shardId-000000000002"},
		{maxHashKey, "shardId-000000000002"},
	} {
		// The partition key would go elsewhere: the explicit key must win.
		h, err := recordHash("user-1", aws.String(c.key))
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := m.shardFor(h); !ok || got != c.want {
			t.Errorf("ExplicitHashKey %s → %q, want %q", c.key, got, c.want)
		}
	}
	for _, bad := range []string{"-1", "340282366920938463463374607431768211456", "12a", ""} {
		if _, err := recordHash("k", aws.String(bad)); err == nil {
			t.Errorf("ExplicitHashKey %q accepted", bad)
		}
	}
}

func TestShardMapRefusesOverlapAndGaps(t *testing.T) {
	// Parent and children all open at once: overlapping ranges.
	if _, err := newShardMap([]types.Shard{
		openShard("shardId-000000000000", "0", maxHashKey),
		openShard("shardId-000000000001", "0", "100"),
	}); err == nil {
		t.Error("overlapping open shards accepted")
	}
	if _, err := newShardMap([]types.Shard{closedShard("shardId-000000000000", "0", maxHashKey)}); err == nil {
		t.Error("a map without open shards accepted")
	}
	// A hash key in no shard's range is not routed.
	m, err := newShardMap([]types.Shard{openShard("shardId-000000000000", "10", "20")})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"9", "21"} {
		h, _ := parseHashKey(k)
		if id, ok := m.shardFor(h); ok {
			t.Errorf("hash key %s outside every range routed to %s", k, id)
		}
	}
}

func TestStreamNameFromARN(t *testing.T) {
	for _, c := range []struct{ name, arn, want string }{
		{"s1", "", "s1"},
		{"", "arn:aws:kinesis:us-east-1:000000000000:stream/orders-7", "orders-7"},
		{"s1", "arn:aws:kinesis:us-east-1:000000000000:stream/other", "s1"},
		{"", "not-an-arn", ""},
	} {
		if got := streamName(c.name, c.arn); got != c.want {
			t.Errorf("streamName(%q, %q) = %q, want %q", c.name, c.arn, got, c.want)
		}
	}
}
