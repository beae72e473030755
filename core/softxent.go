package core

import (
	"fmt"
	"math"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

// SoftCrossEntropyColumns is the per-position classification loss of dense
// prediction heads (colourisation): logits is [K, P], one column per
// position (the channel-major batch layout, P = N*H*W), softmax runs down
// each column, and each column is scored against a soft target
// distribution.
//
// targets is laid out like the logits, [K, P] row-major: targets[k*P+p] is
// the target mass of class k at position p. Columns need not sum to 1 (a
// column of total T scores T·log-sum-exp - Σ t·z); values must be finite
// and non-negative. weights (len P, or nil for all ones) weight the
// columns: the loss is
//
//	Σ_p w_p · CE_p / Σ_p w_p,   CE_p = -Σ_k t[k,p] · log softmax(z[·,p])_k
//
// returned as a 1x1 node, computed stably in float64. accuracy is the
// fraction of columns whose logit argmax equals the target's argmax (the
// first on ties, in both). Wrong lengths, bad values and a zero total
// weight are errors, reported before any graph node is built.
func SoftCrossEntropyColumns(logits mat.Tensor, targets []float32, weights []float32) (loss mat.Tensor, accuracy float64, err error) {
	if logits == nil {
		return nil, 0, fmt.Errorf("core: soft cross-entropy logits are nil")
	}
	sh := logits.Shape()
	if len(sh) != 2 || sh[0] < 1 || sh[1] < 1 {
		return nil, 0, fmt.Errorf("core: soft cross-entropy logits have shape %v, want [K P] with K, P >= 1", sh)
	}
	k, p := sh[0], sh[1]
	if err := checkMatrix("soft cross-entropy logits", logits, k, p); err != nil {
		return nil, 0, err
	}
	if len(targets) != k*p {
		return nil, 0, fmt.Errorf("core: soft cross-entropy has %d target values for [%d %d] logits, want %d", len(targets), k, p, k*p)
	}
	for i, t := range targets {
		if !(t >= 0) || math.IsInf(float64(t), 1) {
			return nil, 0, fmt.Errorf("core: soft cross-entropy target [%d %d] is %v, want finite and non-negative", i/p, i%p, t)
		}
	}
	total := float64(p)
	if weights != nil {
		if len(weights) != p {
			return nil, 0, fmt.Errorf("core: soft cross-entropy has %d column weights for %d columns", len(weights), p)
		}
		total = 0
		for j, w := range weights {
			if !(w >= 0) || math.IsInf(float64(w), 1) {
				return nil, 0, fmt.Errorf("core: soft cross-entropy column weight %d is %v, want finite and non-negative", j, w)
			}
			total += float64(w)
		}
	}
	if !(total > 0) || math.IsInf(total, 1) {
		return nil, 0, fmt.Errorf("core: soft cross-entropy has total column weight %v, want positive", total)
	}
	fn := &softXentFn{logits: logits, targets: targets, weights: weights, total: total, k: k, p: p}
	loss = ag.NewOperator(fn).Run()
	return loss, fn.accuracy, nil
}

// softXentFn is the autograd function of [SoftCrossEntropyColumns].
type softXentFn struct {
	logits  mat.Tensor
	targets []float32
	weights []float32 // nil: all ones
	total   float64   // Σ_p w_p
	k, p    int
	// accuracy is set by Forward.
	accuracy float64
	// dlogits is d loss / d logits, [K, P]:
	// w_p/total·(softmax_k·T_p - t[k,p]) with T_p the column's target mass.
	dlogits []float32
}

// Operands implements ag.AutoGradFunction.
func (f *softXentFn) Operands() []mat.Tensor { return []mat.Tensor{f.logits} }

// Forward implements ag.AutoGradFunction. Columns are split over goroutines
// in chunks; every sum runs down one column in class order and the column
// losses are added in column order afterwards, so the result does not
// depend on the split.
func (f *softXentFn) Forward() (mat.Tensor, error) {
	z, t := data(f.logits), f.targets
	k, p := f.k, f.p
	f.dlogits = make([]float32, k*p)
	colLoss := make([]float64, p)
	colHit := make([]bool, p)
	parallelFor(p, 256, func(lo, hi int) {
		n := hi - lo
		zmax := make([]float32, n)
		zarg := make([]int32, n)
		tmax := make([]float32, n)
		targ := make([]int32, n)
		sum := make([]float64, n)  // Σ exp(z - max)
		mass := make([]float64, n) // Σ t
		dot := make([]float64, n)  // Σ t·(z - max)
		copy(zmax, z[lo:hi])
		copy(tmax, t[lo:hi])
		for c := 1; c < k; c++ {
			zr, tr := z[c*p+lo:c*p+hi], t[c*p+lo:c*p+hi]
			for j := range n {
				if zr[j] > zmax[j] {
					zmax[j], zarg[j] = zr[j], int32(c)
				}
				if tr[j] > tmax[j] {
					tmax[j], targ[j] = tr[j], int32(c)
				}
			}
		}
		for c := range k {
			zr, tr, g := z[c*p+lo:c*p+hi], t[c*p+lo:c*p+hi], f.dlogits[c*p+lo:c*p+hi]
			for j := range n {
				d := float64(zr[j]) - float64(zmax[j])
				e := math.Exp(d)
				g[j] = float32(e)
				sum[j] += e
				mass[j] += float64(tr[j])
				dot[j] += float64(tr[j]) * d
			}
		}
		scale := make([]float64, n)
		for j := range n {
			col := lo + j
			w := 1.0
			if f.weights != nil {
				w = float64(f.weights[col])
			}
			// CE = Σ t·(log Σ exp(z - max) - (z - max))
			colLoss[col] = w * (mass[j]*math.Log(sum[j]) - dot[j])
			colHit[col] = zarg[j] == targ[j]
			scale[j] = w / f.total
		}
		for c := range k {
			tr, g := t[c*p+lo:c*p+hi], f.dlogits[c*p+lo:c*p+hi]
			for j := range n {
				g[j] = float32(scale[j] * (float64(g[j])/sum[j]*mass[j] - float64(tr[j])))
			}
		}
	})
	var s float64
	hits := 0
	for col, l := range colLoss {
		s += l
		if colHit[col] {
			hits++
		}
	}
	f.accuracy = float64(hits) / float64(p)
	return fromData(1, 1, []float32{float32(s / f.total)}), nil
}

// Backward implements ag.AutoGradFunction: dlogits scaled by the incoming
// scalar gradient.
func (f *softXentFn) Backward(gy mat.Tensor) error {
	if !f.logits.RequiresGrad() {
		return nil
	}
	g := data(gy)
	if len(g) != 1 {
		return fmt.Errorf("core: soft cross-entropy output gradient has %d values, want 1", len(g))
	}
	dm := newMatrix(f.k, f.p)
	d := data(dm)
	for i, v := range f.dlogits {
		d[i] = v * g[0]
	}
	f.logits.AccGrad(handoff{dm})
	return nil
}
