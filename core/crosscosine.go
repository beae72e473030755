package core

import (
	"fmt"
	"math"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

// CrossCosine is the negative cosine similarity loss of SimSiam (Chen & He
// 2021, eq. 1-2), the prediction loss of BYOL (Grill et al. 2020, eq. 2,
// which is 2 + 2·CrossCosine), on a batch in NTXent's layout: p and z are
// [2N, D], rows 2i and 2i+1 the two views of example i, p the predictor's
// outputs and z the projections (the target network's, for BYOL). Each
// view's prediction is compared with the other view's projection:
//
//	L = -1/2N Σ_r cos(p_r, z_partner(r)),   partner(r) = r^1
//
// (eq. 3's symmetrised ½D(p1, z2) + ½D(p2, z1), averaged over the batch),
// returned as a 1x1 node computed in float64. z is under a stop-gradient
// (eq. 3's stopgrad, the paper's Algorithm 1 z.detach()): it receives no
// gradient from this loss, only p does. A zero row is divided by 1e-12, as
// F.normalize does. Misshapen or non-finite input is an error.
func CrossCosine(p, z mat.Tensor) (mat.Tensor, error) {
	m, d, err := checkPairRows("cross-cosine predictions", p, 1)
	if err != nil {
		return nil, err
	}
	mz, dz, err := checkPairRows("cross-cosine projections", z, 1)
	if err != nil {
		return nil, err
	}
	if mz != m || dz != d {
		return nil, fmt.Errorf("core: cross-cosine predictions are [%d %d], projections [%d %d], want the same shape", m, d, mz, dz)
	}
	return ag.NewOperator(&crossCosineFn{p: p, z: z, m: m, d: d}).Run(), nil
}

// checkPairRows validates a [2N, D] batch of view pairs with N >= minPairs
// and finite values.
func checkPairRows(what string, z mat.Tensor, minPairs int) (m, d int, err error) {
	if z == nil {
		return 0, 0, fmt.Errorf("core: %s are nil", what)
	}
	sh := z.Shape()
	if len(sh) != 2 || sh[0] < 2*minPairs || sh[0]%2 != 0 || sh[1] < 1 {
		return 0, 0, fmt.Errorf("core: %s have shape %v, want [2N D] with N >= %d, D >= 1", what, sh, minPairs)
	}
	if err := checkMatrix(what, z, sh[0], sh[1]); err != nil {
		return 0, 0, err
	}
	for i, v := range data(z) {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return 0, 0, fmt.Errorf("core: %s [%d %d] is %v", what, i/sh[1], i%sh[1], v)
		}
	}
	return sh[0], sh[1], nil
}

// crossCosineFn is the autograd function of [CrossCosine].
type crossCosineFn struct {
	p, z mat.Tensor
	m, d int
	dp   []float32
}

// Operands implements ag.AutoGradFunction. z is an operand so that it is
// computed first; Backward gives it a zero gradient.
func (f *crossCosineFn) Operands() []mat.Tensor { return []mat.Tensor{f.p, f.z} }

// Forward implements ag.AutoGradFunction. It computes p's gradient too:
// with u = p_r/|p_r| and w the unit partner projection,
// dL/dp_r = -(w - u·(u·w)) / (2N·|p_r|).
func (f *crossCosineFn) Forward() (mat.Tensor, error) {
	m, d := f.m, f.d
	p, z := data(f.p), data(f.z)
	f.dp = make([]float32, m*d)
	u, norm := unitRows(p, m, d)
	w, _ := unitRows(z, m, d)
	var sum float64
	inv := 1 / float64(m)
	for r := range m {
		ur, wq, np := u[r*d:(r+1)*d], w[(r^1)*d:(r^1+1)*d], norm[r]
		var c float64
		for k := range d {
			c += ur[k] * wq[k]
		}
		sum += c
		if np == ntxentEps {
			c = 0 // the map is linear there: its Jacobian is 1/eps
		}
		for k := range d {
			f.dp[r*d+k] = float32(-(wq[k] - ur[k]*c) / np * inv)
		}
	}
	return fromData(1, 1, []float32{float32(-sum * inv)}), nil
}

// Backward implements ag.AutoGradFunction: p's gradient scaled by the
// incoming scalar gradient; z, under the stop-gradient, gets zeros (spago
// waits for a gradient from every operator that reads a node before it
// passes the node's own on).
func (f *crossCosineFn) Backward(gy mat.Tensor) error {
	if f.z.RequiresGrad() {
		f.z.AccGrad(handoff{newMatrix(f.m, f.d)})
	}
	return accScaledGrad("cross-cosine", f.p, f.m, f.d, f.dp, gy)
}

// PairAccuracy is the fraction of the rows of z ([2N, D], NTXent's layout)
// whose most cosine-similar other row (the first, on ties) is their
// partner: how well the embedding tells a photo's other view from the
// batch's other photos, the score of the joint-embedding methods whose loss
// does not give one (NTXent's accuracy is the same measure). It needs at
// least two pairs; non-finite values are an error.
func PairAccuracy(z mat.Tensor) (float64, error) {
	m, d, err := checkPairRows("pair-accuracy embeddings", z, 2)
	if err != nil {
		return 0, err
	}
	u, _ := unitRows(data(z), m, d)
	hits := 0
	for r := range m {
		best, smax := -1, math.Inf(-1)
		for j := range m {
			if j == r {
				continue
			}
			var s float64
			for k := range d {
				s += u[r*d+k] * u[j*d+k]
			}
			if s > smax {
				best, smax = j, s
			}
		}
		if best == r^1 {
			hits++
		}
	}
	return float64(hits) / float64(m), nil
}
