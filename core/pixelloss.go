package core

import (
	"fmt"
	"math"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

// Penalty is how [PixelLoss] scores one value's error e = prediction -
// target.
type Penalty int

const (
	// SquaredError is e² (L2, mean squared error).
	SquaredError Penalty = iota
	// AbsoluteError is |e| (L1); its gradient at e = 0 is taken as 0.
	AbsoluteError
)

// PixelLoss is the regression loss of dense image heads (inpainting,
// super-resolution): pred is [C, P] in the batch layout (P = N*H*W
// positions), target holds C*P values in the same layout, and weights (len
// P, or nil for all ones) weight the positions, shared by the channels:
//
//	Σ_p w_p Σ_c penalty(pred[c,p] - target[c,p]) / (C · Σ_p w_p)
//
// the weighted mean over every value, returned as a 1x1 node and summed in
// float64. Wrong lengths, non-finite targets, negative or non-finite
// weights and a zero total weight are errors, reported before any graph
// node is built.
func PixelLoss(pred mat.Tensor, target, weights []float32, penalty Penalty) (mat.Tensor, error) {
	if pred == nil {
		return nil, fmt.Errorf("core: pixel loss prediction is nil")
	}
	sh := pred.Shape()
	if len(sh) != 2 || sh[0] < 1 || sh[1] < 1 {
		return nil, fmt.Errorf("core: pixel loss prediction has shape %v, want [C P] with C, P >= 1", sh)
	}
	c, p := sh[0], sh[1]
	if err := checkMatrix("pixel loss prediction", pred, c, p); err != nil {
		return nil, err
	}
	if penalty != SquaredError && penalty != AbsoluteError {
		return nil, fmt.Errorf("core: unknown pixel loss penalty %d", penalty)
	}
	if len(target) != c*p {
		return nil, fmt.Errorf("core: pixel loss has %d target values for a [%d %d] prediction", len(target), c, p)
	}
	for i, t := range target {
		if math.IsNaN(float64(t)) || math.IsInf(float64(t), 0) {
			return nil, fmt.Errorf("core: pixel loss target [%d %d] is %v, want finite", i/p, i%p, t)
		}
	}
	total := float64(p)
	if weights != nil {
		if len(weights) != p {
			return nil, fmt.Errorf("core: pixel loss has %d position weights for %d positions", len(weights), p)
		}
		total = 0
		for j, w := range weights {
			if !(w >= 0) || math.IsInf(float64(w), 1) {
				return nil, fmt.Errorf("core: pixel loss weight %d is %v, want finite and non-negative", j, w)
			}
			total += float64(w)
		}
	}
	if !(total > 0) || math.IsInf(total, 1) {
		return nil, fmt.Errorf("core: pixel loss has total weight %v, want positive", total)
	}
	fn := &pixelLossFn{pred: pred, target: target, weights: weights, norm: 1 / (float64(c) * total), c: c, p: p, penalty: penalty}
	return ag.NewOperator(fn).Run(), nil
}

// pixelLossFn is the autograd function of [PixelLoss].
type pixelLossFn struct {
	pred    mat.Tensor
	target  []float32
	weights []float32 // nil: all ones
	norm    float64   // 1 / (C·Σw)
	c, p    int
	penalty Penalty
}

// Operands implements ag.AutoGradFunction.
func (f *pixelLossFn) Operands() []mat.Tensor { return []mat.Tensor{f.pred} }

// weight is position j's weight.
func (f *pixelLossFn) weight(j int) float64 {
	if f.weights == nil {
		return 1
	}
	return float64(f.weights[j])
}

// Forward implements ag.AutoGradFunction.
func (f *pixelLossFn) Forward() (mat.Tensor, error) {
	pd := data(f.pred)
	var sum float64
	for ch := range f.c {
		row, tr := pd[ch*f.p:(ch+1)*f.p], f.target[ch*f.p:(ch+1)*f.p]
		var s float64
		for j, v := range row {
			e := float64(v) - float64(tr[j])
			if f.penalty == SquaredError {
				s += f.weight(j) * e * e
			} else {
				s += f.weight(j) * math.Abs(e)
			}
		}
		sum += s
	}
	return fromData(1, 1, []float32{float32(sum * f.norm)}), nil
}

// Backward implements ag.AutoGradFunction: d/dpred = g·w_p·2e/(C·Σw) for
// squared error, g·w_p·sign(e)/(C·Σw) for absolute error.
func (f *pixelLossFn) Backward(gy mat.Tensor) error {
	if !f.pred.RequiresGrad() {
		return nil
	}
	gd := data(gy)
	if len(gd) != 1 {
		return fmt.Errorf("core: pixel loss gradient has %d values, want 1", len(gd))
	}
	g := float64(gd[0]) * f.norm
	pd := data(f.pred)
	dm := newMatrix(f.c, f.p)
	d := data(dm)
	for i, v := range pd {
		j := i % f.p
		e := float64(v) - float64(f.target[i])
		switch {
		case f.penalty == SquaredError:
			d[i] = float32(g * f.weight(j) * 2 * e)
		case e > 0:
			d[i] = float32(g * f.weight(j))
		case e < 0:
			d[i] = float32(-g * f.weight(j))
		}
	}
	f.pred.AccGrad(handoff{dm})
	return nil
}
