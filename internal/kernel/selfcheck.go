package kernel

import (
	"fmt"
	"math"
)

// SelfCheck runs every GEMM kernel Gemm can use here (the host's, when one
// is installed, such as js/wasm's simd128 one, and the build's) on a few
// shapes that cross tile and block edges, with both transposes and beta 0
// and 1, and compares each with a plain float32 loop: bit for bit for the
// kernels that round every operation (all but the assembly ones, which
// fuse multiply-adds and are held to a rounding bound). It returns
// the kernels' names, the one Gemm uses first, and an error naming the
// first disagreement. It is how the browser shows which kernel runs.
func SelfCheck() (kernels []string, err error) {
	active := gemmSelect()
	kernels = []string{active.name}
	for _, k := range gemmKernels() {
		if k != active {
			kernels = append(kernels, k.name)
		}
	}
	for i, s := range [][3]int{{13, 37, 300}, {64, 64, 64}, {5, 1030, 19}, {130, 9, 600}} {
		m, n, k := s[0], s[1], s[2]
		for tr := range 4 {
			transA, transB, beta := tr&1 != 0, tr&2 != 0, float32(tr/2)
			a, b := gemmRand(m*k, uint32(10*i+tr)), gemmRand(k*n, uint32(10*i+tr+5))
			lda, ldb := k, n
			if transA {
				lda = m
			}
			if transB {
				ldb = k
			}
			c0 := gemmRand(m*n, uint32(i))
			want, bound := gemmPlain(transA, transB, m, n, k, a, lda, b, ldb, beta, c0)
			for _, kern := range gemmKernels() {
				c := append([]float32(nil), c0...)
				gemm(kern, transA, transB, m, n, k, a, lda, b, ldb, beta, c, n)
				for x := range c {
					if d := math.Abs(float64(c[x] - want[x])); kern.exact && c[x] != want[x] || !(d <= bound[x]) {
						return kernels, fmt.Errorf("kernel: GEMM kernel %s: %dx%dx%d (transA %v, transB %v, beta %v): C[%d][%d] = %v, the plain loop gives %v",
							kern.name, m, n, k, transA, transB, beta, x/n, x%n, c[x], want[x])
					}
				}
			}
		}
	}
	return kernels, nil
}

// gemmPlain is the plain loop every exact kernel reproduces (the float32
// conversion forbids fusing the multiply into the add), for an m x n C of
// row stride n, and for each element the classic error bound of a float32
// sum of k+1 rounded terms, (k+2)·2⁻²³·Σ|terms|.
func gemmPlain(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32) (out []float32, bound []float64) {
	out, bound = make([]float32, m*n), make([]float64, m*n)
	for i := range m {
		for j := range n {
			var acc float32
			mag := 0.0
			if beta != 0 {
				acc = beta * c[i*n+j]
				mag = math.Abs(float64(acc))
			}
			for p := range k {
				ia, ib := i*lda+p, p*ldb+j
				if transA {
					ia = p*lda + i
				}
				if transB {
					ib = j*ldb + p
				}
				acc += float32(a[ia] * b[ib])
				mag += math.Abs(float64(a[ia]) * float64(b[ib]))
			}
			out[i*n+j], bound[i*n+j] = acc, float64(k+2)*mag/(1<<23)
		}
	}
	return out, bound
}

// gemmRand fills a slice with values in [-1, 1) from a fixed 32-bit LCG, so
// that every build (native, js/wasm) sees the same inputs.
func gemmRand(n int, seed uint32) []float32 {
	x := make([]float32, n)
	s := seed*2654435761 + 1
	for i := range x {
		s = s*1664525 + 1013904223
		x[i] = float32(int32(s>>8)-(1<<23)) / (1 << 23)
	}
	return x
}
