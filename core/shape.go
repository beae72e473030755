package core

import (
	"fmt"

	"github.com/nlpodyssey/spago/mat"
)

// Shape is the geometry of a batch of N feature maps of C channels, H x W
// pixels each, stored as one [C, N*H*W] matrix (see the package doc).
type Shape struct{ N, C, H, W int }

// Cols is the number of columns of the batch matrix: N*H*W.
func (s Shape) Cols() int { return s.N * s.H * s.W }

// Size is the number of values in the batch: C*N*H*W.
func (s Shape) Size() int { return s.C * s.Cols() }

func (s Shape) String() string { return fmt.Sprintf("%dx%dx%dx%d (NCHW)", s.N, s.C, s.H, s.W) }

// check reports an error unless s is positive in every dimension and t is a
// float32 matrix of shape [C, N*H*W]. what names the operand in the message.
func (s Shape) check(what string, t mat.Tensor) error {
	if s.N <= 0 || s.C <= 0 || s.H <= 0 || s.W <= 0 {
		return fmt.Errorf("core: %s has shape %v, want every dimension positive", what, s)
	}
	if t == nil {
		return fmt.Errorf("core: %s is nil", what)
	}
	if err := checkMatrix(what, t, s.C, s.Cols()); err != nil {
		return fmt.Errorf("%w (batch %v)", err, s)
	}
	return nil
}

// checkMatrix reports an error unless t is a float32 matrix of rows x cols.
func checkMatrix(what string, t mat.Tensor, rows, cols int) error {
	if t == nil {
		return fmt.Errorf("core: %s is nil", what)
	}
	sh := t.Shape()
	if len(sh) != 2 || sh[0] != rows || sh[1] != cols {
		return fmt.Errorf("core: %s has shape %v, want [%d %d]", what, sh, rows, cols)
	}
	if _, ok := t.Value().(*mat.Dense[float32]); !ok {
		return fmt.Errorf("core: %s holds %T, want *mat.Dense[float32]", what, t.Value())
	}
	return nil
}

// data returns the float32 values behind t without copying.
func data(t mat.Tensor) []float32 { return mat.Data[float32](t.Value()) }

// newMatrix returns a zeroed float32 rows x cols matrix.
func newMatrix(rows, cols int) *mat.Dense[float32] {
	return mat.NewDense[float32](mat.WithShape(rows, cols))
}

// handoff passes a gradient's matrix to the node it is accumulated into:
// spago's Dense.AccGrad keeps a Clone of the first gradient a node receives
// (a fresh zeroed allocation and a copy), and handoff's Clone is the matrix
// itself, so the node keeps it instead. (Later gradients are added to it.)
// The caller must not use, change or recycle the matrix afterwards.
type handoff struct{ *mat.Dense[float32] }

// Clone implements mat.Matrix without copying: see handoff.
func (h handoff) Clone() mat.Matrix { return h.Dense }

// fromData wraps values (not copied) as a float32 rows x cols matrix.
func fromData(rows, cols int, values []float32) *mat.Dense[float32] {
	return mat.NewDense[float32](mat.WithShape(rows, cols), mat.WithBacking(values))
}
