package core

import (
	"fmt"
	"math"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

// InfoNCE is MoCo's contrastive loss (He et al. 2020, eq. 1; Oord et al.
// 2018) in its symmetric form (MoCo v3, solo-learn's MoCo v2+), on a
// batch in NTXent's layout: q and k are [2N, D], rows 2i and 2i+1 the two
// views of example i, q the online network's queries and k the momentum
// network's keys; queue is [K, D], keys of earlier batches, the negatives.
// Every row is L2-normalised; each query is classified against its
// partner view's key among the K queued keys:
//
//	L = 1/2N Σ_r [ log(exp(q_r·k_r^1/τ) + Σ_j exp(q_r·n_j/τ)) - q_r·k_r^1/τ ]
//
// returned as a 1x1 node computed in float64. k and queue are under a
// stop-gradient (MoCo's keys are not trained by gradients): only q gets
// one. accuracy is the fraction of queries whose positive key scores above
// every queued one. Misshapen or non-finite input, an empty queue and a
// bad tau are errors.
func InfoNCE(q, k, queue mat.Tensor, tau float64) (loss mat.Tensor, accuracy float64, err error) {
	m, d, err := checkPairRows("infonce queries", q, 1)
	if err != nil {
		return nil, 0, err
	}
	mk, dk, err := checkPairRows("infonce keys", k, 1)
	if err != nil {
		return nil, 0, err
	}
	if mk != m || dk != d {
		return nil, 0, fmt.Errorf("core: infonce queries are [%d %d], keys [%d %d], want the same shape", m, d, mk, dk)
	}
	if queue == nil || len(queue.Shape()) != 2 || queue.Shape()[0] < 1 || queue.Shape()[1] != d {
		return nil, 0, fmt.Errorf("core: infonce queue must be [K %d] with K >= 1", d)
	}
	kq := queue.Shape()[0]
	if err := checkMatrix("infonce queue", queue, kq, d); err != nil {
		return nil, 0, err
	}
	if !allFinite(data(queue)) {
		return nil, 0, fmt.Errorf("core: infonce queue holds a value that is not finite")
	}
	if !(tau > 0) || math.IsInf(tau, 1) {
		return nil, 0, fmt.Errorf("core: infonce temperature %v, want positive and finite", tau)
	}
	fn := &infoNCEFn{q: q, k: k, queue: queue, tau: tau, m: m, d: d, kq: kq}
	loss = ag.NewOperator(fn).Run()
	return loss, fn.accuracy, nil
}

// infoNCEFn is the autograd function of [InfoNCE].
type infoNCEFn struct {
	q, k, queue mat.Tensor
	tau         float64
	m, d, kq    int
	accuracy    float64
	dq          []float32
}

// Operands implements ag.AutoGradFunction.
func (f *infoNCEFn) Operands() []mat.Tensor { return []mat.Tensor{f.q, f.k, f.queue} }

// unitRows returns the rows of x ([rows, d]) divided by their norms (at
// least ntxentEps), and the norms.
func unitRows(x []float32, rows, d int) (u, norm []float64) {
	u, norm = make([]float64, rows*d), make([]float64, rows)
	for r := range rows {
		var ss float64
		for _, v := range x[r*d : (r+1)*d] {
			ss += float64(v) * float64(v)
		}
		norm[r] = max(math.Sqrt(ss), ntxentEps)
		for j, v := range x[r*d : (r+1)*d] {
			u[r*d+j] = float64(v) / norm[r]
		}
	}
	return u, norm
}

// Forward implements ag.AutoGradFunction. It computes q's gradient too:
// with p the softmax over [positive, queue] and w its keys,
// du_r = (Σ_j p_j w_j - w_pos) / (τ·2N), and the normalisation's Jacobian
// gives dq_r = (du_r - u_r·(u_r·du_r)) / |q_r|.
func (f *infoNCEFn) Forward() (mat.Tensor, error) {
	m, d, kq := f.m, f.d, f.kq
	u, norm := unitRows(data(f.q), m, d)
	w, _ := unitRows(data(f.k), m, d)
	nq, _ := unitRows(data(f.queue), kq, d)
	f.dq = make([]float32, m*d)
	s := make([]float64, kq+1)
	du := make([]float64, d)
	inv := 1 / float64(m)
	var sum float64
	hits := 0
	for r := range m {
		ur := u[r*d : (r+1)*d]
		pos := w[(r^1)*d : (r^1+1)*d]
		dot := func(a []float64) float64 {
			var x float64
			for j, v := range a {
				x += ur[j] * v
			}
			return x / f.tau
		}
		s[0] = dot(pos)
		smax := s[0]
		best := 0
		for j := range kq {
			s[j+1] = dot(nq[j*d : (j+1)*d])
			if s[j+1] > smax {
				smax, best = s[j+1], j+1
			}
		}
		if best == 0 {
			hits++
		}
		var e float64
		for _, v := range s {
			e += math.Exp(v - smax)
		}
		sum += math.Log(e) + smax - s[0]
		clear(du)
		for j, v := range s {
			p := math.Exp(v-smax) / e
			key := pos
			if j > 0 {
				key = nq[(j-1)*d : j*d]
			} else {
				p--
			}
			for t, x := range key {
				du[t] += p * x
			}
		}
		var ud float64
		for t, x := range du {
			du[t] = x / f.tau * inv
			ud += ur[t] * du[t]
		}
		if norm[r] == ntxentEps {
			ud = 0
		}
		for t, x := range du {
			f.dq[r*d+t] = float32((x - ur[t]*ud) / norm[r])
		}
	}
	f.accuracy = float64(hits) * inv
	return fromData(1, 1, []float32{float32(sum * inv)}), nil
}

// Backward implements ag.AutoGradFunction: q's gradient scaled by the
// incoming scalar gradient; the keys and the queue, under the
// stop-gradient, get zeros where they take gradients (see crossCosineFn).
func (f *infoNCEFn) Backward(gy mat.Tensor) error {
	if f.k.RequiresGrad() {
		f.k.AccGrad(handoff{newMatrix(f.m, f.d)})
	}
	if f.queue.RequiresGrad() {
		f.queue.AccGrad(handoff{newMatrix(f.kq, f.d)})
	}
	return accScaledGrad("infonce", f.q, f.m, f.d, f.dq, gy)
}
