//go:build !(js && wasm)

package core

// Outside js/wasm the batch-norm loops are Go's own (bn_wasm_simd.go).

func bnSIMDNormalize(out, x []float32, mu, a, b float32, relu bool) bool { return false }

func bnSIMDGradX(out, x, dy, y []float32, mu, k, c2, c1 float32, relu bool) bool { return false }

func bnSIMDGradSums(x, dy, y []float32, mu float32, relu bool) (float64, float64, bool) {
	return 0, 0, false
}

func bnSIMDSums(row []float32, shift float64) (float64, float64, bool) { return 0, 0, false }
