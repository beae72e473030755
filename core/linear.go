package core

import (
	"fmt"
	"reflect"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
	"github.com/pretextlab/pretext/internal/kernel"
)

// Linear computes y = x·wᵀ + b for x [N, in], w [out, in] (PyTorch layout)
// and b [out, 1] or nil (no bias); y is [N, out].
func Linear(x, w, b mat.Tensor) (mat.Tensor, error) {
	if x == nil || w == nil {
		return nil, fmt.Errorf("core: linear input or weight is nil")
	}
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 2 || xs[0] < 1 || xs[1] < 1 {
		return nil, fmt.Errorf("core: linear input has shape %v, want [N in] with N, in >= 1", xs)
	}
	if len(ws) != 2 || ws[0] < 1 {
		return nil, fmt.Errorf("core: linear weight has shape %v, want [out %d] with out >= 1", ws, xs[1])
	}
	n, in, out := xs[0], xs[1], ws[0]
	if err := checkMatrix("linear input", x, n, in); err != nil {
		return nil, err
	}
	if err := checkMatrix("linear weight", w, out, in); err != nil {
		return nil, err
	}
	if linearNoBias(b) {
		b = nil
	} else if err := checkMatrix("linear bias", b, out, 1); err != nil {
		return nil, err
	}
	return ag.NewOperator(&linearFn{x: x, w: w, b: b, n: n, in: in, out: out}).Run(), nil
}

// linearNoBias reports whether b is nil, including a nil pointer in a
// non-nil interface (such as a nil *nn.Param field passed as the bias).
func linearNoBias(b mat.Tensor) bool {
	if b == nil {
		return true
	}
	v := reflect.ValueOf(b)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// linearFn is the autograd function of [Linear].
type linearFn struct {
	x, w, b    mat.Tensor // b may be nil
	n, in, out int
}

// Operands implements ag.AutoGradFunction.
func (f *linearFn) Operands() []mat.Tensor {
	if f.b == nil {
		return []mat.Tensor{f.x, f.w}
	}
	return []mat.Tensor{f.x, f.w, f.b}
}

// Forward implements ag.AutoGradFunction.
func (f *linearFn) Forward() (mat.Tensor, error) {
	y := newMatrix(f.n, f.out)
	yd := data(y)
	kernel.Gemm(false, true, f.n, f.out, f.in, data(f.x), f.in, data(f.w), f.in, 0, yd, f.out)
	if f.b != nil {
		bias := data(f.b)
		for i := 0; i < f.n; i++ {
			row := yd[i*f.out : (i+1)*f.out]
			row = row[:len(bias)]
			for j, v := range bias {
				row[j] += v
			}
		}
	}
	return y, nil
}

// Backward implements ag.AutoGradFunction: dx = dy·w, dw = dyᵀ·x and
// db = Σ_rows dy.
func (f *linearFn) Backward(gy mat.Tensor) error {
	dy := data(gy)
	if len(dy) != f.n*f.out {
		return fmt.Errorf("core: linear output gradient has %d values, want %d", len(dy), f.n*f.out)
	}
	if f.x.RequiresGrad() {
		dx := newMatrix(f.n, f.in)
		kernel.Gemm(false, false, f.n, f.in, f.out, dy, f.out, data(f.w), f.in, 0, data(dx), f.in)
		f.x.AccGrad(handoff{dx})
	}
	if f.w.RequiresGrad() {
		dw := newMatrix(f.out, f.in)
		kernel.Gemm(true, false, f.out, f.in, f.n, dy, f.out, data(f.x), f.in, 0, data(dw), f.in)
		f.w.AccGrad(handoff{dw})
	}
	if f.b != nil && f.b.RequiresGrad() {
		dbm := newMatrix(f.out, 1)
		db := data(dbm)
		for i := 0; i < f.n; i++ {
			row := dy[i*f.out : (i+1)*f.out]
			row = row[:len(db)]
			for j, v := range row {
				db[j] += v
			}
		}
		f.b.AccGrad(handoff{dbm})
	}
	return nil
}
