package eval

import (
	"math"
	"testing"
)

func TestLBFGSQuadratic(t *testing.T) {
	// f(x) = ½ Σ a_i (x_i - c_i)², curvatures from 1 to 1e3: the minimiser
	// is c. (Many distinct curvatures make this hard for L-BFGS: with
	// 50 of them between 1 and 1e4, it needs over 1000 iterations, and
	// still 235 with exact line searches.)
	const n = 20
	a, c := make([]float64, n), make([]float64, n)
	for i := range n {
		a[i] = math.Pow(1e3, float64(i)/(n-1))
		c[i] = float64(i%7) - 3
	}
	f := func(x, g []float64) float64 {
		var s float64
		for i, v := range x {
			e := v - c[i]
			s += a[i] * e * e / 2
			g[i] = a[i] * e
		}
		return s
	}
	x := make([]float64, n)
	res := lbfgs(f, x, 1000, 1e-9)
	if res.stop != stopGradient {
		t.Fatalf("stopped by %v after %d iterations, gradient %v", res.stop, res.iters, res.gmax)
	}
	for i, v := range x {
		if math.Abs(v-c[i]) > 1e-9 {
			t.Errorf("x[%d] = %v, want %v", i, v, c[i])
		}
	}
	t.Logf("%d iterations, %d evaluations", res.iters, res.evals)
}

func TestLBFGSRosenbrock(t *testing.T) {
	// Not convex: the curved valley of Rosenbrock's function, minimum 0 at
	// (1, 1), from the classic start (-1.2, 1).
	f := func(x, g []float64) float64 {
		a, b := 1-x[0], x[1]-x[0]*x[0]
		g[0] = -2*a - 400*x[0]*b
		g[1] = 200 * b
		return a*a + 100*b*b
	}
	x := []float64{-1.2, 1}
	res := lbfgs(f, x, 1000, 1e-8)
	if res.stop == stopMaxIter || math.Abs(x[0]-1) > 1e-6 || math.Abs(x[1]-1) > 1e-6 {
		t.Errorf("reached %v after %d iterations (stop %v, gradient %v), want (1, 1)", x, res.iters, res.stop, res.gmax)
	}
	t.Logf("%d iterations, %d evaluations", res.iters, res.evals)
}

func TestLBFGSStopsAtMaxIter(t *testing.T) {
	f := func(x, g []float64) float64 {
		g[0] = 2 * (x[0] - 5)
		return (x[0] - 5) * (x[0] - 5)
	}
	x := []float64{0}
	if res := lbfgs(f, x, 1, 1e-12); res.stop != stopMaxIter || res.iters != 1 {
		t.Errorf("stop %v after %d iterations, want the limit after 1", res.stop, res.iters)
	}
	x[0] = 5
	if res := lbfgs(f, x, 10, 1e-12); res.stop != stopGradient || res.iters != 0 || res.evals != 1 {
		t.Errorf("from the minimum: stop %v after %d iterations and %d evaluations", res.stop, res.iters, res.evals)
	}
}

// TestLBFGSMatchesGradientDescent fits a strongly convex logistic problem
// by L-BFGS and by many plain gradient-descent steps of size 1/L and
// compares the solutions.
func TestLBFGSMatchesGradientDescent(t *testing.T) {
	rng := newRand(5)
	x, y := blobs(rng, 300, 6, 4, 1.5) // overlapping classes
	const decay = 0.05
	o := newObjective(x, y, 4, decay)
	p := make([]float64, o.size())
	// A gradient of 1e-10 is beyond what the objective resolves (its
	// products with the features are float32): the search stalls first,
	// which is fine if the gradient is well below the probe's tolerance.
	res := lbfgs(o.eval, p, 500, 1e-10)
	if res.stop == stopMaxIter || res.gmax > DefaultTol {
		t.Fatalf("L-BFGS stopped by %v after %d iterations, gradient %v", res.stop, res.iters, res.gmax)
	}
	t.Logf("L-BFGS: %d iterations, %d evaluations, loss %.17g, stop %v, gradient %v", res.iters, res.evals, res.f, res.stop, res.gmax)

	// The Hessian of the mean cross-entropy is at most ½·mean ||[x, 1]||²
	// (softmax's Jacobian has norm at most ½), plus decay.
	var sq float64
	for _, v := range x.Data {
		sq += float64(v) * float64(v)
	}
	lip := 0.5*(sq/float64(x.N)+1) + decay
	q := make([]float64, o.size())
	g := make([]float64, o.size())
	var f float64
	for range 20000 {
		f = o.eval(q, g)
		for k := range q {
			q[k] -= g[k] / lip
		}
	}
	f = o.eval(q, g)
	if m := maxAbs(g); m > DefaultTol {
		t.Fatalf("gradient descent has not converged: gradient %v", m)
	}
	// Gradients of at most 1e-5 (|g|₂ < 6e-5) with curvature of at least
	// 0.05 put both within |g|₂²/(2·0.05) < 4e-8 of the minimum; the
	// scores' float32 rounding adds a few 1e-9.
	if math.Abs(f-res.f) > 5e-8 {
		t.Errorf("loss: gradient descent %.15f, L-BFGS %.15f", f, res.f)
	}
	// Both stop short of the exact minimiser, where the float32 products'
	// rounding dominates the gradient; with |g|₂ < 6e-5 and curvature of
	// at least 0.05 (the decay) each is within 1.2e-3 of it.
	for k := range p {
		if math.Abs(p[k]-q[k]) > 2.4e-3 {
			t.Errorf("parameter %d: gradient descent %v, L-BFGS %v", k, q[k], p[k])
		}
	}
}

// TestLBFGSDirection checks the two-loop recursion against the BFGS update
// of a dense inverse Hessian, H ← (I - ρ s yᵀ) H (I - ρ y sᵀ) + ρ s sᵀ from
// γI over the newest pairs, oldest first.
func TestLBFGSDirection(t *testing.T) {
	rng := newRand(9)
	const n = 6
	mem := newLBFGSPairs(n)
	var pairs [][2][]float64
	zero := make([]float64, n)
	for i := range 14 { // more pairs than the memory holds
		s, y := make([]float64, n), make([]float64, n)
		for k := range s {
			s[k] = rng.NormFloat64()
			y[k] = s[k] + 0.3*rng.NormFloat64()
		}
		if i == 5 {
			y = make([]float64, n) // sᵀy = 0: must be skipped
			mem.push(zero, s, zero, y)
			continue
		}
		mem.push(zero, s, zero, y)
		pairs = append(pairs, [2][]float64{s, y})
	}
	pairs = pairs[len(pairs)-lbfgsMemory:]
	newest := pairs[len(pairs)-1]
	gamma := dot(newest[0], newest[1]) / dot(newest[1], newest[1])
	h := make([]float64, n*n)
	for i := range n {
		h[i*n+i] = gamma
	}
	for _, p := range pairs {
		s, y := p[0], p[1]
		rho := 1 / dot(s, y)
		v := func(i, j int) float64 { // (I - ρ y sᵀ)[i][j]
			e := -rho * y[i] * s[j]
			if i == j {
				e++
			}
			return e
		}
		next := make([]float64, n*n)
		for i := range n {
			for j := range n {
				var e float64
				for k := range n {
					for l := range n {
						e += v(k, i) * h[k*n+l] * v(l, j)
					}
				}
				next[i*n+j] = e + rho*s[i]*s[j]
			}
		}
		h = next
	}
	g := make([]float64, n)
	for k := range g {
		g[k] = rng.NormFloat64()
	}
	d := make([]float64, n)
	mem.direction(d, g)
	for i := range n {
		var want float64
		for j := range n {
			want -= h[i*n+j] * g[j]
		}
		if math.Abs(d[i]-want) > 1e-12*math.Max(1, math.Abs(want)) {
			t.Errorf("d[%d] = %v, dense BFGS %v", i, d[i], want)
		}
	}
}
