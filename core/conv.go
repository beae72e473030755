package core

import (
	"fmt"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

// ConvSpec is a 2-D convolution's kernel size, stride and zero padding. Zero
// stride means 1.
type ConvSpec struct{ KH, KW, StrideH, StrideW, PadH, PadW int }

// normalized returns s with zero strides replaced by 1.
func (s ConvSpec) normalized() ConvSpec {
	if s.StrideH == 0 {
		s.StrideH = 1
	}
	if s.StrideW == 0 {
		s.StrideW = 1
	}
	return s
}

// Out returns the output geometry for input in and cout output channels, or
// an error (kernel larger than padded input, non-positive sizes).
func (s ConvSpec) Out(in Shape, cout int) (Shape, error) {
	s = s.normalized()
	switch {
	case in.N <= 0 || in.C <= 0 || in.H <= 0 || in.W <= 0:
		return Shape{}, fmt.Errorf("core: conv input has shape %v, want every dimension positive", in)
	case cout <= 0:
		return Shape{}, fmt.Errorf("core: conv has %d output channels, want at least 1", cout)
	case s.KH <= 0 || s.KW <= 0:
		return Shape{}, fmt.Errorf("core: conv kernel is %dx%d, want positive sizes", s.KH, s.KW)
	case s.StrideH < 0 || s.StrideW < 0:
		return Shape{}, fmt.Errorf("core: conv stride is %dx%d, want positive (or 0 for 1)", s.StrideH, s.StrideW)
	case s.PadH < 0 || s.PadW < 0:
		return Shape{}, fmt.Errorf("core: conv padding is %dx%d, want non-negative", s.PadH, s.PadW)
	case s.KH > in.H+2*s.PadH || s.KW > in.W+2*s.PadW:
		return Shape{}, fmt.Errorf("core: conv kernel %dx%d is larger than the padded input %dx%d",
			s.KH, s.KW, in.H+2*s.PadH, in.W+2*s.PadW)
	}
	return Shape{
		N: in.N,
		C: cout,
		H: (in.H+2*s.PadH-s.KH)/s.StrideH + 1,
		W: (in.W+2*s.PadW-s.KW)/s.StrideW + 1,
	}, nil
}

// Conv2D convolves x ([Cin, N*H*W], geometry in) with w ([Cout, Cin*KH*KW],
// row o = PyTorch's weight[o] flattened in (cin, kh, kw) order), no bias.
// Returns y [Cout, N*Ho*Wo] and its shape.
//
// The whole batch is one graph node: forward is im2col followed by one Gemm,
// backward is two Gemms and col2im.
func Conv2D(x mat.Tensor, in Shape, w mat.Tensor, spec ConvSpec) (mat.Tensor, Shape, error) {
	fn, err := newConv2DFn(x, in, w, spec)
	if err != nil {
		return nil, Shape{}, err
	}
	return ag.NewOperator(fn).Run(), fn.out, nil
}

// newConv2DFn validates Conv2D's operands and returns its autograd function.
func newConv2DFn(x mat.Tensor, in Shape, w mat.Tensor, spec ConvSpec) (*conv2DFn, error) {
	if err := in.check("conv input", x); err != nil {
		return nil, err
	}
	if w == nil {
		return nil, fmt.Errorf("core: conv weight is nil")
	}
	ws := w.Shape()
	if len(ws) != 2 {
		return nil, fmt.Errorf("core: conv weight has shape %v, want [Cout %d]", ws, in.C*spec.KH*spec.KW)
	}
	out, err := spec.Out(in, ws[0])
	if err != nil {
		return nil, err
	}
	if err := checkMatrix("conv weight", w, out.C, in.C*spec.KH*spec.KW); err != nil {
		return nil, err
	}
	return &conv2DFn{x: x, w: w, in: in, out: out, spec: spec.normalized()}, nil
}

// conv2DFn is the autograd function of [Conv2D].
type conv2DFn struct {
	x, w    mat.Tensor
	in, out Shape
	spec    ConvSpec // strides normalised
	// col is the im2col matrix [Cin*KH*KW, N*Ho*Wo] built by Forward and
	// needed for dW; for a pointwise convolution it is x's own data.
	col []float32
}

// Operands implements ag.AutoGradFunction.
func (f *conv2DFn) Operands() []mat.Tensor { return []mat.Tensor{f.x, f.w} }

// pointwise reports whether im2col is the identity (1x1 kernel, stride 1, no
// padding), so x itself can serve as the column matrix and dcol as dx.
func (f *conv2DFn) pointwise() bool {
	s := f.spec
	return s.KH == 1 && s.KW == 1 && s.StrideH == 1 && s.StrideW == 1 && s.PadH == 0 && s.PadW == 0
}

// Forward implements ag.AutoGradFunction: y = W·im2col(x).
func (f *conv2DFn) Forward() (mat.Tensor, error) {
	k, p := f.in.C*f.spec.KH*f.spec.KW, f.out.Cols()
	if f.pointwise() {
		f.col = data(f.x)
	} else {
		f.col = make([]float32, k*p)
		im2col(f.col, data(f.x), f.in, f.out, f.spec)
	}
	y := newMatrix(f.out.C, p)
	Gemm(false, false, f.out.C, p, k, data(f.w), k, f.col, p, 0, data(y), p)
	return y, nil
}

// Backward implements ag.AutoGradFunction: dW = dY·colᵀ and
// dx = col2im(Wᵀ·dY).
func (f *conv2DFn) Backward(gy mat.Tensor) error {
	k, p, cout := f.in.C*f.spec.KH*f.spec.KW, f.out.Cols(), f.out.C
	dy := data(gy)
	if len(dy) != cout*p {
		return fmt.Errorf("core: conv output gradient has %d values, want %d", len(dy), cout*p)
	}
	if f.w.RequiresGrad() {
		dw := newMatrix(cout, k)
		Gemm(false, true, cout, k, p, dy, p, f.col, p, 0, data(dw), k)
		f.w.AccGrad(dw)
	}
	if f.x.RequiresGrad() {
		dx := newMatrix(f.in.C, f.in.Cols())
		if f.pointwise() {
			Gemm(true, false, k, p, cout, data(f.w), k, dy, p, 0, data(dx), p)
		} else {
			dcol := make([]float32, k*p)
			Gemm(true, false, k, p, cout, data(f.w), k, dy, p, 0, dcol, p)
			col2im(data(dx), dcol, f.in, f.out, f.spec)
		}
		f.x.AccGrad(dx)
	}
	return nil
}

// convSpan returns the range [lo, hi) of output columns ow whose input column
// iw = ow*stride + off lies inside [0, w), clipped to [0, wo); off is
// kw - padW. Outside it the kernel tap reads zero padding.
func convSpan(off, stride, w, wo int) (lo, hi int) {
	if off < 0 {
		lo = (-off + stride - 1) / stride
	}
	if last := w - 1 - off; last >= 0 {
		hi = min(last/stride+1, wo)
	}
	return lo, max(lo, hi)
}

// im2col fills col ([Cin*KH*KW, N*Ho*Wo]) from x ([Cin, N*H*W]): row
// (ci, kh, kw), column (n, oh, ow) holds x[ci, n, oh*sh-ph+kh, ow*sw-pw+kw],
// or 0 in the padding. Rows are independent, so they are split over
// goroutines; each output row segment is a copy for stride 1.
func im2col(col, x []float32, in, out Shape, s ConvSpec) {
	kk := s.KH * s.KW
	p, hw, xcols := out.Cols(), in.H*in.W, in.Cols()
	ho, wo := out.H, out.W
	parallelFor(in.C*kk, 1, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			ci, kh, kw := r/kk, r/s.KW%s.KH, r%s.KW
			dst := col[r*p : (r+1)*p]
			src := x[ci*xcols : (ci+1)*xcols]
			off := kw - s.PadW
			olo, ohi := convSpan(off, s.StrideW, in.W, wo)
			for n := 0; n < in.N; n++ {
				img := src[n*hw : (n+1)*hw]
				for oh := 0; oh < ho; oh++ {
					d := dst[(n*ho+oh)*wo : (n*ho+oh+1)*wo]
					ih := oh*s.StrideH - s.PadH + kh
					if ih < 0 || ih >= in.H || olo == ohi {
						clear(d)
						continue
					}
					row := img[ih*in.W : (ih+1)*in.W]
					clear(d[:olo])
					clear(d[ohi:])
					if s.StrideW == 1 {
						copy(d[olo:ohi], row[olo+off:ohi+off])
						continue
					}
					iw := olo*s.StrideW + off
					for ow := olo; ow < ohi; ow++ {
						d[ow] = row[iw]
						iw += s.StrideW
					}
				}
			}
		}
	})
}

// col2im sums dcol ([Cin*KH*KW, N*Ho*Wo]) back into dx ([Cin, N*H*W], zeroed
// by the caller), the adjoint of im2col. Goroutines own whole input channels
// (disjoint rows of dx) and every dx element is summed over (kh, kw) in
// increasing order, so the result does not depend on the number of threads.
func col2im(dx, dcol []float32, in, out Shape, s ConvSpec) {
	kk := s.KH * s.KW
	p, hw, xcols := out.Cols(), in.H*in.W, in.Cols()
	ho, wo := out.H, out.W
	parallelFor(in.C, 1, func(lo, hi int) {
		for ci := lo; ci < hi; ci++ {
			dst := dx[ci*xcols : (ci+1)*xcols]
			for t := 0; t < kk; t++ {
				kh, kw := t/s.KW, t%s.KW
				r := ci*kk + t
				src := dcol[r*p : (r+1)*p]
				off := kw - s.PadW
				olo, ohi := convSpan(off, s.StrideW, in.W, wo)
				if olo == ohi {
					continue
				}
				for n := 0; n < in.N; n++ {
					img := dst[n*hw : (n+1)*hw]
					for oh := 0; oh < ho; oh++ {
						ih := oh*s.StrideH - s.PadH + kh
						if ih < 0 || ih >= in.H {
							continue
						}
						row := img[ih*in.W : (ih+1)*in.W]
						g := src[(n*ho+oh)*wo+olo : (n*ho+oh)*wo+ohi]
						if s.StrideW == 1 {
							a := row[olo+off : ohi+off]
							a = a[:len(g)]
							for i, v := range g {
								a[i] += v
							}
							continue
						}
						iw := olo*s.StrideW + off
						for _, v := range g {
							row[iw] += v
							iw += s.StrideW
						}
					}
				}
			}
		}
	})
}
