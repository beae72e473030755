package tasks

import (
	"fmt"
	"math"
	"slices"

	"github.com/pretextlab/pretext/internal/kmeans"
)

// The numerics of the clustering tasks besides k-means (internal/kmeans):
// DeepCluster's PCA whitening, a symmetric eigen-solver for it, and
// normalised mutual information. Rows are []float64 vectors of one length;
// inputs are never modified.

// whitening is DeepCluster's feature preprocessing: centring, projection on
// the leading principal components, each scaled by 1/√(eigenvalue+eps)
// (faiss's PCAMatrix with eigen_power -0.5), then L2 normalisation.
type whitening struct {
	mean []float64
	// proj holds one scaled principal direction per output dimension.
	proj [][]float64
}

// fitWhitening fits the whitening of rows to dims output dimensions,
// clamped to the rank the rows can have: min(dims, len(rows[0]),
// len(rows)-1), at least 1. The covariance is decomposed by [symEigen].
func fitWhitening(rows [][]float64, dims int) (whitening, error) {
	if err := kmeans.CheckRows(rows); err != nil {
		return whitening{}, err
	}
	if dims < 1 {
		return whitening{}, fmt.Errorf("tasks: PCA to %d dimensions", dims)
	}
	n, d := len(rows), len(rows[0])
	dims = max(1, min(dims, d, n-1))
	mean := make([]float64, d)
	for _, r := range rows {
		for j, v := range r {
			mean[j] += v
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	cov := make([][]float64, d)
	for a := range cov {
		cov[a] = make([]float64, d)
	}
	x := make([]float64, d)
	for _, r := range rows {
		for j, v := range r {
			x[j] = v - mean[j]
		}
		for a := range d {
			if x[a] == 0 {
				continue
			}
			row := cov[a]
			for b := a; b < d; b++ {
				row[b] += x[a] * x[b]
			}
		}
	}
	for a := range d {
		for b := a; b < d; b++ {
			cov[a][b] /= float64(n)
			cov[b][a] = cov[a][b]
		}
	}
	vals, vecs := symEigen(cov)
	// Directions of (near) zero variance would be blown up to unit
	// variance from rounding noise: the eigenvalues are floored at 1e-5 of
	// the largest (faiss has no floor; its inputs have full rank).
	eps := 1e-5*max(vals[0], 0) + 1e-12
	proj := make([][]float64, dims)
	for k := range dims {
		s := 1 / math.Sqrt(max(vals[k], 0)+eps)
		proj[k] = make([]float64, d)
		for j := range d {
			proj[k][j] = vecs[k][j] * s
		}
	}
	return whitening{mean: mean, proj: proj}, nil
}

// apply returns v whitened and scaled to unit length (a zero result stays
// zero).
func (w whitening) apply(v []float64) []float64 {
	out := make([]float64, len(w.proj))
	var norm float64
	for k, p := range w.proj {
		var s float64
		for j, x := range v {
			s += (x - w.mean[j]) * p[j]
		}
		out[k] = s
		norm += s * s
	}
	if norm > 0 {
		inv := 1 / math.Sqrt(norm)
		for k := range out {
			out[k] *= inv
		}
	}
	return out
}

// symEigen returns the eigenvalues of the symmetric matrix a, largest
// first, and the unit eigenvectors (vecs[k] belongs to vals[k]), by the
// cyclic Jacobi method (Numerical Recipes §11.1): plane rotations zero the
// off-diagonal elements one at a time until they are negligible. a is not
// modified.
func symEigen(a [][]float64) (vals []float64, vecs [][]float64) {
	n := len(a)
	m := make([][]float64, n)
	v := make([][]float64, n) // columns are the eigenvectors
	for i := range n {
		m[i] = slices.Clone(a[i])
		v[i] = make([]float64, n)
		v[i][i] = 1
	}
	for range 100 {
		var off, total float64
		for i := range n {
			for j := range n {
				total += m[i][j] * m[i][j]
				if i != j {
					off += m[i][j] * m[i][j]
				}
			}
		}
		if off <= 1e-26*total || off == 0 {
			break
		}
		for p := range n {
			for q := p + 1; q < n; q++ {
				apq := m[p][q]
				if apq == 0 {
					continue
				}
				theta := (m[q][q] - m[p][p]) / (2 * apq)
				t := 1 / (math.Abs(theta) + math.Sqrt(theta*theta+1))
				if theta < 0 {
					t = -t
				}
				c := 1 / math.Sqrt(t*t+1)
				s := t * c
				for k := range n { // m = m·J
					mkp, mkq := m[k][p], m[k][q]
					m[k][p], m[k][q] = c*mkp-s*mkq, s*mkp+c*mkq
				}
				for k := range n { // m = Jᵀ·m
					mpk, mqk := m[p][k], m[q][k]
					m[p][k], m[q][k] = c*mpk-s*mqk, s*mpk+c*mqk
				}
				for k := range n { // v = v·J
					vkp, vkq := v[k][p], v[k][q]
					v[k][p], v[k][q] = c*vkp-s*vkq, s*vkp+c*vkq
				}
			}
		}
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int {
		switch {
		case m[x][x] > m[y][y]:
			return -1
		case m[x][x] < m[y][y]:
			return 1
		}
		return 0
	})
	vals = make([]float64, n)
	vecs = make([][]float64, n)
	for k, i := range order {
		vals[k] = m[i][i]
		vecs[k] = make([]float64, n)
		for j := range n {
			vecs[k][j] = v[j][i]
		}
	}
	return vals, vecs
}

// nmi is the normalised mutual information of two labelings of the same
// items, I(a;b)/√(H(a)·H(b)) as DeepCluster measures the change between
// rounds: 1 for the same partition (whatever the label names), 0 for
// independent ones. Two one-cluster labelings score 1; one with a single
// cluster against one with several scores 0 (scikit-learn's conventions).
func nmi(a, b []int) (float64, error) {
	if len(a) != len(b) || len(a) == 0 {
		return 0, fmt.Errorf("tasks: NMI of labelings of %d and %d items", len(a), len(b))
	}
	// Labels are renamed densely in order of appearance so every sum runs
	// in a fixed order.
	dense := func(l []int) ([]int, int) {
		names := map[int]int{}
		out := make([]int, len(l))
		for i, v := range l {
			id, ok := names[v]
			if !ok {
				id = len(names)
				names[v] = id
			}
			out[i] = id
		}
		return out, len(names)
	}
	da, ka := dense(a)
	db, kb := dense(b)
	n := float64(len(a))
	joint := make([]float64, ka*kb)
	pa, pb := make([]float64, ka), make([]float64, kb)
	for i := range da {
		joint[da[i]*kb+db[i]] += 1 / n
		pa[da[i]] += 1 / n
		pb[db[i]] += 1 / n
	}
	entropy := func(p []float64) float64 {
		var h float64
		for _, v := range p {
			h -= v * math.Log(v)
		}
		return h
	}
	if ka == 1 && kb == 1 {
		return 1, nil
	}
	ha, hb := entropy(pa), entropy(pb)
	if ha <= 0 || hb <= 0 {
		return 0, nil
	}
	var mi float64
	for x := range ka {
		for y := range kb {
			if v := joint[x*kb+y]; v > 0 {
				mi += v * math.Log(v/(pa[x]*pb[y]))
			}
		}
	}
	return max(0, min(1, mi/math.Sqrt(ha*hb))), nil
}
