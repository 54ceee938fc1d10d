package sim

import (
	"sync/atomic"
	"testing"
)

// TestForEachIndex: every index 0 … n-1 is done exactly once, whatever the
// workers (0 counts as one), none when n is 0, and forEachIndex (so
// forEach) returns only when all are done.
func TestForEachIndex(t *testing.T) {
	for _, workers := range []int{0, 1, 3, 64} {
		for _, n := range []int{0, 1, 100} {
			done := make([]atomic.Int32, n)
			forEachIndex(n, workers, func(i int) { done[i].Add(1) })
			for i := range done {
				if got := done[i].Load(); got != 1 {
					t.Errorf("workers %d, n %d: index %d done %d times, want 1", workers, n, i, got)
				}
			}
		}
	}
}
