//go:build goexperiment.simd && amd64

package kernel

import "simd/archsimd"

// The GOEXPERIMENT=simd build multiplies with AVX-512 through simd/archsimd
// when the CPU has it, with AVX2/FMA when it has those, and otherwise falls
// back to gemmPortable. (On this project's 2-core Xeon, the AVX-512 kernel
// ran the RS training products about 1.4x as fast as the AVX2 one.)
//
// Why a 4x16 tile fed by a pre-broadcast A panel, rather than the classic
// 6x16 or 4x24 tile that broadcasts each A value from a scalar: Go gives
// 256-bit code 15 vector registers (X15 is its zero register), and its FMA
// overwrites a multiplicand, which costs a register copy per FMA. With 12
// accumulators the compiler runs out of registers and spills the scalar A
// values with legacy-SSE MOVUPS in the middle of the AVX loop; mixing those
// with dirty upper YMM halves (golang/go#80835) made such kernels run at
// 0.25 GFLOP/s here instead of 40+. Packing every A value 8 times
// (gemmPackDup8) turns the broadcast into a plain vector load, leaves no
// scalar in the loop, and the 4x16 tile (8 accumulators, 2 B vectors, 1 A
// vector) fits the registers. For the same reason every function here ends
// its AVX part with archsimd.ClearAVXUpperBits (VZEROUPPER) before any
// scalar code, ours or the caller's, runs.
var gemmSIMD = gemmKernel{
	name: "avx4x16", mr: 4, nr: 16, kc: 128, nc: 2048, aDup: 8,
	packA: gemmPackDup8, packB: gemmPack8, fn: gemmKernelAVX4x16,
}

// gemmAVX512 is the same design on 512-bit vectors, for CPUs with AVX-512
// (twice the multiply-adds per instruction): a 4x32 tile, every A value
// packed 16 times.
var gemmAVX512 = gemmKernel{
	name: "avx512x4x32", mr: 4, nr: 32, kc: 128, nc: 2048, aDup: 16,
	packA: gemmPackDup16, packB: gemmPack8, fn: gemmKernelAVX512x4x32,
}

// gemmSIMDUsable reports whether the CPU (and OS) support what the kernel and
// its packers use: AVX for loads, stores and shuffles, AVX2 for register
// broadcasts and FMA.
func gemmSIMDUsable() bool { return archsimd.X86.AVX2() && archsimd.X86.FMA() }

// gemmAVX512Usable reports whether the CPU (and OS) support AVX-512 (F, CD,
// BW, DQ and VL, which imply AVX2 and FMA).
func gemmAVX512Usable() bool { return archsimd.X86.AVX512() && gemmSIMDUsable() }

func gemmBuildSelect() *gemmKernel {
	switch {
	case gemmAVX512Usable():
		return &gemmAVX512
	case gemmSIMDUsable():
		return &gemmSIMD
	}
	return &gemmPortable
}

// gemmBuildKernels lists the kernels this build can run on this CPU, for
// tests.
func gemmBuildKernels() []*gemmKernel {
	ks := []*gemmKernel{&gemmPortable}
	if gemmSIMDUsable() {
		ks = append([]*gemmKernel{&gemmSIMD}, ks...)
	}
	if gemmAVX512Usable() {
		ks = append([]*gemmKernel{&gemmAVX512}, ks...)
	}
	return ks
}

// gemmPackDup16 is gemmPackDup8 writing every value 16 times, for the
// AVX-512 kernel.
func gemmPackDup16(dst, src []float32, ld int, alongX bool, p0, kc, x0, nx, w int) {
	dst = dst[:kc*w*16]
	var zero archsimd.Float32x16
	if alongX {
		for p := range kc {
			s := src[(p0+p)*ld+x0:][:nx]
			d := dst[p*w*16 : (p+1)*w*16]
			for r, v := range s {
				archsimd.BroadcastFloat32x16(v).Store((*[16]float32)(d[r*16:]))
			}
			for r := nx; r < w; r++ {
				zero.Store((*[16]float32)(d[r*16:]))
			}
		}
		archsimd.ClearAVXUpperBits()
		return
	}
	for r := range nx {
		s := src[(x0+r)*ld+p0:][:kc]
		for p, v := range s {
			archsimd.BroadcastFloat32x16(v).Store((*[16]float32)(dst[(p*w+r)*16:]))
		}
	}
	for r := nx; r < w; r++ {
		for p := range kc {
			zero.Store((*[16]float32)(dst[(p*w+r)*16:]))
		}
	}
	archsimd.ClearAVXUpperBits()
}

// gemmPackDup8 is gemmPack for a single panel (nx <= w) writing every value
// 8 times, as a broadcast vector.
func gemmPackDup8(dst, src []float32, ld int, alongX bool, p0, kc, x0, nx, w int) {
	dst = dst[:kc*w*8]
	var zero archsimd.Float32x8
	if alongX {
		for p := range kc {
			s := src[(p0+p)*ld+x0:][:nx]
			d := dst[p*w*8 : (p+1)*w*8]
			for r, v := range s {
				archsimd.BroadcastFloat32x8(v).Store((*[8]float32)(d[r*8:]))
			}
			for r := nx; r < w; r++ {
				zero.Store((*[8]float32)(d[r*8:]))
			}
		}
		archsimd.ClearAVXUpperBits()
		return
	}
	for r := range nx {
		s := src[(x0+r)*ld+p0:][:kc]
		for p, v := range s {
			archsimd.BroadcastFloat32x8(v).Store((*[8]float32)(dst[(p*w+r)*8:]))
		}
	}
	for r := nx; r < w; r++ {
		for p := range kc {
			zero.Store((*[8]float32)(dst[(p*w+r)*8:]))
		}
	}
	archsimd.ClearAVXUpperBits()
}

// gemmPack8 is gemmPack for panel widths w that are multiples of 8, moving
// 8 values at a time and transposing 8x8 blocks in registers. Its scalar
// parts (edges) run after archsimd.ClearAVXUpperBits, see above.
func gemmPack8(dst, src []float32, ld int, alongX bool, p0, kc, x0, nx, w int) {
	if w%8 != 0 {
		gemmPack(dst, src, ld, alongX, p0, kc, x0, nx, w)
		return
	}
	full := nx / w * w
	if alongX {
		// Stream each source row once, dealing it out to the panels: unlike
		// gemmPack's panel-by-panel order, this keeps the hardware
		// prefetcher busy on the long rows of a large B.
		for p := range kc {
			s := src[(p0+p)*ld+x0:][:full]
			for x := 0; x < full; x += w {
				d := dst[x*kc+p*w:][:w]
				sx := s[x : x+w]
				for v := 0; v+8 <= len(d) && v+8 <= len(sx); v += 8 {
					archsimd.LoadFloat32x8((*[8]float32)(sx[v:])).Store((*[8]float32)(d[v:]))
				}
			}
		}
		archsimd.ClearAVXUpperBits()
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
			s0 := src[row:][:kc]
			s1 := src[row+ld:][:kc]
			s2 := src[row+2*ld:][:kc]
			s3 := src[row+3*ld:][:kc]
			s4 := src[row+4*ld:][:kc]
			s5 := src[row+5*ld:][:kc]
			s6 := src[row+6*ld:][:kc]
			s7 := src[row+7*ld:][:kc]
			p := 0
			for ; p+8 <= kc; p += 8 {
				gemmTranspose8(panel[p*w+r:], w,
					archsimd.LoadFloat32x8((*[8]float32)(s0[p:])),
					archsimd.LoadFloat32x8((*[8]float32)(s1[p:])),
					archsimd.LoadFloat32x8((*[8]float32)(s2[p:])),
					archsimd.LoadFloat32x8((*[8]float32)(s3[p:])),
					archsimd.LoadFloat32x8((*[8]float32)(s4[p:])),
					archsimd.LoadFloat32x8((*[8]float32)(s5[p:])),
					archsimd.LoadFloat32x8((*[8]float32)(s6[p:])),
					archsimd.LoadFloat32x8((*[8]float32)(s7[p:])))
			}
			archsimd.ClearAVXUpperBits()
			for ; p < kc; p++ {
				d := (*[8]float32)(panel[p*w+r:])
				d[0], d[1], d[2], d[3] = s0[p], s1[p], s2[p], s3[p]
				d[4], d[5], d[6], d[7] = s4[p], s5[p], s6[p], s7[p]
			}
		}
		if r < w {
			// The last, partial panel: scalar, as gemmPack does it.
			gemmPack(panel, src, ld, false, p0, kc, x0+x, cols, w)
		}
	}
}

// gemmTranspose8 stores the transpose of the 8x8 block with rows r0..r7 as
// 8 rows of 8 values, stride apart, at d.
func gemmTranspose8(d []float32, stride int, r0, r1, r2, r3, r4, r5, r6, r7 archsimd.Float32x8) {
	// s0 = a0 a1 b0 b1 | a4 a5 b4 b5, s1 = a2 a3 b2 b3 | a6 a7 b6 b7, ...
	s0 := r0.SelectFromPairGrouped(0, 1, 4, 5, r1)
	s1 := r0.SelectFromPairGrouped(2, 3, 6, 7, r1)
	s2 := r2.SelectFromPairGrouped(0, 1, 4, 5, r3)
	s3 := r2.SelectFromPairGrouped(2, 3, 6, 7, r3)
	s4 := r4.SelectFromPairGrouped(0, 1, 4, 5, r5)
	s5 := r4.SelectFromPairGrouped(2, 3, 6, 7, r5)
	s6 := r6.SelectFromPairGrouped(0, 1, 4, 5, r7)
	s7 := r6.SelectFromPairGrouped(2, 3, 6, 7, r7)
	// u0 = a0 b0 c0 d0 | a4 b4 c4 d4, u1 = a1 b1 c1 d1 | a5 ..., ...
	u0 := s0.SelectFromPairGrouped(0, 2, 4, 6, s2)
	u1 := s0.SelectFromPairGrouped(1, 3, 5, 7, s2)
	u2 := s1.SelectFromPairGrouped(0, 2, 4, 6, s3)
	u3 := s1.SelectFromPairGrouped(1, 3, 5, 7, s3)
	v0 := s4.SelectFromPairGrouped(0, 2, 4, 6, s6)
	v1 := s4.SelectFromPairGrouped(1, 3, 5, 7, s6)
	v2 := s5.SelectFromPairGrouped(0, 2, 4, 6, s7)
	v3 := s5.SelectFromPairGrouped(1, 3, 5, 7, s7)
	d = d[:7*stride+8]
	u0.Select128FromPair(0, 2, v0).Store((*[8]float32)(d[0:]))
	u1.Select128FromPair(0, 2, v1).Store((*[8]float32)(d[stride:]))
	u2.Select128FromPair(0, 2, v2).Store((*[8]float32)(d[2*stride:]))
	u3.Select128FromPair(0, 2, v3).Store((*[8]float32)(d[3*stride:]))
	u0.Select128FromPair(1, 3, v0).Store((*[8]float32)(d[4*stride:]))
	u1.Select128FromPair(1, 3, v1).Store((*[8]float32)(d[5*stride:]))
	u2.Select128FromPair(1, 3, v2).Store((*[8]float32)(d[6*stride:]))
	u3.Select128FromPair(1, 3, v3).Store((*[8]float32)(d[7*stride:]))
}
