package core

import (
	"fmt"
	"math"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

// ntxentEps is the smallest norm an embedding is divided by (PyTorch's
// F.normalize eps, 1e-12): a zero row stays zero instead of becoming NaN.
const ntxentEps = 1e-12

// NTXent is SimCLR's contrastive loss, the normalised temperature-scaled
// cross-entropy (Chen, Kornblith, Norouzi & Hinton 2020, eq. 1; InfoNCE of
// van den Oord et al. 2018). z is [2N, D] in the package's flat layout, one
// embedding per row, and rows 2i and 2i+1 are the two views of example i
// (partners: row r's partner is r^1), as a task stacks an example's views
// one after the other. Every row is L2-normalised, s_rj = u_r·u_j / tau is
// the scaled cosine similarity, and each row is classified against its
// partner among the 2N-1 other rows:
//
//	L = 1/2N Σ_r [ log Σ_{j≠r} exp(s_rj) - s_r,partner(r) ]
//
// returned as a 1x1 node, computed in float64. accuracy is the fraction of
// rows whose most similar other row (the first, on ties) is the partner.
// An odd number of rows, fewer than 2, a bad tau or non-finite values are
// errors, reported before any graph node is built.
func NTXent(z mat.Tensor, tau float64) (loss mat.Tensor, accuracy float64, err error) {
	if z == nil {
		return nil, 0, fmt.Errorf("core: nt-xent embeddings are nil")
	}
	sh := z.Shape()
	if len(sh) != 2 || sh[0] < 2 || sh[0]%2 != 0 || sh[1] < 1 {
		return nil, 0, fmt.Errorf("core: nt-xent embeddings have shape %v, want [2N D] with N, D >= 1", sh)
	}
	if err := checkMatrix("nt-xent embeddings", z, sh[0], sh[1]); err != nil {
		return nil, 0, err
	}
	if !(tau > 0) || math.IsInf(tau, 1) {
		return nil, 0, fmt.Errorf("core: nt-xent temperature %v, want positive and finite", tau)
	}
	for i, v := range data(z) {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, 0, fmt.Errorf("core: nt-xent embedding [%d %d] is %v", i/sh[1], i%sh[1], v)
		}
	}
	fn := &ntxentFn{z: z, tau: tau, m: sh[0], d: sh[1]}
	loss = ag.NewOperator(fn).Run()
	return loss, fn.accuracy, nil
}

// ntxentFn is the autograd function of [NTXent].
type ntxentFn struct {
	z    mat.Tensor
	tau  float64
	m, d int // rows (2N) and embedding length
	// accuracy is set by Forward.
	accuracy float64
	// dz is d loss / d z, [2N, D].
	dz []float32
}

// Operands implements ag.AutoGradFunction.
func (f *ntxentFn) Operands() []mat.Tensor { return []mat.Tensor{f.z} }

// Forward implements ag.AutoGradFunction. It computes the gradient too:
// with g_rj = (softmax_j(s_r·) - [j = partner(r)]) / 2N the gradient of the
// similarities (zero on the diagonal), du_r = Σ_j (g_rj + g_jr)·u_j / tau
// (s is symmetric in u), and the normalisation's Jacobian gives
// dz_r = (du_r - u_r·(u_r·du_r)) / |z_r|.
func (f *ntxentFn) Forward() (mat.Tensor, error) {
	m, d := f.m, f.d
	z := data(f.z)
	u := make([]float64, m*d)
	norm := make([]float64, m)
	for r := range m {
		var ss float64
		for _, v := range z[r*d : (r+1)*d] {
			ss += float64(v) * float64(v)
		}
		norm[r] = max(math.Sqrt(ss), ntxentEps)
		for k, v := range z[r*d : (r+1)*d] {
			u[r*d+k] = float64(v) / norm[r]
		}
	}
	// s, then g in place: row r of the similarity matrix.
	g := make([]float64, m*m)
	for r := range m {
		ur := u[r*d : (r+1)*d]
		for j := r; j < m; j++ {
			var dot float64
			for k, v := range u[j*d : (j+1)*d] {
				dot += ur[k] * v
			}
			g[r*m+j], g[j*m+r] = dot/f.tau, dot/f.tau
		}
	}
	var sum float64
	hits := 0
	inv := 1 / float64(m)
	for r := range m {
		row := g[r*m : (r+1)*m]
		p := r ^ 1
		best, smax := -1, math.Inf(-1)
		for j, s := range row {
			if j != r && s > smax {
				best, smax = j, s
			}
		}
		if best == p {
			hits++
		}
		var e float64
		for j, s := range row {
			if j != r {
				e += math.Exp(s - smax)
			}
		}
		sum += math.Log(e) + smax - row[p]
		for j, s := range row {
			if j == r {
				row[j] = 0
				continue
			}
			row[j] = math.Exp(s-smax) / e * inv
		}
		row[p] -= inv
	}
	f.accuracy = float64(hits) * inv
	f.dz = make([]float32, m*d)
	du := make([]float64, d)
	for r := range m {
		clear(du)
		for j := range m {
			c := (g[r*m+j] + g[j*m+r]) / f.tau
			if c == 0 {
				continue
			}
			for k, v := range u[j*d : (j+1)*d] {
				du[k] += c * v
			}
		}
		ur := u[r*d : (r+1)*d]
		var dot float64
		for k, v := range du {
			dot += ur[k] * v
		}
		dzr := f.dz[r*d : (r+1)*d]
		if norm[r] == ntxentEps {
			// A (near) zero row is divided by eps, not by its norm: the
			// map is linear there and its Jacobian is 1/eps.
			dot = 0
		}
		for k, v := range du {
			dzr[k] = float32((v - ur[k]*dot) / norm[r])
		}
	}
	return fromData(1, 1, []float32{float32(sum * inv)}), nil
}

// Backward implements ag.AutoGradFunction: dz scaled by the incoming
// scalar gradient.
func (f *ntxentFn) Backward(gy mat.Tensor) error {
	return accScaledGrad("nt-xent", f.z, f.m, f.d, f.dz, gy)
}

// accScaledGrad passes x ([rows, cols]) its gradient dz (worked out by a
// scalar loss's forward pass) scaled by the loss's incoming gradient gy.
func accScaledGrad(what string, x mat.Tensor, rows, cols int, dz []float32, gy mat.Tensor) error {
	if !x.RequiresGrad() {
		return nil
	}
	g := data(gy)
	if len(g) != 1 {
		return fmt.Errorf("core: %s output gradient has %d values, want 1", what, len(g))
	}
	dm := newMatrix(rows, cols)
	d := data(dm)
	for i, v := range dz {
		d[i] = v * g[0]
	}
	x.AccGrad(handoff{dm})
	return nil
}
