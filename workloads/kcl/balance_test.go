package kcl

import (
	"fmt"
	"math/rand"
	"reflect"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

func leasesOwned(owners ...string) []Lease {
	ls := make([]Lease, len(owners))
	for i, o := range owners {
		ls[i] = Lease{Key: fmt.Sprintf("shard-%02d", i), Owner: o, Counter: int64(i)}
	}
	return ls
}

func keys(ls []Lease) []string {
	var k []string
	for _, l := range ls {
		k = append(k, l.Key)
	}
	return k
}

func TestPlanTakes(t *testing.T) {
	none := func(Lease) bool { return false }
	expiredOf := func(owner string) func(Lease) bool { return func(l Lease) bool { return l.Owner == owner } }
	tests := []struct {
		name        string
		leases      []Lease
		expired     func(Lease) bool
		self        string
		maxSteal    int
		take, steal []string
	}{
		{"nothing to do without leases", nil, none, "A", 1, nil, nil},
		{"alone: take every unowned lease", leasesOwned("", "", "", ""), none, "A", 1,
			[]string{"shard-00", "shard-01", "shard-02", "shard-03"}, nil},
		{"second worker: 2 of 4 free ones", leasesOwned("B", "", "", ""), none, "A", 1, []string{"shard-01", "shard-02"}, nil},
		{"take expired leases of a dead worker", leasesOwned("A", "A", "B", "B"), expiredOf("B"), "A", 1,
			[]string{"shard-02", "shard-03"}, nil},
		{"live leases are not taken as free", leasesOwned("B", "B", "B", "B"), none, "A", 1, nil, []string{"shard-00"}},
		{"steal one at a time from the most loaded", leasesOwned("B", "B", "B", "B", "C", "C"), none, "A", 1, nil, []string{"shard-00"}},
		{"steal up to maxSteal but not past target", leasesOwned("B", "B", "B", "B", "B", "B"), none, "A", 5, nil,
			[]string{"shard-00", "shard-01", "shard-02"}},
		{"no steal when the spread is 1 (3 shards, 2 workers)", leasesOwned("B", "B", "A"), none, "A", 1, nil, nil},
		{"no steal when at target", leasesOwned("A", "A", "B", "B", "B", "C"), none, "A", 1, nil, nil},
		{"balanced 2/2/2 stays", leasesOwned("A", "A", "B", "B", "C", "C"), none, "A", 1, nil, nil},
		{"a worker at target leaves a free lease to others", leasesOwned("A", "A", "B", ""), none, "A", 1, nil, nil},
		{"alone, it takes the last free lease", leasesOwned("A", "A", "A", ""), none, "A", 1, []string{"shard-03"}, nil},
		{"free leases before stealing", leasesOwned("B", "B", "B", ""), none, "A", 1, []string{"shard-03"}, nil},
		{"one shard, two workers: never steal it", leasesOwned("B"), none, "A", 1, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			take, steal := planTakes(tt.leases, tt.expired, tt.self, tt.maxSteal)
			if !reflect.DeepEqual(keys(take), tt.take) || !reflect.DeepEqual(keys(steal), tt.steal) {
				t.Errorf("take %v steal %v, want take %v steal %v", keys(take), keys(steal), tt.take, tt.steal)
			}
		})
	}
}

// simulateBalance runs planTakes for w workers in random order over s leases
// with a random start until nothing changes, and returns the lease counts.
func simulateBalance(t testing.TB, rng *rand.Rand, s, w int) []int {
	workers := make([]string, w)
	for i := range workers {
		workers[i] = fmt.Sprintf("w%d", i)
	}
	leases := make([]Lease, s)
	for i := range leases {
		owner := ""
		if rng.Intn(3) > 0 {
			owner = workers[rng.Intn(w)]
		}
		leases[i] = Lease{Key: fmt.Sprintf("s%03d", i), Owner: owner}
	}
	none := func(Lease) bool { return false }
	for round := 0; ; round++ {
		if round > 10*s+10 {
			t.Fatalf("no convergence for S=%d W=%d: %v", s, w, leases)
		}
		changed := false
		for _, i := range rng.Perm(w) {
			take, steal := planTakes(leases, none, workers[i], 1)
			for _, l := range append(take, steal...) {
				for j := range leases {
					if leases[j].Key == l.Key {
						leases[j].Owner = workers[i]
						changed = true
					}
				}
			}
		}
		if !changed {
			break
		}
	}
	counts := map[string]int{}
	for _, l := range leases {
		counts[l.Owner]++
	}
	out := make([]int, w)
	for i, wk := range workers {
		out[i] = counts[wk]
	}
	if counts[""] > 0 {
		t.Fatalf("S=%d W=%d: %d leases left unowned", s, w, counts[""])
	}
	sort.Ints(out)
	return out
}

// From any start, once every worker has had its say, each of W workers holds
// ⌊S/W⌋ or ⌈S/W⌉ of S leases.
func TestPlanTakesConverges(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for s := 1; s <= 24; s++ {
		for w := 1; w <= 7; w++ {
			for rep := 0; rep < 5; rep++ {
				checkBalanced(t, s, w, simulateBalance(t, rng, s, w))
			}
		}
	}
}

func checkBalanced(t testing.TB, s, w int, counts []int) {
	lo, hi := s/w, (s+w-1)/w
	for _, c := range counts {
		if c < lo || c > hi {
			t.Fatalf("S=%d W=%d: counts %v, want each in [%d,%d]", s, w, counts, lo, hi)
		}
	}
}

func FuzzPlanTakesConverges(f *testing.F) {
	f.Add(int64(1), uint8(10), uint8(3))
	f.Add(int64(7), uint8(1), uint8(5))
	f.Fuzz(func(t *testing.T, seed int64, s, w uint8) {
		if s == 0 || w == 0 || s > 64 || w > 16 {
			return
		}
		counts := simulateBalance(t, rand.New(rand.NewSource(seed)), int(s), int(w))
		checkBalanced(t, int(s), int(w), counts)
	})
}

func TestReady(t *testing.T) {
	finished := func(k string) Lease {
		return Lease{Key: k, Checkpoint: ExtendedSequenceNumber{SequenceNumber: CheckpointShardEnd}}
	}
	open := func(k string) Lease { return Lease{Key: k, Checkpoint: ExtendedSequenceNumber{SequenceNumber: "123"}} }
	child := Lease{Key: "c", ParentShardIDs: []string{"p", "q"}, Checkpoint: ExtendedSequenceNumber{SequenceNumber: CheckpointTrimHorizon}}
	tests := []struct {
		name   string
		leases []Lease
		listed []string
		want   bool
	}{
		{"both parents finished", []Lease{finished("p"), finished("q")}, []string{"p", "q", "c"}, true},
		{"adjacent parent unfinished", []Lease{finished("p"), open("q")}, []string{"p", "q", "c"}, false},
		{"parent unfinished", []Lease{open("p"), finished("q")}, []string{"p", "q", "c"}, false},
		{"parent listed but not leased yet", []Lease{finished("q")}, []string{"p", "q", "c"}, false},
		{"parent trimmed away (neither leased nor listed)", []Lease{finished("q")}, []string{"q", "c"}, true},
	}
	for _, tt := range tests {
		byKey := map[string]Lease{}
		for _, l := range tt.leases {
			byKey[l.Key] = l
		}
		listed := map[string]bool{}
		for _, k := range tt.listed {
			listed[k] = true
		}
		if got := ready(child, byKey, listed); got != tt.want {
			t.Errorf("%s: ready = %v, want %v", tt.name, got, tt.want)
		}
	}
	if ready(finished("c"), nil, nil) {
		t.Error("a finished lease is ready")
	}
}

func TestNewLeases(t *testing.T) {
	shard := func(id string, closed bool, parents ...string) types.Shard {
		s := types.Shard{ShardId: aws.String(id), SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("1")}}
		if closed {
			s.SequenceNumberRange.EndingSequenceNumber = aws.String("9")
		}
		if len(parents) > 0 {
			s.ParentShardId = aws.String(parents[0])
		}
		if len(parents) > 1 {
			s.AdjacentParentShardId = aws.String(parents[1])
		}
		return s
	}
	shards := []types.Shard{shard("s0", true), shard("s1", true), shard("s2", false, "s0", "s1")}
	cps := func(ls []Lease) map[string]string {
		m := map[string]string{}
		for _, l := range ls {
			m[l.Key] = l.Checkpoint.SequenceNumber
		}
		return m
	}
	tests := []struct {
		name     string
		existing map[string]Lease
		pos      InitialPosition
		want     map[string]string
	}{
		{"first start, TRIM_HORIZON", nil, TrimHorizon, map[string]string{"s0": "TRIM_HORIZON", "s1": "TRIM_HORIZON", "s2": "TRIM_HORIZON"}},
		{"first start, LATEST: closed shards are finished", nil, Latest, map[string]string{"s0": "SHARD_END", "s1": "SHARD_END", "s2": "LATEST"}},
		{"first start, AT_TIMESTAMP", nil, AtTimestamp, map[string]string{"s0": "AT_TIMESTAMP", "s1": "AT_TIMESTAMP", "s2": "AT_TIMESTAMP"}},
		{"child of a leased parent starts at TRIM_HORIZON even with LATEST",
			map[string]Lease{"s0": {Key: "s0"}, "s1": {Key: "s1"}}, Latest, map[string]string{"s2": "TRIM_HORIZON"}},
		{"new shards once the table is populated, LATEST (their parents' leases deleted)",
			map[string]Lease{"x9": {Key: "x9"}}, Latest, map[string]string{"s0": "TRIM_HORIZON", "s1": "TRIM_HORIZON", "s2": "TRIM_HORIZON"}},
	}
	for _, tt := range tests {
		got := newLeases(shards, tt.existing, tt.pos)
		if !reflect.DeepEqual(cps(got), tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, cps(got), tt.want)
		}
		for _, l := range got {
			if l.Key == "s2" && !reflect.DeepEqual(l.ParentShardIDs, []string{"s0", "s1"}) {
				t.Errorf("%s: s2 parents %v, want [s0 s1]", tt.name, l.ParentShardIDs)
			}
		}
	}
}

// Two reshards between two syncs (1→2→1): s0 was leased; its children g1
// and g2 (closed by the merge) and their merged child m are all found in one
// sync. m's parents have no lease yet, but m appeared after the start like
// them, so it reads from TRIM_HORIZON too: with LATEST it would skip what was
// written to it before its lease was taken.
func TestNewLeasesForGrandchildren(t *testing.T) {
	shard := func(id string, closed bool, parents ...string) types.Shard {
		s := types.Shard{ShardId: aws.String(id), SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("1")}}
		if closed {
			s.SequenceNumberRange.EndingSequenceNumber = aws.String("9")
		}
		if len(parents) > 0 {
			s.ParentShardId = aws.String(parents[0])
		}
		if len(parents) > 1 {
			s.AdjacentParentShardId = aws.String(parents[1])
		}
		return s
	}
	shards := []types.Shard{shard("s0", true), shard("s1", true, "s0"), shard("s2", true, "s0"), shard("s3", false, "s1", "s2")}
	for _, pos := range []InitialPosition{Latest, AtTimestamp, TrimHorizon} {
		got := map[string]string{}
		for _, l := range newLeases(shards, map[string]Lease{"s0": {Key: "s0"}}, pos) {
			got[l.Key] = l.Checkpoint.SequenceNumber
		}
		if want := map[string]string{"s1": "TRIM_HORIZON", "s2": "TRIM_HORIZON", "s3": "TRIM_HORIZON"}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v, want %v", pos, got, want)
		}
	}
}

func TestValidateCheckpoint(t *testing.T) {
	x := func(seq string, sub int64) ExtendedSequenceNumber { return ExtendedSequenceNumber{seq, sub} }
	delivered := x("49590338271490256608559692538361571095921575989136588898", 5)
	tests := []struct {
		name      string
		cp, cur   ExtendedSequenceNumber
		delivered *ExtendedSequenceNumber
		ok        bool
	}{
		{"the last delivered record", delivered, x(CheckpointTrimHorizon, 0), &delivered, true},
		{"an earlier sub-record of it", x(delivered.SequenceNumber, 2), x(CheckpointTrimHorizon, 0), &delivered, true},
		{"an earlier, shorter sequence number", x("9", 0), x("8", 0), &delivered, true},
		{"beyond the last delivered sub-record", x(delivered.SequenceNumber, 6), x(CheckpointTrimHorizon, 0), &delivered, false},
		{"beyond the last delivered record", x("49590338271490256608559692538361571095921575989136588899", 0), x(CheckpointLatest, 0), &delivered, false},
		{"nothing delivered", x("1", 0), x(CheckpointTrimHorizon, 0), nil, false},
		{"before the current checkpoint", x("7", 0), x("8", 0), &delivered, false},
	}
	for _, tt := range tests {
		err := validateCheckpoint(tt.cp, tt.cur, tt.delivered)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}
