package core

import (
	"sync"

	"github.com/nlpodyssey/spago/mat"
)

// stepArena lends the large buffers of a training step's graph (the
// trunk's activations, their gradients, im2col columns, max-pool argmaxes)
// and takes them all back when the step ends, so that the next step, which
// asks for the same sizes in the same order, reuses them instead of
// allocating and clearing tens of megabytes. A Trainer owns one and hands
// it to its trunk for the length of Step; outside a step (inference,
// evaluation, a trunk used on its own) the trunk has none and operators
// allocate as usual. A nil *stepArena allocates fresh, zeroed buffers.
//
// Only values that nothing uses after the step may come from it: the
// trunk's outputs and gradients are read by the step's own backward pass
// and optimizer update, never after Step returns.
type stepArena struct {
	mu     sync.Mutex
	free   map[int][][]float32 // by length
	free32 map[int][][]int32
	lent   [][]float32
	lent32 [][]int32
}

// floats returns a buffer of n values, zeroed if zero (else with undefined
// contents, for a caller that writes every value).
func (a *stepArena) floats(n int, zero bool) []float32 {
	if a == nil {
		return make([]float32, n)
	}
	a.mu.Lock()
	var b []float32
	if l := a.free[n]; len(l) > 0 {
		b, a.free[n] = l[len(l)-1], l[:len(l)-1]
	}
	a.mu.Unlock()
	if b == nil {
		b = make([]float32, n)
	} else if zero {
		clear(b)
	}
	a.mu.Lock()
	a.lent = append(a.lent, b)
	a.mu.Unlock()
	return b
}

// matrix returns a rows x cols matrix backed by a.floats.
func (a *stepArena) matrix(rows, cols int, zero bool) *mat.Dense[float32] {
	if a == nil {
		return newMatrix(rows, cols)
	}
	return fromData(rows, cols, a.floats(rows*cols, zero))
}

// int32s returns a buffer of n int32s with undefined contents.
func (a *stepArena) int32s(n int) []int32 {
	if a == nil {
		return make([]int32, n)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var b []int32
	if l := a.free32[n]; len(l) > 0 {
		b, a.free32[n] = l[len(l)-1], l[:len(l)-1]
	} else {
		b = make([]int32, n)
	}
	a.lent32 = append(a.lent32, b)
	return b
}

// reset takes back every buffer lent since the last reset.
func (a *stepArena) reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.free == nil {
		a.free, a.free32 = map[int][][]float32{}, map[int][][]int32{}
	}
	for _, b := range a.lent {
		a.free[len(b)] = append(a.free[len(b)], b)
	}
	for _, b := range a.lent32 {
		a.free32[len(b)] = append(a.free32[len(b)], b)
	}
	clear(a.lent)
	clear(a.lent32)
	a.lent, a.lent32 = a.lent[:0], a.lent32[:0]
}
