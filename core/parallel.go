package core

import "github.com/pretextlab/pretext/internal/kernel"

// parallelFor calls fn on disjoint chunks [lo, hi) covering [0, n), spread over
// up to runtime.GOMAXPROCS(0) goroutines. Chunks hold at least grain items so
// that small loops stay on one goroutine. fn must only write to its own chunk.
// It is the kernels' thread split (kernel.ParallelFor), which also leaves the
// vector registers clean for fn's scalar code.
func parallelFor(n, grain int, fn func(lo, hi int)) { kernel.ParallelFor(n, grain, fn) }
