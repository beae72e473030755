//go:build !(amd64 || arm64) || purego

package kernel

// Without assembly kernels (other architectures, or the purego build tag),
// Gemm uses the pure-Go gemmPortable of the build (gemm_kernel_generic.go,
// or gemm_kernel_wasm.go on js/wasm), unless a host kernel is installed
// (host.go).

func gemmBuildSelect() *gemmKernel { return &gemmPortable }

// gemmBuildKernels lists the kernels this build has, for tests.
func gemmBuildKernels() []*gemmKernel { return []*gemmKernel{&gemmPortable} }
