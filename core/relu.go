package core

import (
	"fmt"
	"math"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

// ReLU is max(0, x) elementwise for any float32 matrix, as one graph node
// (no per-element graph).
func ReLU(x mat.Tensor) (mat.Tensor, error) {
	if x == nil {
		return nil, fmt.Errorf("core: relu input is nil")
	}
	sh := x.Shape()
	if len(sh) != 2 {
		return nil, fmt.Errorf("core: relu input has shape %v, want a matrix", sh)
	}
	if err := checkMatrix("relu input", x, sh[0], sh[1]); err != nil {
		return nil, err
	}
	return ag.NewOperator(&reluFn{x: x}).Run(), nil
}

// reluGrain is the smallest chunk of elements worth a goroutine.
const reluGrain = 1 << 15

// reluFn is the autograd function of [ReLU].
type reluFn struct {
	x mat.Tensor
	y *mat.Dense[float32] // the output: its positive entries are the mask
}

// Operands implements ag.AutoGradFunction.
func (f *reluFn) Operands() []mat.Tensor { return []mat.Tensor{f.x} }

// Forward implements ag.AutoGradFunction.
func (f *reluFn) Forward() (mat.Tensor, error) {
	sh := f.x.Shape()
	xd := data(f.x)
	f.y = newMatrix(sh[0], sh[1])
	yd := data(f.y)
	parallelFor(len(xd), reluGrain, func(lo, hi int) {
		src, dst := xd[lo:hi], yd[lo:hi]
		dst = dst[:len(src)]
		// Four at a time, as in kernel.BNNormalize.
		n4 := len(src) &^ 3
		for i := 0; i < n4; i += 4 {
			v, o := src[i:i+4:i+4], dst[i:i+4:i+4]
			o[0], o[1], o[2], o[3] = relu32(v[0]), relu32(v[1]), relu32(v[2]), relu32(v[3])
		}
		for i := n4; i < len(src); i++ {
			dst[i] = relu32(src[i])
		}
	})
	return f.y, nil
}

// Backward implements ag.AutoGradFunction: dx = dy where y > 0, else 0.
func (f *reluFn) Backward(gy mat.Tensor) error {
	if !f.x.RequiresGrad() {
		return nil
	}
	dy, yd := data(gy), data(f.y)
	if len(dy) != len(yd) {
		return fmt.Errorf("core: relu output gradient has %d values, want %d", len(dy), len(yd))
	}
	sh := f.x.Shape()
	dxm := newMatrix(sh[0], sh[1])
	dx := data(dxm)
	parallelFor(len(dy), reluGrain, func(lo, hi int) {
		g, y, dst := dy[lo:hi], yd[lo:hi], dx[lo:hi]
		y, dst = y[:len(g)], dst[:len(g)]
		n4 := len(g) &^ 3
		for i := 0; i < n4; i += 4 {
			v, r, o := g[i:i+4:i+4], y[i:i+4:i+4], dst[i:i+4:i+4]
			o[0], o[1] = reluMasked(v[0], r[0]), reluMasked(v[1], r[1])
			o[2], o[3] = reluMasked(v[2], r[2]), reluMasked(v[3], r[3])
		}
		for i := n4; i < len(g); i++ {
			dst[i] = reluMasked(g[i], y[i])
		}
	})
	f.x.AccGrad(handoff{dxm})
	return nil
}

// relu32 returns max(0, v), mapping -0 (and negative NaNs) to +0. It clears
// the value when the sign bit is set instead of branching: activations are
// positive or negative at random, so a branch would be mispredicted about
// half the time.
func relu32(v float32) float32 {
	b := math.Float32bits(v)
	return math.Float32frombits(b &^ uint32(int32(b)>>31))
}

// reluMasked returns g where y > 0 and 0 where y == +0, for y an output of
// relu32 (never negative), without branching: -int32(bits) is negative
// exactly when y's bits are non-zero.
func reluMasked(g, y float32) float32 {
	mask := uint32(-int32(math.Float32bits(y)) >> 31)
	return math.Float32frombits(math.Float32bits(g) & mask)
}
