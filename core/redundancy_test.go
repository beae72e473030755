package core

import (
	"math"
	"testing"

	"github.com/nlpodyssey/spago/mat"
)

// refStats returns, for view v of z ([2n, d], pairs in consecutive rows),
// the column means and the d x d covariance with divisor div, from the
// textbook definitions.
func refStats(z []float64, n, d, v int, div float64) (mean, cov []float64) {
	mean, cov = make([]float64, d), make([]float64, d*d)
	at := func(i, k int) float64 { return z[(2*i+v)*d+k] }
	for k := range d {
		for i := range n {
			mean[k] += at(i, k)
		}
		mean[k] /= float64(n)
	}
	for j := range d {
		for k := range d {
			for i := range n {
				cov[j*d+k] += (at(i, j) - mean[j]) * (at(i, k) - mean[k])
			}
			cov[j*d+k] /= div
		}
	}
	return mean, cov
}

// refVICReg is VICReg from the paper's equations.
func refVICReg(z []float64, n, d int, cfg VICRegConfig) float64 {
	var s float64
	for i := range n {
		for k := range d {
			e := z[2*i*d+k] - z[(2*i+1)*d+k]
			s += e * e
		}
	}
	s /= float64(n * d)
	var v, c float64
	for view := range 2 {
		_, cov := refStats(z, n, d, view, float64(n-1))
		for j := range d {
			v += math.Max(0, 1-math.Sqrt(cov[j*d+j]+cfg.Eps)) / float64(d) / 2
			for k := range d {
				if j != k {
					c += cov[j*d+k] * cov[j*d+k] / float64(d)
				}
			}
		}
	}
	return cfg.Sim*s + cfg.Std*v + cfg.Cov*c
}

// refBarlow is Barlow Twins from the paper's equations.
func refBarlow(z []float64, n, d int, lambda float64) float64 {
	ma, ca := refStats(z, n, d, 0, float64(n))
	mb, cb := refStats(z, n, d, 1, float64(n))
	var loss float64
	for j := range d {
		for k := range d {
			var c float64
			for i := range n {
				a := (z[2*i*d+j] - ma[j]) / math.Sqrt(ca[j*d+j]+barlowEps)
				b := (z[(2*i+1)*d+k] - mb[k]) / math.Sqrt(cb[k*d+k]+barlowEps)
				c += a * b / float64(n)
			}
			if j == k {
				loss += (1 - c) * (1 - c)
			} else {
				loss += lambda * c * c
			}
		}
	}
	return loss
}

func TestVICRegAndBarlowForward(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ n, d int }{{2, 1}, {3, 4}, {8, 5}, {16, 3}} {
		z := randMatrix(testRNG(uint64(7*tc.n+tc.d)), 2*tc.n, tc.d, false)
		// Scale some columns so that their spread straddles VICReg's
		// hinge at 1.
		for i := range data(z) {
			if i%tc.d == 0 {
				data(z)[i] *= 3
			}
		}
		before := cloneData(z)
		cfg := VICRegConfig{}.withDefaults()
		l, err := VICReg(z, VICRegConfig{})
		if err != nil {
			t.Fatal(err)
		}
		assertShape(t, "vicreg", l, 1, 1)
		assertClose(t, "vicreg", data(l), []float64{refVICReg(f64(z), tc.n, tc.d, cfg)}, 1e-5)
		b, err := BarlowTwins(z, 5e-3)
		if err != nil {
			t.Fatal(err)
		}
		assertClose(t, "barlow twins", data(b), []float64{refBarlow(f64(z), tc.n, tc.d, 5e-3)}, 1e-5)
		assertUnchanged(t, "z", z, before)
	}
}

// TestVICRegAndBarlowOptimum: two identical views of decorrelated,
// unit-spread dimensions are each loss's optimum: VICReg's terms all
// vanish and Barlow Twins' cross-correlation is the identity.
func TestVICRegAndBarlowOptimum(t *testing.T) {
	t.Parallel()
	// Columns ±2 in a Hadamard pattern: zero mean, uncorrelated, unbiased
	// variance 16/3 > 1, population variance 4.
	rows := [][]float32{{2, 2}, {2, -2}, {-2, 2}, {-2, -2}}
	var v []float32
	for _, r := range rows {
		v = append(v, r...)
		v = append(v, r...) // the second view, identical
	}
	z := fromData(8, 2, v)
	l, err := VICReg(z, VICRegConfig{})
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "vicreg at its optimum", data(l), []float64{0}, 1e-6)
	b, err := BarlowTwins(z, 5e-3)
	if err != nil {
		t.Fatal(err)
	}
	// C_jj = 4/(4+eps) each, off-diagonal 0.
	cjj := 4 / (4 + barlowEps)
	assertClose(t, "barlow at its optimum", data(b), []float64{2 * (1 - cjj) * (1 - cjj)}, 1e-9)
}

func TestVICRegAndBarlowGrad(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ n, d int }{{2, 2}, {4, 3}, {5, 4}} {
		rng := testRNG(uint64(91 + tc.n))
		z := randMatrix(rng, 2*tc.n, tc.d, true)
		for i := range data(z) {
			if i%tc.d == 1 {
				data(z)[i] *= 4 // a column above VICReg's hinge
			}
		}
		gradCheck(t, func() (mat.Tensor, error) { return VICReg(z, VICRegConfig{Sim: 2, Std: 3, Cov: 1.5}) }, []gradParam{{"z", z}}, rng, 1e-3, gradTol)
		gradCheck(t, func() (mat.Tensor, error) { return BarlowTwins(z, 0.1) }, []gradParam{{"z", z}}, rng, 1e-3, gradTol)
	}
}

func TestVICRegAndBarlowErrors(t *testing.T) {
	t.Parallel()
	ok := fromData(4, 2, []float32{1, 2, 3, 4, 5, 6, 7, 8})
	for _, tc := range []struct {
		name string
		z    mat.Tensor
	}{
		{"nil", nil},
		{"one pair", fromData(2, 2, []float32{1, 2, 3, 4})},
		{"odd rows", fromData(5, 1, make([]float32, 5))},
		{"nan", fromData(4, 1, []float32{1, float32(math.NaN()), 2, 3})},
	} {
		if _, err := VICReg(tc.z, VICRegConfig{}); err == nil {
			t.Errorf("vicreg %s: no error", tc.name)
		}
		if _, err := BarlowTwins(tc.z, 5e-3); err == nil {
			t.Errorf("barlow twins %s: no error", tc.name)
		}
	}
	if _, err := VICReg(ok, VICRegConfig{Sim: -1}); err == nil {
		t.Error("vicreg with a negative weight: no error")
	}
	if _, err := BarlowTwins(ok, -1); err == nil {
		t.Error("barlow twins with a negative lambda: no error")
	}
}
