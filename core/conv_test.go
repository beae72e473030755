package core

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

// refConv is the direct definition of Conv2D in float64: every output sums
// over (ci, kh, kw) the taps that land inside the input (zero padding
// elsewhere).
func refConv(x []float64, in Shape, w []float64, cout int, s ConvSpec) ([]float64, Shape) {
	sh, sw := max(s.StrideH, 1), max(s.StrideW, 1)
	out := Shape{N: in.N, C: cout, H: (in.H+2*s.PadH-s.KH)/sh + 1, W: (in.W+2*s.PadW-s.KW)/sw + 1}
	k := in.C * s.KH * s.KW
	y := make([]float64, out.Size())
	for o := 0; o < cout; o++ {
		for n := 0; n < in.N; n++ {
			for oh := 0; oh < out.H; oh++ {
				for ow := 0; ow < out.W; ow++ {
					var sum float64
					for ci := 0; ci < in.C; ci++ {
						for kh := 0; kh < s.KH; kh++ {
							for kw := 0; kw < s.KW; kw++ {
								ih, iw := oh*sh-s.PadH+kh, ow*sw-s.PadW+kw
								if ih < 0 || ih >= in.H || iw < 0 || iw >= in.W {
									continue // zero padding
								}
								xv := x[ci*in.Cols()+n*in.H*in.W+ih*in.W+iw]
								sum += xv * w[o*k+(ci*s.KH+kh)*s.KW+kw]
							}
						}
					}
					y[o*out.Cols()+(n*out.H+oh)*out.W+ow] = sum
				}
			}
		}
	}
	return y, out
}

// convCases are odd geometries: non-square inputs, strides 1 and 2 (and
// zero, meaning 1), padding 0, 1 and 2, 1x1, 3x3 and 5x3 kernels, one input
// channel, batches of 1 and 3, a kernel as large as the padded input and a
// one-pixel-wide input, and a first layer on one channel with many outputs.
// Those with stride 1 and Wo == W take im2col's
// block-copy path.
var convCases = []struct {
	in   Shape
	cout int
	spec ConvSpec
}{
	{Shape{N: 1, C: 1, H: 5, W: 7}, 2, ConvSpec{KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}},
	{Shape{N: 3, C: 2, H: 6, W: 5}, 3, ConvSpec{KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},
	{Shape{N: 3, C: 2, H: 7, W: 9}, 2, ConvSpec{KH: 3, KW: 3, StrideH: 2, StrideW: 2}},
	{Shape{N: 3, C: 2, H: 4, W: 3}, 3, ConvSpec{KH: 1, KW: 1}},
	{Shape{N: 2, C: 2, H: 5, W: 6}, 2, ConvSpec{KH: 1, KW: 1, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},
	{Shape{N: 1, C: 3, H: 9, W: 8}, 2, ConvSpec{KH: 5, KW: 3, StrideH: 1, StrideW: 1}},
	{Shape{N: 3, C: 1, H: 8, W: 7}, 2, ConvSpec{KH: 5, KW: 3, StrideH: 2, StrideW: 1, PadH: 1, PadW: 1}},
	{Shape{N: 3, C: 2, H: 6, W: 7}, 2, ConvSpec{KH: 5, KW: 3, StrideH: 1, StrideW: 2, PadH: 1}},
	{Shape{N: 1, C: 2, H: 6, W: 5}, 2, ConvSpec{KH: 3, KW: 3, PadH: 1, PadW: 1}},
	{Shape{N: 2, C: 1, H: 3, W: 2}, 1, ConvSpec{KH: 5, KW: 3, PadH: 1, PadW: 1}},
	{Shape{N: 2, C: 2, H: 5, W: 4}, 2, ConvSpec{KH: 5, KW: 3, PadH: 1, PadW: 1}},
	{Shape{N: 3, C: 1, H: 4, W: 6}, 2, ConvSpec{KH: 5, KW: 3, PadH: 2, PadW: 1}},
	{Shape{N: 2, C: 1, H: 4, W: 1}, 2, ConvSpec{KH: 3, KW: 3, PadH: 1, PadW: 1}},
	// Many outputs per input tap (20 >= 2*9): the weight gradient goes
	// through dWᵀ = col·dYᵀ.
	{Shape{N: 2, C: 1, H: 5, W: 4}, 20, ConvSpec{KH: 3, KW: 3, PadH: 1, PadW: 1}},
}

func TestConvSpecOut(t *testing.T) {
	t.Parallel()
	c3 := ConvSpec{KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	for _, tc := range []struct {
		in   Shape
		spec ConvSpec
		want Shape
	}{
		{Shape{64, 3, 32, 32}, c3, Shape{64, 32, 32, 32}},
		{Shape{64, 3, 32, 32}, ConvSpec{KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, Shape{64, 32, 16, 16}},
		{Shape{2, 3, 9, 8}, ConvSpec{KH: 5, KW: 3}, Shape{2, 32, 5, 6}},
		{Shape{2, 3, 7, 6}, ConvSpec{KH: 1, KW: 1, StrideH: 2}, Shape{2, 32, 4, 6}},
	} {
		got, err := tc.spec.Out(tc.in, 32)
		if err != nil || got != tc.want {
			t.Errorf("%+v.Out(%v) = %v, %v; want %v", tc.spec, tc.in, got, err, tc.want)
		}
	}
}

func TestConv2DForward(t *testing.T) {
	t.Parallel()
	rng := testRNG(1)
	for _, tc := range convCases {
		t.Run(fmt.Sprintf("%v_%+v", tc.in, tc.spec), func(t *testing.T) {
			x := randMatrix(rng, tc.in.C, tc.in.Cols(), false)
			w := randMatrix(rng, tc.cout, tc.in.C*tc.spec.KH*tc.spec.KW, false)
			xb, wb := cloneData(x), cloneData(w)
			y, out, err := Conv2D(x, tc.in, w, tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			want, wantOut := refConv(f64(x), tc.in, f64(w), tc.cout, tc.spec)
			if out != wantOut {
				t.Fatalf("output shape %v, want %v", out, wantOut)
			}
			assertShape(t, "y", y, out.C, out.Cols())
			assertClose(t, "y", data(y), want, 1e-5)
			assertUnchanged(t, "x", x, xb)
			assertUnchanged(t, "w", w, wb)
		})
	}
}

func TestConv2DGrad(t *testing.T) {
	t.Parallel()
	rng := testRNG(2)
	for _, tc := range convCases {
		t.Run(fmt.Sprintf("%v_%+v", tc.in, tc.spec), func(t *testing.T) {
			x := randMatrix(rng, tc.in.C, tc.in.Cols(), true)
			w := randMatrix(rng, tc.cout, tc.in.C*tc.spec.KH*tc.spec.KW, true)
			build := func() (mat.Tensor, error) {
				y, _, err := Conv2D(x, tc.in, w, tc.spec)
				return y, err
			}
			gradCheck(t, build, []gradParam{{"x", x}, {"w", w}}, rng, gradH, gradTol)
		})
	}
}

// TestConv2DNoInputGrad checks that an input without gradients (the images)
// gets none while the weights still do.
func TestConv2DNoInputGrad(t *testing.T) {
	t.Parallel()
	rng := testRNG(3)
	in := Shape{N: 2, C: 2, H: 4, W: 5}
	x := randMatrix(rng, in.C, in.Cols(), false)
	w := randMatrix(rng, 3, in.C*9, true)
	y, _, err := Conv2D(x, in, w, ConvSpec{KH: 3, KW: 3, PadH: 1, PadW: 1})
	if err != nil {
		t.Fatal(err)
	}
	y.AccGrad(randMatrix(rng, y.Shape()[0], y.Shape()[1], false))
	if err := ag.Backward(y); err != nil {
		t.Fatal(err)
	}
	if x.HasGrad() {
		t.Error("x got a gradient")
	}
	if !w.HasGrad() {
		t.Error("w got no gradient")
	}
}

// TestConv2DDroppedColumns checks that a forward pass with no operand
// requiring gradients frees its im2col buffer, and that a backward pass
// still run on it afterwards rebuilds the buffer and gets dW right.
func TestConv2DDroppedColumns(t *testing.T) {
	t.Parallel()
	rng := testRNG(8)
	in := Shape{N: 2, C: 2, H: 5, W: 4}
	spec := ConvSpec{KH: 3, KW: 3, PadH: 1, PadW: 1}
	x, w := randMatrix(rng, in.C, in.Cols(), false), randMatrix(rng, 3, in.C*9, false)
	fn, err := newConv2DFn(x, in, w, spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fn.Forward(); err != nil {
		t.Fatal(err)
	}
	if fn.col != nil {
		t.Fatal("inference forward kept its im2col buffer")
	}
	gy := randMatrix(rng, 3, fn.out.Cols(), false)
	w.SetRequiresGrad(true)
	if err := fn.Backward(gy); err != nil {
		t.Fatal(err)
	}
	got := cloneData(w.Grad())
	w.ZeroGrad()
	ref, err := newConv2DFn(x, in, w, spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ref.Forward(); err != nil {
		t.Fatal(err)
	}
	if err := ref.Backward(gy); err != nil {
		t.Fatal(err)
	}
	assertClose(t, "dW", got, f64(w.Grad()), 0)
}

func TestConv2DErrors(t *testing.T) {
	t.Parallel()
	rng := testRNG(4)
	in := Shape{N: 2, C: 3, H: 5, W: 4}
	x := randMatrix(rng, in.C, in.Cols(), true)
	c3 := ConvSpec{KH: 3, KW: 3, PadH: 1, PadW: 1}
	w := randMatrix(rng, 4, 27, true)
	for _, tc := range []struct {
		name string
		x    mat.Tensor
		in   Shape
		w    mat.Tensor
		spec ConvSpec
	}{
		{"weight columns", x, in, randMatrix(rng, 4, 26, true), c3},
		{"weight for other kernel", x, in, w, ConvSpec{KH: 3, KW: 1}},
		{"kernel bigger than input", x, in, randMatrix(rng, 4, 3*36, true), ConvSpec{KH: 6, KW: 6}},
		{"kernel bigger than padded input", x, in, randMatrix(rng, 4, 3*49, true), ConvSpec{KH: 7, KW: 7, PadH: 1, PadW: 1}},
		{"x shape mismatch", x, Shape{N: 2, C: 3, H: 4, W: 5 + 1}, w, c3},
		{"x channel mismatch", x, Shape{N: 2, C: 2, H: 5, W: 4}, w, c3},
		{"zero batch", x, Shape{N: 0, C: 3, H: 5, W: 4}, w, c3},
		{"negative padding", x, in, w, ConvSpec{KH: 3, KW: 3, PadH: -1}},
		{"negative stride", x, in, w, ConvSpec{KH: 3, KW: 3, StrideW: -1}},
		{"zero kernel", x, in, randMatrix(rng, 4, 1, true), ConvSpec{}},
		{"nil x", nil, in, w, c3},
		{"nil w", x, in, nil, c3},
		{"empty weight", x, in, newMatrix(0, 27), c3},
		{"float64 weight", x, in, mat.NewDense[float64](mat.WithShape(4, 27)), c3},
	} {
		_, _, err := Conv2D(tc.x, tc.in, tc.w, tc.spec)
		expectError(t, tc.name, err)
	}
	if _, err := c3.Out(in, 0); err == nil {
		t.Error("Out with 0 output channels: no error")
	}
}

// TestOperatorsThreadIndependent checks that the batch operators' outputs
// and gradients are bit-identical whatever the number of goroutines.
func TestOperatorsThreadIndependent(t *testing.T) {
	run := func() [][]float32 {
		rng := testRNG(5)
		in := Shape{N: 3, C: 4, H: 6, W: 5}
		x := randMatrix(rng, in.C, in.Cols(), true)
		w := randMatrix(rng, 6, in.C*9, true)
		gamma, beta := randMatrix(rng, 6, 1, true), randMatrix(rng, 6, 1, true)
		y, s, err := Conv2D(x, in, w, ConvSpec{KH: 3, KW: 3, PadH: 1, PadW: 1})
		if err != nil {
			t.Fatal(err)
		}
		if y, err = BatchNorm2D(y, s, gamma, beta, BNStats{}, BNOptions{Train: true, ReLU: true}); err != nil {
			t.Fatal(err)
		}
		if y, s, err = MaxPool2D(y, s, 2, 2); err != nil {
			t.Fatal(err)
		}
		if y, err = GlobalAvgPool(y, s); err != nil {
			t.Fatal(err)
		}
		y.AccGrad(randMatrix(rng, y.Shape()[0], y.Shape()[1], false))
		if err := ag.Backward(y); err != nil {
			t.Fatal(err)
		}
		return [][]float32{data(y), data(x.Grad()), data(w.Grad()), data(gamma.Grad()), data(beta.Grad())}
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	one := run()
	runtime.GOMAXPROCS(3)
	three := run()
	for i := range one {
		for j := range one[i] {
			if math.Float32bits(one[i][j]) != math.Float32bits(three[i][j]) {
				t.Fatalf("result %d[%d]: %v with 1 thread, %v with 3", i, j, one[i][j], three[i][j])
			}
		}
	}
}

// BenchmarkConv2DRS times workload RS's three convolutions (3x3, pad 1) on a
// batch of 64; conv1's input is the images, which take no gradient.
func BenchmarkConv2DRS(b *testing.B) {
	spec := ConvSpec{KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	for _, l := range []struct {
		name      string
		in        Shape
		cout      int
		inputGrad bool
	}{
		{"conv1", Shape{N: rsBatch, C: 3, H: 32, W: 32}, 32, false},
		{"conv2", Shape{N: rsBatch, C: 32, H: 16, W: 16}, 64, true},
		{"conv3", Shape{N: rsBatch, C: 64, H: 8, W: 8}, 128, true},
	} {
		rng := testRNG(6)
		x := randMatrix(rng, l.in.C, l.in.Cols(), l.inputGrad)
		w := randMatrix(rng, l.cout, l.in.C*9, true)
		fn, err := newConv2DFn(x, l.in, w, spec)
		if err != nil {
			b.Fatal(err)
		}
		gy := randMatrix(rng, l.cout, fn.out.Cols(), false)
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
		})
	}
}

// BenchmarkIm2colRS times the non-GEMM part of workload RS's convolutions:
// im2col (forward) and col2im (backward), batch 64.
func BenchmarkIm2colRS(b *testing.B) {
	spec := ConvSpec{KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	for _, l := range []struct {
		name string
		in   Shape
	}{
		{"conv1", Shape{N: rsBatch, C: 3, H: 32, W: 32}},
		{"conv2", Shape{N: rsBatch, C: 32, H: 16, W: 16}},
		{"conv3", Shape{N: rsBatch, C: 64, H: 8, W: 8}},
	} {
		rng := testRNG(7)
		out, err := spec.Out(l.in, 1)
		if err != nil {
			b.Fatal(err)
		}
		x := data(randMatrix(rng, l.in.C, l.in.Cols(), false))
		col := data(randMatrix(rng, l.in.C*9, out.Cols(), false))
		b.Run(l.name+"/im2col", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				im2col(col, x, l.in, out, spec)
			}
			reportImages(b, rsBatch)
		})
		b.Run(l.name+"/col2im", func(b *testing.B) {
			dx := make([]float32, len(x))
			b.ReportAllocs()
			for b.Loop() {
				clear(dx)
				col2im(dx, col, l.in, out, spec)
			}
			reportImages(b, rsBatch)
		})
	}
}
