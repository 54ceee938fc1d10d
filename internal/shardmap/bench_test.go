package shardmap

import (
	"strconv"
	"testing"

	"github.com/kdp-io/streamprocessor-operator/internal/shardmap/shardmaptest"
)

// BenchmarkRoute measures what the producer does per record on its hot path:
// hash a UUID-sized partition key and find its shard among 16.
func BenchmarkRoute(b *testing.B) {
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "0c6b8f2e-5d3a-4c9e-9a0b-" + strconv.FormatInt(int64(100000000000+i), 10)
	}
	m, err := New(shardmaptest.Even(16, 0))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	n := 0
	for i := 0; b.Loop(); i++ {
		n += m.Lookup(PartitionKeyHash(keys[i%len(keys)]))
	}
	if n < 0 {
		b.Fatal("a key fell outside every shard")
	}
}
