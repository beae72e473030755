package kernel

import "math"

// PoolKey maps v to an integer with the same order as the float32 values,
// NaN above everything (so that a NaN wins its window, as in PyTorch) and
// -0 equal to +0; the max-pool loops compare keys to pick the max and its
// position without data-dependent branches.
func PoolKey(v float32) int64 {
	b := int32(math.Float32bits(v))
	// Negative floats order backwards as integers: flip their magnitude
	// bits, then lift them by one so that -0 lands on +0's key, 0.
	k := int64(b^int32(uint32(b>>31)>>1)) + int64(uint32(b)>>31)
	nan := int64(0x7f800000-(b&0x7fffffff)) >> 63 // all ones for a NaN
	return k ^ ((k ^ 1<<40) & nan)
}

// MaxPool2x2Row pools two rows of a map, r0 and r1, in 2x2 windows of
// stride 2: dst[o] is the max of r0[2o], r0[2o+1], r1[2o] and r1[2o+1]
// (the first of equal ones in that order), and arg[o] its index counted
// from r0's start at base, with r1 starting w after r0. r0 and r1 must
// hold 2*len(dst) values; arg is nil or as long as dst.
func MaxPool2x2Row(dst []float32, arg []int32, r0, r1 []float32, base, w int) {
	done := maxPool2x2RowNative(dst, arg, r0, r1, base, w)
	maxPool2x2RowGo(dst[done:], sub(arg, done), r0[2*done:], r1[2*done:], base+2*done, w)
}

func sub(a []int32, i int) []int32 {
	if a == nil {
		return nil
	}
	return a[i:]
}

// maxPool2x2RowGo is MaxPool2x2Row in Go.
func maxPool2x2RowGo(dst []float32, arg []int32, r0, r1 []float32, base, w int) {
	r0, r1 = r0[:2*len(dst)], r1[:2*len(dst)]
	if arg != nil {
		arg = arg[:len(dst)]
	}
	for o := range dst {
		j := 2 * o
		p0, p1 := r0[j:j+2:j+2], r1[j:j+2:j+2]
		v := [4]float32{p0[0], p0[1], p1[0], p1[1]}
		k0, k1, k2, k3 := PoolKey(v[0]), PoolKey(v[1]), PoolKey(v[2]), PoolKey(v[3])
		// m is all ones exactly when the later key is strictly larger, so
		// ties keep the earlier (row-major) element.
		m := (k0 - k1) >> 63
		top, at := k0^((k0^k1)&m), 1&m
		m = (k2 - k3) >> 63
		bot, bat := k2^((k2^k3)&m), 2+(1&m)
		m = (top - bot) >> 63
		sel := at ^ ((at ^ bat) & m) // which of the four: 0, 1, 2 or 3
		if arg != nil {
			arg[o] = int32(base + j + int(sel&1) + int(sel>>1)*w)
		}
		dst[o] = v[sel&3]
	}
}
