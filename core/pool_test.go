package core

import (
	"fmt"
	"math"
	"testing"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

// refMaxPool is max-pooling from its definition in float64.
func refMaxPool(x []float64, in Shape, k, stride int) ([]float64, Shape) {
	out := Shape{N: in.N, C: in.C, H: (in.H-k)/stride + 1, W: (in.W-k)/stride + 1}
	y := make([]float64, out.Size())
	for c := 0; c < in.C; c++ {
		for n := 0; n < in.N; n++ {
			for oh := 0; oh < out.H; oh++ {
				for ow := 0; ow < out.W; ow++ {
					best := math.Inf(-1)
					for kh := 0; kh < k; kh++ {
						for kw := 0; kw < k; kw++ {
							ih, iw := oh*stride+kh, ow*stride+kw
							best = math.Max(best, x[c*in.Cols()+n*in.H*in.W+ih*in.W+iw])
						}
					}
					y[c*out.Cols()+(n*out.H+oh)*out.W+ow] = best
				}
			}
		}
	}
	return y, out
}

// poolCases cover the 2x2/2 fast path (even and odd sizes), overlapping
// windows (k > stride), gaps between windows (k < stride), 1x1 and
// whole-image windows, batches of 1 and 3 and single channels.
var poolCases = []struct {
	in        Shape
	k, stride int
}{
	{Shape{N: 1, C: 1, H: 4, W: 6}, 2, 2},
	{Shape{N: 3, C: 2, H: 5, W: 7}, 2, 2},
	{Shape{N: 3, C: 2, H: 7, W: 6}, 3, 2},
	{Shape{N: 1, C: 2, H: 5, W: 6}, 3, 1},
	{Shape{N: 2, C: 1, H: 7, W: 8}, 2, 3},
	{Shape{N: 2, C: 1, H: 3, W: 4}, 1, 1},
	{Shape{N: 2, C: 3, H: 4, W: 5}, 4, 1},
}

func TestMaxPool2DForward(t *testing.T) {
	t.Parallel()
	rng := testRNG(20)
	for _, tc := range poolCases {
		t.Run(fmt.Sprintf("%v/k%d/s%d", tc.in, tc.k, tc.stride), func(t *testing.T) {
			x := randMatrix(rng, tc.in.C, tc.in.Cols(), false)
			before := cloneData(x)
			y, out, err := MaxPool2D(x, tc.in, tc.k, tc.stride)
			if err != nil {
				t.Fatal(err)
			}
			want, wantOut := refMaxPool(f64(x), tc.in, tc.k, tc.stride)
			if out != wantOut {
				t.Fatalf("output shape %v, want %v", out, wantOut)
			}
			assertShape(t, "y", y, out.C, out.Cols())
			assertClose(t, "y", data(y), want, 0)
			assertUnchanged(t, "x", x, before)
		})
	}
}

// TestMaxPool2DTies checks that a tied max sends its gradient to the first
// element of the window in row-major order, for the fast and general paths.
func TestMaxPool2DTies(t *testing.T) {
	t.Parallel()
	for _, k := range []int{2, 3} {
		// One 3x3 image; the max 5 appears at (0,1), (1,0) and (1,1).
		x := fromData(1, 9, []float32{1, 5, 2, 5, 5, 0, 3, 4, 1})
		x.SetRequiresGrad(true)
		y, _, err := MaxPool2D(x, Shape{N: 1, C: 1, H: 3, W: 3}, k, 1)
		if err != nil {
			t.Fatal(err)
		}
		y.AccGrad(fromData(y.Shape()[0], y.Shape()[1], onesF32(y.Size())))
		if err := ag.Backward(y); err != nil {
			t.Fatal(err)
		}
		var want []float64
		if k == 2 {
			// Windows at (0,0), (0,1), (1,0), (1,1): maxes 5@1, 5@1, 5@3, 5@4.
			want = []float64{0, 2, 0, 1, 1, 0, 0, 0, 0}
		} else {
			want = []float64{0, 1, 0, 0, 0, 0, 0, 0, 0}
		}
		assertClose(t, fmt.Sprintf("dx (k=%d)", k), data(x.Grad()), want, 0)
	}
	// The 2x2/2 fast path: windows [1 5; 5 5], [2 2; 2 1], [0 0; 0 1] and
	// [4 9; 9 9] take their max at columns 1, 2, 13 and 11.
	x := fromData(1, 16, []float32{1, 5, 2, 2, 5, 5, 2, 1, 0, 0, 4, 9, 0, 1, 9, 9})
	x.SetRequiresGrad(true)
	y, _, err := MaxPool2D(x, Shape{N: 1, C: 1, H: 4, W: 4}, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	y.AccGrad(fromData(1, 4, onesF32(4)))
	if err := ag.Backward(y); err != nil {
		t.Fatal(err)
	}
	want := []float64{0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0}
	assertClose(t, "dx (2x2/2)", data(x.Grad()), want, 0)
}

// TestMaxPool2DSpecialValues checks that -0 ties with +0 (the first wins)
// and that NaNs propagate, on the fast and general paths.
func TestMaxPool2DSpecialValues(t *testing.T) {
	t.Parallel()
	negZero := float32(math.Copysign(0, -1))
	// Positive and negative (x86's default) NaNs, fast and general paths.
	for i := range 4 {
		nan := []float32{float32(math.NaN()), math.Float32frombits(0xffc00000)}[i%2]
		k := 2 + i/2
		// 3x4 image: the first 2x2 window holds -0 and +0 only, the second
		// and the 3x3 one a NaN.
		x := fromData(1, 12, []float32{negZero, 0, nan, 1, 0, negZero, 2, 3, -1, -1, -1, -1})
		x.SetRequiresGrad(true)
		y, _, err := MaxPool2D(x, Shape{N: 1, C: 1, H: 3, W: 4}, k, 2)
		if err != nil {
			t.Fatal(err)
		}
		if k == 2 {
			if got := data(y); got[0] != 0 || !math.IsNaN(float64(got[1])) {
				t.Errorf("k=2: y = %v, want [±0 NaN]", got)
			}
		} else if got := data(y); !math.IsNaN(float64(got[0])) {
			t.Errorf("k=3: y = %v, want [NaN]", got)
		}
		y.AccGrad(fromData(y.Shape()[0], y.Shape()[1], onesF32(y.Size())))
		if err := ag.Backward(y); err != nil {
			t.Fatal(err)
		}
		g := data(x.Grad())
		if k == 2 && (g[0] != 1 || g[1] != 0 || g[4] != 0 || g[5] != 0 || g[2] != 1) {
			t.Errorf("k=2: dx = %v, want the first zero and the NaN", g)
		}
	}
}

// onesF32 returns n ones.
func onesF32(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = 1
	}
	return v
}

func TestMaxPool2DGrad(t *testing.T) {
	t.Parallel()
	rng := testRNG(21)
	for _, tc := range poolCases {
		t.Run(fmt.Sprintf("%v/k%d/s%d", tc.in, tc.k, tc.stride), func(t *testing.T) {
			// Values at least 0.05 apart: ±h never reorders a window.
			x := distinctMatrix(rng, tc.in.C, tc.in.Cols(), 0.05, true)
			build := func() (mat.Tensor, error) {
				y, _, err := MaxPool2D(x, tc.in, tc.k, tc.stride)
				return y, err
			}
			gradCheck(t, build, []gradParam{{"x", x}}, rng, gradH, gradTol)
		})
	}
}

func TestMaxPool2DErrors(t *testing.T) {
	t.Parallel()
	rng := testRNG(22)
	in := Shape{N: 2, C: 2, H: 4, W: 3}
	x := randMatrix(rng, in.C, in.Cols(), true)
	for _, tc := range []struct {
		name      string
		x         mat.Tensor
		in        Shape
		k, stride int
	}{
		{"window taller than input", x, in, 4, 1},
		{"window wider than input", randMatrix(rng, 2, 2*3*5, true), Shape{N: 2, C: 2, H: 5, W: 3}, 4, 1},
		{"zero window", x, in, 0, 1},
		{"zero stride", x, in, 2, 0},
		{"negative stride", x, in, 2, -2},
		{"x shape mismatch", x, Shape{N: 2, C: 2, H: 3, W: 3}, 2, 2},
		{"nil x", nil, in, 2, 2},
	} {
		_, _, err := MaxPool2D(tc.x, tc.in, tc.k, tc.stride)
		expectError(t, tc.name, err)
	}
}

// refGlobalAvgPool averages each image's channel in float64: [N, C].
func refGlobalAvgPool(x []float64, in Shape) []float64 {
	hw := in.H * in.W
	y := make([]float64, in.N*in.C)
	for n := 0; n < in.N; n++ {
		for c := 0; c < in.C; c++ {
			for i := 0; i < hw; i++ {
				y[n*in.C+c] += x[c*in.Cols()+n*hw+i]
			}
			y[n*in.C+c] /= float64(hw)
		}
	}
	return y
}

func TestGlobalAvgPool(t *testing.T) {
	t.Parallel()
	rng := testRNG(23)
	for _, in := range []Shape{{N: 1, C: 1, H: 1, W: 1}, {N: 3, C: 2, H: 3, W: 5}, {N: 2, C: 17, H: 2, W: 1}} {
		t.Run(in.String(), func(t *testing.T) {
			x := randMatrix(rng, in.C, in.Cols(), true)
			before := cloneData(x)
			y, err := GlobalAvgPool(x, in)
			if err != nil {
				t.Fatal(err)
			}
			assertShape(t, "y", y, in.N, in.C)
			assertClose(t, "y", data(y), refGlobalAvgPool(f64(x), in), 1e-6)
			assertUnchanged(t, "x", x, before)
			gradCheck(t, func() (mat.Tensor, error) { return GlobalAvgPool(x, in) }, []gradParam{{"x", x}}, rng, gradH, gradTol)
		})
	}
}

func TestGlobalAvgPoolErrors(t *testing.T) {
	t.Parallel()
	rng := testRNG(24)
	x := randMatrix(rng, 2, 12, true)
	expectError(t, "shape mismatch", second(GlobalAvgPool(x, Shape{N: 2, C: 2, H: 2, W: 2})))
	expectError(t, "channel mismatch", second(GlobalAvgPool(x, Shape{N: 1, C: 3, H: 2, W: 2})))
	expectError(t, "nil x", second(GlobalAvgPool(nil, Shape{N: 1, C: 2, H: 3, W: 4})))
	expectError(t, "zero size", second(GlobalAvgPool(newMatrix(2, 0), Shape{N: 1, C: 2, H: 0, W: 4})))
}

// second returns the error of a (value, error) pair.
func second[T any](_ T, err error) error { return err }

// BenchmarkMaxPool2DRS times workload RS's two 2x2 stride-2 max-pools
// (batch 64).
func BenchmarkMaxPool2DRS(b *testing.B) {
	for _, l := range []struct {
		name string
		in   Shape
	}{
		{"pool1", Shape{N: rsBatch, C: 32, H: 32, W: 32}},
		{"pool2", Shape{N: rsBatch, C: 64, H: 16, W: 16}},
	} {
		rng := testRNG(25)
		x := randMatrix(rng, l.in.C, l.in.Cols(), true)
		fn, err := newMaxPoolFn(x, l.in, 2, 2)
		if err != nil {
			b.Fatal(err)
		}
		gy := randMatrix(rng, fn.out.C, fn.out.Cols(), false)
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

// BenchmarkGlobalAvgPoolRS times workload RS's global average pool of
// conv3's 128 maps of 8x8 (batch 64).
func BenchmarkGlobalAvgPoolRS(b *testing.B) {
	in := Shape{N: rsBatch, C: 128, H: 8, W: 8}
	rng := testRNG(26)
	x := randMatrix(rng, in.C, in.Cols(), true)
	fn := &avgPoolFn{x: x, in: in}
	gy := randMatrix(rng, in.N, in.C, false)
	benchOp(b, "gap", rsBatch, func() {
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
