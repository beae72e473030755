package eval

import (
	"fmt"
	"math"
)

// Features is a row-major float32 matrix: N rows of Dim values, row i in
// Data[i*Dim : (i+1)*Dim]; Data holds exactly N*Dim values.
type Features struct {
	N, Dim int
	Data   []float32
}

// Row returns row i, sharing Data.
func (f Features) Row(i int) []float32 { return f.Data[i*f.Dim : (i+1)*f.Dim : (i+1)*f.Dim] }

// rows returns rows [lo, hi) as Features sharing Data.
func (f Features) rows(lo, hi int) Features {
	return Features{N: hi - lo, Dim: f.Dim, Data: f.Data[lo*f.Dim : hi*f.Dim]}
}

// check reports a shape that does not match Data, or a value that is NaN or
// infinite (which would turn every loss and similarity into NaN).
func (f Features) check(what string) error {
	if f.N < 0 || f.Dim < 1 || len(f.Data) != f.N*f.Dim {
		return fmt.Errorf("eval: %s features are %d x %d but hold %d values", what, f.N, f.Dim, len(f.Data))
	}
	for k, v := range f.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("eval: %s features row %d column %d is %v", what, k/f.Dim, k%f.Dim, v)
		}
	}
	return nil
}

// checkLabels reports a label count that differs from the row count or a
// label outside [0, classes).
func checkLabels(what string, y []int, n, classes int) error {
	if len(y) != n {
		return fmt.Errorf("eval: %d %s labels for %d rows", len(y), what, n)
	}
	for i, c := range y {
		if c < 0 || c >= classes {
			return fmt.Errorf("eval: %s label %d of row %d out of range [0, %d)", what, c, i, classes)
		}
	}
	return nil
}

// stdFloor is the least standard deviation Standardize divides by: a column
// that is constant on the training rows then becomes 0 there instead of
// 0/0, and a nearly constant one (float32 noise) is not blown up.
const stdFloor = 1e-6

// Standardize returns copies of train and test with every column shifted by
// the training rows' mean and divided by their standard deviation (the
// population one, dividing by N, as scikit-learn's StandardScaler does),
// floored at 1e-6 so that constant columns become 0. Statistics are
// accumulated in float64; test rows never influence them. (A column that is
// constant on the training rows is multiplied by 1e6 on the test rows; a
// logistic model fitted to the standardised training rows gives it a weight
// of exactly 0.)
//
// Standardize panics if train has no rows or the two widths differ.
func Standardize(train, test Features) (Features, Features) {
	if train.N < 1 || train.Dim != test.Dim || len(train.Data) != train.N*train.Dim || len(test.Data) != test.N*test.Dim {
		panic(fmt.Sprintf("eval: Standardize of %d x %d training rows (%d values) and %d x %d test rows (%d values)",
			train.N, train.Dim, len(train.Data), test.N, test.Dim, len(test.Data)))
	}
	d := train.Dim
	mean := make([]float64, d)
	for i := range train.N {
		for j, v := range train.Row(i) {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(train.N)
	}
	// Two passes: the sum of squared deviations does not cancel the way
	// E[x²]-E[x]² does.
	scale := make([]float64, d)
	for i := range train.N {
		for j, v := range train.Row(i) {
			e := float64(v) - mean[j]
			scale[j] += float64(e * e) // no FMA: the same bits on every platform
		}
	}
	for j := range scale {
		scale[j] = 1 / max(math.Sqrt(scale[j]/float64(train.N)), stdFloor)
	}
	apply := func(f Features) Features {
		out := Features{N: f.N, Dim: d, Data: make([]float32, len(f.Data))}
		for i := range f.N {
			o := out.Row(i)
			for j, v := range f.Row(i) {
				o[j] = float32((float64(v) - mean[j]) * scale[j])
			}
		}
		return out
	}
	return apply(train), apply(test)
}
