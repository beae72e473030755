// Package kernel holds the arithmetic under Pretext's operators: the float32
// matrix product (Gemm), the batch-norm row loops (BNSums, BNNormalize,
// BNGradSums, BNGradX), 2x2 max-pooling (MaxPool2x2Row) and the thread split
// that they and core's operators use (ParallelFor), behind one wall so that
// core's model code, which calls them, reads like the maths.
//
// # Data layout
//
// A matrix is a row-major []float32 with a row stride (lda, ldb, ldc) at
// least its number of columns; Gemm's trans flags read an operand stored
// transposed. A batch-norm row is one channel of core's batch layout
// [C, N*H*W]: its N*H*W values.
//
// # Kernels
//
// Each loop has a portable Go version, the reference the others are tested
// against, and faster ones chosen at run time:
//
//   - amd64: Gemm on an 8x32 AVX-512 or a 6x16 AVX2/FMA micro-kernel (by
//     what golang.org/x/sys/cpu reports), with packing by vector moves and
//     8x8 register transposes; the batch-norm loops and max-pooling on AVX2.
//   - arm64: Gemm on an 8x12 NEON micro-kernel.
//   - js/wasm: the host's kernels, when one is installed (Install), such as
//     web/gemm.wat's simd128 ones, which jshost joins to Go.
//
// The assembly is Go assembly in the default build: no cgo, no experiment
// flag, no GODEBUG setting. The GEMM micro-kernels are written by
// gemm_gen.go (go generate; TestGeneratedKernels fails if a committed file
// differs from its output); the packing, batch-norm and pooling loops are
// short enough to read as written. Every assembly function ends with
// VZEROUPPER, so Go's scalar float code (legacy SSE on amd64) never runs
// with dirty upper register halves, and the runtime never preempts
// assembly asynchronously. The purego build tag leaves the assembly out.
//
// # Invariants
//
//   - Inputs are never modified. Gemm writes only the m x n elements of C,
//     never the padding between its rows, and with beta=0 never reads C.
//   - Results do not depend on the number of threads: ParallelFor's chunks
//     split C by whole panels and batch-norm by whole rows, never a sum.
//   - Every element of C is summed over k in increasing order from C (or 0).
//     The exact kernels (the native Go 4x2, js/wasm's 8x8, and a host's 4x8,
//     such as the simd128 one of web/gemm.wat) round every product and
//     every sum, so they give the plain loop's bits and one another's:
//     results are bit-identical across the pure-Go builds, native and
//     js/wasm, with or without the simd128 kernels (TestGemmGolden pins
//     them). The assembly kernels fuse each multiply and add (one rounding
//     instead of two), so they match the plain loop within a rounding bound
//     (SelfCheck's), not bit for bit, and the AVX-512, AVX2 and NEON ones
//     may differ from one another in the last bits.
//   - The batch-norm sums keep four float64 running sums in a fixed order
//     and the elementwise loops compute one float32 expression per value,
//     every product rounded; the assembly twins and a host's do the same, so
//     they change speed, never results (TestBNNative, TestHostBN). So does
//     MaxPool2x2Row's (TestMaxPool2x2Row).
//   - Misuse (a negative size, a narrow stride, a short slice) panics with a
//     "kernel: " message; assembly and a host's functions are only ever
//     called on slices checked to hold what they read and write.
//
// # Files
//
//	gemm.go             Gemm: blocking, packing, the thread split of C
//	gemm_gen.go         writes the unrolled micro-kernels (go generate):
//	                    gemm_kernel_generic.go (native Go 4x2),
//	                    gemm_kernel_wasm.go (js/wasm 8x8), gemm_kernel_host.go
//	                    (a host's 4x8 edge tiles), gemm_amd64.s (AVX2 6x16,
//	                    AVX-512 8x32), gemm_arm64.s (NEON 8x12);
//	                    gemm_gen_test.go fails if one differs from its output
//	gemm_select.go      which kernel Gemm uses: the host's, else the build's
//	                    (gemm_amd64.go, gemm_arm64.go, or gemm_purego.go)
//	transpose_amd64.s   the AVX kernels' packing: rows dealt to panels, 8x8
//	                    transposes
//	batchnorm.go        the batch-norm row loops and their Go twins
//	                    (batchnorm_amd64.s: on AVX2)
//	pool.go             PoolKey and MaxPool2x2Row (pool_amd64.s: on AVX2)
//	host.go             Host and Install: kernels that run outside Go
//	parallel.go         ParallelFor
//	selfcheck.go        SelfCheck, every kernel against a plain loop
//	jshost/             (js && wasm) web/gemm.wat's simd128 kernels as a Host
//
// # Imports
//
// This package imports only the standard library and golang.org/x/sys/cpu
// (amd64), never syscall/js: what JavaScript provides comes in through
// Install. Package jshost, the only code that joins it to JavaScript, is
// installed by the programs that run in a JavaScript host (wasm/main.go,
// cmd/pretext built for js/wasm) and by their tests.
package kernel
