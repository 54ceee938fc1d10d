package sim

import (
	"sync/atomic"
	"testing"
)

// TestForEach: every item is done exactly once, whatever the workers (0
// counts as one), and forEach returns only when all are done.
func TestForEach(t *testing.T) {
	for _, workers := range []int{0, 1, 3, 64} {
		items := make([]int, 100)
		for i := range items {
			items[i] = i
		}
		done := make([]atomic.Int32, len(items))
		forEach(items, workers, func(i int) { done[i].Add(1) })
		for i := range done {
			if n := done[i].Load(); n != 1 {
				t.Errorf("workers %d: item %d done %d times, want 1", workers, i, n)
			}
		}
	}
}
