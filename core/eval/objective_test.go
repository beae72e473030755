package eval

import (
	"math"
	"runtime"
	"slices"
	"testing"
)

// naiveLoss is the probe's objective written as plainly as possible: for
// every row, the softmax probabilities, -log p[y], then the mean plus
// (decay/2)·||W||².
func naiveLoss(x Features, y []int, classes int, decay float64, params []float64) float64 {
	d := x.Dim
	var total float64
	for i := range x.N {
		z := make([]float64, classes)
		for c := range classes {
			z[c] = params[classes*d+c]
			for j, v := range x.Row(i) {
				z[c] += params[c*d+j] * float64(v)
			}
		}
		var norm float64
		for _, v := range z {
			norm += math.Exp(v)
		}
		total -= math.Log(math.Exp(z[y[i]]) / norm)
	}
	var sq float64
	for _, w := range params[:classes*d] {
		sq += w * w
	}
	return total/float64(x.N) + decay/2*sq
}

func randomProblem(seed uint64, n, d, k int) (Features, []int, []float64) {
	rng := newRand(seed)
	x := randomFeatures(rng, n, d)
	y := make([]int, n)
	for i := range y {
		y[i] = rng.IntN(k)
	}
	params := make([]float64, k*d+k)
	for i := range params {
		params[i] = 0.3 * rng.NormFloat64()
	}
	return x, y, params
}

func TestObjectiveMatchesNaive(t *testing.T) {
	// 2500 rows: chunks of 1024, 1024 and 452.
	for _, n := range []int{1, 3, 4, 2500} {
		x, y, params := randomProblem(2, n, 6, 4)
		o := newObjective(x, y, 4, 0.3)
		g := make([]float64, o.size())
		got, want := o.eval(params, g), naiveLoss(x, y, 4, 0.3, params)
		// The scores are float32 products: about 1e-7 relative.
		if math.Abs(got-want) > 1e-6*want {
			t.Errorf("%d rows: loss %v, naive %v", n, got, want)
		}
	}
}

// TestObjectiveGradient checks the gradient against central differences of
// the plain float64 loss (naiveLoss), on one chunk and on several.
func TestObjectiveGradient(t *testing.T) {
	for _, n := range []int{23, 2500} {
		x, y, params := randomProblem(3, n, 5, 3)
		for _, decay := range []float64{0, 0.1} {
			o := newObjective(x, y, 3, decay)
			g := make([]float64, o.size())
			o.eval(params, g)
			const h = 1e-5
			for k := range params {
				p := slices.Clone(params)
				p[k] = params[k] + h
				fp := naiveLoss(x, y, 3, decay, p)
				p[k] = params[k] - h
				fm := naiveLoss(x, y, 3, decay, p)
				fd := (fp - fm) / (2 * h)
				// Central differences of the float64 loss are accurate
				// to O(h²) plus about 1e-16/h; the gradient's products
				// are float32 (about 1e-7 relative, summed over rows).
				if math.Abs(fd-g[k]) > 2e-6+1e-5*math.Abs(fd) {
					t.Errorf("%d rows, decay %v: ∂f/∂p[%d] = %v, central difference %v", n, decay, k, g[k], fd)
				}
			}
		}
	}
}

// TestObjectiveThreads checks that the loss and gradient are the same bits
// whatever the number of threads.
func TestObjectiveThreads(t *testing.T) {
	x, y, params := randomProblem(4, 3500, 9, 5) // 4 chunks of 1024 rows
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var ref []float64
	var refLoss float64
	for _, procs := range []int{1, 2, 3, 8} {
		runtime.GOMAXPROCS(procs)
		o := newObjective(x, y, 5, 0.01)
		g := make([]float64, o.size())
		loss := o.eval(params, g)
		if ref == nil {
			ref, refLoss = g, loss
			continue
		}
		if loss != refLoss || !slices.Equal(g, ref) {
			t.Errorf("GOMAXPROCS %d: loss %v, want %v bit for bit (and the gradient)", procs, loss, refLoss)
		}
	}
}

func TestObjectiveLargeScores(t *testing.T) {
	// Scores of ±1000 would overflow a naive exp; the log-sum-exp form
	// gives the exact cross-entropy.
	x := Features{N: 2, Dim: 1, Data: []float32{1, -1}}
	y := []int{0, 0}
	params := []float64{1000, -1000, 0, 0} // W = [1000; -1000], B = 0
	o := newObjective(x, y, 2, 0)
	g := make([]float64, 4)
	loss := o.eval(params, g)
	// Row 0: scores (1000, -1000), loss ≈ e^-2000 ≈ 0; row 1: scores
	// (-1000, 1000), loss ≈ 2000. Mean 1000.
	if math.Abs(loss-1000) > 1e-9 {
		t.Errorf("loss %v, want 1000", loss)
	}
	for _, v := range g {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("gradient %v", g)
		}
	}
}
