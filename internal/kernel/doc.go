// Package kernel holds the arithmetic under Pretext's operators: the float32
// matrix product (Gemm), the batch-norm row loops (BNSums, BNNormalize,
// BNGradSums, BNGradX) and the thread split that they and core's operators
// use (ParallelFor), behind one wall so that core's model code, which calls
// them, reads like the maths. Its results are the same bits in every
// pure-Go build, native or js/wasm, with or without a host's kernels.
//
// # Data layout
//
// A matrix is a row-major []float32 with a row stride (lda, ldb, ldc) at
// least its number of columns; Gemm's trans flags read an operand stored
// transposed. A batch-norm row is one channel of core's batch layout
// [C, N*H*W]: its N*H*W values.
//
// # Invariants
//
//   - Inputs are never modified. Gemm writes only the m x n elements of C,
//     never the padding between its rows, and with beta=0 never reads C.
//   - Results do not depend on the number of threads: ParallelFor's chunks
//     split C by whole panels and batch-norm by whole rows, never a sum.
//   - Every element of C is summed over k in increasing order from C (or 0).
//     The exact kernels (the native 4x2, js/wasm's 8x8, and a host's 4x8,
//     such as the simd128 one of web/gemm.wat) round every product and
//     every sum, so they give the plain loop's bits and one another's:
//     results are bit-identical across the pure-Go builds, native and
//     js/wasm, with or without the simd128 kernels (TestGemmGolden pins
//     them). Only the GOEXPERIMENT=simd kernels fuse multiply-adds.
//   - The batch-norm sums keep four float64 running sums in a fixed order
//     and the elementwise loops compute one float32 expression per value; a
//     host's twins do the same, so the host changes speed, never results.
//   - Misuse (a negative size, a narrow stride, a short slice) panics with a
//     "kernel: " message; a host's functions are only ever called on
//     slices checked to hold what they read and write.
//
// # Files
//
//	gemm.go             Gemm: blocking, packing, the thread split of C
//	gemm_gen.go         writes the unrolled micro-kernels (go generate):
//	                    gemm_kernel_generic.go (native 4x2), gemm_kernel_wasm.go
//	                    (js/wasm 8x8), gemm_kernel_host.go (a host's 4x8 edge
//	                    tiles), gemm_simd_kernel_amd64.go (AVX); gemm_gen_test.go
//	                    fails if one differs from the generator's output
//	gemm_select.go      which kernel Gemm uses: the host's, else the build's
//	                    (gemm_purego.go, or gemm_simd_amd64.go: archsimd)
//	host.go             Host and Install: kernels that run outside Go
//	batchnorm.go        the batch-norm row loops and their Go twins
//	parallel.go         ParallelFor (avx_*.go: the vector state it cleans)
//	selfcheck.go        SelfCheck, every kernel against a plain loop
//	jshost/             (js && wasm) web/gemm.wat's simd128 kernels as a Host
//
// # Imports
//
// This package imports only the standard library (and simd/archsimd in the
// GOEXPERIMENT=simd build), never syscall/js: what JavaScript provides
// comes in through Install. Package jshost, the only code that joins it to
// JavaScript, is installed by the programs that run in a JavaScript host
// (wasm/main.go, cmd/pretext built for js/wasm) and by their tests.
//
// # The archsimd build
//
// Built with GOEXPERIMENT=simd on amd64, Gemm uses an AVX-512 kernel on
// simd/archsimd where the CPU has AVX-512, else an AVX2/FMA one. Run such
// programs with GODEBUG=asyncpreemptoff=1 (cmd/pretext sets it itself):
// asynchronous preemption leaves the vector registers' upper halves dirty,
// and Go's scalar float code then ran up to 100x slower here.
package kernel
