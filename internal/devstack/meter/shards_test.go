package meter

import (
	"crypto/md5"
	"math/big"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kdp-io/streamprocessor-operator/internal/shardmap"
	"github.com/kdp-io/streamprocessor-operator/internal/shardmap/shardmaptest"
)

// Two open shards split at 2^127, as UpdateShardCount 1→2 leaves them, and
// their closed parent.
func twoShards(t *testing.T) *shardmap.Map {
	t.Helper()
	half := new(big.Int).Lsh(big.NewInt(1), 127)
	m, err := shardmap.New([]types.Shard{
		shardmaptest.Closed("shardId-000000000000", "0", shardmaptest.MaxHashKey),
		shardmaptest.Open("shardId-000000000002", half.String(), shardmaptest.MaxHashKey),
		shardmaptest.Open("shardId-000000000001", "0", new(big.Int).Sub(half, big.NewInt(1)).String()),
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRouteByPartitionKeyMD5(t *testing.T) {
	m := twoShards(t)
	if m.Len() != 2 {
		t.Fatalf("%d shards in the map, want the 2 open ones", m.Len())
	}
	seen := map[string]int{}
	for _, pk := range []string{"a", "b", "user-1", "user-2", "user-3", "order-42", "x"} {
		sum := md5.Sum([]byte(pk))
		want := "shardId-000000000001"
		if sum[0]&0x80 != 0 { // the digest as an unsigned integer is at least 2^127
			want = "shardId-000000000002"
		}
		got, ok := putEntry{PartitionKey: pk}.route(m)
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
		{shardmaptest.MaxHashKey, "shardId-000000000002"},
	} {
		// The partition key would go elsewhere: the explicit key must win.
		if got, ok := (putEntry{PartitionKey: "user-1", ExplicitHashKey: aws.String(c.key)}).route(m); !ok || got != c.want {
			t.Errorf("ExplicitHashKey %s → %q, want %q", c.key, got, c.want)
		}
	}
	for _, bad := range []string{"-1", "340282366920938463463374607431768211456", "12a", ""} {
		// Not routed: the request goes upstream whole, for Kinesis's refusal.
		if id, ok := (putEntry{PartitionKey: "k", ExplicitHashKey: aws.String(bad)}).route(m); ok {
			t.Errorf("ExplicitHashKey %q routed to %s", bad, id)
		}
	}
}

func TestShardMapRefusesOverlapAndGaps(t *testing.T) {
	// Parent and children all open at once: overlapping ranges.
	if _, err := shardmap.New([]types.Shard{
		shardmaptest.Open("shardId-000000000000", "0", shardmaptest.MaxHashKey),
		shardmaptest.Open("shardId-000000000001", "0", "100"),
	}); err == nil {
		t.Error("overlapping open shards accepted")
	}
	if _, err := shardmap.New([]types.Shard{shardmaptest.Closed("shardId-000000000000", "0", shardmaptest.MaxHashKey)}); err == nil {
		t.Error("a map without open shards accepted")
	}
	// A hash key in no shard's range is not routed.
	m, err := shardmap.New([]types.Shard{shardmaptest.Open("shardId-000000000000", "10", "20")})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"9", "21"} {
		if id, ok := (putEntry{PartitionKey: "k", ExplicitHashKey: aws.String(k)}).route(m); ok {
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
