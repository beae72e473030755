//go:build !(goexperiment.simd && amd64)

package kernel

// cleanVectorState is a no-op without the archsimd kernels (see
// avx_simd_amd64.go).
func cleanVectorState() {}
