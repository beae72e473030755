package kernel

import (
	"math"
	"testing"
)

// TestMaxPool2x2Row checks MaxPool2x2Row (the build's native loop and its
// Go tail) against a plain loop over PoolKey, with ties, -0 against +0,
// infinities and NaNs of both signs among random values, on every width up
// to 40 outputs.
func TestMaxPool2x2Row(t *testing.T) {
	special := []float32{0, float32(math.Copysign(0, -1)), 1, -1, float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), -float32(math.NaN()), math.Float32frombits(0x7fc00123), math.MaxFloat32, -math.MaxFloat32}
	for n := 0; n <= 40; n++ {
		for trial := range 6 {
			const w, base = 100, 7
			src := gemmRand(w+2*n, uint32(100*n+trial))
			for i := range src {
				switch {
				case trial >= 2 && i%3 == 0:
					src[i] = special[(i/3+trial)%len(special)]
				case trial == 1:
					src[i] = float32(int(src[i]*2)) / 2 // many ties
				}
			}
			r0, r1 := src[:2*n], src[w:w+2*n]
			dst, arg := make([]float32, n), make([]int32, n)
			MaxPool2x2Row(dst, arg, r0, r1, base, w)
			for o := range n {
				cands := []int{2 * o, 2*o + 1, w + 2*o, w + 2*o + 1}
				best := cands[0]
				for _, c := range cands[1:] {
					if PoolKey(src[c]) > PoolKey(src[best]) {
						best = c
					}
				}
				if math.Float32bits(dst[o]) != math.Float32bits(src[best]) || arg[o] != int32(base+best) {
					t.Fatalf("n=%d trial %d: output %d = %v at %d, want %v at %d", n, trial, o, dst[o], arg[o], src[best], base+best)
				}
			}
			// Without argmaxes (inference), the same values.
			plain := make([]float32, n)
			MaxPool2x2Row(plain, nil, r0, r1, base, w)
			for o := range n {
				if math.Float32bits(plain[o]) != math.Float32bits(dst[o]) {
					t.Fatalf("n=%d trial %d: output %d without argmaxes = %v, want %v", n, trial, o, plain[o], dst[o])
				}
			}
		}
	}
}
