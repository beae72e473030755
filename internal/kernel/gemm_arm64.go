//go:build arm64 && !purego

package kernel

// On arm64, Gemm multiplies with the NEON kernel of gemm_arm64.s (written
// by gemm_gen.go); NEON is part of every arm64 CPU. The purego build tag
// leaves it out.
//
// The 8x12 tile keeps 24 accumulators in 24 of the 32 vector registers,
// with 3 for a k-step's B row and 2 for broadcast A values.

var gemmNEON = gemmKernel{
	name: "neon8x12", mr: 8, nr: 12, kc: 256, nc: 1020, aDup: 1,
	packA: gemmPack, packB: gemmPack, fn: gemmKernelNEON8x12,
}

//go:noescape
func gemmNEON8x12(kc int, a, b, c *float32, ldc, nt int, load bool)

// gemmKernelNEON8x12 is gemmNEON8x12 behind gemmKernel.fn's slices: the
// bounds checks prove the assembly reads and writes only what they hold.
func gemmKernelNEON8x12(kc int, a, b, c []float32, ldc, nt int, load bool) {
	if nt <= 0 {
		return
	}
	_, _, _ = a[:kc*8], b[:nt*kc*12], c[:7*ldc+nt*12]
	gemmNEON8x12(kc, unsafeData(a), unsafeData(b), &c[0], ldc, nt, load)
}

func gemmBuildSelect() *gemmKernel { return &gemmNEON }

// gemmBuildKernels lists the kernels this build has, the selected one
// first, for tests.
func gemmBuildKernels() []*gemmKernel { return []*gemmKernel{&gemmNEON, &gemmPortable} }
