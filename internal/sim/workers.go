package sim

import "sync"

// forEach calls do for every item, on at most workers goroutines (at least
// one), starting them in the items' order, and returns once all are done.
// Each call must write only what belongs to its own item, so that the
// result does not depend on workers or on the order the calls finish in.
func forEach[T any](items []T, workers int, do func(T)) {
	ch := make(chan T)
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for x := range ch {
				do(x)
			}
		})
	}
	for _, x := range items {
		ch <- x
	}
	close(ch)
	wg.Wait()
}

// forEachIndex is forEach over the indices 0 … n-1: for results written
// into a slice of n by index.
func forEachIndex(n, workers int, do func(i int)) {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	forEach(idx, workers, do)
}
