package core

import (
	"fmt"
	"testing"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"
)

// refLinear is x·wᵀ + b in float64 (b may be nil).
func refLinear(x, w, b []float64, n, in, out int) []float64 {
	y := make([]float64, n*out)
	for i := 0; i < n; i++ {
		for o := 0; o < out; o++ {
			var s float64
			for j := 0; j < in; j++ {
				s += x[i*in+j] * w[o*in+j]
			}
			if b != nil {
				s += b[o]
			}
			y[i*out+o] = s
		}
	}
	return y
}

func TestLinear(t *testing.T) {
	t.Parallel()
	rng := testRNG(30)
	for _, tc := range []struct{ n, in, out int }{{1, 1, 1}, {3, 5, 2}, {4, 7, 9}, {1, 6, 3}} {
		for _, bias := range []bool{true, false} {
			t.Run(fmt.Sprintf("%dx%d->%d/bias=%v", tc.n, tc.in, tc.out, bias), func(t *testing.T) {
				x := randMatrix(rng, tc.n, tc.in, true)
				w := randMatrix(rng, tc.out, tc.in, true)
				b := randMatrix(rng, tc.out, 1, true)
				var bt mat.Tensor = b
				var bref []float64
				params := []gradParam{{"x", x}, {"w", w}}
				if bias {
					bref = f64(b)
					params = append(params, gradParam{"b", b})
				} else {
					bt = nil
				}
				before := [][]float32{cloneData(x), cloneData(w), cloneData(b)}
				y, err := Linear(x, w, bt)
				if err != nil {
					t.Fatal(err)
				}
				assertShape(t, "y", y, tc.n, tc.out)
				assertClose(t, "y", data(y), refLinear(f64(x), f64(w), bref, tc.n, tc.in, tc.out), 1e-5)
				for i, m := range []mat.Tensor{x, w, b} {
					assertUnchanged(t, "operand", m, before[i])
				}
				gradCheck(t, func() (mat.Tensor, error) { return Linear(x, w, bt) }, params, rng, gradH, gradTol)
				if !bias && b.HasGrad() {
					t.Error("unused bias got a gradient")
				}
			})
		}
	}
}

// TestLinearNilParamBias checks that a nil *nn.Param bias (a non-nil
// interface holding a nil pointer) means no bias rather than a panic.
func TestLinearNilParamBias(t *testing.T) {
	t.Parallel()
	rng := testRNG(31)
	x, w := randMatrix(rng, 2, 3, false), randMatrix(rng, 4, 3, false)
	var b *nn.Param
	y, err := Linear(x, w, b)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "y", data(y), refLinear(f64(x), f64(w), nil, 2, 3, 4), 1e-5)
}

func TestLinearErrors(t *testing.T) {
	t.Parallel()
	rng := testRNG(32)
	x, w, b := randMatrix(rng, 3, 5, true), randMatrix(rng, 2, 5, true), randMatrix(rng, 2, 1, true)
	for _, tc := range []struct {
		name    string
		x, w, b mat.Tensor
	}{
		{"weight columns", x, randMatrix(rng, 2, 4, true), b},
		{"bias length", x, w, randMatrix(rng, 3, 1, true)},
		{"bias row vector", x, w, randMatrix(rng, 1, 2, true)},
		{"nil x", nil, w, b},
		{"nil w", x, nil, b},
		{"empty input", newMatrix(0, 5), w, b},
		{"empty weight", x, newMatrix(0, 5), nil},
		{"float64 input", mat.NewDense[float64](mat.WithShape(3, 5)), w, b},
	} {
		expectError(t, tc.name, second(Linear(tc.x, tc.w, tc.b)))
	}
}

// BenchmarkLinearRS times workload RS's classifier head: 128 features to 4
// classes with bias (batch 64), and workload JS's 1152 -> 512 hidden layer.
func BenchmarkLinearRS(b *testing.B) {
	for _, l := range []struct {
		name    string
		in, out int
	}{
		{"fc", 128, 4},
		{"jsfc1", 1152, 512},
	} {
		rng := testRNG(33)
		x := randMatrix(rng, rsBatch, l.in, true)
		w, bias := randMatrix(rng, l.out, l.in, true), randMatrix(rng, l.out, 1, true)
		fn := &linearFn{x: x, w: w, b: bias, n: rsBatch, in: l.in, out: l.out}
		gy := randMatrix(rng, rsBatch, l.out, false)
		benchOp(b, l.name, rsBatch, func() {
			if _, err := fn.Forward(); err != nil {
				b.Fatal(err)
			}
		}, func() {
			if err := fn.Backward(gy); err != nil {
				b.Fatal(err)
			}
			x.ZeroGrad()
			w.ZeroGrad()
			bias.ZeroGrad()
		})
	}
}
