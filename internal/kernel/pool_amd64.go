//go:build amd64 && !purego

package kernel

//go:noescape
func maxPool2x2RowAVX2(dst *float32, arg *int32, r0, r1 *float32, n8 int, idx *[8]int32, w int)

// maxPool2x2RowNative pools the first multiple of 8 outputs with AVX2
// (pool_amd64.s), where the CPU has it and arg is wanted, and returns how
// many it did.
func maxPool2x2RowNative(dst []float32, arg []int32, r0, r1 []float32, base, w int) int {
	n8 := len(dst) / 8
	if !bnAVX2 || arg == nil || n8 == 0 {
		return 0
	}
	n := 8 * n8
	_, _, _ = arg[n-1], r0[2*n-1], r1[2*n-1]
	var idx [8]int32
	for i := range idx {
		idx[i] = int32(base + 2*i)
	}
	maxPool2x2RowAVX2(&dst[0], &arg[0], &r0[0], &r1[0], n8, &idx, w)
	return n
}
