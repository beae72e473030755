package core

import (
	"fmt"
	"math"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

// The non-contrastive losses of VICReg and Barlow Twins, on a batch of
// embeddings z [2N, D] in NTXent's layout: rows 2i and 2i+1 are the two
// views of example i. Both compare statistics over the batch of each
// embedding dimension, so they need N >= 2, and both are computed, with
// their gradient, in float64 in one pass (Forward).

// VICRegConfig weighs VICReg's three terms; zero fields take the paper's
// values (Sim 25, Std 25, Cov 1) and Eps 1e-4.
type VICRegConfig struct {
	Sim, Std, Cov, Eps float64
}

func (c VICRegConfig) withDefaults() VICRegConfig {
	if c.Sim == 0 {
		c.Sim = 25
	}
	if c.Std == 0 {
		c.Std = 25
	}
	if c.Cov == 0 {
		c.Cov = 1
	}
	if c.Eps == 0 {
		c.Eps = 1e-4
	}
	return c
}

// VICReg is the loss of Bardes, Ponce & LeCun 2022 (eq. 1-6), as their
// implementation computes it: with A and B the two views' embeddings,
//
//	invariance  s = mean over N·D of (a - b)²                          (eq. 5)
//	variance    v(A) = 1/D Σ_j max(0, 1 - sqrt(Var(a_j) + eps))        (eq. 1)
//	covariance  c(A) = 1/D Σ_{j≠k} C(A)_jk², C(A) = AcᵀAc/(N-1)       (eq. 3-4)
//	L = Sim·s + Std·(v(A) + v(B))/2 + Cov·(c(A) + c(B))
//
// (Var unbiased, Ac the centred embeddings), returned as a 1x1 node.
// Misshapen or non-finite input and negative weights are errors.
func VICReg(z mat.Tensor, cfg VICRegConfig) (mat.Tensor, error) {
	m, d, err := checkPairs("vicreg", z)
	if err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if cfg.Sim < 0 || cfg.Std < 0 || cfg.Cov < 0 || !(cfg.Eps > 0) {
		return nil, fmt.Errorf("core: vicreg weights %+v, want non-negative, eps positive", cfg)
	}
	return ag.NewOperator(&pairLossFn{z: z, m: m, d: d, forward: func(z []float64, dz []float64) float64 {
		return vicreg(z, dz, m/2, d, cfg)
	}}).Run(), nil
}

// BarlowTwins is the loss of Zbontar, Jing, Misra, LeCun & Deny 2021 (eq.
// 1-2): each view's embedding dimensions are standardised over the batch
// (biased variance plus 1e-5, as an affine-free batch-norm does), C is the
// D x D cross-correlation of the two views, C_jk = Σ_i â_ij·b̂_ik / N, and
//
//	L = Σ_j (1 - C_jj)² + lambda·Σ_{j≠k} C_jk²
//
// returned as a 1x1 node. The paper uses lambda = 5e-3; a negative lambda,
// misshapen or non-finite input are errors.
func BarlowTwins(z mat.Tensor, lambda float64) (mat.Tensor, error) {
	m, d, err := checkPairs("barlow twins", z)
	if err != nil {
		return nil, err
	}
	if !(lambda >= 0) || math.IsInf(lambda, 1) {
		return nil, fmt.Errorf("core: barlow twins lambda %v, want non-negative and finite", lambda)
	}
	return ag.NewOperator(&pairLossFn{z: z, m: m, d: d, forward: func(z []float64, dz []float64) float64 {
		return barlow(z, dz, m/2, d, lambda)
	}}).Run(), nil
}

// checkPairs validates a [2N, D] batch of view pairs with N >= 2 (the
// statistics over the batch need two examples).
func checkPairs(what string, z mat.Tensor) (m, d int, err error) {
	return checkPairRows(what+" embeddings", z, 2)
}

// pairLossFn is the autograd function of a loss over view pairs whose
// forward pass also gives the gradient.
type pairLossFn struct {
	z    mat.Tensor
	m, d int
	// forward returns the loss of z ([m, d], float64) and writes its
	// gradient into dz.
	forward func(z, dz []float64) float64
	dz      []float32
}

// Operands implements ag.AutoGradFunction.
func (f *pairLossFn) Operands() []mat.Tensor { return []mat.Tensor{f.z} }

// Forward implements ag.AutoGradFunction.
func (f *pairLossFn) Forward() (mat.Tensor, error) {
	z := make([]float64, f.m*f.d)
	for i, v := range data(f.z) {
		z[i] = float64(v)
	}
	dz := make([]float64, len(z))
	loss := f.forward(z, dz)
	f.dz = make([]float32, len(dz))
	for i, v := range dz {
		f.dz[i] = float32(v)
	}
	return fromData(1, 1, []float32{float32(loss)}), nil
}

// Backward implements ag.AutoGradFunction: dz scaled by the incoming
// scalar gradient.
func (f *pairLossFn) Backward(gy mat.Tensor) error {
	return accScaledGrad("pair loss", f.z, f.m, f.d, f.dz, gy)
}

// view copies view v (0 or 1) of the pairs in z ([2n, d]) into an n x d
// matrix.
func view(z []float64, n, d, v int) []float64 {
	out := make([]float64, n*d)
	for i := range n {
		copy(out[i*d:(i+1)*d], z[(2*i+v)*d:(2*i+v+1)*d])
	}
	return out
}

// addView adds g (n x d) into view v of dz ([2n, d]).
func addView(dz, g []float64, n, d, v int) {
	for i := range n {
		row := dz[(2*i+v)*d : (2*i+v+1)*d]
		for k, x := range g[i*d : (i+1)*d] {
			row[k] += x
		}
	}
}

// centre subtracts each column's mean from x (n x d) in place.
func centre(x []float64, n, d int) {
	for k := range d {
		var s float64
		for i := range n {
			s += x[i*d+k]
		}
		s /= float64(n)
		for i := range n {
			x[i*d+k] -= s
		}
	}
}

// crossCols returns aᵀb (d x d) for a, b n x d.
func crossCols(a, b []float64, n, d int) []float64 {
	return mulNT64(transpose64(a, n, d), transpose64(b, n, d), d, d, n)
}

// transpose64 returns xᵀ (cols x rows) for x rows x cols.
func transpose64(x []float64, rows, cols int) []float64 {
	t := make([]float64, len(x))
	for i := range rows {
		for j, v := range x[i*cols : (i+1)*cols] {
			t[j*rows+i] = v
		}
	}
	return t
}

// mulNT64 returns x·yᵀ (m x n) for x m x k and y n x k, both row-major, in
// float64: every element one dot product of two contiguous rows, summed in
// a fixed order (four partial sums), its rows split over goroutines.
func mulNT64(x, y []float64, m, n, k int) []float64 {
	out := make([]float64, m*n)
	parallelFor(m, max(1, 1<<16/max(1, n*k)), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			xr := x[i*k : (i+1)*k]
			for j := range n {
				yr := y[j*k : (j+1)*k]
				var s0, s1, s2, s3 float64
				t := 0
				for ; t+4 <= k; t += 4 {
					s0 += xr[t] * yr[t]
					s1 += xr[t+1] * yr[t+1]
					s2 += xr[t+2] * yr[t+2]
					s3 += xr[t+3] * yr[t+3]
				}
				for ; t < k; t++ {
					s0 += xr[t] * yr[t]
				}
				out[i*n+j] = (s0 + s1) + (s2 + s3)
			}
		}
	})
	return out
}

// vicreg is VICReg's loss and gradient (see VICReg).
func vicreg(z, dz []float64, n, d int, cfg VICRegConfig) float64 {
	a, b := view(z, n, d, 0), view(z, n, d, 1)
	nd := float64(n * d)
	var inv float64
	for i := range a {
		e := a[i] - b[i]
		inv += e * e
	}
	loss := cfg.Sim * inv / nd
	ga, gb := make([]float64, n*d), make([]float64, n*d)
	for i := range a {
		g := 2 * cfg.Sim * (a[i] - b[i]) / nd
		ga[i], gb[i] = g, -g
	}
	// One view's variance and covariance terms, with their gradient added
	// to g: both depend on x only through the centred xc, whose columns
	// sum to zero, so the centring's Jacobian leaves the gradient below
	// (a combination of xc's columns) unchanged but for the covariance
	// part, which is projected explicitly.
	branch := func(x, g []float64) float64 {
		xc := append([]float64(nil), x...)
		centre(xc, n, d)
		c := crossCols(xc, xc, n, d)
		den := float64(n - 1)
		var l float64
		gc := make([]float64, n*d) // d loss / d xc
		for k := range d {
			std := math.Sqrt(c[k*d+k]/den + cfg.Eps)
			if std < 1 {
				l += cfg.Std / 2 * (1 - std) / float64(d)
				coef := -cfg.Std / 2 / float64(d) / (den * std)
				for i := range n {
					gc[i*d+k] += coef * xc[i*d+k]
				}
			}
		}
		// Covariance: G_jk = 2·Cov·C_jk/D off the diagonal, d/dxc = 2·xc·G/(N-1)
		// (W below, symmetric as C is, so xc·W = xc·Wᵀ).
		w := make([]float64, d*d)
		for j := range d {
			for k := range d {
				if j == k {
					continue
				}
				cjk := c[j*d+k] / den
				l += cfg.Cov * cjk * cjk / float64(d)
				w[j*d+k] = 2 * cfg.Cov * cjk / float64(d) * 2 / den
			}
		}
		for i, v := range mulNT64(xc, w, n, d, d) {
			gc[i] += v
		}
		centre(gc, n, d) // the centring's Jacobian
		for i, v := range gc {
			g[i] += v
		}
		return l
	}
	loss += branch(a, ga) + branch(b, gb)
	addView(dz, ga, n, d, 0)
	addView(dz, gb, n, d, 1)
	return loss
}

// barlowEps is added to the variance when the embeddings are standardised
// (PyTorch's BatchNorm1d eps, which the reference implementation uses).
const barlowEps = 1e-5

// barlow is Barlow Twins' loss and gradient (see BarlowTwins).
func barlow(z, dz []float64, n, d int, lambda float64) float64 {
	a, b := view(z, n, d, 0), view(z, n, d, 1)
	standardise := func(x []float64) (xh, sigma []float64) {
		xh = append([]float64(nil), x...)
		centre(xh, n, d)
		sigma = make([]float64, d)
		for k := range d {
			var v float64
			for i := range n {
				v += xh[i*d+k] * xh[i*d+k]
			}
			sigma[k] = math.Sqrt(v/float64(n) + barlowEps)
			for i := range n {
				xh[i*d+k] /= sigma[k]
			}
		}
		return xh, sigma
	}
	ah, sa := standardise(a)
	bh, sb := standardise(b)
	c := crossCols(ah, bh, n, d)
	var loss float64
	gcm := make([]float64, d*d) // d loss / d C
	for j := range d {
		for k := range d {
			cjk := c[j*d+k] / float64(n)
			if j == k {
				loss += (1 - cjk) * (1 - cjk)
				gcm[j*d+k] = -2 * (1 - cjk)
			} else {
				loss += lambda * cjk * cjk
				gcm[j*d+k] = 2 * lambda * cjk
			}
		}
	}
	// d/dâ_ij = Σ_k G_jk·b̂_ik / N (b̂·Gᵀ), d/db̂_ik = Σ_j G_jk·â_ij / N (â·G).
	dah := mulNT64(bh, gcm, n, d, d)
	dbh := mulNT64(ah, transpose64(gcm, d, d), n, d, d)
	for i := range dah {
		dah[i] /= float64(n)
		dbh[i] /= float64(n)
	}
	// Through the standardisation: dx = (dx̂ - mean(dx̂) - x̂·mean(dx̂·x̂)) / sigma.
	back := func(xh, sigma, g []float64) []float64 {
		out := make([]float64, n*d)
		for k := range d {
			var m1, m2 float64
			for i := range n {
				m1 += g[i*d+k]
				m2 += g[i*d+k] * xh[i*d+k]
			}
			m1 /= float64(n)
			m2 /= float64(n)
			for i := range n {
				out[i*d+k] = (g[i*d+k] - m1 - xh[i*d+k]*m2) / sigma[k]
			}
		}
		return out
	}
	addView(dz, back(ah, sa, dah), n, d, 0)
	addView(dz, back(bh, sb, dbh), n, d, 1)
	return loss
}
