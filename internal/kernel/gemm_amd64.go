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
	packA: gemmPackAVX, packB: gemmPackAVX, fn: gemmKernelAVX2x6x16,
}

var gemmAVX512 = gemmKernel{
	name: "avx512x8x32", mr: 8, nr: 32, kc: 256, nc: 1024, aDup: 1,
	packA: gemmPackAVX, packB: gemmPackAVX, fn: gemmKernelAVX512x8x32,
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

//go:noescape
func transpose8AVX(dst *float32, ldd int, src *float32, lds int, nb int)

//go:noescape
func packRowsAVX(dst, src *float32, ld, kc, np, w int)

// gemmPackAVX is gemmPack with vector moves (the AVX kernels' wide panels):
// along x it streams each source row once, dealing it out to the panels
// (packRowsAVX); across x it transposes 8-row strips, 8x8 blocks at a time
// in registers (transpose8AVX).
func gemmPackAVX(dst, src []float32, ld int, alongX bool, p0, kc, x0, nx, w int) {
	if w%8 != 0 {
		gemmPack(dst, src, ld, alongX, p0, kc, x0, nx, w)
		return
	}
	full := nx / w * w
	if alongX {
		if full > 0 && kc > 0 {
			_ = src[(p0+kc-1)*ld+x0+full-1] // the last value read
			_ = dst[full*kc-1]              // the last value written
			packRowsAVX(&dst[0], &src[p0*ld+x0], ld, kc, full/w, w)
		}
		if full < nx {
			gemmPack(dst[full*kc:], src, ld, true, p0, kc, x0+full, nx-full, w)
		}
		return
	}
	for x := 0; x < nx; x += w {
		panel := dst[x*kc : (x+w)*kc]
		cols := min(w, nx-x)
		r := 0
		for ; r+8 <= cols; r += 8 {
			row := (x0+x+r)*ld + p0
			_ = src[row+7*ld : row+7*ld+kc] // the 8 rows of kc values
			p := kc &^ 7
			if p > 0 {
				_ = panel[(p-1)*w+r+7] // the last value written
				transpose8AVX(&panel[r], w, &src[row], ld, p/8)
			}
			for ; p < kc; p++ {
				d := (*[8]float32)(panel[p*w+r:])
				for i := range d {
					d[i] = src[row+i*ld+p]
				}
			}
		}
		gemmPackColumns(panel, src, ld, p0, kc, x0+x, r, cols, w)
	}
}
