package core

import (
	"fmt"
	"math"

	"github.com/pretextlab/pretext/internal/kernel"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

// MaxPool2D takes the max over k x k windows of x ([C, N*H*W], geometry in)
// with the given stride, without padding: windows must fit, so
// Ho = (H-k)/stride+1. Ties go to the first (row-major) element of the
// window, which alone receives the gradient; -0 equals +0, and a NaN in a
// window wins, as in PyTorch. Returns y [C, N*Ho*Wo] and its shape.
func MaxPool2D(x mat.Tensor, in Shape, k, stride int) (mat.Tensor, Shape, error) {
	return maxPool2D(x, in, k, stride, nil)
}

// maxPool2D is MaxPool2D with its output, argmaxes and input gradient from
// a.
func maxPool2D(x mat.Tensor, in Shape, k, stride int, a *stepArena) (mat.Tensor, Shape, error) {
	fn, err := newMaxPoolFn(x, in, k, stride)
	if err != nil {
		return nil, Shape{}, err
	}
	fn.arena = a
	return ag.NewOperator(fn).Run(), fn.out, nil
}

// newMaxPoolFn validates MaxPool2D's operands and returns its autograd
// function.
func newMaxPoolFn(x mat.Tensor, in Shape, k, stride int) (*maxPoolFn, error) {
	if err := in.check("max-pool input", x); err != nil {
		return nil, err
	}
	if k <= 0 || stride <= 0 {
		return nil, fmt.Errorf("core: max-pool window %d stride %d, want both positive", k, stride)
	}
	if k > in.H || k > in.W {
		return nil, fmt.Errorf("core: max-pool window %dx%d larger than input %dx%d", k, k, in.H, in.W)
	}
	if in.Cols() > math.MaxInt32 {
		// Argmaxes are stored as int32 column indices.
		return nil, fmt.Errorf("core: max-pool input %v has more than 2^31 columns", in)
	}
	out := Shape{N: in.N, C: in.C, H: (in.H-k)/stride + 1, W: (in.W-k)/stride + 1}
	return &maxPoolFn{x: x, in: in, out: out, k: k, stride: stride}, nil
}

// maxPoolFn is the autograd function of [MaxPool2D].
type maxPoolFn struct {
	x         mat.Tensor
	in, out   Shape
	k, stride int
	// arg holds, per output value, the column of x (within its channel row)
	// the max came from.
	arg   []int32
	arena *stepArena // where y, arg and dx come from (nil: allocated)
}

// Operands implements ag.AutoGradFunction.
func (f *maxPoolFn) Operands() []mat.Tensor { return []mat.Tensor{f.x} }

// Forward implements ag.AutoGradFunction.
func (f *maxPoolFn) Forward() (mat.Tensor, error) {
	in, out := f.in, f.out
	xcols, ycols := in.Cols(), out.Cols()
	xd := data(f.x)
	y := f.arena.matrix(out.C, ycols, false)
	yd := data(y)
	f.arg = f.arena.int32s(out.C * ycols)
	parallelFor(in.C, 1, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			src := xd[c*xcols : (c+1)*xcols]
			dst := yd[c*ycols : (c+1)*ycols]
			arg := f.arg[c*ycols : (c+1)*ycols]
			if f.k == 2 && f.stride == 2 {
				maxPool2x2(dst, arg, src, in, out)
			} else {
				maxPoolAny(dst, arg, src, in, out, f.k, f.stride)
			}
		}
	})
	return y, nil
}

// maxPool2x2 is maxPoolAny for 2x2 windows of stride 2 (the trunk's pool),
// a pair of rows at a time through kernel.MaxPool2x2Row: branch-free, and
// vectorised where the build has assembly. A nil arg records nothing
// (inference).
func maxPool2x2(dst []float32, arg []int32, src []float32, in, out Shape) {
	hw, w := in.H*in.W, in.W
	for n := 0; n < in.N; n++ {
		for oh := 0; oh < out.H; oh++ {
			base := n*hw + 2*oh*w
			o := (n*out.H + oh) * out.W
			var a []int32
			if arg != nil {
				a = arg[o : o+out.W]
			}
			kernel.MaxPool2x2Row(dst[o:o+out.W], a, src[base:base+w], src[base+w:base+2*w], base, w)
		}
	}
}

// maxPoolAny pools one channel row src into dst, recording argmaxes in arg.
func maxPoolAny(dst []float32, arg []int32, src []float32, in, out Shape, k, stride int) {
	hw := in.H * in.W
	for n := 0; n < in.N; n++ {
		for oh := 0; oh < out.H; oh++ {
			for ow := 0; ow < out.W; ow++ {
				top := n*hw + oh*stride*in.W + ow*stride
				at := top
				best := kernel.PoolKey(src[top])
				for kh := 0; kh < k; kh++ {
					row := src[top+kh*in.W : top+kh*in.W+k]
					for kw, v := range row {
						// Strictly greater: ties keep the first element.
						if key := kernel.PoolKey(v); key > best {
							best, at = key, top+kh*in.W+kw
						}
					}
				}
				o := (n*out.H+oh)*out.W + ow
				dst[o] = src[at]
				arg[o] = int32(at)
			}
		}
	}
}

// Backward implements ag.AutoGradFunction: each output's gradient goes to
// the input its max came from (summed where windows overlap).
func (f *maxPoolFn) Backward(gy mat.Tensor) error {
	if !f.x.RequiresGrad() {
		return nil
	}
	xcols, ycols := f.in.Cols(), f.out.Cols()
	dy := data(gy)
	if len(dy) != len(f.arg) {
		return fmt.Errorf("core: max-pool output gradient has %d values, want %d", len(dy), len(f.arg))
	}
	dxm := f.arena.matrix(f.in.C, xcols, true)
	dx := data(dxm)
	parallelFor(f.in.C, 1, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			dst := dx[c*xcols : (c+1)*xcols]
			g := dy[c*ycols : (c+1)*ycols]
			arg := f.arg[c*ycols : (c+1)*ycols]
			arg = arg[:len(g)]
			for i, v := range g {
				dst[arg[i]] += v
			}
		}
	})
	f.x.AccGrad(handoff{dxm})
	return nil
}

// GlobalAvgPool averages each channel of x ([C, N*H*W], geometry in) over
// H*W per image: y is [N, C], one row per image, ready for [Linear].
func GlobalAvgPool(x mat.Tensor, in Shape) (mat.Tensor, error) {
	return globalAvgPool(x, in, nil)
}

// globalAvgPool is GlobalAvgPool with its input gradient from a.
func globalAvgPool(x mat.Tensor, in Shape, a *stepArena) (mat.Tensor, error) {
	if err := in.check("global-average-pool input", x); err != nil {
		return nil, err
	}
	return ag.NewOperator(&avgPoolFn{x: x, in: in, arena: a}).Run(), nil
}

// avgPoolFn is the autograd function of [GlobalAvgPool].
type avgPoolFn struct {
	x     mat.Tensor
	in    Shape
	arena *stepArena // where dx comes from (nil: allocated)
}

// Operands implements ag.AutoGradFunction.
func (f *avgPoolFn) Operands() []mat.Tensor { return []mat.Tensor{f.x} }

// Forward implements ag.AutoGradFunction.
func (f *avgPoolFn) Forward() (mat.Tensor, error) {
	in := f.in
	hw, cols := in.H*in.W, in.Cols()
	xd := data(f.x)
	y := newMatrix(in.N, in.C)
	yd := data(y)
	inv := 1 / float64(hw)
	parallelFor(in.C, 8, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			row := xd[c*cols : (c+1)*cols]
			for n := 0; n < in.N; n++ {
				yd[n*in.C+c] = float32(sum64(row[n*hw:(n+1)*hw]) * inv)
			}
		}
	})
	return y, nil
}

// Backward implements ag.AutoGradFunction: every pixel of image n, channel c
// gets dy[n, c]/(H*W).
func (f *avgPoolFn) Backward(gy mat.Tensor) error {
	if !f.x.RequiresGrad() {
		return nil
	}
	in := f.in
	hw, cols := in.H*in.W, in.Cols()
	dy := data(gy)
	if len(dy) != in.N*in.C {
		return fmt.Errorf("core: global-average-pool output gradient has %d values, want %d", len(dy), in.N*in.C)
	}
	dxm := f.arena.matrix(in.C, cols, false)
	dx := data(dxm)
	inv := 1 / float32(hw)
	parallelFor(in.C, 8, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			row := dx[c*cols : (c+1)*cols]
			for n := 0; n < in.N; n++ {
				g := dy[n*in.C+c] * inv
				seg := row[n*hw : (n+1)*hw]
				for i := range seg {
					seg[i] = g
				}
			}
		}
	})
	f.x.AccGrad(handoff{dxm})
	return nil
}

// sum64 returns the sum of v in float64, four accumulators wide (see the
// batch-norm loops).
func sum64(v []float32) float64 {
	var s0, s1, s2, s3 float64
	n4 := len(v) &^ 3
	for i := 0; i < n4; i += 4 {
		x := v[i : i+4 : i+4]
		s0 += float64(x[0])
		s1 += float64(x[1])
		s2 += float64(x[2])
		s3 += float64(x[3])
	}
	for _, x := range v[n4:] {
		s0 += float64(x)
	}
	return (s0 + s1) + (s2 + s3)
}
