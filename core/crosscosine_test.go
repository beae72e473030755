package core

import (
	"math"
	"testing"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

// refCrossCosine is SimSiam's symmetrised loss from its definition:
// D(p, z) = -p/|p|·z/|z|, L = mean over examples of ½D(p1, z2) + ½D(p2, z1).
func refCrossCosine(p, z []float64, n, d int) float64 {
	neg := func(a, b []float64) float64 {
		var dot, na, nb float64
		for k := range a {
			dot += a[k] * b[k]
			na += a[k] * a[k]
			nb += b[k] * b[k]
		}
		return -dot / (math.Sqrt(na) * math.Sqrt(nb))
	}
	var l float64
	for i := range n {
		p1, p2 := p[2*i*d:(2*i+1)*d], p[(2*i+1)*d:(2*i+2)*d]
		z1, z2 := z[2*i*d:(2*i+1)*d], z[(2*i+1)*d:(2*i+2)*d]
		l += 0.5*neg(p1, z2) + 0.5*neg(p2, z1)
	}
	return l / float64(n)
}

func TestCrossCosineForward(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ n, d int }{{1, 1}, {1, 3}, {3, 5}, {8, 16}} {
		rng := testRNG(uint64(7*tc.n + tc.d))
		p, z := randMatrix(rng, 2*tc.n, tc.d, false), randMatrix(rng, 2*tc.n, tc.d, false)
		l, err := CrossCosine(p, z)
		if err != nil {
			t.Fatal(err)
		}
		assertClose(t, "cross-cosine", data(l), []float64{refCrossCosine(f64(p), f64(z), tc.n, tc.d)}, 1e-6)
	}
	// Predictions equal to their partners' projections: the minimum, -1.
	z := fromData(4, 2, []float32{1, 0, 0, 2, 3, 3, -1, 5})
	p := fromData(4, 2, []float32{0, 4, 2, 0, -2, 10, 1, 1})
	l, err := CrossCosine(p, z)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "aligned cross-cosine", data(l), []float64{-1}, 1e-6)
}

// TestCrossCosineGrad checks p's gradient by finite differences and that z,
// under the stop-gradient, receives none although the loss depends on it.
func TestCrossCosineGrad(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ n, d int }{{1, 2}, {2, 3}, {4, 5}} {
		rng := testRNG(uint64(31 + tc.n))
		p, z := randMatrix(rng, 2*tc.n, tc.d, true), randMatrix(rng, 2*tc.n, tc.d, true)
		gradCheck(t, func() (mat.Tensor, error) { return CrossCosine(p, z) }, []gradParam{{"p", p}}, rng, 1e-3, gradTol)

		z.ZeroGrad()
		l, err := CrossCosine(p, z)
		if err != nil {
			t.Fatal(err)
		}
		if err := ag.Backward(l); err != nil {
			t.Fatal(err)
		}
		if z.HasGrad() && !allZero(data(z.Grad())) {
			t.Errorf("n=%d: the projections got a gradient through the stop-gradient", tc.n)
		}
		data(z)[0] += 0.5
		l2, err := CrossCosine(p, z)
		if err != nil {
			t.Fatal(err)
		}
		if data(l2)[0] == data(l)[0] {
			t.Errorf("n=%d: the loss does not depend on the projections", tc.n)
		}
	}
}

func TestCrossCosineErrors(t *testing.T) {
	t.Parallel()
	ok := fromData(2, 2, []float32{1, 2, 3, 4})
	for _, tc := range []struct {
		name string
		p, z mat.Tensor
	}{
		{"nil p", nil, ok},
		{"nil z", ok, nil},
		{"odd rows", fromData(3, 1, []float32{1, 2, 3}), fromData(3, 1, []float32{1, 2, 3})},
		{"shapes differ", ok, fromData(2, 1, []float32{1, 2})},
		{"nan", fromData(2, 1, []float32{1, float32(math.NaN())}), fromData(2, 1, []float32{1, 2})},
		{"inf z", fromData(2, 1, []float32{1, 2}), fromData(2, 1, []float32{float32(math.Inf(1)), 2})},
	} {
		if _, err := CrossCosine(tc.p, tc.z); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// TestPairAccuracy: a hand-built batch with a known answer, and NTXent's
// accuracy (the same measure) on random batches.
func TestPairAccuracy(t *testing.T) {
	t.Parallel()
	// Pairs 0 and 1 are tight; pair 2's views point nearer pair 1 (row 4)
	// and pair 0 (row 5) than each other, so both miss: 4 of 6.
	z := fromData(6, 2, []float32{1, 0, 1, 0.1, 0, 1, 0.1, 1, -1, 0.2, 1, -0.5})
	acc, err := PairAccuracy(z)
	if err != nil {
		t.Fatal(err)
	}
	if acc != 4.0/6 {
		t.Errorf("accuracy %v, want 4/6", acc)
	}
	for seed := range uint64(5) {
		rng := testRNG(100 + seed)
		z := randMatrix(rng, 16, 4, false)
		for i := 0; i < 8; i++ { // pull pairs together, some more than others
			for k := range 4 {
				data(z)[(2*i+1)*4+k] = data(z)[2*i*4+k] + float32(i)*0.2*data(z)[(2*i+1)*4+k]
			}
		}
		got, err := PairAccuracy(z)
		if err != nil {
			t.Fatal(err)
		}
		_, want, err := NTXent(z, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("seed %d: accuracy %v, NT-Xent's %v", seed, got, want)
		}
		if seed == 0 && (got == 0 || got == 1) {
			t.Errorf("accuracy %v checks nothing", got)
		}
	}
	for _, bad := range []mat.Tensor{nil, fromData(2, 2, []float32{1, 2, 3, 4}), fromData(4, 1, []float32{1, 2, float32(math.NaN()), 3})} {
		if _, err := PairAccuracy(bad); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
