package scaling

import (
	"math/rand/v2"
	"testing"
)

// TestLegalFloorPath checks the schedule LegalFloorPath returns on random
// needs (long enough to cross several checkpoints and days): its cost is
// LegalFloor's, every minute carries its need, every change is a legal call
// and no day has more than its calls.
func TestLegalFloorPath(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 40 {
		needs := make([]int32, 1+r.IntN(400))
		n := 1 + r.Int32N(40)
		for m := range needs {
			n = min(max(n+r.Int32N(9)-4, 1), 40)
			if r.IntN(30) == 0 {
				n = 1 + r.Int32N(40)
			}
			needs[m] = n
		}
		perDay, day := r.IntN(5), 5+r.IntN(150)
		want, _ := LegalFloor(needs, perDay, day)
		path, got, ok := LegalFloorPath(needs, perDay, day)
		if !ok || got != want || len(path) != len(needs) {
			t.Fatalf("case %d: cost %d (ok %v, %d minutes), LegalFloor says %d", i, got, ok, len(path), want)
		}
		var sum int64
		calls := map[int]int{}
		for m, c := range path {
			sum += int64(c)
			if c < needs[m] {
				t.Fatalf("case %d: minute %d has %d shards for a need of %d", i, m, c, needs[m])
			}
			if m > 0 && c != path[m-1] {
				if c < MinLegalStep(path[m-1]) || c > MaxLegalStep(path[m-1]) {
					t.Fatalf("case %d: minute %d: %d→%d is not a legal call", i, m, path[m-1], c)
				}
				calls[m/day]++
			}
		}
		if sum != want {
			t.Fatalf("case %d: path sums to %d shard-minutes, want %d", i, sum, want)
		}
		for d, c := range calls {
			if c > perDay {
				t.Fatalf("case %d: day %d has %d calls, at most %d allowed", i, d, c, perDay)
			}
		}
	}
}
