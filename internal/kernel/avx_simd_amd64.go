//go:build goexperiment.simd && amd64

package kernel

import "simd/archsimd"

// cleanVectorState clears the upper halves of the vector registers
// (VZEROUPPER). Go compiles scalar float code to legacy SSE instructions;
// on this project's Xeon those ran about 100x slower (math.Exp: 1.2 µs
// instead of 10 ns) while the upper halves were dirty from AVX code, which
// archsimd code, a goroutine preempted inside it or the runtime can leave
// behind on a thread. Every chunk of ParallelFor, and so every operator
// loop, starts with it.
func cleanVectorState() { archsimd.ClearAVXUpperBits() }
