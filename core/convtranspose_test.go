package core

import (
	"fmt"
	"testing"

	"github.com/nlpodyssey/spago/mat"
)

// refConvTranspose is the transposed convolution from its definition (each
// input pixel scatters its kernel-weighted value into the output) in
// float64; w is [cin, cout*kh*kw].
func refConvTranspose(x []float64, in Shape, w []float64, cout int, s ConvSpec) ([]float64, Shape) {
	s = s.normalized()
	out := Shape{N: in.N, C: cout, H: (in.H-1)*s.StrideH - 2*s.PadH + s.KH, W: (in.W-1)*s.StrideW - 2*s.PadW + s.KW}
	y := make([]float64, out.Size())
	kk := s.KH * s.KW
	for ci := range in.C {
		for n := range in.N {
			for ih := range in.H {
				for iw := range in.W {
					v := x[ci*in.Cols()+(n*in.H+ih)*in.W+iw]
					for co := range cout {
						for kh := range s.KH {
							oh := ih*s.StrideH - s.PadH + kh
							if oh < 0 || oh >= out.H {
								continue
							}
							for kw := range s.KW {
								ow := iw*s.StrideW - s.PadW + kw
								if ow < 0 || ow >= out.W {
									continue
								}
								y[co*out.Cols()+(n*out.H+oh)*out.W+ow] += v * w[ci*cout*kk+co*kk+kh*s.KW+kw]
							}
						}
					}
				}
			}
		}
	}
	return y, out
}

// convTransposeCases cover the decoders' doubling layers (kernel 4 stride 2
// padding 1, kernel 2 stride 2), a stride-1 "same" 3x3 (col2im's fast
// path), uneven kernels and strides, single pixels and batches.
var convTransposeCases = []struct {
	in   Shape
	cout int
	spec ConvSpec
}{
	{Shape{N: 2, C: 3, H: 4, W: 5}, 2, ConvSpec{KH: 4, KW: 4, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},
	{Shape{N: 1, C: 2, H: 3, W: 3}, 3, ConvSpec{KH: 2, KW: 2, StrideH: 2, StrideW: 2}},
	{Shape{N: 3, C: 2, H: 4, W: 3}, 2, ConvSpec{KH: 3, KW: 3, PadH: 1, PadW: 1}},
	{Shape{N: 2, C: 1, H: 3, W: 4}, 2, ConvSpec{KH: 3, KW: 2, StrideH: 2, StrideW: 3, PadH: 1}},
	{Shape{N: 2, C: 2, H: 1, W: 1}, 3, ConvSpec{KH: 4, KW: 4, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}},
	{Shape{N: 1, C: 1, H: 2, W: 2}, 1, ConvSpec{KH: 1, KW: 1}},
}

func TestConvTranspose2DForward(t *testing.T) {
	t.Parallel()
	rng := testRNG(60)
	for _, tc := range convTransposeCases {
		t.Run(fmt.Sprintf("%v_%+v", tc.in, tc.spec), func(t *testing.T) {
			kk := tc.spec.KH * tc.spec.KW
			x := randMatrix(rng, tc.in.C, tc.in.Cols(), false)
			w := randMatrix(rng, tc.in.C, tc.cout*kk, false)
			xb, wb := cloneData(x), cloneData(w)
			y, out, err := ConvTranspose2D(x, tc.in, w, tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			want, wantOut := refConvTranspose(f64(x), tc.in, f64(w), tc.cout, tc.spec)
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

// TestConvTransposeIsConvAdjoint checks <Conv2D(y), x> = <y,
// ConvTranspose2D(x)> with one weight matrix shared: the transposed conv is
// the adjoint of the conv with the same spec.
func TestConvTransposeIsConvAdjoint(t *testing.T) {
	t.Parallel()
	rng := testRNG(61)
	spec := ConvSpec{KH: 4, KW: 4, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}
	small := Shape{N: 2, C: 3, H: 4, W: 4}
	x := randMatrix(rng, small.C, small.Cols(), false)
	w := randMatrix(rng, small.C, 2*16, false) // conv: [Cout 3, Cin 2*16]
	y, big, err := ConvTranspose2D(x, small, w, spec)
	if err != nil {
		t.Fatal(err)
	}
	z := randMatrix(rng, big.C, big.Cols(), false)
	cz, cs, err := Conv2D(z, big, w, spec)
	if err != nil {
		t.Fatal(err)
	}
	if cs != small {
		t.Fatalf("conv of %v is %v, want %v", big, cs, small)
	}
	var a, b float64
	for i, v := range data(cz) {
		a += float64(v) * float64(data(x)[i])
	}
	for i, v := range data(y) {
		b += float64(v) * float64(data(z)[i])
	}
	if d := a - b; d > 1e-4 || d < -1e-4 {
		t.Errorf("<conv(z), x> = %v, <z, convT(x)> = %v", a, b)
	}
}

func TestConvTranspose2DGrad(t *testing.T) {
	t.Parallel()
	rng := testRNG(62)
	for _, tc := range convTransposeCases {
		t.Run(fmt.Sprintf("%v_%+v", tc.in, tc.spec), func(t *testing.T) {
			x := randMatrix(rng, tc.in.C, tc.in.Cols(), true)
			w := randMatrix(rng, tc.in.C, tc.cout*tc.spec.KH*tc.spec.KW, true)
			build := func() (mat.Tensor, error) {
				y, _, err := ConvTranspose2D(x, tc.in, w, tc.spec)
				return y, err
			}
			gradCheck(t, build, []gradParam{{"x", x}, {"w", w}}, rng, gradH, gradTol)
		})
	}
}

func TestConvTranspose2DErrors(t *testing.T) {
	t.Parallel()
	rng := testRNG(63)
	in := Shape{N: 1, C: 2, H: 3, W: 3}
	x := randMatrix(rng, 2, 9, false)
	up := ConvSpec{KH: 4, KW: 4, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}
	run := func(x mat.Tensor, in Shape, w mat.Tensor, spec ConvSpec) error {
		_, _, err := ConvTranspose2D(x, in, w, spec)
		return err
	}
	expectError(t, "nil weight", run(x, in, nil, up))
	expectError(t, "weight rows", run(x, in, randMatrix(rng, 3, 16, false), up))
	expectError(t, "weight cols", run(x, in, randMatrix(rng, 2, 17, false), up))
	expectError(t, "x shape", run(x, Shape{N: 1, C: 2, H: 3, W: 4}, randMatrix(rng, 2, 16, false), up))
	expectError(t, "no kernel", run(x, in, randMatrix(rng, 2, 16, false), ConvSpec{}))
	expectError(t, "empty output", run(x, Shape{N: 1, C: 2, H: 1, W: 9}, randMatrix(rng, 2, 1, false), ConvSpec{KH: 1, KW: 1, PadH: 1}))
	expectError(t, "negative stride", run(x, in, randMatrix(rng, 2, 16, false), ConvSpec{KH: 4, KW: 4, StrideH: -2}))
	expectError(t, "float64 weight", run(x, in, mat.NewDense[float64](mat.WithShape(2, 16)), up))
}
