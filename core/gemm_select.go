//go:build !(goexperiment.simd && amd64)

package core

// Without GOEXPERIMENT=simd on amd64, Gemm uses the pure-Go gemmPortable
// of the build: gemm_kernel_wasm.go on js/wasm, gemm_kernel_generic.go
// elsewhere.

func gemmSelect() *gemmKernel { return &gemmPortable }

// gemmKernels lists the kernels this build can run, for tests.
func gemmKernels() []*gemmKernel { return []*gemmKernel{&gemmPortable} }
