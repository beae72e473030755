package explore

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
)

// Bit-identical arithmetic. Every product that feeds a sum below is rounded
// on its own with an explicit conversion, float64(a*b): the Go spec lets a
// compiler fuse x*y+z into one multiply-add (arm64 and GOAMD64=v3 do), which
// changes the last bit, and an explicit conversion is the spec's way to
// forbid that. Sums run in a fixed order, and there is no goroutine, so
// amd64, arm64 and wasm compute the same bits.

// principal centres the n rows of x (n×d, row-major) in place and returns
// their scores on the first k principal components (n×k, row-major: row i
// is row i's coordinates along the components, largest variance first) and
// the variance along each (the eigenvalues of the covariance, divided by
// n). Components past the data's min(n, d) are zero columns.
//
// It finds the components as the top eigenvectors of whichever of the d×d
// scatter matrix XᵀX and the n×n Gram matrix XXᵀ is smaller, by subspace
// iteration to a relative residual tol (at most maxIter steps). Each
// component's sign is fixed so that the score of largest magnitude (the
// first such row on a tie) is positive.
func principal(x []float64, n, d, k int, tol float64, maxIter int) (scores, variances []float64) {
	mean := make([]float64, d)
	for i := range n {
		for j, v := range x[i*d : (i+1)*d] {
			mean[j] += v
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	for i := range n {
		row := x[i*d : (i+1)*d]
		for j := range row {
			row[j] -= mean[j]
		}
	}

	// Both matrices are the dot products of the rows of a matrix: of X
	// for XXᵀ, of its transpose for XᵀX.
	gram := n < d
	var a []float64
	m := n
	if gram {
		a = pcaGram(x, n, d)
	} else {
		m = d
		xt := make([]float64, d*n)
		for i := range n {
			for j := range d {
				xt[j*n+i] = x[i*d+j]
			}
		}
		a = pcaGram(xt, d, n)
	}

	kk := min(k, m)
	vecs, vals := topEigen(a, m, kk, tol, maxIter)

	scores = make([]float64, n*k)
	variances = make([]float64, k)
	for c := range kk {
		v := vecs[c*m : (c+1)*m]
		lam := max(vals[c], 0)
		variances[c] = lam / float64(n)
		if gram {
			// XXᵀu = λu gives the scores directly: X's projection on the
			// component Xᵀu/√λ is u√λ.
			s := math.Sqrt(lam)
			for i := range n {
				scores[i*k+c] = v[i] * s
			}
		} else {
			for i := range n {
				scores[i*k+c] = pcaDot(x[i*d:(i+1)*d], v)
			}
		}
		big, at := -1.0, 0
		for i := range n {
			if s := math.Abs(scores[i*k+c]); s > big {
				big, at = s, i
			}
		}
		if scores[at*k+c] < 0 {
			for i := range n {
				scores[i*k+c] = -scores[i*k+c]
			}
		}
	}
	return scores, variances
}

// pcaGram returns the r×r matrix of the dot products of the r rows of v
// (r×c, row-major). It works in tiles of 16 rows by 256 columns, so that
// the rows it combines stay in cache; each dot product is the sum of its
// tiles' in column order.
func pcaGram(v []float64, r, c int) []float64 {
	const rows, cols = 16, 256
	a := make([]float64, r*r)
	for c0 := 0; c0 < c; c0 += cols {
		c1 := min(c, c0+cols)
		for i0 := 0; i0 < r; i0 += rows {
			for j0 := i0; j0 < r; j0 += rows {
				for i := i0; i < min(r, i0+rows); i++ {
					vi := v[i*c+c0 : i*c+c1]
					for j := max(i, j0); j < min(r, j0+rows); j++ {
						a[i*r+j] += pcaDot(vi, v[j*c+c0:j*c+c1])
					}
				}
			}
		}
	}
	for i := range r {
		for j := i + 1; j < r; j++ {
			a[j*r+i] = a[i*r+j]
		}
	}
	return a
}

// pcaDot is a·b, summed in four interleaved partial sums (for speed; the
// order is fixed, so the bits are too).
func pcaDot(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += float64(a[i] * b[i])
		s1 += float64(a[i+1] * b[i+1])
		s2 += float64(a[i+2] * b[i+2])
		s3 += float64(a[i+3] * b[i+3])
	}
	for ; i < len(a); i++ {
		s0 += float64(a[i] * b[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// pcaStart seeds the start block of [topEigen]. It is fixed, so that a PCA
// depends on its data alone (never on a map's Seed).
const pcaStart = 0x5ca1ab1e

// topEigen returns the k eigenpairs of largest eigenvalue of the symmetric
// m×m matrix a (row-major): the eigenvectors as k columns of m values one
// after another, and the eigenvalues in decreasing order.
//
// It runs subspace iteration (Saad, "Numerical Methods for Large
// Eigenvalue Problems", ch. 5) on a block of l = k + max(k/2, 10) columns,
// the extra columns speeding the convergence of the k wanted ones: each
// step multiplies the block by a and orthonormalises it, and every
// pcaCheck steps (and the last) a Rayleigh-Ritz projection extracts the
// Ritz pairs (λ, v). It stops when every wanted pair has |av - λv| ≤
// tol·|λ₁|, or after maxIter steps. When l reaches m the block spans the
// whole space and the first projection is an exact (Jacobi)
// eigendecomposition.
func topEigen(a []float64, m, k int, tol float64, maxIter int) (vecs, vals []float64) {
	l := min(m, k+max(k/2, 10))
	rng := rand.New(rand.NewPCG(pcaStart, uint64(m)))
	q := make([]float64, l*m)
	for i := range q {
		q[i] = pcaUniform(rng)
	}
	orthonormalize(q, m, l)

	z := make([]float64, l*m)
	h := make([]float64, l*l)
	v := make([]float64, l*m)
	av := make([]float64, l*m)
	for step := 1; ; step++ {
		// z = a·q, a row at a time (the row stays in cache for all of q).
		for i := range m {
			ai := a[i*m : (i+1)*m]
			for c := range l {
				z[c*m+i] = pcaDot(ai, q[c*m:(c+1)*m])
			}
		}
		last := l == m || step >= maxIter
		if !last && step%pcaCheck != 0 {
			copy(q, z)
			orthonormalize(q, m, l)
			continue
		}

		// The Rayleigh quotient qᵀaq, symmetrised against rounding.
		for r := range l {
			for c := r; c < l; c++ {
				s := 0.5 * (pcaDot(q[r*m:(r+1)*m], z[c*m:(c+1)*m]) + pcaDot(q[c*m:(c+1)*m], z[r*m:(r+1)*m]))
				h[r*l+c], h[c*l+r] = s, s
			}
		}
		lam, w := symEigen(h, l)
		// Ritz vectors v = q·w and their images av = z·w.
		clear(v)
		clear(av)
		for c := range l {
			vc, avc := v[c*m:(c+1)*m], av[c*m:(c+1)*m]
			for r := range l {
				wr := w[r*l+c]
				qr, zr := q[r*m:(r+1)*m], z[r*m:(r+1)*m]
				for i := range m {
					vc[i] += float64(wr * qr[i])
					avc[i] += float64(wr * zr[i])
				}
			}
		}
		done := last
		limit := tol * math.Abs(lam[0])
		for c := 0; c < k && !done; c++ {
			vc, avc := v[c*m:(c+1)*m], av[c*m:(c+1)*m]
			var r2 float64
			for i := range m {
				e := avc[i] - float64(lam[c]*vc[i])
				r2 += float64(e * e)
			}
			if math.Sqrt(r2) > limit {
				break
			}
			done = c == k-1
		}
		if done {
			return v[:k*m], lam[:k]
		}
		copy(q, av)
		orthonormalize(q, m, l)
	}
}

// pcaUniform is a uniform draw from [-1, 1) on a grid of 2⁻⁵², made with
// integer arithmetic and an exact scaling, so no compiler can fuse it into
// a multiply-add.
func pcaUniform(rng *rand.Rand) float64 {
	return float64(int64(rng.Uint64()>>11)-1<<52) / (1 << 52)
}

// pcaCheck is how many steps of subspace iteration run between two
// Rayleigh-Ritz projections: each costs a Jacobi solve of the l×l
// projection, more than a step when l is a good part of m.
const pcaCheck = 4

// orthonormalize turns the l columns of q (each m values, one after
// another; l ≤ m) into an orthonormal basis by modified Gram-Schmidt, run
// twice per column ("twice is enough": Giraud et al., Numer. Math. 2005). A
// column that is (numerically) in the span of those before it is replaced
// by the next unit vector e₀, e₁, ... that is not.
func orthonormalize(q []float64, m, l int) {
	e := 0
	for c := range l {
		col := q[c*m : (c+1)*m]
		before := math.Sqrt(pcaDot(col, col))
		norm := orthogonalize(q, m, c)
		for norm <= 1e-10*before || norm == 0 {
			clear(col)
			col[e%m] = 1
			e++
			before = 1
			norm = orthogonalize(q, m, c)
		}
		for i := range col {
			col[i] /= norm
		}
	}
}

// orthogonalize removes from column c of q its components along columns 0
// to c-1 (twice) and returns what is left's norm.
func orthogonalize(q []float64, m, c int) float64 {
	col := q[c*m : (c+1)*m]
	for range 2 {
		for b := range c {
			qb := q[b*m : (b+1)*m]
			p := pcaDot(qb, col)
			for i := range col {
				col[i] -= float64(p * qb[i])
			}
		}
	}
	return math.Sqrt(pcaDot(col, col))
}

// symEigen returns the eigenvalues of the symmetric l×l matrix h
// (row-major; not modified) in decreasing order, and the eigenvectors as
// the columns of w (l×l, row-major), by cyclic Jacobi rotations (Golub and
// Van Loan, "Matrix Computations", §8.5). It stops after a sweep with no
// off-diagonal entry above 1e-17 of h's norm, or after 60 sweeps (Jacobi
// converges quadratically: about ten sweeps in practice).
func symEigen(h []float64, l int) (vals, w []float64) {
	a := slices.Clone(h)
	w = make([]float64, l*l)
	for i := range l {
		w[i*l+i] = 1
	}
	small := 1e-17 * math.Sqrt(pcaDot(h, h))
	for range 60 {
		rotated := false
		for p := 0; p < l-1; p++ {
			for q := p + 1; q < l; q++ {
				apq := a[p*l+q]
				if math.Abs(apq) <= small {
					continue
				}
				rotated = true
				// The rotation that zeroes a[p][q] (Golub and Van Loan's
				// sym.schur2): t = tan θ is the smaller root of
				// t² + 2τt - 1 = 0.
				tau := (a[q*l+q] - a[p*l+p]) / (2 * apq)
				var t float64
				if math.Abs(tau) > 1e150 {
					t = 0.5 / tau
				} else {
					t = 1 / (math.Abs(tau) + math.Sqrt(1+float64(tau*tau)))
					if tau < 0 {
						t = -t
					}
				}
				c := 1 / math.Sqrt(1+float64(t*t))
				s := t * c
				for i := range l { // a·J
					x, y := a[i*l+p], a[i*l+q]
					a[i*l+p] = float64(c*x) - float64(s*y)
					a[i*l+q] = float64(s*x) + float64(c*y)
				}
				for i := range l { // Jᵀ·(a·J)
					x, y := a[p*l+i], a[q*l+i]
					a[p*l+i] = float64(c*x) - float64(s*y)
					a[q*l+i] = float64(s*x) + float64(c*y)
				}
				a[p*l+q], a[q*l+p] = 0, 0
				for i := range l { // w·J
					x, y := w[i*l+p], w[i*l+q]
					w[i*l+p] = float64(c*x) - float64(s*y)
					w[i*l+q] = float64(s*x) + float64(c*y)
				}
			}
		}
		if !rotated {
			break
		}
	}

	order := make([]int, l)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int {
		if c := cmp.Compare(a[j*l+j], a[i*l+i]); c != 0 {
			return c
		}
		return cmp.Compare(i, j)
	})
	vals = make([]float64, l)
	sorted := make([]float64, l*l)
	for c, o := range order {
		vals[c] = a[o*l+o]
		for r := range l {
			sorted[r*l+c] = w[r*l+o]
		}
	}
	return vals, sorted
}
