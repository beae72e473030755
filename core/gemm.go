package core

import "github.com/pretextlab/pretext/internal/kernel"

// Gemm computes C = op(A)·op(B) + beta·C for row-major float32 matrices, where
// op(X) is X, or Xᵀ when the matching trans flag is set. C is m x n, op(A) is
// m x k and op(B) is k x n; lda, ldb and ldc are the row strides of A, B and C
// as stored. beta is 0 (overwrite C) or 1 (accumulate into C).
//
// Every element of C is summed over k in increasing order, whatever the
// number of threads, so results are reproducible from run to run. (Other
// values of beta scale C before the sum; with beta=0, C is only written, so
// it may hold garbage such as NaN.) The exact kernels (pure Go, native and
// js/wasm, and js/wasm's simd128 one) give bit-identical results; the
// assembly kernels of amd64 (AVX2 with FMA, AVX-512) and arm64 (NEON) fuse
// each multiply and add, which rounds once instead of twice, so their
// results differ from those in the last bits (and between the two ISAs).
//
// Gemm panics if a size is negative, a stride is narrower than its matrix or
// a slice is too short for the matrix it holds.
//
// It is the matrix product core's operators use (internal/kernel), exported
// for packages such as core/eval.
func Gemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	kernel.Gemm(transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc)
}
