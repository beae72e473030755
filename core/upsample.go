package core

import (
	"fmt"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

// Upsample2x doubles the height and width of x ([C, N*H*W], geometry in)
// by nearest-neighbour sampling, each pixel becoming a 2x2 block (PyTorch's
// Upsample(scale_factor=2, mode="nearest")). It returns y [C, N*2H*2W] and
// its geometry.
func Upsample2x(x mat.Tensor, in Shape) (mat.Tensor, Shape, error) {
	if err := in.check("upsample input", x); err != nil {
		return nil, Shape{}, err
	}
	fn := &upsampleFn{x: x, in: in, out: Shape{N: in.N, C: in.C, H: 2 * in.H, W: 2 * in.W}}
	return ag.NewOperator(fn).Run(), fn.out, nil
}

// UpsampleBilinear2x doubles the height and width of x ([C, N*H*W],
// geometry in) by bilinear interpolation with PyTorch's align_corners=False:
// output pixel o samples the input at (o+0.5)/2-0.5, clamped at the first
// and last pixel, so interior outputs mix neighbours 3:1.
func UpsampleBilinear2x(x mat.Tensor, in Shape) (mat.Tensor, Shape, error) {
	if err := in.check("upsample input", x); err != nil {
		return nil, Shape{}, err
	}
	fn := &upsampleFn{x: x, in: in, out: Shape{N: in.N, C: in.C, H: 2 * in.H, W: 2 * in.W}, bilinear: true}
	return ag.NewOperator(fn).Run(), fn.out, nil
}

// upsampleFn is the autograd function of [Upsample2x] and
// [UpsampleBilinear2x].
type upsampleFn struct {
	x        mat.Tensor
	in, out  Shape
	bilinear bool
}

// Operands implements ag.AutoGradFunction.
func (f *upsampleFn) Operands() []mat.Tensor { return []mat.Tensor{f.x} }

// upTap is one output coordinate's two input coordinates and the weight of
// the second (the first weighs 1-w).
type upTap struct {
	i0, i1 int
	w      float32
}

// upTaps returns the taps of the 2n outputs of one axis of length n.
func upTaps(n int, bilinear bool) []upTap {
	t := make([]upTap, 2*n)
	for o := range t {
		if !bilinear {
			t[o] = upTap{o / 2, o / 2, 0}
			continue
		}
		// (o+0.5)/2 - 0.5 is i-0.25 for o = 2i and i+0.25 for o = 2i+1.
		i := o / 2
		if o%2 == 0 {
			if i == 0 {
				t[o] = upTap{0, 0, 0} // clamped at the edge
			} else {
				t[o] = upTap{i - 1, i, 0.75}
			}
		} else {
			t[o] = upTap{i, min(i+1, n-1), 0.25}
		}
	}
	return t
}

// Forward implements ag.AutoGradFunction.
func (f *upsampleFn) Forward() (mat.Tensor, error) {
	in, out := f.in, f.out
	ty, tx := upTaps(in.H, f.bilinear), upTaps(in.W, f.bilinear)
	xd := data(f.x)
	y := newMatrix(out.C, out.Cols())
	yd := data(y)
	hw, ohw := in.H*in.W, out.H*out.W
	parallelFor(in.C*in.N, 4, func(lo, hi int) {
		for img := lo; img < hi; img++ {
			src, dst := xd[img*hw:(img+1)*hw], yd[img*ohw:(img+1)*ohw]
			for oy, a := range ty {
				r0, r1 := src[a.i0*in.W:(a.i0+1)*in.W], src[a.i1*in.W:(a.i1+1)*in.W]
				row := dst[oy*out.W : (oy+1)*out.W]
				for ox, b := range tx {
					top := r0[b.i0]*(1-b.w) + r0[b.i1]*b.w
					bot := r1[b.i0]*(1-b.w) + r1[b.i1]*b.w
					row[ox] = top*(1-a.w) + bot*a.w
				}
			}
		}
	})
	return y, nil
}

// Backward implements ag.AutoGradFunction: each output gradient is spread
// back over its taps with their weights (the adjoint of Forward).
func (f *upsampleFn) Backward(gy mat.Tensor) error {
	if !f.x.RequiresGrad() {
		return nil
	}
	in, out := f.in, f.out
	dy := data(gy)
	if len(dy) != out.Size() {
		return fmt.Errorf("core: upsample output gradient has %d values, want %d", len(dy), out.Size())
	}
	ty, tx := upTaps(in.H, f.bilinear), upTaps(in.W, f.bilinear)
	dxm := newMatrix(in.C, in.Cols())
	dx := data(dxm)
	hw, ohw := in.H*in.W, out.H*out.W
	// Goroutines own whole images, so each dx value is summed in one fixed
	// order whatever the number of threads.
	parallelFor(in.C*in.N, 4, func(lo, hi int) {
		for img := lo; img < hi; img++ {
			g, d := dy[img*ohw:(img+1)*ohw], dx[img*hw:(img+1)*hw]
			for oy, a := range ty {
				r0, r1 := d[a.i0*in.W:(a.i0+1)*in.W], d[a.i1*in.W:(a.i1+1)*in.W]
				row := g[oy*out.W : (oy+1)*out.W]
				for ox, b := range tx {
					v := row[ox]
					top, bot := v*(1-a.w), v*a.w
					r0[b.i0] += top * (1 - b.w)
					r0[b.i1] += top * b.w
					r1[b.i0] += bot * (1 - b.w)
					r1[b.i1] += bot * b.w
				}
			}
		}
	})
	f.x.AccGrad(handoff{dxm})
	return nil
}
