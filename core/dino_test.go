package core

import (
	"math"
	"testing"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

// refDINO is DINO's loss from Algorithm 1's pseudo-code, written pair by
// pair: for each of the two teacher global views and each student view
// other than it, H(t, s) = -Σ softmax((t - C)/τt) · log softmax(s/τs),
// averaged over the photos, then over the pairs. student and teacher are
// view-major: row v·n+i is view v of photo i.
func refDINO(student, teacher, center []float64, n, k, views int, tauS, tauT float64) float64 {
	softmax := func(x []float64) []float64 {
		out := make([]float64, len(x))
		var z float64
		for j, v := range x {
			out[j] = math.Exp(v)
			z += out[j]
		}
		for j := range out {
			out[j] /= z
		}
		return out
	}
	var total float64
	pairs := 0
	for tv := range 2 {
		for v := range views {
			if v == tv {
				continue
			}
			var h float64
			for i := range n {
				tl, sl := make([]float64, k), make([]float64, k)
				for j := range k {
					tl[j] = (teacher[(tv*n+i)*k+j] - center[j]) / tauT
					sl[j] = student[(v*n+i)*k+j] / tauS
				}
				pt, ps := softmax(tl), softmax(sl)
				for j := range k {
					h -= pt[j] * math.Log(ps[j])
				}
			}
			total += h / float64(n)
			pairs++
		}
	}
	return total / float64(pairs)
}

func TestDINOLossForward(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ n, k, views int }{{1, 1, 2}, {1, 3, 2}, {2, 4, 3}, {3, 5, 6}, {4, 16, 8}} {
		rng := testRNG(uint64(100*tc.n + 10*tc.k + tc.views))
		s := randMatrix(rng, tc.views*tc.n, tc.k, false)
		te := randMatrix(rng, 2*tc.n, tc.k, false)
		c := randMatrix(rng, 1, tc.k, false)
		l, err := DINOLoss(s, te, c, 0.1, 0.04)
		if err != nil {
			t.Fatal(err)
		}
		want := refDINO(f64(s), f64(te), f64(c), tc.n, tc.k, tc.views, 0.1, 0.04)
		assertClose(t, "dino loss", data(l), []float64{want}, 1e-5)
	}
	// A uniform student scores ln K against any teacher; a student equal to
	// a one-hot teacher's class, sharpened hard, scores about zero.
	te := fromData(2, 3, []float32{5, 0, 0, 0, 5, 0})
	uniform := fromData(3, 3, make([]float32, 9))
	l, err := DINOLoss(uniform, te, fromData(1, 3, []float32{0, 0, 0}), 0.1, 0.04)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "uniform student", data(l), []float64{math.Log(3)}, 1e-6)
	// Two globals agreeing on class 0 (both views), a local too.
	te = fromData(2, 3, []float32{5, 0, 0, 5, 0, 0})
	s := fromData(3, 3, []float32{5, 0, 0, 5, 0, 0, 5, 0, 0})
	if l, err = DINOLoss(s, te, fromData(1, 3, []float32{0, 0, 0}), 0.1, 0.04); err != nil {
		t.Fatal(err)
	}
	if v := data(l)[0]; !(v >= 0 && v < 1e-6) {
		t.Errorf("aligned loss %v, want about 0", v)
	}
	// The centre shifts the teacher: a centre equal to the teacher's
	// outputs makes P_t uniform, so the loss is the student's mean
	// cross-entropy against uniform.
	te = fromData(2, 3, []float32{1, 2, 3, 1, 2, 3})
	s = fromData(2, 3, []float32{0.3, -0.2, 0.5, 0.1, 0.4, -0.3})
	if l, err = DINOLoss(s, te, fromData(1, 3, []float32{1, 2, 3}), 0.1, 0.04); err != nil {
		t.Fatal(err)
	}
	assertClose(t, "centred teacher", data(l), []float64{refDINO(f64(s), []float64{0, 0, 0, 0, 0, 0}, []float64{0, 0, 0}, 1, 3, 2, 0.1, 1)}, 1e-6)
}

// TestDINOLossGrad checks the student's gradient by finite differences and
// that teacher and centre, under the stop-gradient, receive zeros although
// the loss depends on both.
func TestDINOLossGrad(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ n, k, views int }{{1, 2, 2}, {2, 3, 3}, {2, 5, 4}} {
		rng := testRNG(uint64(41 + tc.n + tc.views))
		s := randMatrix(rng, tc.views*tc.n, tc.k, true)
		te := randMatrix(rng, 2*tc.n, tc.k, true)
		c := randMatrix(rng, 1, tc.k, true)
		// Temperatures near 1 keep the finite differences of float32
		// forwards accurate; the gradient's form does not depend on them.
		gradCheck(t, func() (mat.Tensor, error) { return DINOLoss(s, te, c, 0.5, 0.3) }, []gradParam{{"student", s}}, rng, gradH, gradTol)

		te.ZeroGrad()
		c.ZeroGrad()
		l, err := DINOLoss(s, te, c, 0.1, 0.04)
		if err != nil {
			t.Fatal(err)
		}
		if err := ag.Backward(l); err != nil {
			t.Fatal(err)
		}
		if !s.HasGrad() || allZero(data(s.Grad())) {
			t.Errorf("views=%d: the student got no gradient", tc.views)
		}
		for _, x := range []struct {
			name string
			m    *mat.Dense[float32]
		}{{"teacher", te}, {"centre", c}} {
			if x.m.HasGrad() && !allZero(data(x.m.Grad())) {
				t.Errorf("views=%d: the %s got a gradient through the stop-gradient", tc.views, x.name)
			}
			// (Mild temperatures: at 0.04 a shift of a value far below its
			// row's maximum leaves the teacher's float32 softmax as it was.)
			l1, err := DINOLoss(s, te, c, 0.5, 0.3)
			if err != nil {
				t.Fatal(err)
			}
			data(x.m)[0] += 0.5
			l2, err := DINOLoss(s, te, c, 0.5, 0.3)
			if err != nil {
				t.Fatal(err)
			}
			if data(l2)[0] == data(l1)[0] {
				t.Errorf("views=%d: the loss does not depend on the %s", tc.views, x.name)
			}
		}
	}
}

func TestDINOLossErrors(t *testing.T) {
	t.Parallel()
	s := fromData(4, 2, []float32{1, 2, 3, 4, 5, 6, 7, 8})
	te := fromData(2, 2, []float32{1, 2, 3, 4})
	c := fromData(1, 2, []float32{0, 0})
	nan := float32(math.NaN())
	for _, tc := range []struct {
		name       string
		s, te, c   mat.Tensor
		tauS, tauT float64
	}{
		{"nil student", nil, te, c, 0.1, 0.04},
		{"nil teacher", s, nil, c, 0.1, 0.04},
		{"nil centre", s, te, nil, 0.1, 0.04},
		{"odd teacher rows", s, fromData(3, 2, []float32{1, 2, 3, 4, 5, 6}), c, 0.1, 0.04},
		{"student narrower", fromData(4, 1, []float32{1, 2, 3, 4}), te, c, 0.1, 0.04},
		{"student one view", fromData(1, 2, []float32{1, 2}), te, c, 0.1, 0.04},
		{"student rows not views", fromData(2, 2, []float32{1, 2, 3, 4}), fromData(4, 2, []float32{1, 2, 3, 4, 5, 6, 7, 8}), c, 0.1, 0.04},
		{"student 3 of 2 photos' rows", fromData(5, 2, make([]float32, 10)), fromData(4, 2, make([]float32, 8)), c, 0.1, 0.04},
		{"centre too long", s, te, fromData(1, 3, []float32{0, 0, 0}), 0.1, 0.04},
		{"nan student", fromData(4, 2, []float32{1, nan, 3, 4, 5, 6, 7, 8}), te, c, 0.1, 0.04},
		{"inf teacher", s, fromData(2, 2, []float32{1, float32(math.Inf(1)), 3, 4}), c, 0.1, 0.04},
		{"nan centre", s, te, fromData(1, 2, []float32{nan, 0}), 0.1, 0.04},
		{"zero student temperature", s, te, c, 0, 0.04},
		{"negative teacher temperature", s, te, c, 0.1, -1},
		{"nan temperature", s, te, c, math.NaN(), 0.04},
		{"infinite temperature", s, te, c, 0.1, math.Inf(1)},
	} {
		_, err := DINOLoss(tc.s, tc.te, tc.c, tc.tauS, tc.tauT)
		expectError(t, tc.name, err)
	}
}

func TestNormalizeRows(t *testing.T) {
	t.Parallel()
	x := fromData(3, 2, []float32{3, 4, 0, 0, -1, 0})
	y, err := NormalizeRows(x)
	if err != nil {
		t.Fatal(err)
	}
	// A zero row stays zero (divided by 1e-12).
	assertClose(t, "unit rows", data(y), []float64{0.6, 0.8, 0, 0, -1, 0}, 1e-7)
	rng := testRNG(51)
	for _, tc := range []struct{ rows, d int }{{1, 1}, {3, 4}, {5, 7}} {
		m := randMatrix(rng, tc.rows, tc.d, true)
		for i := range data(m) {
			data(m)[i] += 0.3 // away from the origin, where the norm is steep
		}
		// A single column's normalised value is its sign: gradient zero,
		// which gradCheck refuses as checking nothing.
		if tc.d == 1 {
			y, err := NormalizeRows(m)
			if err != nil {
				t.Fatal(err)
			}
			y.AccGrad(fromData(tc.rows, 1, []float32{1}))
			if err := ag.Backward(y); err != nil {
				t.Fatal(err)
			}
			if !allZero(data(m.Grad())) {
				t.Errorf("1 column: gradient %v, want 0", data(m.Grad()))
			}
			continue
		}
		gradCheck(t, func() (mat.Tensor, error) { return NormalizeRows(m) }, []gradParam{{"x", m}}, rng, 1e-3, gradTol)
	}
	if _, err := NormalizeRows(nil); err == nil {
		t.Error("nil: no error")
	}
	expectError(t, "empty", func() error { _, err := NormalizeRows(fromData(0, 2, nil)); return err }())
}

func TestConcatRows(t *testing.T) {
	t.Parallel()
	rng := testRNG(61)
	a, b := randMatrix(rng, 2, 3, true), randMatrix(rng, 4, 3, true)
	y, err := ConcatRows(a, b)
	if err != nil {
		t.Fatal(err)
	}
	assertShape(t, "concat", y, 6, 3)
	assertClose(t, "concat", data(y), append(f64(a), f64(b)...), 0)
	gradCheck(t, func() (mat.Tensor, error) { return ConcatRows(a, b) }, []gradParam{{"a", a}, {"b", b}}, rng, gradH, gradTol)
	_, err = ConcatRows(a, randMatrix(rng, 2, 2, false))
	expectError(t, "widths differ", err)
	_, err = ConcatRows(nil, b)
	expectError(t, "nil", err)
}
