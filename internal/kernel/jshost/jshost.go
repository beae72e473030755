//go:build js && wasm

// Package jshost installs the simd128 kernels of web/gemm.wat as package
// kernel's host kernels (kernel.Host). The JavaScript host (web/simd.js, in
// the page's worker and in wasm/exec_node.js) instantiates gemm.wasm on this
// module's memory, if the engine validates simd128, and publishes it as the
// global pretextGemm before it runs the Go program; Install, which a program
// calls first thing, looks it up and calls its functions with the byte
// offsets of Go's slices, so nothing is copied.
//
// It is the only package besides wasm/ that uses syscall/js, and it holds
// no arithmetic: kernel checks every slice's extent before a call, and
// every function gives its Go twin's bits.
package jshost

import (
	"errors"
	"fmt"
	"runtime"
	"syscall/js"

	"github.com/pretextlab/pretext/internal/jsmem"
	"github.com/pretextlab/pretext/internal/kernel"
)

// ErrNoKernels is Install's error when the host published no pretextGemm
// (gemm.wasm missing, or an engine without simd128): Go's own kernels run,
// with the same results.
var ErrNoKernels = errors.New("jshost: no pretextGemm global (the host did not load gemm.wasm)")

// Install looks up pretextGemm ({block, mr, nr, packCopy, packTrans,
// bnNormalize, bnGradX, bnGradSums, bnSums}) and installs its functions
// with kernel.Install. It returns ErrNoKernels without the global, and
// another error if the global lacks a function or has another tile (a
// gemm.wasm from another version).
func Install() error {
	g := js.Global().Get("pretextGemm")
	if g.Type() != js.TypeObject {
		return ErrNoKernels
	}
	f := map[string]js.Value{}
	for _, name := range []string{"block", "packCopy", "packTrans", "bnNormalize", "bnGradX", "bnGradSums", "bnSums"} {
		if f[name] = g.Get(name); f[name].Type() != js.TypeFunction {
			return fmt.Errorf("jshost: pretextGemm.%s is not a function", name)
		}
	}
	mr, nr := g.Get("mr"), g.Get("nr")
	if mr.Type() != js.TypeNumber || nr.Type() != js.TypeNumber {
		return errors.New("jshost: pretextGemm has no tile size (mr, nr)")
	}
	block, packCopy, packTrans := f["block"], f["packCopy"], f["packTrans"]
	normalize, gradX, gradSums, sums := f["bnNormalize"], f["bnGradX"], f["bnGradSums"], f["bnSums"]
	// res receives the two sums of bn_grad_sums and bn_sums. js/wasm runs
	// one goroutine at a time and a call into JavaScript cannot be
	// interrupted, so the value is read back before anything else writes it.
	res := new([2]float64)
	// Each function passes byte offsets (jsmem.Offset, which keeps the
	// slices on the heap) and keeps its slices alive until JavaScript is
	// done with them.
	return kernel.Install(kernel.Host{
		Name: "simd4x8",
		MR:   mr.Int(),
		NR:   nr.Int(),
		Block: func(kc int, a, b, c []float32, ldc, mp, np int, load bool) {
			block.Invoke(kc, mp, np, jsmem.Offset(a), jsmem.Offset(b), jsmem.Offset(c), ldc, load)
			runtime.KeepAlive(a)
			runtime.KeepAlive(b)
			runtime.KeepAlive(c)
		},
		PackCopy: func(dst, src []float32, ld, kc, panels, w int) {
			packCopy.Invoke(jsmem.Offset(dst), jsmem.Offset(src), ld, kc, panels, w)
			runtime.KeepAlive(dst)
			runtime.KeepAlive(src)
		},
		PackTrans: func(dst, src []float32, ld, kc, panels, w int) {
			packTrans.Invoke(jsmem.Offset(dst), jsmem.Offset(src), ld, kc, panels, w)
			runtime.KeepAlive(dst)
			runtime.KeepAlive(src)
		},
		BNNormalize: func(out, x []float32, mu, a, b float32, relu bool) {
			normalize.Invoke(jsmem.Offset(out), jsmem.Offset(x), len(x), mu, a, b, flag(relu))
			runtime.KeepAlive(out)
			runtime.KeepAlive(x)
		},
		BNGradX: func(out, x, dy, y []float32, mu, k, c2, c1 float32, relu bool) {
			gradX.Invoke(jsmem.Offset(out), jsmem.Offset(x), jsmem.Offset(dy), jsmem.Offset(y), len(x), mu, k, c2, c1, flag(relu))
			runtime.KeepAlive(out)
			runtime.KeepAlive(x)
			runtime.KeepAlive(dy)
			runtime.KeepAlive(y)
		},
		BNGradSums: func(x, dy, y []float32, mu float32, relu bool) (float64, float64) {
			gradSums.Invoke(jsmem.Offset(res[:]), jsmem.Offset(x), jsmem.Offset(dy), jsmem.Offset(y), len(x), float64(mu), flag(relu))
			runtime.KeepAlive(x)
			runtime.KeepAlive(dy)
			runtime.KeepAlive(y)
			return res[0], res[1]
		},
		BNSums: func(row []float32, shift float64) (float64, float64) {
			sums.Invoke(jsmem.Offset(res[:]), jsmem.Offset(row), len(row), shift)
			runtime.KeepAlive(row)
			return res[0], res[1]
		},
	})
}

// flag is a bool as gemm.wat's i32 arguments take it.
func flag(b bool) int {
	if b {
		return 1
	}
	return 0
}
