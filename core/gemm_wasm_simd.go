//go:build js && wasm

package core

import (
	"fmt"
	"runtime"
	"sync"
	"syscall/js"
	"unsafe"
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
	packA: gemmPack, packB: gemmPack, exact: true, fn: gemmKernel4x8, block: gemmSIMDBlock,
}

// gemmSIMD is the host's kernel, looked up once.
var gemmSIMD struct {
	once  sync.Once
	block js.Value // pretextGemm.block, if usable
	ok    bool
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
	gemmSIMD.block.Invoke(kc, mp, np,
		uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&c[0])),
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
