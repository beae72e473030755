package eval

import "math"

// L-BFGS settings. The memory and the line-search constants are the usual
// ones (Nocedal & Wright, Numerical Optimization, 2nd ed., §7.2 and §3.1:
// m between 3 and 20; c1 = 1e-4).
const (
	lbfgsMemory = 10   // correction pairs kept
	armijoC1    = 1e-4 // sufficient decrease: f(x+t·d) <= f(x) + c1·t·∇f·d
	// maxBacktrack is the number of trial steps before the search gives
	// up: each at least halves the step, and a search that needs more
	// than a few is at the limit of float64 precision.
	maxBacktrack = 20
	// stallRel stops the search when an iteration lowers f by at most
	// this fraction of |f|: 64 float64 epsilons, scikit-learn's ftol for
	// its lbfgs solver. Below it, decreases are rounding noise.
	stallRel = 64 * 0x1p-52
)

// lbfgsStop says why lbfgs returned.
type lbfgsStop int

const (
	stopGradient lbfgsStop = iota // the gradient's largest component is at most tol
	stopStall                     // f stopped decreasing, at float64 precision
	stopMaxIter                   // maxIter iterations done
)

// lbfgsResult describes the end of a minimisation.
type lbfgsResult struct {
	iters int // accepted steps
	evals int // evaluations of f
	f     float64
	gmax  float64 // largest |component| of the final gradient
	stop  lbfgsStop
}

// lbfgs minimises f from x, which it overwrites with the minimiser it finds.
// f(x, g) returns f(x) and writes its gradient to g. It runs at most maxIter
// iterations and stops early once every component of the gradient is within
// tol of 0.
//
// Each iteration takes the limited-memory BFGS direction (two-loop recursion,
// Nocedal & Wright Algorithm 7.4, with the initial Hessian γI, γ = sᵀy/yᵀy of
// the latest pair, eq. 7.20), then a backtracking line search from a step
// of 1 that shrinks the step by quadratic interpolation (kept within
// [0.1, 0.5] of the last trial) until the Armijo condition holds. The first
// direction is the steepest descent scaled to unit length, so the first
// trial step moves x by 1 whatever the gradient's size. A pair with sᵀy <=
// 1e-10·|s|·|y| is not stored, which keeps the implied Hessian positive
// definite; if the direction is ever not a descent one, the memory is
// dropped and the search restarts from steepest descent.
func lbfgs(f func(x, g []float64) float64, x []float64, maxIter int, tol float64) lbfgsResult {
	n := len(x)
	g := make([]float64, n)
	fx := f(x, g)
	res := lbfgsResult{evals: 1}
	mem := newLBFGSPairs(n)
	d := make([]float64, n)
	xt, gt := make([]float64, n), make([]float64, n)
	stalled := false
	for {
		res.f, res.gmax = fx, maxAbs(g)
		switch {
		case res.gmax <= tol:
			res.stop = stopGradient
			return res
		case stalled:
			res.stop = stopStall
			return res
		case res.iters >= maxIter:
			res.stop = stopMaxIter
			return res
		}
		mem.direction(d, g)
		dg := dot(d, g)
		if mem.stored > 0 && !(dg < 0) {
			// Not a descent direction (rounding): forget and restart.
			mem.stored = 0
			mem.direction(d, g)
			dg = dot(d, g)
		}
		if mem.stored == 0 {
			norm := math.Sqrt(-dg)
			for k := range d {
				d[k] /= norm
			}
			dg = -norm
		}
		// Backtracking line search.
		t := 1.0
		var ft float64
		ok := false
		for range maxBacktrack {
			for k := range xt {
				xt[k] = x[k] + float64(t*d[k])
			}
			ft = f(xt, gt)
			res.evals++
			if ft <= fx+float64(armijoC1*t*dg) { // float64(): no FMA, see dot
				ok = true
				break
			}
			// Minimiser of the quadratic through f(0), f'(0) and f(t),
			// kept within [0.1t, 0.5t]; a NaN or infinite f(t) (a step so
			// long that the loss overflows) shrinks the step tenfold.
			shorter := 0.1 * t
			if !math.IsNaN(ft) && !math.IsInf(ft, 0) {
				shorter = -dg * t * t / (2 * (ft - fx - float64(dg*t)))
				shorter = min(max(shorter, 0.1*t), 0.5*t)
			}
			t = shorter
		}
		if !ok {
			stalled = true
			continue
		}
		mem.push(x, xt, g, gt)
		stalled = fx-ft <= stallRel*math.Abs(fx)
		copy(x, xt)
		copy(g, gt)
		fx = ft
		res.iters++
	}
}

// lbfgsPairs holds the latest correction pairs s = x' - x, y = ∇f(x') -
// ∇f(x) of L-BFGS in a ring.
type lbfgsPairs struct {
	s, y   [lbfgsMemory][]float64
	rho    [lbfgsMemory]float64 // 1/(sᵀy)
	alpha  [lbfgsMemory]float64 // scratch of direction
	stored int                  // pairs held
	next   int                  // slot of the next pair: the oldest one's
	ds, dy []float64            // a candidate pair
}

func newLBFGSPairs(n int) *lbfgsPairs {
	m := &lbfgsPairs{ds: make([]float64, n), dy: make([]float64, n)}
	for i := range lbfgsMemory {
		m.s[i], m.y[i] = make([]float64, n), make([]float64, n)
	}
	return m
}

// slot returns the slot of the i-th newest pair (i = 0: the newest).
func (m *lbfgsPairs) slot(i int) int { return (m.next - 1 - i + 2*lbfgsMemory) % lbfgsMemory }

// push keeps the pair of the step from x to xt, unless sᵀy <=
// 1e-10·|s|·|y|: such a pair would make the implied inverse Hessian not
// positive definite (or nearly so).
func (m *lbfgsPairs) push(x, xt, g, gt []float64) {
	for k := range m.ds {
		m.ds[k] = xt[k] - x[k]
		m.dy[k] = gt[k] - g[k]
	}
	sy := dot(m.ds, m.dy)
	if !(sy > 1e-10*math.Sqrt(dot(m.ds, m.ds)*dot(m.dy, m.dy))) {
		return
	}
	p := m.next
	m.s[p], m.ds = m.ds, m.s[p]
	m.y[p], m.dy = m.dy, m.y[p]
	m.rho[p] = 1 / sy
	m.next = (p + 1) % lbfgsMemory
	m.stored = min(m.stored+1, lbfgsMemory)
}

// direction writes d = -H·g, where H is the BFGS inverse-Hessian
// approximation built from γI by the stored pairs, oldest first, with γ =
// sᵀy/yᵀy of the newest pair (the two-loop recursion); with no pairs, d =
// -g.
func (m *lbfgsPairs) direction(d, g []float64) {
	for k, v := range g {
		d[k] = -v
	}
	if m.stored == 0 {
		return
	}
	for i := range m.stored {
		p := m.slot(i)
		m.alpha[p] = m.rho[p] * dot(m.s[p], d)
		axpy(-m.alpha[p], m.y[p], d)
	}
	p := m.slot(0)
	gamma := dot(m.s[p], m.y[p]) / dot(m.y[p], m.y[p])
	for k := range d {
		d[k] *= gamma
	}
	for i := m.stored - 1; i >= 0; i-- {
		p := m.slot(i)
		beta := m.rho[p] * dot(m.y[p], d)
		axpy(m.alpha[p]-beta, m.s[p], d)
	}
}

// maxAbs returns the largest |v[k]|.
func maxAbs(v []float64) float64 {
	var m float64
	for _, x := range v {
		m = max(m, math.Abs(x))
	}
	return m
}
