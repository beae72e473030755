package tasks

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// The numerics of the clustering tasks: k-means, DeepCluster's PCA
// whitening, a symmetric eigen-solver for it, and normalised mutual
// information. Rows are []float64 vectors of one length; inputs are never
// modified.

// kmeansConfig sets kmeans. The zero value of each field but K is the
// default.
type kmeansConfig struct {
	// K is the number of clusters, in [1, len(rows)].
	K int
	// Iters bounds the Lloyd iterations of one run (default 20, faiss's
	// niter, which DeepCluster's clustering used).
	Iters int
	// Restarts is the number of runs from fresh k-means++ seeds (default
	// 1); the run with the lowest inertia wins.
	Restarts int
}

// kmeansResult is one clustering.
type kmeansResult struct {
	// Labels[i] is row i's cluster, in [0, K).
	Labels []int
	// Centroids are the K cluster means.
	Centroids [][]float64
	// Inertia is the sum of squared distances of rows to their centroids.
	Inertia float64
	// EmptyFixed counts the empty clusters the winning run refilled by
	// splitting a large one.
	EmptyFixed int
}

// splitEps is the relative perturbation that separates a split centroid
// from its copy (faiss's EPS = 1/1024 in Clustering.cpp's split_clusters).
const splitEps = 1.0 / 1024

// kmeans clusters rows into cfg.K clusters: k-means++ seeding (Arthur &
// Vassilvitskii 2007) and Lloyd iterations until no label changes. A
// cluster left empty by an assignment is refilled as DeepCluster's faiss
// does: a non-empty cluster is picked at random with probability
// proportional to its size minus one (a singleton cannot be split), its
// centroid copied into the empty one and the two pushed apart by a relative
// ±1/1024 in alternating coordinates.
func kmeans(rows [][]float64, cfg kmeansConfig, rng *rand.Rand) (kmeansResult, error) {
	if err := checkRows(rows); err != nil {
		return kmeansResult{}, err
	}
	if cfg.K < 1 || cfg.K > len(rows) {
		return kmeansResult{}, fmt.Errorf("tasks: k-means with %d clusters for %d rows", cfg.K, len(rows))
	}
	if cfg.Iters == 0 {
		cfg.Iters = 20
	}
	if cfg.Restarts == 0 {
		cfg.Restarts = 1
	}
	if cfg.Iters < 1 || cfg.Restarts < 1 {
		return kmeansResult{}, fmt.Errorf("tasks: k-means with %d iterations and %d restarts", cfg.Iters, cfg.Restarts)
	}
	var best kmeansResult
	for r := range cfg.Restarts {
		res := kmeansRun(rows, cfg.K, cfg.Iters, rng)
		if r == 0 || res.Inertia < best.Inertia {
			best = res
		}
	}
	return best, nil
}

// checkRows reports an error unless rows is a non-empty list of finite
// vectors of one positive length.
func checkRows(rows [][]float64) error {
	if len(rows) == 0 || len(rows[0]) == 0 {
		return fmt.Errorf("tasks: no vectors to cluster")
	}
	for i, r := range rows {
		if len(r) != len(rows[0]) {
			return fmt.Errorf("tasks: vector %d has %d values, want %d", i, len(r), len(rows[0]))
		}
		for _, v := range r {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("tasks: vector %d holds %v", i, v)
			}
		}
	}
	return nil
}

func sqDist(a, b []float64) float64 {
	var s float64
	for i, v := range a {
		d := v - b[i]
		s += d * d
	}
	return s
}

// nearest returns the index of the centroid nearest to v (the first, on
// ties) and the squared distance to it.
func nearest(v []float64, centroids [][]float64) (int, float64) {
	best, bd := 0, math.Inf(1)
	for c, m := range centroids {
		if d := sqDist(v, m); d < bd {
			best, bd = c, d
		}
	}
	return best, bd
}

// kmeansPP picks k seeds from rows by k-means++: the first uniformly, each
// next with probability proportional to its squared distance to the nearest
// seed so far (uniformly when every row sits on a seed).
func kmeansPP(rows [][]float64, k int, rng *rand.Rand) [][]float64 {
	seeds := [][]float64{slices.Clone(rows[rng.IntN(len(rows))])}
	d2 := make([]float64, len(rows))
	for i, r := range rows {
		d2[i] = sqDist(r, seeds[0])
	}
	for len(seeds) < k {
		var total float64
		for _, d := range d2 {
			total += d
		}
		pick := rng.IntN(len(rows))
		if total > 0 {
			u := rng.Float64() * total
			for i, d := range d2 {
				if u -= d; u < 0 && d > 0 {
					pick = i
					break
				}
			}
		}
		s := slices.Clone(rows[pick])
		seeds = append(seeds, s)
		for i, r := range rows {
			d2[i] = min(d2[i], sqDist(r, s))
		}
	}
	return seeds
}

// kmeansRun is one k-means run from a k-means++ seeding.
func kmeansRun(rows [][]float64, k, iters int, rng *rand.Rand) kmeansResult {
	cent := kmeansPP(rows, k, rng)
	labels := make([]int, len(rows))
	assign := func() (changed bool, inertia float64) {
		for i, r := range rows {
			c, d := nearest(r, cent)
			if c != labels[i] {
				changed = true
			}
			labels[i] = c
			inertia += d
		}
		return changed, inertia
	}
	_, inertia := assign()
	fixed := 0
	for range iters {
		fixed += updateCentroids(rows, labels, cent, rng)
		changed, in := assign()
		inertia = in
		if !changed {
			break
		}
	}
	return kmeansResult{Labels: labels, Centroids: cent, Inertia: inertia, EmptyFixed: fixed}
}

// updateCentroids sets each centroid to the mean of its rows and refills
// empty clusters by splitting (see kmeans); it returns how many it refilled.
func updateCentroids(rows [][]float64, labels []int, cent [][]float64, rng *rand.Rand) int {
	size := make([]int, len(cent))
	for c := range cent {
		clear(cent[c])
	}
	for i, r := range rows {
		c := labels[i]
		size[c]++
		for j, v := range r {
			cent[c][j] += v
		}
	}
	for c, n := range size {
		if n > 0 {
			for j := range cent[c] {
				cent[c][j] /= float64(n)
			}
		}
	}
	fixed := 0
	for ci, n := range size {
		if n > 0 {
			continue
		}
		var total int
		for _, m := range size {
			total += max(m-1, 0)
		}
		if total == 0 {
			break // every cluster is a singleton: nothing to split
		}
		u := rng.IntN(total)
		cj := 0
		for c, m := range size {
			if u -= max(m-1, 0); u < 0 {
				cj = c
				break
			}
		}
		copy(cent[ci], cent[cj])
		for j := range cent[ci] {
			s := splitEps
			if j%2 == 1 {
				s = -s
			}
			cent[ci][j] *= 1 + s
			cent[cj][j] *= 1 - s
		}
		size[ci] = size[cj] / 2
		size[cj] -= size[ci]
		fixed++
	}
	return fixed
}

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
	if err := checkRows(rows); err != nil {
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
