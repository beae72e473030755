package kernel

import (
	"runtime"
	"sync"
)

// ParallelFor calls fn on disjoint chunks [lo, hi) covering [0, n), spread
// over up to runtime.GOMAXPROCS(0) goroutines. Chunks hold at least grain
// items so that small loops stay on one goroutine. fn must only write to its
// own chunk.
func ParallelFor(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	workers := runtime.GOMAXPROCS(0)
	if w := (n + grain - 1) / grain; w < workers {
		workers = w
	}
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := chunk; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	fn(0, min(chunk, n))
	wg.Wait()
}
