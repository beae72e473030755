package kernel

import (
	"errors"
	"fmt"
	"sync/atomic"
)

// Host is a set of kernels that the program's host runs outside Go, for
// Gemm and the batch-norm loops to use once it is installed. It is how
// js/wasm runs web/gemm.wat's simd128 kernels (Go's wasm port emits no SIMD
// instructions): package jshost reads them from the JavaScript global
// pretextGemm, which the host (web/simd.js, in the page's worker and in
// wasm/exec_node.js) publishes before the Go program starts, and
// wasm/main.go installs them first thing. Without a host, Go's own kernels
// run and give the same results.
//
// Every function must give exactly the bits of its Go twin, named below:
// the same float32 operations in the same order, float64 sums in the same
// running sums. So the host changes speed, never results. The package
// checks, before each call, that the slices hold every value the function
// reads or writes (the js host hands their byte offsets to code that
// accesses memory unchecked); a function must not keep them after it
// returns. All the fields are required.
type Host struct {
	// Name names the GEMM kernel in SelfCheck's list; "" means "host4x8".
	Name string
	// MR and NR are Block's tile of C, which must be 4 x 8: the tile of
	// gemmKernel4x8, which computes the edge tiles.
	MR, NR int
	// Block computes every full tile of a packed block: for i < mp and
	// t < np, the MR x NR tile at c[i*MR*ldc+t*NR:] (row stride ldc) from
	// the A panel a[i*kc*MR:] and the B panel b[t*kc*NR:], as gemmKernel4x8
	// does (see gemmKernel.block). A call costs so much (about a
	// microsecond from Go's wasm into JavaScript) that Gemm makes one per
	// packed block.
	Block func(kc int, a, b, c []float32, ldc, mp, np int, load bool)
	// PackCopy and PackTrans pack panels full panels of w columns (w is 4
	// or 8): dst[q*w*kc+p*w+x] = X[p][q*w+x] for p < kc, x < w, where
	// X[p][x] is src[p*ld+x] (PackCopy) or src[x*ld+p] (PackTrans), as
	// gemmPack does.
	PackCopy, PackTrans func(dst, src []float32, ld, kc, panels, w int)
	// The batch-norm row loops, twins of bnNormalizeGo, bnGradXGo,
	// bnGradSumsGo and bnSumsGo, for rows of at least hostMinRow values.
	BNNormalize func(out, x []float32, mu, a, b float32, relu bool)
	BNGradX     func(out, x, dy, y []float32, mu, k, c2, c1 float32, relu bool)
	BNGradSums  func(x, dy, y []float32, mu float32, relu bool) (sumDz, sumDzX float64)
	BNSums      func(row []float32, shift float64) (sum, squares float64)
}

// hostMinRow is the shortest batch-norm row worth a call into the host
// (measured for js/wasm, where a call into JavaScript costs about a
// microsecond).
const hostMinRow = 64

// installed is the host's kernels, nil until Install.
var installed atomic.Pointer[hostKernels]

// hostKernels is an installed Host, with its block kernel as a gemmKernel.
type hostKernels struct {
	Host
	gemm *gemmKernel
}

// Install makes Gemm and the batch-norm loops use h's kernels from now on
// (calls under way finish with the kernels they started with, which give
// the same bits); a program installs its host once, at start. It returns
// an error, and changes nothing, if h lacks a function or has another tile.
func Install(h Host) error {
	hk, err := newHostKernels(h)
	if err != nil {
		return err
	}
	installed.Store(hk)
	return nil
}

func newHostKernels(h Host) (*hostKernels, error) {
	if h.MR != 4 || h.NR != 8 {
		return nil, fmt.Errorf("kernel: the host's block kernel has a %dx%d tile, want 4x8", h.MR, h.NR)
	}
	if h.Block == nil || h.PackCopy == nil || h.PackTrans == nil ||
		h.BNNormalize == nil || h.BNGradX == nil || h.BNGradSums == nil || h.BNSums == nil {
		return nil, errors.New("kernel: the host lacks some of its kernels (block, packing and batch-norm loops)")
	}
	hk := &hostKernels{Host: h}
	name := h.Name
	if name == "" {
		name = "host4x8"
	}
	hk.gemm = &gemmKernel{
		name: name, mr: 4, nr: 8, kc: 256, nc: 1024, aDup: 1,
		packA: hk.pack, packB: hk.pack, exact: true, fn: gemmKernel4x8, block: hk.block,
	}
	return hk, nil
}

// block is the gemmKernel.block of the host's kernel.
func (h *hostKernels) block(kc int, a, b, c []float32, ldc, mp, np int, load bool) {
	const mr, nr = 4, 8
	// The kernel may write memory unchecked: make sure it stays inside c.
	if kc <= 0 || mp <= 0 || np <= 0 || len(a) < mp*mr*kc || len(b) < np*nr*kc || ldc < np*nr || len(c) < (mp*mr-1)*ldc+np*nr {
		panic(fmt.Sprintf("kernel: host block kc=%d mp=%d np=%d ldc=%d with len(a)=%d len(b)=%d len(c)=%d", kc, mp, np, ldc, len(a), len(b), len(c)))
	}
	h.Block(kc, a[:mp*mr*kc], b[:np*nr*kc], c[:(mp*mr-1)*ldc+np*nr], ldc, mp, np, load)
}

// pack is gemmPack with the full panels of width 4 or 8 packed by the
// host (in Go's wasm, packing took about a seventh of an RS step once the
// simd128 kernel multiplied); the last, partial panel and other widths go
// through gemmPack. Both write the same values.
func (h *hostKernels) pack(dst, src []float32, ld int, alongX bool, p0, kc, x0, nx, w int) {
	panels := nx / w
	if (w != 4 && w != 8) || panels == 0 || kc == 0 {
		gemmPack(dst, src, ld, alongX, p0, kc, x0, nx, w)
		return
	}
	full := panels * w
	// The host may read and write memory unchecked: check the extent of
	// both here.
	var first, last int // the first and last source values read
	fn := h.PackTrans
	if alongX {
		first, last, fn = p0*ld+x0, (p0+kc-1)*ld+x0+full-1, h.PackCopy
	} else {
		first, last = x0*ld+p0, (x0+full-1)*ld+p0+kc-1
	}
	if len(dst) < full*kc || first < 0 || last >= len(src) {
		panic(fmt.Sprintf("kernel: host pack of %d panels of %d x %d (alongX %v, ld %d, p0 %d, x0 %d) into %d values from %d", panels, kc, w, alongX, ld, p0, x0, len(dst), len(src)))
	}
	fn(dst[:full*kc], src[first:last+1], ld, kc, panels, w)
	if full < nx {
		gemmPack(dst[full*kc:], src, ld, alongX, p0, kc, x0+full, nx-full, w)
	}
}
