package core

import (
	"math/bits"
	"sync"
)

// Large float32 buffers that live only within a training step (im2col
// columns and their gradient) are recycled by size class rather than
// allocated and cleared anew each step: at batch 64 they are tens of
// megabytes per step, and allocating them cost about a sixth of an RS step in
// memclr and GC. (Gradients go to their nodes by handoff instead, so spago
// does not copy them.)
var scratchPools [48]sync.Pool // index: bits.Len(capacity-1), capacity 2^index

// minScratch is the smallest buffer worth pooling; smaller ones are made.
const minScratch = 1 << 12

// getScratch returns a buffer of length n with undefined contents.
func getScratch(n int) []float32 {
	if n < minScratch {
		return make([]float32, n)
	}
	class := bits.Len(uint(n - 1))
	if p, ok := scratchPools[class].Get().(*[]float32); ok {
		return (*p)[:n]
	}
	return make([]float32, n, 1<<class)
}

// putScratch recycles b; the caller must not use it afterwards.
func putScratch(b []float32) {
	c := cap(b)
	if c < minScratch || c&(c-1) != 0 { // only buffers getScratch made
		return
	}
	b = b[:c]
	scratchPools[bits.Len(uint(c-1))].Put(&b)
}
