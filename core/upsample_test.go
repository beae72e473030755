package core

import (
	"fmt"
	"math"
	"testing"

	"github.com/nlpodyssey/spago/mat"
)

// refUpsample is 2x upsampling from PyTorch's definitions in float64:
// nearest takes input pixel floor(o/2); bilinear (align_corners=False)
// samples at max(0, (o+0.5)/2-0.5) between floor and the next pixel
// (clamped at the last).
func refUpsample(x []float64, in Shape, bilinear bool) []float64 {
	out := Shape{N: in.N, C: in.C, H: 2 * in.H, W: 2 * in.W}
	coord := func(o, n int) (int, int, float64) {
		if !bilinear {
			return o / 2, o / 2, 0
		}
		src := math.Max(0, (float64(o)+0.5)/2-0.5)
		i0 := int(math.Floor(src))
		return i0, min(i0+1, n-1), src - float64(i0)
	}
	y := make([]float64, out.Size())
	for c := range in.C {
		for n := range in.N {
			at := func(h, w int) float64 { return x[c*in.Cols()+(n*in.H+h)*in.W+w] }
			for oh := range out.H {
				h0, h1, lh := coord(oh, in.H)
				for ow := range out.W {
					w0, w1, lw := coord(ow, in.W)
					v := (1-lh)*((1-lw)*at(h0, w0)+lw*at(h0, w1)) + lh*((1-lw)*at(h1, w0)+lw*at(h1, w1))
					y[c*out.Cols()+(n*out.H+oh)*out.W+ow] = v
				}
			}
		}
	}
	return y
}

var upsampleCases = []Shape{
	{N: 1, C: 1, H: 1, W: 1},
	{N: 2, C: 3, H: 4, W: 5},
	{N: 3, C: 2, H: 1, W: 3},
	{N: 1, C: 2, H: 6, W: 2},
}

func upsampleOp(bilinear bool) func(mat.Tensor, Shape) (mat.Tensor, Shape, error) {
	if bilinear {
		return UpsampleBilinear2x
	}
	return Upsample2x
}

func TestUpsample2xForward(t *testing.T) {
	t.Parallel()
	rng := testRNG(64)
	for _, bilinear := range []bool{false, true} {
		for _, in := range upsampleCases {
			t.Run(fmt.Sprintf("bilinear=%v/%v", bilinear, in), func(t *testing.T) {
				x := randMatrix(rng, in.C, in.Cols(), false)
				before := cloneData(x)
				y, out, err := upsampleOp(bilinear)(x, in)
				if err != nil {
					t.Fatal(err)
				}
				if want := (Shape{N: in.N, C: in.C, H: 2 * in.H, W: 2 * in.W}); out != want {
					t.Fatalf("shape %v, want %v", out, want)
				}
				assertShape(t, "y", y, out.C, out.Cols())
				assertClose(t, "y", data(y), refUpsample(f64(x), in, bilinear), 1e-6)
				assertUnchanged(t, "x", x, before)
			})
		}
	}
	// A hand-worked row: bilinear 2x of [0 4] is [0 1 3 4].
	y, _, err := UpsampleBilinear2x(fromData(1, 2, []float32{0, 4}), Shape{N: 1, C: 1, H: 1, W: 2})
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "bilinear [0 4]", data(y)[:4], []float64{0, 1, 3, 4}, 0)
}

func TestUpsample2xGrad(t *testing.T) {
	t.Parallel()
	rng := testRNG(65)
	for _, bilinear := range []bool{false, true} {
		for _, in := range upsampleCases {
			t.Run(fmt.Sprintf("bilinear=%v/%v", bilinear, in), func(t *testing.T) {
				x := randMatrix(rng, in.C, in.Cols(), true)
				build := func() (mat.Tensor, error) {
					y, _, err := upsampleOp(bilinear)(x, in)
					return y, err
				}
				gradCheck(t, build, []gradParam{{"x", x}}, rng, gradH, gradTol)
			})
		}
	}
}

func TestUpsample2xErrors(t *testing.T) {
	t.Parallel()
	x := randMatrix(testRNG(66), 2, 6, false)
	for _, bilinear := range []bool{false, true} {
		_, _, err := upsampleOp(bilinear)(x, Shape{N: 1, C: 2, H: 2, W: 2})
		expectError(t, "shape mismatch", err)
		_, _, err = upsampleOp(bilinear)(nil, Shape{N: 1, C: 2, H: 2, W: 3})
		expectError(t, "nil", err)
		_, _, err = upsampleOp(bilinear)(x, Shape{N: 0, C: 2, H: 2, W: 3})
		expectError(t, "zero batch", err)
	}
}
