package tasks

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/pretextlab/pretext/internal/kmeans"
)

// sinkhornConfig sets sinkhorn. The zero value is the default.
type sinkhornConfig struct {
	// Lambda is the inverse temperature the probabilities are raised to
	// (default 25, SeLa's λ).
	Lambda float64
	// Iters bounds the scaling iterations (default 1000).
	Iters int
	// Tol stops the iterations once every row sum is within Tol·(1/N) of
	// 1/N (the column sums are exact after each iteration; default 1e-6).
	Tol float64
}

// sinkhornResult is an equipartitioned labelling.
type sinkhornResult struct {
	// Labels[i] is sample i's cluster; cluster sizes differ by at most one.
	Labels []int
	// Iters is the number of scaling iterations run.
	Iters int
	// Agree is the fraction of samples whose label is the argmax of their
	// row of Q (the rest were moved by the balanced rounding).
	Agree float64
}

// sinkhorn solves SeLa's label assignment (Asano, Rupprecht & Vedaldi
// 2020, eq. 5-7) for log-probabilities logP [N][K]: the transport plan
// Q = diag(u)·P^λ·diag(v) whose rows sum to 1/N and columns to 1/K, found by
// Sinkhorn-Knopp's alternating scaling of u and v, in the log domain so a
// large λ does not underflow. As λ grows Q tends to the plan that maximises
// the total log-probability of an equipartition.
//
// The hard labels are Q rounded to a balanced assignment: sample-cluster
// pairs are visited by decreasing Q and a sample joins a cluster while the
// cluster has room, room being ⌊N/K⌋ plus one for the first N mod K clusters
// to reach that size; so cluster sizes are exactly N/K when K divides N. When
// the row-wise argmax of Q is itself that balanced (the usual case once the
// iterations have converged) the rounding returns exactly the argmax: a
// sample can only be turned away from its argmax cluster by samples whose own
// argmax it is, and a balanced argmax never overfills a cluster. SeLa takes
// the plain argmax; the rounding is added so the equipartition constraint
// also holds for the hard labels.
func sinkhorn(logP [][]float64, cfg sinkhornConfig) (sinkhornResult, error) {
	if cfg.Lambda == 0 {
		cfg.Lambda = 25
	}
	if cfg.Iters == 0 {
		cfg.Iters = 1000
	}
	if cfg.Tol == 0 {
		cfg.Tol = 1e-6
	}
	switch {
	case !(cfg.Lambda > 0) || math.IsInf(cfg.Lambda, 1):
		return sinkhornResult{}, fmt.Errorf("tasks: sinkhorn lambda %v, want positive and finite", cfg.Lambda)
	case cfg.Iters < 1 || !(cfg.Tol > 0):
		return sinkhornResult{}, fmt.Errorf("tasks: sinkhorn with %d iterations and tolerance %v", cfg.Iters, cfg.Tol)
	}
	if err := kmeans.CheckRows(logP); err != nil {
		return sinkhornResult{}, err
	}
	n, k := len(logP), len(logP[0])
	l := make([]float64, n*k) // λ·log P, row-major
	for i, r := range logP {
		for j, v := range r {
			l[i*k+j] = cfg.Lambda * v
		}
	}
	res := sinkhornResult{}
	var logu, logv []float64
	logu, logv, res.Iters = sinkhornScale(l, n, k, cfg.Iters, cfg.Tol)
	// Balanced rounding by decreasing log Q.
	logq := make([]float64, n*k)
	order := make([]int, n*k)
	for i := range n {
		for j := range k {
			logq[i*k+j] = l[i*k+j] + logu[i] + logv[j]
		}
	}
	for p := range order {
		order[p] = p
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(logq[b], logq[a]) })
	base, extra := n/k, n%k
	size := make([]int, k)
	big := 0 // clusters grown to base+1
	res.Labels = make([]int, n)
	for i := range res.Labels {
		res.Labels[i] = -1
	}
	left := n
	for _, p := range order {
		i, j := p/k, p%k
		if res.Labels[i] >= 0 {
			continue
		}
		switch {
		case size[j] < base:
		case size[j] == base && big < extra:
			big++
		default:
			continue
		}
		res.Labels[i] = j
		size[j]++
		if left--; left == 0 {
			break
		}
	}
	agree := 0
	for i := range n {
		if topClass(logq[i*k:(i+1)*k]) == res.Labels[i] {
			agree++
		}
	}
	res.Agree = float64(agree) / float64(n)
	return res, nil
}

// sinkhornScale is Sinkhorn-Knopp's alternating scaling in the log
// domain, shared by SeLa's labels (sinkhorn) and SwAV's codes (swavCodes):
// for the kernel exp(l), l [rows, cols] row-major, it finds log u [rows]
// and log v [cols] such that Q = diag(u)·exp(l)·diag(v) has rows summing
// to 1/rows and columns to 1/cols. Each iteration scales the rows, then
// the columns, so the columns' sums are exact when it returns and the
// rows' approach theirs. With tol > 0 it stops once every row sum is
// within tol·(1/rows) of 1/rows (checked after each iteration); with tol
// 0 it runs all iters (SwAV's fixed 3). It returns the iterations run.
// u and v start at 1: a global scale of exp(l) (SwAV's Q /= sum(Q)) only
// shifts log u.
func sinkhornScale(l []float64, rows, cols, iters int, tol float64) (logu, logv []float64, ran int) {
	n, k := rows, cols
	logu, logv = make([]float64, n), make([]float64, k)
	logN, logK := math.Log(float64(n)), math.Log(float64(k))
	col := make([]float64, n)
	for ran < iters {
		ran++
		for i := range n {
			logu[i] = -logN - logSumExpPlus(l[i*k:(i+1)*k], logv)
		}
		for j := range k {
			for i := range n {
				col[i] = l[i*k+j]
			}
			logv[j] = -logK - logSumExpPlus(col, logu)
		}
		if !(tol > 0) {
			continue
		}
		var worst float64
		for i := range n {
			s := logN + logu[i] + logSumExpPlus(l[i*k:(i+1)*k], logv)
			worst = max(worst, math.Abs(math.Expm1(s)))
		}
		if worst < tol {
			break
		}
	}
	return logu, logv, ran
}

// logSumExpPlus is log Σ_j exp(a[j] + b[j]), computed stably.
func logSumExpPlus(a, b []float64) float64 {
	m := math.Inf(-1)
	for j, v := range a {
		m = max(m, v+b[j])
	}
	if math.IsInf(m, -1) {
		return m
	}
	var s float64
	for j, v := range a {
		s += math.Exp(v + b[j] - m)
	}
	return m + math.Log(s)
}
