package shardmap

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kdp-io/streamprocessor-operator/internal/shardmap/shardmaptest"
)

func pow2(n uint) *big.Int { return new(big.Int).Lsh(big.NewInt(1), n) }

func dec(n *big.Int) string { return n.String() }

func minus1(n *big.Int) *big.Int { return new(big.Int).Sub(n, big.NewInt(1)) }

func mustParse(t *testing.T, s string) HashKey {
	t.Helper()
	h, err := ParseHashKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestParseHashKey(t *testing.T) {
	for _, c := range []struct {
		in   string
		want HashKey
		err  bool
	}{
		{in: "0", want: HashKey{}},
		{in: "1", want: HashKey{0, 1}},
		{in: dec(minus1(pow2(64))), want: HashKey{0, ^uint64(0)}},
		{in: dec(pow2(64)), want: HashKey{1, 0}},
		{in: dec(pow2(127)), want: HashKey{1 << 63, 0}},
		{in: shardmaptest.MaxHashKey, want: MaxHashKey},
		// Kinesis's form only: 0|[1-9][0-9]{0,38}.
		{in: "007", err: true},
		{in: "00", err: true},
		{in: "+7", err: true},
		{in: "-0", err: true},
		{in: "0" + shardmaptest.MaxHashKey, err: true},
		{in: dec(minus1(pow2(128))) + "0", err: true}, // 40 digits
		{in: dec(pow2(128)), err: true},               // one past the end
		{in: "999999999999999999999999999999999999999999", err: true},
		{in: "-1", err: true},
		{in: "", err: true},
		{in: "12a", err: true},
		{in: " 1", err: true},
		{in: "1 ", err: true},
		{in: "0x10", err: true},
		{in: "1_000", err: true},
		{in: "1.0", err: true},
		{in: "1e3", err: true},
	} {
		got, err := ParseHashKey(c.in)
		if c.err {
			if err == nil {
				t.Errorf("ParseHashKey(%q) = %v, want an error", c.in, got)
			} else if want := fmt.Sprintf("invalid hash key %q", c.in); err.Error() != want {
				t.Errorf("ParseHashKey(%q) error %q, want %q", c.in, err, want)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseHashKey(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	if got := MaxHashKey.String(); got != shardmaptest.MaxHashKey {
		t.Errorf("MaxHashKey = %s, want %s", got, shardmaptest.MaxHashKey)
	}
}

func TestPartitionKeyHashIsMD5BigEndian(t *testing.T) {
	for _, pk := range []string{"", "a", "user-1", strings.Repeat("k", 64), strings.Repeat("k", 65), strings.Repeat("é", 128)} {
		sum := md5.Sum([]byte(pk))
		if got, want := PartitionKeyHash(pk).String(), new(big.Int).SetBytes(sum[:]).String(); got != want {
			t.Errorf("PartitionKeyHash(%q) = %s, want %s", pk, got, want)
		}
	}
	// A value to check by hand: md5("a") = 0cc175b9c0f1b6a831c399e269772661.
	if got, want := PartitionKeyHash("a"), (HashKey{0x0cc175b9c0f1b6a8, 0x31c399e269772661}); got != want {
		t.Errorf("PartitionKeyHash(a) = %x, want %x", got, want)
	}
	if n := testing.AllocsPerRun(100, func() { PartitionKeyHash("0c6b8f2e-5d3a-4c9e-9a0b-7d2f1e6c3b4a") }); n != 0 {
		t.Errorf("PartitionKeyHash of a UUID allocates %v times, want 0", n)
	}
}

func TestRecordHashKeyPrefersExplicitHashKey(t *testing.T) {
	if got, err := RecordHashKey("a", nil); err != nil || got != PartitionKeyHash("a") {
		t.Errorf("RecordHashKey(a, nil) = %v, %v; want the partition key's hash", got, err)
	}
	if got, err := RecordHashKey("a", aws.String("5")); err != nil || got != (HashKey{0, 5}) {
		t.Errorf("RecordHashKey(a, 5) = %v, %v; want 5", got, err)
	}
	// Present but empty is a bad ExplicitHashKey, not an absent one.
	if _, err := RecordHashKey("a", aws.String("")); err == nil {
		t.Error("an empty ExplicitHashKey accepted")
	}
}

// evenShards returns n open shards splitting the space as UpdateShardCount
// does from one shard, ids from 1, after their closed parent 0.
func evenShards(n int) []types.Shard {
	return append([]types.Shard{shardmaptest.Closed("shardId-000000000000", "0", shardmaptest.MaxHashKey)}, shardmaptest.Even(n, 1)...)
}

func TestLookupAtRangeEdges(t *testing.T) {
	all := evenShards(4)
	// ListShards need not return them in range order.
	all[1], all[4] = all[4], all[1]
	m, err := New(all)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Tiles(); err != nil {
		t.Fatal(err)
	}
	if m.Len() != 4 {
		t.Fatalf("%d shards in the map, want the 4 open ones", m.Len())
	}
	for _, c := range []struct {
		key  string
		want int
	}{
		{"0", 0},
		{dec(minus1(pow2(126))), 0},
		{dec(pow2(126)), 1},
		{dec(minus1(pow2(127))), 1},
		{dec(pow2(127)), 2},
		{shardmaptest.MaxHashKey, 3},
	} {
		h := mustParse(t, c.key)
		got := m.Lookup(h)
		if got != c.want {
			t.Errorf("Lookup(%s) = %d, want %d", c.key, got, c.want)
			continue
		}
		if id := fmt.Sprintf("shardId-%012d", c.want+1); m.Shard(got).ID != id || !m.Shard(got).Contains(h) {
			t.Errorf("Lookup(%s) → %+v, want %s holding the key", c.key, m.Shard(got), id)
		}
	}
	if got := m.Index("shardId-000000000003"); got != 2 {
		t.Errorf("Index(3) = %d, want 2", got)
	}
	if got := m.Index("shardId-000000000000"); got != -1 {
		t.Errorf("Index of the closed parent = %d, want -1", got)
	}
}

func TestNewAndTilesRefuse(t *testing.T) {
	gap := evenShards(2)
	gap[2].HashKeyRange.StartingHashKey = aws.String(dec(new(big.Int).Add(pow2(127), big.NewInt(1))))
	noStart := evenShards(2)
	noStart[1].HashKeyRange.StartingHashKey = aws.String("1")
	noEnd := evenShards(2)
	noEnd[2].HashKeyRange.EndingHashKey = aws.String(dec(minus1(minus1(pow2(128)))))
	noRange := evenShards(2)
	noRange[1].HashKeyRange = nil
	badKey := evenShards(2)
	badKey[2].HashKeyRange.EndingHashKey = aws.String(dec(pow2(128)))
	for _, c := range []struct {
		name     string
		shards   []types.Shard
		newErr   string // "" when New accepts
		tilesErr string // "" when the map tiles
	}{
		{"even", evenShards(3), "", ""},
		{"gap", gap, "", "open shards do not tile the hash key space at shard shardId-000000000002 (a reshard in progress?)"},
		{"not from 0", noStart, "", "open shards do not tile the hash key space at shard shardId-000000000001 (a reshard in progress?)"},
		{"not to 2^128-1", noEnd, "", "last open shard shardId-000000000002 does not end at 2^128-1"},
		{"parent and children open", []types.Shard{shardmaptest.Open("shardId-000000000000", "0", shardmaptest.MaxHashKey), shardmaptest.Open("shardId-000000000001", "0", "100")},
			"open shards shardId-000000000000 and shardId-000000000001 overlap", ""},
		{"shared edge", []types.Shard{shardmaptest.Open("shardId-000000000001", "0", "100"), shardmaptest.Open("shardId-000000000002", "100", shardmaptest.MaxHashKey)},
			"open shards shardId-000000000001 and shardId-000000000002 overlap", ""},
		{"only closed", []types.Shard{shardmaptest.Closed("shardId-000000000000", "0", shardmaptest.MaxHashKey)}, "no open shards", ""},
		{"no range", noRange, "shard shardId-000000000001 has no hash key range", ""},
		{"bad key", badKey, `shard shardId-000000000002: invalid hash key "340282366920938463463374607431768211456"`, ""},
	} {
		m, err := New(c.shards)
		if c.newErr != "" {
			if err == nil || err.Error() != c.newErr {
				t.Errorf("%s: New error %v, want %q", c.name, err, c.newErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: New: %v", c.name, err)
			continue
		}
		err = m.Tiles()
		if (c.tilesErr == "") != (err == nil) || (err != nil && err.Error() != c.tilesErr) {
			t.Errorf("%s: Tiles() = %v, want %q", c.name, err, c.tilesErr)
		}
	}
	if err := (&Map{}).Tiles(); err == nil {
		t.Error("an empty map tiles")
	}
}

func TestLookupOutsideEveryRange(t *testing.T) {
	m, err := New([]types.Shard{shardmaptest.Open("shardId-000000000000", "10", "20"), shardmaptest.Open("shardId-000000000001", "30", "40")})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key  string
		want int
	}{{"9", -1}, {"10", 0}, {"20", 0}, {"21", -1}, {"29", -1}, {"30", 1}, {"40", 1}, {"41", -1}, {shardmaptest.MaxHashKey, -1}} {
		if got := m.Lookup(mustParse(t, c.key)); got != c.want {
			t.Errorf("Lookup(%s) = %d, want %d", c.key, got, c.want)
		}
	}
	if got := (&Map{}).Lookup(HashKey{}); got != -1 {
		t.Errorf("empty map: Lookup(0) = %d, want -1", got)
	}
}

func TestEqual(t *testing.T) {
	a, _ := New(evenShards(2))
	b, _ := New(evenShards(2))
	c, _ := New(evenShards(3))
	renamed := evenShards(2)
	renamed[1].ShardId = aws.String("shardId-000000000009")
	d, _ := New(renamed)
	var none *Map
	for _, x := range []struct {
		name string
		m, o *Map
		want bool
	}{
		{"same shards", a, b, true},
		{"more shards", a, c, false},
		{"another id", a, d, false},
		{"nil and map", none, a, false},
		{"map and nil", a, none, false},
		{"nil and nil", none, none, true},
		{"empty and map", &Map{}, a, false},
	} {
		if got := x.m.Equal(x.o); got != x.want {
			t.Errorf("%s: Equal = %v, want %v", x.name, got, x.want)
		}
	}
}

// pagedLister serves shards two a page and records what each call asked.
type pagedLister struct {
	shards   []types.Shard
	calls    []kinesis.ListShardsInput
	err      error
	emptyEnd bool // the last page has NextToken "" instead of none
}

func (p *pagedLister) ListShards(_ context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	p.calls = append(p.calls, *in)
	if p.err != nil {
		return nil, p.err
	}
	from := 0
	if in.NextToken != nil {
		fmt.Sscanf(*in.NextToken, "page-%d", &from)
	}
	to := min(from+2, len(p.shards))
	out := &kinesis.ListShardsOutput{Shards: p.shards[from:to]}
	if to < len(p.shards) {
		out.NextToken = aws.String(fmt.Sprintf("page-%d", to))
	} else if p.emptyEnd {
		out.NextToken = aws.String("")
	}
	return out, nil
}

func TestListFollowsNextToken(t *testing.T) {
	for _, emptyEnd := range []bool{false, true} {
		api := &pagedLister{shards: evenShards(4), emptyEnd: emptyEnd}
		got, err := List(context.Background(), api, "orders")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 5 {
			t.Errorf("listed %d shards, want all 5 (closed parent included)", len(got))
		}
		if len(api.calls) != 3 {
			t.Fatalf("%d ListShards calls, want 3 pages", len(api.calls))
		}
		if aws.ToString(api.calls[0].StreamName) != "orders" || api.calls[0].NextToken != nil {
			t.Errorf("first call %+v, want the stream name and no token", api.calls[0])
		}
		for _, c := range api.calls[1:] {
			if c.StreamName != nil || c.NextToken == nil {
				t.Errorf("later call %+v, want a token and no stream name (ListShards refuses both)", c)
			}
		}
		m, err := Load(context.Background(), &pagedLister{shards: evenShards(4), emptyEnd: emptyEnd}, "orders")
		if err != nil || m.Len() != 4 {
			t.Errorf("Load: %v, %v; want the 4 open shards", m, err)
		}
	}
}

func TestListAndLoadWrapErrors(t *testing.T) {
	cause := errors.New("throttled")
	_, err := List(context.Background(), &pagedLister{err: cause}, "orders")
	if !errors.Is(err, cause) || err.Error() != `list shards of stream "orders": throttled` {
		t.Errorf("List error %v, want the cause wrapped", err)
	}
	if _, err := Load(context.Background(), &pagedLister{err: cause}, "orders"); !errors.Is(err, cause) {
		t.Errorf("Load error %v, want the cause wrapped", err)
	}
	_, err = Load(context.Background(), &pagedLister{shards: []types.Shard{shardmaptest.Closed("shardId-000000000000", "0", shardmaptest.MaxHashKey)}}, "orders")
	if err == nil || err.Error() != `map shards of stream "orders": no open shards` {
		t.Errorf("Load of a stream without open shards: %v", err)
	}
}
