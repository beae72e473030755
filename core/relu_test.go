package core

import (
	"math"
	"testing"

	"github.com/nlpodyssey/spago/mat"
)

func TestReLU(t *testing.T) {
	t.Parallel()
	rng := testRNG(40)
	for _, sh := range [][2]int{{1, 1}, {3, 7}, {5, 40000}} {
		x := randMatrix(rng, sh[0], sh[1], true)
		before := cloneData(x)
		y, err := ReLU(x)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float64, len(before))
		for i, v := range before {
			want[i] = math.Max(float64(v), 0)
		}
		assertShape(t, "y", y, sh[0], sh[1])
		assertClose(t, "y", data(y), want, 0)
		assertUnchanged(t, "x", x, before)
	}
	// -0 and the smallest magnitudes map to +0 or themselves.
	x := fromData(1, 4, []float32{float32(math.Copysign(0, -1)), -math.SmallestNonzeroFloat32, math.SmallestNonzeroFloat32, float32(math.Inf(-1))})
	y, err := ReLU(x)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float32{0, 0, math.SmallestNonzeroFloat32, 0} {
		if got := data(y)[i]; math.Float32bits(got) != math.Float32bits(want) {
			t.Errorf("relu(%v) = %v, want %v", data(x)[i], got, want)
		}
	}
}

func TestReLUGrad(t *testing.T) {
	t.Parallel()
	rng := testRNG(41)
	for _, sh := range [][2]int{{1, 3}, {4, 9}} {
		// Values at least 0.025 from 0: ±h never crosses the kink.
		x := distinctMatrix(rng, sh[0], sh[1], 0.05, true)
		for i := range data(x) {
			data(x)[i] += 0.025
		}
		gradCheck(t, func() (mat.Tensor, error) { return ReLU(x) }, []gradParam{{"x", x}}, rng, gradH, gradTol)
	}
}

func TestReLUErrors(t *testing.T) {
	t.Parallel()
	expectError(t, "nil x", second(ReLU(nil)))
	expectError(t, "float64 x", second(ReLU(mat.NewDense[float64](mat.WithShape(2, 3)))))
}

// BenchmarkReLURS times a standalone ReLU on conv1-sized maps of workload RS
// ([32, 64*32*32]) and on workload JS's hidden layer ([64, 512]).
func BenchmarkReLURS(b *testing.B) {
	for _, l := range []struct {
		name       string
		rows, cols int
	}{
		{"maps1", 32, rsBatch * 32 * 32},
		{"jsfc1", rsBatch, 512},
	} {
		rng := testRNG(42)
		x := randMatrix(rng, l.rows, l.cols, true)
		fn := &reluFn{x: x}
		gy := randMatrix(rng, l.rows, l.cols, false)
		benchOp(b, l.name, rsBatch, func() {
			if _, err := fn.Forward(); err != nil {
				b.Fatal(err)
			}
		}, func() {
			if err := fn.Backward(gy); err != nil {
				b.Fatal(err)
			}
			x.ZeroGrad()
		})
	}
}
