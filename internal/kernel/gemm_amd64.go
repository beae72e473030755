//go:build amd64 && !purego

package kernel

import "golang.org/x/sys/cpu"

// On amd64, Gemm multiplies with the assembly kernels of gemm_amd64.s
// (written by gemm_gen.go): AVX-512 where the CPU and OS support it, else
// AVX2 with FMA, else the pure-Go gemmPortable. The choice is made at run
// time from golang.org/x/sys/cpu, so one binary runs everywhere; the purego
// build tag leaves the assembly out.
//
// Both kernels broadcast each A value from the packed panel into a register
// and multiply it with whole B vectors, the classic register tile: the
// AVX2 one keeps 6x16 accumulators in 12 of its 16 vector registers, the
// AVX-512 one 8x32 in 16 of its 32. They end with VZEROUPPER, so Go's
// scalar float code (legacy SSE) never runs with dirty upper halves, and
// the runtime never preempts assembly asynchronously: no GODEBUG is needed.

var gemmAVX2 = gemmKernel{
	name: "avx2x6x16", mr: 6, nr: 16, kc: 256, nc: 1024, aDup: 1,
	packA: gemmPack, packB: gemmPack, fn: gemmKernelAVX2x6x16,
}

var gemmAVX512 = gemmKernel{
	name: "avx512x8x32", mr: 8, nr: 32, kc: 256, nc: 1024, aDup: 1,
	packA: gemmPack, packB: gemmPack, fn: gemmKernelAVX512x8x32,
}

//go:noescape
func gemmAVX2x6x16(kc int, a, b, c *float32, ldc, nt int, load bool)

//go:noescape
func gemmAVX512x8x32(kc int, a, b, c *float32, ldc, nt int, load bool)

// gemmKernelAVX2x6x16 is gemmAVX2x6x16 behind gemmKernel.fn's slices: the
// bounds checks prove the assembly reads and writes only what they hold.
func gemmKernelAVX2x6x16(kc int, a, b, c []float32, ldc, nt int, load bool) {
	if nt <= 0 {
		return
	}
	_, _, _ = a[:kc*6], b[:nt*kc*16], c[:5*ldc+nt*16]
	gemmAVX2x6x16(kc, unsafeData(a), unsafeData(b), &c[0], ldc, nt, load)
}

// gemmKernelAVX512x8x32 is gemmAVX512x8x32 behind gemmKernel.fn's slices.
func gemmKernelAVX512x8x32(kc int, a, b, c []float32, ldc, nt int, load bool) {
	if nt <= 0 {
		return
	}
	_, _, _ = a[:kc*8], b[:nt*kc*32], c[:7*ldc+nt*32]
	gemmAVX512x8x32(kc, unsafeData(a), unsafeData(b), &c[0], ldc, nt, load)
}

func gemmAVX2Usable() bool   { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }
func gemmAVX512Usable() bool { return cpu.X86.HasAVX512F && gemmAVX2Usable() }

func gemmBuildSelect() *gemmKernel {
	switch {
	case gemmAVX512Usable():
		return &gemmAVX512
	case gemmAVX2Usable():
		return &gemmAVX2
	}
	return &gemmPortable
}

// gemmBuildKernels lists the kernels this build can run on this CPU, the
// selected one first, for tests.
func gemmBuildKernels() []*gemmKernel {
	ks := []*gemmKernel{&gemmPortable}
	if gemmAVX2Usable() {
		ks = append([]*gemmKernel{&gemmAVX2}, ks...)
	}
	if gemmAVX512Usable() {
		ks = append([]*gemmKernel{&gemmAVX512}, ks...)
	}
	return ks
}
