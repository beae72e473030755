package kernel

// gemmSelect returns the kernel Gemm uses: the host's (host.go) once one is
// installed, else the fastest one of the build this CPU runs.
func gemmSelect() *gemmKernel {
	if h := installed.Load(); h != nil {
		return h.gemm
	}
	return gemmBuildSelect()
}

// gemmKernels lists the kernels Gemm can use here, the host's first, for
// tests and SelfCheck.
func gemmKernels() []*gemmKernel {
	ks := gemmBuildKernels()
	if h := installed.Load(); h != nil {
		ks = append([]*gemmKernel{h.gemm}, ks...)
	}
	return ks
}
