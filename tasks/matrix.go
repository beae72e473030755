package tasks

import (
	"fmt"
	"slices"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

// Matrix helpers: wrapping values as spago matrices, resampling planes,
// and a reshape that keeps the autograd graph.

// matrix wraps values (not copied) as a float32 rows x cols matrix.
func matrix(rows, cols int, values []float32) *mat.Dense[float32] {
	return mat.NewDense[float32](mat.WithShape(rows, cols), mat.WithBacking(values))
}

// bilinear resamples plane (sw x sh) to dw x dh, sampling pixel centres
// (half-pixel offsets) with clamping at the edges.
func bilinear(plane []float64, sw, sh, dw, dh int) []float64 {
	out := make([]float64, dw*dh)
	coord := func(i, src, dst int) (int, int, float64) {
		f := (float64(i)+0.5)*float64(src)/float64(dst) - 0.5
		f = max(0, min(float64(src-1), f))
		i0 := int(f)
		i1 := min(i0+1, src-1)
		return i0, i1, f - float64(i0)
	}
	for y := range dh {
		y0, y1, fy := coord(y, sh, dh)
		for x := range dw {
			x0, x1, fx := coord(x, sw, dw)
			top := plane[y0*sw+x0]*(1-fx) + plane[y0*sw+x1]*fx
			bot := plane[y1*sw+x0]*(1-fx) + plane[y1*sw+x1]*fx
			out[y*dw+x] = top*(1-fy) + bot*fy
		}
	}
	return out
}

// reshapeMatrix views the row-major values of x as a rows x cols matrix, as
// one graph node whose gradient flows back to x unchanged.
func reshapeMatrix(x mat.Tensor, rows, cols int) (mat.Tensor, error) {
	sh := x.Shape()
	if len(sh) != 2 || sh[0]*sh[1] != rows*cols {
		return nil, fmt.Errorf("tasks: cannot reshape %v to [%d %d]", sh, rows, cols)
	}
	if _, ok := x.Value().(*mat.Dense[float32]); !ok {
		return nil, fmt.Errorf("tasks: reshape input holds %T, want *mat.Dense[float32]", x.Value())
	}
	return ag.NewOperator(&reshapeFn{x: x, rows: rows, cols: cols}).Run(), nil
}

// reshapeFn is the autograd function of reshapeMatrix.
type reshapeFn struct {
	x          mat.Tensor
	rows, cols int
}

func (f *reshapeFn) Operands() []mat.Tensor { return []mat.Tensor{f.x} }

func (f *reshapeFn) Forward() (mat.Tensor, error) {
	v := slices.Clone(mat.Data[float32](f.x.Value()))
	return mat.NewDense[float32](mat.WithShape(f.rows, f.cols), mat.WithBacking(v)), nil
}

func (f *reshapeFn) Backward(gy mat.Tensor) error {
	if !f.x.RequiresGrad() {
		return nil
	}
	g := slices.Clone(mat.Data[float32](gy))
	sh := f.x.Shape()
	if len(g) != sh[0]*sh[1] {
		return fmt.Errorf("tasks: reshape output gradient has %d values, want %d", len(g), sh[0]*sh[1])
	}
	f.x.AccGrad(mat.NewDense[float32](mat.WithShape(sh[0], sh[1]), mat.WithBacking(g)))
	return nil
}
