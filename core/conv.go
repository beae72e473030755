package core

import (
	"fmt"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
	"github.com/pretextlab/pretext/internal/kernel"
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
	return conv2D(x, in, w, spec, nil)
}

// conv2D is Conv2D with its output, columns and input gradient from a.
func conv2D(x mat.Tensor, in Shape, w mat.Tensor, spec ConvSpec, a *stepArena) (mat.Tensor, Shape, error) {
	fn, err := newConv2DFn(x, in, w, spec)
	if err != nil {
		return nil, Shape{}, err
	}
	fn.arena = a
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
	// needed for dW (nil once Forward drops it, or before it runs); for a
	// pointwise convolution it is x's own data.
	col []float32
	// arena is where y, col and dx come from (nil: allocated, with col
	// recycled through the scratch pool).
	arena *stepArena
}

// Operands implements ag.AutoGradFunction.
func (f *conv2DFn) Operands() []mat.Tensor { return []mat.Tensor{f.x, f.w} }

// pointwise reports whether im2col is the identity (1x1 kernel, stride 1, no
// padding), so x itself can serve as the column matrix and dcol as dx.
func (f *conv2DFn) pointwise() bool {
	s := f.spec
	return s.KH == 1 && s.KW == 1 && s.StrideH == 1 && s.StrideW == 1 && s.PadH == 0 && s.PadW == 0
}

// columns returns the im2col matrix of x, building it on first use.
func (f *conv2DFn) columns() []float32 {
	if f.col == nil {
		if f.pointwise() {
			f.col = data(f.x)
		} else {
			if n := f.in.C * f.spec.KH * f.spec.KW * f.out.Cols(); f.arena != nil {
				f.col = f.arena.floats(n, false)
			} else {
				f.col = getScratch(n)
			}
			im2col(f.col, data(f.x), f.in, f.out, f.spec)
		}
	}
	return f.col
}

// Forward implements ag.AutoGradFunction: y = W·im2col(x).
func (f *conv2DFn) Forward() (mat.Tensor, error) {
	k, p := f.in.C*f.spec.KH*f.spec.KW, f.out.Cols()
	f.col = nil // built afresh from x
	y := f.arena.matrix(f.out.C, p, false)
	kernel.Gemm(false, false, f.out.C, p, k, data(f.w), k, f.columns(), p, 0, data(y), p)
	if !f.x.RequiresGrad() && !f.w.RequiresGrad() {
		f.releaseColumns() // no backward pass should need it (inference)
	}
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
		if 2*k <= cout {
			// Few inputs per output (a first layer on grey images: 9):
			// dWᵀ = col·dYᵀ pads k rows to the kernel's tile rather than
			// k columns to its far wider one, and packs the smaller
			// operand as the broadcast one (1.6x faster on 1-channel
			// 32x32 batches of 256). Every element sums the same products
			// in the same order either way.
			dwt := getScratch(k * cout)
			kernel.Gemm(false, true, k, cout, p, f.columns(), p, dy, p, 0, dwt, cout)
			d := data(dw)
			for i := range k {
				for o, v := range dwt[i*cout : (i+1)*cout] {
					d[o*k+i] = v
				}
			}
			putScratch(dwt)
		} else {
			kernel.Gemm(false, true, cout, k, p, dy, p, f.columns(), p, 0, data(dw), k)
		}
		f.w.AccGrad(handoff{dw})
	}
	// One backward pass per graph: the columns are not needed again.
	f.releaseColumns()
	if f.x.RequiresGrad() {
		dxm := f.arena.matrix(f.in.C, f.in.Cols(), true)
		dx := data(dxm)
		if f.pointwise() {
			kernel.Gemm(true, false, k, p, cout, data(f.w), k, dy, p, 0, dx, p)
		} else {
			dcol := f.scratch(k * p)
			kernel.Gemm(true, false, k, p, cout, data(f.w), k, dy, p, 0, dcol, p)
			col2im(dx, dcol, f.in, f.out, f.spec)
			if f.arena == nil {
				putScratch(dcol)
			}
		}
		f.x.AccGrad(handoff{dxm})
	}
	return nil
}

// scratch returns a buffer of n values with undefined contents: the
// arena's, else the scratch pool's.
func (f *conv2DFn) scratch(n int) []float32 {
	if f.arena != nil {
		return f.arena.floats(n, false)
	}
	return getScratch(n)
}

// releaseColumns recycles the im2col buffer (unless it is x's own data).
func (f *conv2DFn) releaseColumns() {
	if f.col != nil && !f.pointwise() && f.arena == nil {
		putScratch(f.col)
	}
	f.col = nil
}

// convSpan returns the range [lo, hi) of output positions o whose input
// position o*stride + off lies inside [0, size), clipped to [0, outSize);
// off is the kernel tap minus the padding. Outside it the tap reads zero
// padding.
func convSpan(off, stride, size, outSize int) (lo, hi int) {
	if off < 0 {
		lo = (-off + stride - 1) / stride
	}
	if last := size - 1 - off; last >= 0 {
		hi = min(last/stride+1, outSize)
	}
	return lo, max(lo, hi)
}

// im2col fills col ([Cin*KH*KW, N*Ho*Wo]) from x ([Cin, N*H*W]): row
// (ci, kh, kw), column (n, oh, ow) holds x[ci, n, oh*sh-ph+kh, ow*sw-pw+kw],
// or 0 in the padding. Rows are independent, so they are split over
// goroutines.
//
// With stride 1 and Wo == W (the trunk's 3x3 pad 1), a tap's whole image is
// x's image shifted by a constant offset: one block copy per image, then
// the few padding columns zeroed, instead of one copy per output row.
func im2col(col, x []float32, in, out Shape, s ConvSpec) {
	kk := s.KH * s.KW
	hw, xcols := in.H*in.W, in.Cols()
	ho, wo := out.H, out.W
	ohw := ho * wo
	shifted := s.StrideH == 1 && s.StrideW == 1 && wo == in.W
	parallelFor(in.C*kk, 1, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			ci, kh, kw := r/kk, r/s.KW%s.KH, r%s.KW
			dst := col[r*out.Cols() : (r+1)*out.Cols()]
			src := x[ci*xcols : (ci+1)*xcols]
			offH, offW := kh-s.PadH, kw-s.PadW
			hlo, hhi := convSpan(offH, s.StrideH, in.H, ho)
			wlo, whi := convSpan(offW, s.StrideW, in.W, wo)
			if hlo == hhi || wlo == whi {
				clear(dst) // the tap only ever reads padding
				continue
			}
			for n := 0; n < in.N; n++ {
				img := src[n*hw : (n+1)*hw]
				d := dst[n*ohw : (n+1)*ohw]
				clear(d[:hlo*wo])
				clear(d[hhi*wo:])
				if shifted {
					// d[q] = img[q+shift] on the valid rows; the ends the
					// clip leaves out and the values wrapped in from
					// neighbouring rows are all padding columns.
					shift := offH*in.W + offW
					a, b := max(hlo*wo, -shift), min(hhi*wo, hw-shift)
					copy(d[a:b], img[a+shift:b+shift])
					if wlo > 0 || whi < wo {
						// One or two columns per row: stores, not clear's
						// call.
						for oh := hlo; oh < hhi; oh++ {
							row := d[oh*wo : (oh+1)*wo]
							for i := 0; i < wlo; i++ {
								row[i] = 0
							}
							for i := whi; i < len(row); i++ {
								row[i] = 0
							}
						}
					}
					continue
				}
				for oh := hlo; oh < hhi; oh++ {
					row := img[(oh*s.StrideH+offH)*in.W:]
					row = row[:in.W]
					dr := d[oh*wo : (oh+1)*wo]
					clear(dr[:wlo])
					clear(dr[whi:])
					if s.StrideW == 1 {
						copy(dr[wlo:whi], row[wlo+offW:whi+offW])
						continue
					}
					iw := wlo*s.StrideW + offW
					for ow := wlo; ow < whi; ow++ {
						dr[ow] = row[iw]
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
	if s.KW == 3 && s.PadW == 1 && s.StrideH == 1 && s.StrideW == 1 {
		col2im3(dx, dcol, in, out, s)
		return
	}
	kk := s.KH * s.KW
	hw, xcols := in.H*in.W, in.Cols()
	ho, wo := out.H, out.W
	ohw := ho * wo
	parallelFor(in.C, 1, func(lo, hi int) {
		for ci := lo; ci < hi; ci++ {
			dst := dx[ci*xcols : (ci+1)*xcols]
			for t := 0; t < kk; t++ {
				kh, kw := t/s.KW, t%s.KW
				r := ci*kk + t
				src := dcol[r*out.Cols() : (r+1)*out.Cols()]
				offH, offW := kh-s.PadH, kw-s.PadW
				hlo, hhi := convSpan(offH, s.StrideH, in.H, ho)
				wlo, whi := convSpan(offW, s.StrideW, in.W, wo)
				if hlo == hhi || wlo == whi {
					continue
				}
				for n := 0; n < in.N; n++ {
					img := dst[n*hw : (n+1)*hw]
					g := src[n*ohw : (n+1)*ohw]
					for oh := hlo; oh < hhi; oh++ {
						row := img[(oh*s.StrideH+offH)*in.W:]
						row = row[:in.W]
						gr := g[oh*wo+wlo : oh*wo+whi]
						if s.StrideW == 1 {
							addTo(row[wlo+offW:whi+offW], gr)
							continue
						}
						iw := wlo*s.StrideW + offW
						for _, v := range gr {
							row[iw] += v
							iw += s.StrideW
						}
					}
				}
			}
		}
	})
}

// col2im3 is col2im for kernels three wide with horizontal padding 1 and
// stride 1 (the trunk's 3x3 "same" convolutions, where Wo == W). It gathers
// instead of scattering: each dx row takes its three horizontal taps of a
// kernel row in one pass, d += s0[iw+1] + s1[iw] + s2[iw-1], which halves
// the loads and stores of three separate adds. Every dx element is still
// summed in a fixed order (kernel rows in order, then the taps left to
// right), and goroutines own whole input channels.
func col2im3(dx, dcol []float32, in, out Shape, s ConvSpec) {
	hw, xcols, w := in.H*in.W, in.Cols(), in.W
	ho := out.H
	ohw := ho * w
	parallelFor(in.C, 1, func(lo, hi int) {
		for ci := lo; ci < hi; ci++ {
			dst := dx[ci*xcols : (ci+1)*xcols]
			for kh := 0; kh < s.KH; kh++ {
				r := (ci*s.KH + kh) * 3
				src0 := dcol[r*out.Cols() : (r+1)*out.Cols()]
				src1 := dcol[(r+1)*out.Cols() : (r+2)*out.Cols()]
				src2 := dcol[(r+2)*out.Cols() : (r+3)*out.Cols()]
				offH := kh - s.PadH
				hlo, hhi := convSpan(offH, 1, in.H, ho)
				for n := 0; n < in.N; n++ {
					img := dst[n*hw : (n+1)*hw]
					for oh := hlo; oh < hhi; oh++ {
						o := n*ohw + oh*w
						add3Taps(img[(oh+offH)*w:(oh+offH+1)*w], src0[o:o+w], src1[o:o+w], src2[o:o+w])
					}
				}
			}
		}
	})
}

// add3Taps adds to d (one dx row) the three taps of one kernel row with
// horizontal padding 1: d[iw] += s0[iw+1] + s1[iw] + s2[iw-1], where taps
// falling in the padding are left out. All four slices have the same length.
func add3Taps(d, s0, s1, s2 []float32) {
	w := len(d)
	s0, s1, s2 = s0[:w], s1[:w], s2[:w]
	if w == 1 {
		d[0] += s1[0]
		return
	}
	d[0] = d[0] + s0[1] + s1[0]
	d[w-1] = d[w-1] + s1[w-1] + s2[w-2]
	// Interior: all three taps, four columns at a time.
	dd, a, b, c := d[1:w-1], s0[2:], s1[1:w-1], s2[:w-2]
	a, b, c = a[:len(dd)], b[:len(dd)], c[:len(dd)]
	n4 := len(dd) &^ 3
	for i := 0; i < n4; i += 4 {
		o, x, y, z := dd[i:i+4:i+4], a[i:i+4:i+4], b[i:i+4:i+4], c[i:i+4:i+4]
		o[0] = o[0] + x[0] + y[0] + z[0]
		o[1] = o[1] + x[1] + y[1] + z[1]
		o[2] = o[2] + x[2] + y[2] + z[2]
		o[3] = o[3] + x[3] + y[3] + z[3]
	}
	for i := n4; i < len(dd); i++ {
		dd[i] = dd[i] + a[i] + b[i] + c[i]
	}
}

// addTo adds src to dst elementwise (len(src) <= len(dst)), four at a time
// (see the batch-norm loops for why).
func addTo(dst, src []float32) {
	dst = dst[:len(src)]
	n4 := len(src) &^ 3
	for i := 0; i < n4; i += 4 {
		d, v := dst[i:i+4:i+4], src[i:i+4:i+4]
		d[0] += v[0]
		d[1] += v[1]
		d[2] += v[2]
		d[3] += v[3]
	}
	for i := n4; i < len(src); i++ {
		dst[i] += src[i]
	}
}
