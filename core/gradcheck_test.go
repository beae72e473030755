package core

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

// Shared helpers of the operator tests: seeded random matrices, float64
// views, closeness checks, a central finite-difference gradient checker and
// benchmark plumbing.

// testRNG returns a deterministic generator for seed.
func testRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

// randMatrix returns a rows x cols matrix of values uniform in [-1, 1),
// marked as requiring gradients if grad is set.
func randMatrix(rng *rand.Rand, rows, cols int, grad bool) *mat.Dense[float32] {
	v := make([]float32, rows*cols)
	for i := range v {
		v[i] = float32(2*rng.Float64() - 1)
	}
	m := fromData(rows, cols, v)
	m.SetRequiresGrad(grad)
	return m
}

// distinctMatrix returns a rows x cols matrix whose values are a random
// permutation of (i - n/2)·gap: any two differ by at least gap, so
// perturbations smaller than gap/2 never change a max or its position.
func distinctMatrix(rng *rand.Rand, rows, cols int, gap float64, grad bool) *mat.Dense[float32] {
	n := rows * cols
	v := make([]float32, n)
	for i, p := range rng.Perm(n) {
		v[i] = float32(float64(p-n/2) * gap)
	}
	m := fromData(rows, cols, v)
	m.SetRequiresGrad(grad)
	return m
}

// f64 returns t's values as float64.
func f64(t mat.Tensor) []float64 { return f64s(data(t)) }

// f64s returns v as float64.
func f64s(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// cloneData returns a copy of t's values.
func cloneData(t mat.Tensor) []float32 { return append([]float32(nil), data(t)...) }

// assertShape fails unless t has the given matrix shape.
func assertShape(tb testing.TB, what string, t mat.Tensor, rows, cols int) {
	tb.Helper()
	if sh := t.Shape(); len(sh) != 2 || sh[0] != rows || sh[1] != cols {
		tb.Fatalf("%s has shape %v, want [%d %d]", what, sh, rows, cols)
	}
}

// assertClose fails unless got and want agree elementwise within
// tol·(1+|want|).
func assertClose(tb testing.TB, what string, got []float32, want []float64, tol float64) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol*(1+math.Abs(want[i]))) {
			tb.Fatalf("%s[%d] = %v, want %v (diff %.3g)", what, i, got[i], want[i], d)
		}
	}
}

// assertUnchanged fails unless t still holds before (inputs are never
// modified).
func assertUnchanged(tb testing.TB, what string, t mat.Tensor, before []float32) {
	tb.Helper()
	for i, v := range data(t) {
		if math.Float32bits(v) != math.Float32bits(before[i]) {
			tb.Fatalf("%s[%d] was modified: %v -> %v", what, i, before[i], v)
		}
	}
}

// gradParam is one operand whose gradient a gradCheck verifies.
type gradParam struct {
	name string
	m    *mat.Dense[float32]
}

// gradCheck verifies the analytic gradients of L = Σ y ⊙ R, for y = build()
// and a fixed random R, against central finite differences
// (L(p+h) - L(p-h)) / 2h for every element of every param, with L summed in
// float64 over the float32 outputs. An element passes if
// |analytic - numeric| <= tol·max(1, |numeric|).
func gradCheck(t *testing.T, build func() (mat.Tensor, error), params []gradParam, rng *rand.Rand, h, tol float64) {
	t.Helper()
	y, err := build()
	if err != nil {
		t.Fatal(err)
	}
	sh := y.Shape()
	r := randMatrix(rng, sh[0], sh[1], false)
	rd := f64(r)
	loss := func() float64 {
		y, err := build()
		if err != nil {
			t.Fatal(err)
		}
		var s float64
		for i, v := range data(y) {
			s += float64(v) * rd[i]
		}
		return s
	}

	for _, p := range params {
		p.m.ZeroGrad()
	}
	y.AccGrad(r)
	if err := ag.Backward(y); err != nil {
		t.Fatal(err)
	}
	for _, p := range params {
		var analytic []float32
		if g := p.m.Grad(); g != nil {
			analytic = cloneData(g)
		} else {
			t.Fatalf("%s: no gradient", p.name)
		}
		d := data(p.m)
		worst := 0.0
		for i := range d {
			orig := d[i]
			d[i] = orig + float32(h)
			hi, lp := float64(d[i]), loss()
			d[i] = orig - float32(h)
			lo, lm := float64(d[i]), loss()
			d[i] = orig
			numeric := (lp - lm) / (hi - lo)
			diff := math.Abs(float64(analytic[i])-numeric) / math.Max(1, math.Abs(numeric))
			if !(diff <= tol) {
				t.Errorf("%s grad[%d] = %v, finite difference %v (scaled diff %.3g)", p.name, i, analytic[i], numeric, diff)
			}
			worst = max(worst, diff)
		}
		if allZero(analytic) {
			t.Errorf("%s: gradient is identically zero, which checks nothing", p.name)
		}
		t.Logf("%s: %d gradients, worst scaled diff %.2g", p.name, len(d), worst)
		p.m.ZeroGrad()
	}
}

// allZero reports whether every value of v is zero.
func allZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// Finite-difference step and tolerance of the gradient checks: float32
// forwards with h = 1e-2 agree with analytic gradients to about 1e-4.
const (
	gradH   = 1e-2
	gradTol = 2e-3
)

// expectError fails unless err is a core error.
func expectError(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	if msg := err.Error(); len(msg) < 6 || msg[:6] != "core: " {
		t.Errorf("%s: error %q lacks the core: prefix", what, msg)
	}
}

// rsBatch is workload RS's batch size (../shared/bench/WORKLOAD.md).
const rsBatch = 64

// reportImages reports an images/s metric for b's loop over batches of n.
func reportImages(b *testing.B, n int) {
	b.ReportMetric(float64(b.N)*float64(n)/b.Elapsed().Seconds(), "images/s")
}

// benchOp runs the forward and backward sub-benchmarks of one workload:
// forward runs fwd per iteration; backward runs fwd once, then bwd per
// iteration (which must reset any gradients it accumulates).
func benchOp(b *testing.B, name string, images int, fwd func(), bwd func()) {
	b.Run(fmt.Sprintf("%s/forward", name), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fwd()
		}
		reportImages(b, images)
	})
	b.Run(fmt.Sprintf("%s/backward", name), func(b *testing.B) {
		fwd()
		b.ReportAllocs()
		for b.Loop() {
			bwd()
		}
		reportImages(b, images)
	})
}
