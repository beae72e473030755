package core

import (
	"math"
	"testing"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

func TestReverseGradient(t *testing.T) {
	t.Parallel()
	rng := testRNG(70)
	for _, scale := range []float32{0, 0.001, 1, 3} {
		x := randMatrix(rng, 3, 5, true)
		before := cloneData(x)
		y, err := ReverseGradient(x, scale)
		if err != nil {
			t.Fatal(err)
		}
		assertShape(t, "y", y, 3, 5)
		assertClose(t, "y", data(y), f64s(before), 0)
		r := randMatrix(rng, 3, 5, false)
		y.AccGrad(r)
		if err := ag.Backward(y); err != nil {
			t.Fatal(err)
		}
		want := make([]float64, 15)
		for i, v := range data(r) {
			want[i] = -float64(scale) * float64(v)
		}
		assertClose(t, "dx", data(x.Grad()), want, 1e-7)
		assertUnchanged(t, "x", x, before)
	}
}

// TestReverseGradientGrad checks the reversal with finite differences. The
// layer's backward is deliberately not its forward's derivative, so the
// check runs on z = (1+s)·x + R_s(x) - (1+s)·stop(x): its value is x, so
// its true derivative is 1, and its analytic gradient (1+s) - s + 0 is 1
// only if R_s passes back exactly -s·dy.
func TestReverseGradientGrad(t *testing.T) {
	t.Parallel()
	rng := testRNG(71)
	for _, scale := range []float32{0.5, 2} {
		x := randMatrix(rng, 2, 7, true)
		k := mat.Scalar(1 + scale)
		build := func() (mat.Tensor, error) {
			r, err := ReverseGradient(x, scale)
			if err != nil {
				return nil, err
			}
			return ag.Sub(ag.Add(ag.ProdScalar(x, k), r), ag.ProdScalar(ag.StopGrad(x), k)), nil
		}
		gradCheck(t, build, []gradParam{{"x", x}}, rng, gradH, gradTol)
	}
}

func TestReverseGradientErrors(t *testing.T) {
	t.Parallel()
	x := randMatrix(testRNG(72), 2, 3, true)
	expectError(t, "nil", second(ReverseGradient(nil, 1)))
	expectError(t, "negative scale", second(ReverseGradient(x, -1)))
	expectError(t, "NaN scale", second(ReverseGradient(x, float32(math.NaN()))))
	expectError(t, "float64", second(ReverseGradient(mat.NewDense[float64](mat.WithShape(2, 3)), 1)))
}
