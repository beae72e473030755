package core

// Gemm computes C = op(A)·op(B) + beta·C for row-major float32 matrices, where
// op(X) is X, or Xᵀ when the matching trans flag is set. C is m x n, op(A) is
// m x k and op(B) is k x n; lda, ldb and ldc are the row strides of A, B and C
// as stored. beta is 0 (overwrite C) or 1 (accumulate into C).
//
// Every element of C is summed over k in increasing order, whatever the
// number of threads, so results are reproducible across machines and builds.
func Gemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	// Plain reference implementation (placeholder for the packed kernel).
	parallelFor(m, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := c[i*ldc : i*ldc+n]
			if beta == 0 {
				clear(row)
			}
			for p := 0; p < k; p++ {
				var av float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					for j := range row {
						row[j] += av * b[j*ldb+p]
					}
				} else {
					bp := b[p*ldb : p*ldb+n]
					for j := range row {
						row[j] += av * bp[j]
					}
				}
			}
		}
	})
}
