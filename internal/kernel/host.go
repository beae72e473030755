//go:build js && wasm

package core

import (
	"fmt"
	"runtime"
	"sync"
	"syscall/js"

	"github.com/pretextlab/pretext/internal/jsmem"
)

// Go's wasm port emits no SIMD instructions, so js/wasm multiplies with a
// separate module, web/gemm.wat: a 4x8 simd128 kernel that imports this
// module's memory and computes a whole packed block per call. The host
// (web/simd.js, used by the page's worker and by wasm/exec_node.js) loads it,
// if the engine validates simd128, after instantiating the Go module and
// before running it, and publishes it as the global pretextGemm
// ({block, mr, nr}). Gemm looks for that global once, at its first call;
// without it, it uses gemmPortable.
//
// The kernel rounds every product and every sum (f32x4.mul, then
// f32x4.add), so it gives the bits of gemmPortable and of the plain loop;
// its edge tiles run through gemmKernel4x8, the pure-Go kernel of the same
// tile. A call into JavaScript costs about a microsecond, hence one call
// per packed block rather than per row of tiles.
var gemmWasmSIMD = gemmKernel{
	name: "simd4x8", mr: 4, nr: 8, kc: 256, nc: 1024, aDup: 1,
	packA: gemmSIMDPack, packB: gemmSIMDPack, exact: true, fn: gemmKernel4x8, block: gemmSIMDBlock,
}

// gemmSIMD is the host's kernel, looked up once.
var gemmSIMD struct {
	once  sync.Once
	block js.Value // pretextGemm.block, if usable
	ok    bool
	// packCopy and packTrans are its packing functions (pack_copy and
	// pack_trans of gemm.wat), if it has them.
	packCopy, packTrans js.Value
	pack                bool
}

// gemmSIMDLoaded reports whether the host provided a simd128 kernel of
// gemmWasmSIMD's tile. It reads the global at its first call only.
func gemmSIMDLoaded() bool {
	gemmSIMD.once.Do(func() {
		g := js.Global().Get("pretextGemm")
		if g.Type() != js.TypeObject {
			return
		}
		block, mr, nr := g.Get("block"), g.Get("mr"), g.Get("nr")
		if block.Type() != js.TypeFunction || mr.Type() != js.TypeNumber || nr.Type() != js.TypeNumber ||
			mr.Int() != gemmWasmSIMD.mr || nr.Int() != gemmWasmSIMD.nr {
			return
		}
		gemmSIMD.block, gemmSIMD.ok = block, true
		bnSIMDLookup(g)
		pc, pt := g.Get("packCopy"), g.Get("packTrans")
		if pc.Type() == js.TypeFunction && pt.Type() == js.TypeFunction {
			gemmSIMD.packCopy, gemmSIMD.packTrans, gemmSIMD.pack = pc, pt, true
		}
	})
	return gemmSIMD.ok
}

// gemmSIMDBlock is gemmWasmSIMD's block: it hands the kernel the byte
// offsets of the slices in the memory the two modules share.
func gemmSIMDBlock(kc int, a, b, c []float32, ldc, mp, np int, load bool) {
	const mr, nr = 4, 8
	// The kernel writes Go's memory unchecked: make sure it stays inside c.
	if kc <= 0 || mp <= 0 || np <= 0 || len(a) < mp*mr*kc || len(b) < np*nr*kc || ldc < np*nr || len(c) < (mp*mr-1)*ldc+np*nr {
		panic(fmt.Sprintf("core: simd128 block kc=%d mp=%d np=%d ldc=%d with len(a)=%d len(b)=%d len(c)=%d", kc, mp, np, ldc, len(a), len(b), len(c)))
	}
	gemmSIMD.block.Invoke(kc, mp, np, jsmem.Offset(a), jsmem.Offset(b), jsmem.Offset(c),
		ldc, load)
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	runtime.KeepAlive(c)
}

func gemmSelect() *gemmKernel {
	if gemmSIMDLoaded() {
		return &gemmWasmSIMD
	}
	return &gemmPortable
}

// gemmKernels lists the kernels this build can run here, for tests.
func gemmKernels() []*gemmKernel {
	if gemmSIMDLoaded() {
		return []*gemmKernel{&gemmWasmSIMD, &gemmPortable}
	}
	return []*gemmKernel{&gemmPortable}
}

// gemmSIMDPack is gemmPack with the full panels of width 4 or 8 packed by
// gemm.wat's simd128 copies and 4x4 transposes (in Go's wasm, packing took
// about a seventh of an RS step once the kernel was fast); the last,
// partial panel and other widths go through gemmPack. Both write the same
// values.
func gemmSIMDPack(dst, src []float32, ld int, alongX bool, p0, kc, x0, nx, w int) {
	panels := nx / w
	if !gemmSIMD.pack || (w != 4 && w != 8) || panels == 0 || kc == 0 {
		gemmPack(dst, src, ld, alongX, p0, kc, x0, nx, w)
		return
	}
	full := panels * w
	// The module reads and writes Go's memory unchecked: check the extent
	// of both here.
	var first, last int // the first and last source values read
	fn := gemmSIMD.packTrans
	if alongX {
		first, last, fn = p0*ld+x0, (p0+kc-1)*ld+x0+full-1, gemmSIMD.packCopy
	} else {
		first, last = x0*ld+p0, (x0+full-1)*ld+p0+kc-1
	}
	if len(dst) < full*kc || first < 0 || last >= len(src) {
		panic(fmt.Sprintf("core: simd128 pack of %d panels of %d x %d (alongX %v, ld %d, p0 %d, x0 %d) into %d values from %d", panels, kc, w, alongX, ld, p0, x0, len(dst), len(src)))
	}
	fn.Invoke(jsmem.Offset(dst), jsmem.Offset(src[first:]), ld, kc, panels, w)
	runtime.KeepAlive(dst)
	runtime.KeepAlive(src)
	if full < nx {
		gemmPack(dst[full*kc:], src, ld, alongX, p0, kc, x0+full, nx-full, w)
	}
}
