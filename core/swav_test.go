package core

import (
	"math"
	"testing"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

// SwAV's swapped prediction (Caron et al. 2020, eq. 1-2) needs no operator
// of its own: tasks.SwAV writes it as DINOLoss of the scores
// NormalizeRows(z)·Cᵀ (Linear) against the codes given as log q at
// temperature 1 with a zero centre, softmax(log q) = q. These tests check
// that composition against the paper's definition and by finite
// differences for z and the prototypes C.

// swavLoss is tasks.SwAV's composition: z [V·N, D] raw features, c [K, D]
// prototypes, logq [2N, K] the log codes of the two global views.
func swavLoss(z, c, logq mat.Tensor, tau float64) (mat.Tensor, error) {
	unit, err := NormalizeRows(z)
	if err != nil {
		return nil, err
	}
	scores, err := Linear(unit, c, nil)
	if err != nil {
		return nil, err
	}
	k := c.Shape()[0]
	return DINOLoss(scores, logq, newMatrix(1, k), tau, 1)
}

// refSwAV is eq. 1-2 from its definition: for each global view t of photo
// i and each other view s, -Σ_k q_t,i,k log softmax(z_s,i·C/τ)_k with z
// and the prototypes' rows made unit (the paper's normalised z and C; the
// task keeps C unit, the composition does not normalise it), averaged over photos and pairs. q [2N, K] holds probabilities;
// row v·n+i is view v of photo i.
func refSwAV(z, c, q []float64, n, d, k, views int, tau float64) float64 {
	unit := func(x []float64) []float64 {
		var ss float64
		for _, v := range x {
			ss += v * v
		}
		out := make([]float64, len(x))
		for j, v := range x {
			out[j] = v / math.Sqrt(ss)
		}
		return out
	}
	protos := make([][]float64, k)
	for j := range k {
		protos[j] = unit(c[j*d : (j+1)*d])
	}
	logp := func(row int) []float64 {
		zu := unit(z[row*d : (row+1)*d])
		s := make([]float64, k)
		var e float64
		for j := range k {
			for m := range d {
				s[j] += zu[m] * protos[j][m]
			}
			e += math.Exp(s[j] / tau)
		}
		for j := range s {
			s[j] = s[j]/tau - math.Log(e)
		}
		return s
	}
	var total float64
	pairs := 0
	for t := range 2 {
		for s := range views {
			if s == t {
				continue
			}
			var h float64
			for i := range n {
				lp := logp(s*n + i)
				for j := range k {
					h -= q[(t*n+i)*k+j] * lp[j]
				}
			}
			total += h / float64(n)
			pairs++
		}
	}
	return total / float64(pairs)
}

// unitMatrix makes m's rows unit length in place and returns it.
func unitMatrix(m *mat.Dense[float32]) *mat.Dense[float32] {
	sh := m.Shape()
	u, _ := unitRows(data(m), sh[0], sh[1])
	for i, v := range u {
		data(m)[i] = float32(v)
	}
	return m
}

// randCodes returns rows x k random distributions (positive, rows summing
// to 1) and their logs as a matrix.
func randCodes(t *testing.T, rows, k int, seed uint64, grad bool) ([]float64, *mat.Dense[float32]) {
	t.Helper()
	rng := testRNG(seed)
	q := make([]float64, rows*k)
	lq := make([]float32, rows*k)
	for r := range rows {
		var s float64
		for j := range k {
			q[r*k+j] = math.Exp(3 * rng.Float64())
			s += q[r*k+j]
		}
		for j := range k {
			q[r*k+j] /= s
			lq[r*k+j] = float32(math.Log(q[r*k+j]))
		}
	}
	m := fromData(rows, k, lq)
	m.SetRequiresGrad(grad)
	return q, m
}

func TestSwAVLossForward(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ n, d, k, views int }{{1, 2, 1, 2}, {2, 3, 4, 2}, {3, 5, 7, 4}, {4, 8, 16, 8}} {
		rng := testRNG(uint64(200 + 10*tc.n + tc.views))
		z := randMatrix(rng, tc.views*tc.n, tc.d, false)
		c := unitMatrix(randMatrix(rng, tc.k, tc.d, false)) // as SwAV keeps them
		q, lq := randCodes(t, 2*tc.n, tc.k, uint64(300+tc.k), false)
		l, err := swavLoss(z, c, lq, 0.1)
		if err != nil {
			t.Fatal(err)
		}
		want := refSwAV(f64(z), f64(c), q, tc.n, tc.d, tc.k, tc.views, 0.1)
		assertClose(t, "swav loss", data(l), []float64{want}, 1e-5)
	}
	// A prediction uniform over the prototypes (z orthogonal to every
	// prototype) scores ln K against any code: SwAV's baseline.
	z := fromData(2, 3, []float32{0, 0, 1, 0, 0, 2})
	c := fromData(4, 3, []float32{1, 0, 0, 0, 1, 0, -1, 0, 0, 0, -1, 0})
	_, lq := randCodes(t, 2, 4, 7, false)
	l, err := swavLoss(z, c, lq, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "uniform prediction", data(l), []float64{math.Log(4)}, 1e-6)
}

// TestSwAVLossGrad checks the gradients of z and the prototypes by finite
// differences, and that the codes, a constant of the loss, get zeros
// although they take gradients and the loss depends on them.
func TestSwAVLossGrad(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ n, d, k, views int }{{1, 2, 2, 2}, {2, 3, 4, 3}, {2, 4, 5, 4}} {
		rng := testRNG(uint64(61 + tc.n + tc.views))
		z := randMatrix(rng, tc.views*tc.n, tc.d, true)
		c := randMatrix(rng, tc.k, tc.d, true)
		for _, m := range []*mat.Dense[float32]{z, c} {
			for i := range data(m) {
				data(m)[i] += 0.2 // away from the origin, where the norm is steep
			}
		}
		_, lq := randCodes(t, 2*tc.n, tc.k, uint64(400+tc.k), true)
		// A temperature near 1 keeps the float32 finite differences
		// accurate; the gradient's form does not depend on it.
		gradCheck(t, func() (mat.Tensor, error) { return swavLoss(z, c, lq, 0.5) },
			[]gradParam{{"z", z}, {"prototypes", c}}, rng, gradH, gradTol)

		lq.ZeroGrad()
		l, err := swavLoss(z, c, lq, 0.1)
		if err != nil {
			t.Fatal(err)
		}
		if err := ag.Backward(l); err != nil {
			t.Fatal(err)
		}
		if !z.HasGrad() || allZero(data(z.Grad())) || !c.HasGrad() || allZero(data(c.Grad())) {
			t.Errorf("views=%d: z or the prototypes got no gradient", tc.views)
		}
		if lq.HasGrad() && !allZero(data(lq.Grad())) {
			t.Errorf("views=%d: the codes got a gradient", tc.views)
		}
		before := data(l)[0]
		data(lq)[0] -= 1
		l2, err := swavLoss(z, c, lq, 0.1)
		if err != nil {
			t.Fatal(err)
		}
		if data(l2)[0] == before {
			t.Errorf("views=%d: the loss does not depend on the codes", tc.views)
		}
	}
}
