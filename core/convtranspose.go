package core

import (
	"fmt"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
	"github.com/pretextlab/pretext/internal/kernel"
)

// ConvTransposeOut returns the output geometry of a transposed convolution
// of input in with spec to cout channels: Ho = (H-1)·stride - 2·pad + KH
// (PyTorch's ConvTranspose2d without output_padding or dilation), likewise
// Wo. It is the input geometry of the convolution with spec whose output is
// in.
func ConvTransposeOut(in Shape, cout int, spec ConvSpec) (Shape, error) {
	s := spec.normalized()
	switch {
	case in.N <= 0 || in.C <= 0 || in.H <= 0 || in.W <= 0:
		return Shape{}, fmt.Errorf("core: transposed conv input has shape %v, want every dimension positive", in)
	case cout <= 0:
		return Shape{}, fmt.Errorf("core: transposed conv has %d output channels, want at least 1", cout)
	case s.KH <= 0 || s.KW <= 0:
		return Shape{}, fmt.Errorf("core: transposed conv kernel is %dx%d, want positive sizes", s.KH, s.KW)
	case s.StrideH < 0 || s.StrideW < 0 || s.PadH < 0 || s.PadW < 0:
		return Shape{}, fmt.Errorf("core: transposed conv stride %dx%d, padding %dx%d, want non-negative", s.StrideH, s.StrideW, s.PadH, s.PadW)
	}
	out := Shape{N: in.N, C: cout, H: (in.H-1)*s.StrideH - 2*s.PadH + s.KH, W: (in.W-1)*s.StrideW - 2*s.PadW + s.KW}
	if out.H <= 0 || out.W <= 0 {
		return Shape{}, fmt.Errorf("core: transposed conv of %dx%d input with %+v has %dx%d output", in.H, in.W, spec, out.H, out.W)
	}
	// The convolution with spec must map out back onto in exactly, or
	// col2im and im2col would walk a different grid. (It always does for
	// the sizes above; checked so a future spec field cannot break it.)
	if back, err := s.Out(out, in.C); err != nil || back != in {
		return Shape{}, fmt.Errorf("core: transposed conv %+v of %v is not the adjoint of a convolution", spec, in)
	}
	return out, nil
}

// ConvTranspose2D is the transposed ("fractionally strided") convolution of
// x ([Cin, N*H*W], geometry in) with w ([Cin, Cout*KH*KW], row i =
// PyTorch's ConvTranspose2d weight[i], shape [Cin, Cout, KH, KW], flattened
// in (cout, kh, kw) order), no bias: y[co, n, ih·s-p+kh, iw·s-p+kw] +=
// x[ci, n, ih, iw]·w[ci, (co, kh, kw)]. It returns y [Cout, N*Ho*Wo] and
// its geometry ([ConvTransposeOut]); stride 2, kernel 4, padding 1 doubles
// the size, as do stride 2, kernel 2, padding 0.
//
// It is exactly the input gradient of [Conv2D] with the same spec and
// weight w read as Conv2D's [Cout', Cin'*KH*KW] with Cout' = Cin: the
// weight layouts agree, so a transposed conv and the conv it inverts can
// share one matrix. Forward is one Gemm (col = wᵀ·x) and col2im; backward is
// im2col of dy and two Gemms.
func ConvTranspose2D(x mat.Tensor, in Shape, w mat.Tensor, spec ConvSpec) (mat.Tensor, Shape, error) {
	if err := in.check("transposed conv input", x); err != nil {
		return nil, Shape{}, err
	}
	if w == nil {
		return nil, Shape{}, fmt.Errorf("core: transposed conv weight is nil")
	}
	kk := spec.KH * spec.KW
	ws := w.Shape()
	if len(ws) != 2 || ws[0] != in.C || kk <= 0 || ws[1] < kk || ws[1]%kk != 0 {
		return nil, Shape{}, fmt.Errorf("core: transposed conv weight has shape %v, want [%d Cout*%d]", ws, in.C, max(kk, 0))
	}
	out, err := ConvTransposeOut(in, ws[1]/kk, spec)
	if err != nil {
		return nil, Shape{}, err
	}
	if err := checkMatrix("transposed conv weight", w, in.C, ws[1]); err != nil {
		return nil, Shape{}, err
	}
	fn := &convTransposeFn{x: x, w: w, in: in, out: out, spec: spec.normalized()}
	return ag.NewOperator(fn).Run(), out, nil
}

// convTransposeFn is the autograd function of [ConvTranspose2D].
type convTransposeFn struct {
	x, w    mat.Tensor
	in, out Shape
	spec    ConvSpec // strides normalised
}

// Operands implements ag.AutoGradFunction.
func (f *convTransposeFn) Operands() []mat.Tensor { return []mat.Tensor{f.x, f.w} }

// Forward implements ag.AutoGradFunction: y = col2im(wᵀ·x), Conv2D's
// backward-data pass with the roles of input and output swapped.
func (f *convTransposeFn) Forward() (mat.Tensor, error) {
	k, p := f.out.C*f.spec.KH*f.spec.KW, f.in.Cols()
	col := getScratch(k * p)
	kernel.Gemm(true, false, k, p, f.in.C, data(f.w), k, data(f.x), p, 0, col, p)
	y := newMatrix(f.out.C, f.out.Cols()) // zeroed, as col2im needs
	col2im(data(y), col, f.out, f.in, f.spec)
	putScratch(col)
	return y, nil
}

// Backward implements ag.AutoGradFunction: with dcol = im2col(dy),
// dx = w·dcol and dw = x·dcolᵀ (Conv2D's forward and weight gradient).
func (f *convTransposeFn) Backward(gy mat.Tensor) error {
	k, p, cin := f.out.C*f.spec.KH*f.spec.KW, f.in.Cols(), f.in.C
	dy := data(gy)
	if len(dy) != f.out.Size() {
		return fmt.Errorf("core: transposed conv output gradient has %d values, want %d", len(dy), f.out.Size())
	}
	if !f.x.RequiresGrad() && !f.w.RequiresGrad() {
		return nil
	}
	dcol := getScratch(k * p)
	im2col(dcol, dy, f.out, f.in, f.spec)
	if f.w.RequiresGrad() {
		dw := newMatrix(cin, k)
		kernel.Gemm(false, true, cin, k, p, data(f.x), p, dcol, p, 0, data(dw), k)
		f.w.AccGrad(handoff{dw})
	}
	if f.x.RequiresGrad() {
		dx := newMatrix(cin, p)
		kernel.Gemm(false, false, cin, p, k, data(f.w), k, dcol, p, 0, data(dx), p)
		f.x.AccGrad(handoff{dx})
	}
	putScratch(dcol)
	return nil
}
