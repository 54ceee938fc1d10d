package shardmap

import (
	"crypto/md5"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kdp-io/streamprocessor-operator/internal/shardmap/shardmaptest"
)

var two128 = pow2(128)

// kinesisHashKeyForm is ExplicitHashKey's pattern in the Kinesis API reference.
var kinesisHashKeyForm = regexp.MustCompile(`^(0|[1-9]\d{0,38})$`)

func toBig(h HashKey) *big.Int {
	b := h.Bytes()
	return new(big.Int).SetBytes(b[:])
}

// FuzzParseHashKey checks ParseHashKey against math/big and Kinesis's
// pattern: it accepts exactly the numbers written 0|[1-9][0-9]{0,38} in
// [0, 2^128-1], and the value survives the way back to decimal.
func FuzzParseHashKey(f *testing.F) {
	for _, s := range []string{"0", "1", shardmaptest.MaxHashKey, "340282366920938463463374607431768211456", "18446744073709551615",
		"18446744073709551616", "-1", "-0", "+5", "007", "", "12a", " 1", "0x1f", "1_0", "１"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHashKey(s)
		n, ok := new(big.Int).SetString(s, 10)
		inRange := ok && kinesisHashKeyForm.MatchString(s) && n.Cmp(two128) < 0
		if inRange != (err == nil) {
			t.Fatalf("ParseHashKey(%q) error %v, math/big reads it in range: %v", s, err, inRange)
		}
		if err != nil {
			if want := fmt.Sprintf("invalid hash key %q", s); err.Error() != want {
				t.Fatalf("ParseHashKey(%q) error %q, want %q", s, err, want)
			}
			return
		}
		if toBig(h).Cmp(n) != 0 || h.String() != n.String() {
			t.Fatalf("ParseHashKey(%q) = %s, want %s", s, h, n)
		}
		if back, err := ParseHashKey(h.String()); err != nil || back != h {
			t.Fatalf("ParseHashKey(%s) = %v, %v; want %v back", h, back, err, h)
		}
	})
}

// FuzzPartitionKeyHash checks the hash of any key, short (hashed from the
// stack) or long, against MD5 read as a big-endian integer.
func FuzzPartitionKeyHash(f *testing.F) {
	for _, s := range []string{"", "a", "user-1", string(make([]byte, 64)), string(make([]byte, 65))} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pk string) {
		sum := md5.Sum([]byte(pk))
		if got, want := toBig(PartitionKeyHash(pk)), new(big.Int).SetBytes(sum[:]); got.Cmp(want) != 0 {
			t.Fatalf("PartitionKeyHash(%q) = %s, want %s", pk, got, want)
		}
	})
}

// FuzzLookup builds open shards from fuzzed split points (some dropped, to
// leave gaps) and checks Lookup, Contains, Less and Tiles against a linear
// scan in math/big, for a fuzzed key and for the keys either side of every
// range edge, where off-by-one and carry mistakes would show.
func FuzzLookup(f *testing.F) {
	f.Add([]byte{}, uint64(0), uint64(0), uint8(0))
	f.Add(make([]byte, 16), ^uint64(0), ^uint64(0), uint8(0))
	f.Add([]byte{0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, uint64(1)<<63, uint64(0), uint8(1))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		uint64(0), ^uint64(0), uint8(2))
	f.Fuzz(func(t *testing.T, splits []byte, probeHi, probeLo uint64, drop uint8) {
		// Split points: distinct, sorted, none at 0.
		seen := map[string]bool{}
		var starts []*big.Int
		for len(splits) >= 16 && len(starts) < 16 {
			n := new(big.Int).SetBytes(splits[:16])
			splits = splits[16:]
			if n.Sign() > 0 && !seen[n.String()] {
				seen[n.String()] = true
				starts = append(starts, n)
			}
		}
		sort.Slice(starts, func(i, j int) bool { return starts[i].Cmp(starts[j]) < 0 })
		starts = append([]*big.Int{big.NewInt(0)}, starts...)
		type rng struct {
			id         string
			start, end *big.Int
		}
		var kept []rng
		var all []types.Shard
		for i, s := range starts {
			end := minus1(two128)
			if i+1 < len(starts) {
				end = minus1(starts[i+1])
			}
			id := fmt.Sprintf("shardId-%012d", i)
			if drop != 0 && i%8 == int(drop%8) && len(starts) > 1 {
				continue // a gap
			}
			kept = append(kept, rng{id, s, end})
			all = append(all, shardmaptest.Open(id, s.String(), end.String()))
		}
		// Shuffle deterministically: ListShards order is not range order.
		for i := range all {
			j := (i * 7) % len(all)
			all[i], all[j] = all[j], all[i]
		}
		m, err := New(all)
		if err != nil {
			t.Fatal(err)
		}
		if m.Len() != len(kept) {
			t.Fatalf("%d shards in the map, want %d", m.Len(), len(kept))
		}
		if tiled := len(kept) == len(starts); (m.Tiles() == nil) != tiled {
			t.Fatalf("Tiles() = %v with %d of %d shards kept", m.Tiles(), len(kept), len(starts))
		}
		probes := []*big.Int{toBig(HashKey{probeHi, probeLo})}
		for _, r := range kept {
			probes = append(probes, minus1(r.start), r.start, r.end, new(big.Int).Add(r.end, big.NewInt(1)))
		}
		for _, p := range probes {
			if p.Sign() < 0 || p.Cmp(two128) >= 0 {
				continue
			}
			var b [16]byte
			p.FillBytes(b[:])
			h := HashKeyFromBytes(b)
			want := -1
			for i, r := range kept {
				if p.Cmp(r.start) >= 0 && p.Cmp(r.end) <= 0 {
					want = i
				}
			}
			got := m.Lookup(h)
			if got != want {
				t.Fatalf("Lookup(%s) = %d, want %d", p, got, want)
			}
			for i := range m.Len() {
				if s := m.Shard(i); s.Contains(h) != (i == want) {
					t.Fatalf("shard %d [%s, %s] Contains(%s) = %v", i, s.Start, s.End, p, s.Contains(h))
				}
			}
			if want >= 0 {
				if m.Shard(want).ID != kept[want].id {
					t.Fatalf("shard %d is %s, want %s", want, m.Shard(want).ID, kept[want].id)
				}
				if lt := h.Less(m.Shard(want).Start); lt != (p.Cmp(kept[want].start) < 0) {
					t.Fatalf("%s.Less(%s) = %v", p, kept[want].start, lt)
				}
			}
		}
	})
}
