//go:build !(goexperiment.simd && amd64) && !(js && wasm)

package core

// Without GOEXPERIMENT=simd on amd64, Gemm uses the pure-Go gemmPortable of
// the build (gemm_kernel_generic.go); js/wasm chooses in gemm_wasm_simd.go.

func gemmSelect() *gemmKernel { return &gemmPortable }

// gemmKernels lists the kernels this build can run, for tests.
func gemmKernels() []*gemmKernel { return []*gemmKernel{&gemmPortable} }
