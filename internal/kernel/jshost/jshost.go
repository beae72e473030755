//go:build js && wasm

package core

import (
	"runtime"
	"syscall/js"

	"github.com/pretextlab/pretext/internal/jsmem"
)

// The batch-norm loops in simd128: gemm.wat's bn_normalize, bn_grad_x,
// bn_grad_sums and bn_sums, which the host publishes with the GEMM kernel
// (pretextGemm: bnNormalize, bnGradX, bnGradSums, bnSums). Each gives
// exactly the bits of its Go twin (same float32 operations in the same
// order, float64 sums in the same four running sums), so the kernel in use
// changes no result. Once the matrix products ran in simd128 these loops
// were about a seventh of an RS step in Go's wasm.

var bnSIMD struct {
	normalize, gradX, gradSums, sums js.Value
	ok                               bool
	// res receives the two sums of bn_grad_sums and bn_sums. js/wasm runs
	// one goroutine at a time and a call into JavaScript cannot be
	// interrupted, so the value is read back before anything else writes it.
	res *[2]float64
}

// bnMinSIMD is the shortest row worth a call into JavaScript.
const bnMinSIMD = 64

// bnSIMDLoaded reports whether the host's kernels have the batch-norm loops
// (looked up with the GEMM kernel, once).
func bnSIMDLoaded() bool {
	if !gemmSIMDLoaded() {
		return false
	}
	return bnSIMD.ok
}

// bnSIMDLookup reads the batch-norm loops from the host's kernel object g.
func bnSIMDLookup(g js.Value) {
	n, x, gs, s := g.Get("bnNormalize"), g.Get("bnGradX"), g.Get("bnGradSums"), g.Get("bnSums")
	for _, f := range []js.Value{n, x, gs, s} {
		if f.Type() != js.TypeFunction {
			return
		}
	}
	bnSIMD.normalize, bnSIMD.gradX, bnSIMD.gradSums, bnSIMD.sums = n, x, gs, s
	bnSIMD.res, bnSIMD.ok = new([2]float64), true
}

func boolArg(b bool) int {
	if b {
		return 1
	}
	return 0
}

// bnSIMDNormalize is bnNormalize in simd128, if loaded and worth it.
func bnSIMDNormalize(out, x []float32, mu, a, b float32, relu bool) bool {
	if len(x) < bnMinSIMD || len(out) < len(x) || !bnSIMDLoaded() {
		return false
	}
	bnSIMD.normalize.Invoke(jsmem.Offset(out), jsmem.Offset(x), len(x), mu, a, b, boolArg(relu))
	runtime.KeepAlive(out)
	runtime.KeepAlive(x)
	return true
}

// bnSIMDGradX is bnGradX in simd128, if loaded and worth it.
func bnSIMDGradX(out, x, dy, y []float32, mu, k, c2, c1 float32, relu bool) bool {
	n := len(x)
	if n < bnMinSIMD || len(out) < n || len(dy) < n || len(y) < n || !bnSIMDLoaded() {
		return false
	}
	bnSIMD.gradX.Invoke(jsmem.Offset(out), jsmem.Offset(x), jsmem.Offset(dy), jsmem.Offset(y), n, mu, k, c2, c1, boolArg(relu))
	runtime.KeepAlive(out)
	runtime.KeepAlive(x)
	runtime.KeepAlive(dy)
	runtime.KeepAlive(y)
	return true
}

// bnSIMDGradSums is bnGradSums in simd128, if loaded and worth it.
func bnSIMDGradSums(x, dy, y []float32, mu float32, relu bool) (sumDz, sumDzX float64, ok bool) {
	n := len(x)
	if n < bnMinSIMD || len(dy) < n || len(y) < n || !bnSIMDLoaded() {
		return 0, 0, false
	}
	bnSIMD.gradSums.Invoke(jsmem.Offset(bnSIMD.res[:]), jsmem.Offset(x), jsmem.Offset(dy), jsmem.Offset(y), n, float64(mu), boolArg(relu))
	runtime.KeepAlive(x)
	runtime.KeepAlive(dy)
	runtime.KeepAlive(y)
	return bnSIMD.res[0], bnSIMD.res[1], true
}

// bnSIMDSums is bnSums in simd128, if loaded and worth it.
func bnSIMDSums(row []float32, shift float64) (sum, squares float64, ok bool) {
	if len(row) < bnMinSIMD || !bnSIMDLoaded() {
		return 0, 0, false
	}
	bnSIMD.sums.Invoke(jsmem.Offset(bnSIMD.res[:]), jsmem.Offset(row), len(row), shift)
	runtime.KeepAlive(row)
	return bnSIMD.res[0], bnSIMD.res[1], true
}
