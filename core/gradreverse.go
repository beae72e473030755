package core

import (
	"fmt"
	"math"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

// ReverseGradient is the gradient reversal layer of Ganin & Lempitsky
// (2015, "Unsupervised Domain Adaptation by Backpropagation", ICML): its
// value is x (a copy), and backward passes -scale·dy to x. Put between a
// generator and a discriminator, one backward pass then trains the
// discriminator to lower its loss and the generator, at scale times the
// rate, to raise it: the two players of a GAN updated by one optimiser step.
// scale must be finite and non-negative.
func ReverseGradient(x mat.Tensor, scale float32) (mat.Tensor, error) {
	if x == nil {
		return nil, fmt.Errorf("core: gradient reversal input is nil")
	}
	sh := x.Shape()
	if len(sh) != 2 {
		return nil, fmt.Errorf("core: gradient reversal input has shape %v, want a matrix", sh)
	}
	if err := checkMatrix("gradient reversal input", x, sh[0], sh[1]); err != nil {
		return nil, err
	}
	if !(scale >= 0) || math.IsInf(float64(scale), 1) {
		return nil, fmt.Errorf("core: gradient reversal scale %v, want finite and non-negative", scale)
	}
	return ag.NewOperator(&reverseGradFn{x: x, scale: scale}).Run(), nil
}

// reverseGradFn is the autograd function of [ReverseGradient].
type reverseGradFn struct {
	x     mat.Tensor
	scale float32
}

// Operands implements ag.AutoGradFunction.
func (f *reverseGradFn) Operands() []mat.Tensor { return []mat.Tensor{f.x} }

// Forward implements ag.AutoGradFunction: the identity.
func (f *reverseGradFn) Forward() (mat.Tensor, error) {
	sh := f.x.Shape()
	y := newMatrix(sh[0], sh[1])
	copy(data(y), data(f.x))
	return y, nil
}

// Backward implements ag.AutoGradFunction: dx = -scale·dy.
func (f *reverseGradFn) Backward(gy mat.Tensor) error {
	if !f.x.RequiresGrad() {
		return nil
	}
	dy := data(gy)
	sh := f.x.Shape()
	if len(dy) != sh[0]*sh[1] {
		return fmt.Errorf("core: gradient reversal output gradient has %d values, want %d", len(dy), sh[0]*sh[1])
	}
	dxm := newMatrix(sh[0], sh[1])
	dx := data(dxm)
	for i, v := range dy {
		dx[i] = -f.scale * v
	}
	f.x.AccGrad(handoff{dxm})
	return nil
}
