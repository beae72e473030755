package core

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

// refBatchNorm is batch-norm from its definition in float64. With train it
// normalises by the batch mean and biased variance (returned too), else by
// runMean and runVar.
func refBatchNorm(x []float64, in Shape, gamma, beta, runMean, runVar []float64, eps float64, train, relu bool) (y, mean, variance []float64) {
	m := in.Cols()
	y = make([]float64, len(x))
	mean, variance = make([]float64, in.C), make([]float64, in.C)
	for c := 0; c < in.C; c++ {
		row := x[c*m : (c+1)*m]
		if train {
			for _, v := range row {
				mean[c] += v
			}
			mean[c] /= float64(m)
			for _, v := range row {
				variance[c] += (v - mean[c]) * (v - mean[c])
			}
			variance[c] /= float64(m)
		} else {
			mean[c], variance[c] = runMean[c], runVar[c]
		}
		for i, v := range row {
			z := gamma[c]*(v-mean[c])/math.Sqrt(variance[c]+eps) + beta[c]
			if relu {
				z = math.Max(z, 0)
			}
			y[c*m+i] = z
		}
	}
	return y, mean, variance
}

// randStats returns running statistics for c channels: means in [-1, 1),
// variances in [0.5, 1.5).
func randStats(rng *rand.Rand, c int) BNStats {
	s := BNStats{Mean: make([]float32, c), Var: make([]float32, c)}
	for i := range s.Mean {
		s.Mean[i] = float32(2*rng.Float64() - 1)
		s.Var[i] = float32(0.5 + rng.Float64())
	}
	return s
}

var bnShapes = []Shape{
	{N: 1, C: 1, H: 3, W: 5},
	{N: 3, C: 2, H: 4, W: 3},
	{N: 2, C: 3, H: 1, W: 1},
}

func TestBatchNorm2DForward(t *testing.T) {
	t.Parallel()
	rng := testRNG(10)
	for _, in := range bnShapes {
		for _, train := range []bool{true, false} {
			for _, relu := range []bool{false, true} {
				for _, eps := range []float32{0, 1e-3} {
					t.Run(fmt.Sprintf("%v/train=%v/relu=%v/eps=%v", in, train, relu, eps), func(t *testing.T) {
						x := randMatrix(rng, in.C, in.Cols(), false)
						gamma, beta := randMatrix(rng, in.C, 1, false), randMatrix(rng, in.C, 1, false)
						stats := randStats(rng, in.C)
						before := [][]float32{cloneData(x), cloneData(gamma), cloneData(beta)}
						runMean, runVar := f64s(stats.Mean), f64s(stats.Var)
						var track BNStats
						if !train {
							track = stats
						}
						y, err := BatchNorm2D(x, in, gamma, beta, track, BNOptions{Train: train, ReLU: relu, Eps: eps})
						if err != nil {
							t.Fatal(err)
						}
						e := float64(eps)
						if e == 0 {
							e = 1e-5
						}
						want, _, _ := refBatchNorm(f64(x), in, f64(gamma), f64(beta), runMean, runVar, e, train, relu)
						assertShape(t, "y", y, in.C, in.Cols())
						assertClose(t, "y", data(y), want, 1e-4)
						for i, m := range []mat.Tensor{x, gamma, beta} {
							assertUnchanged(t, "operand", m, before[i])
						}
						if !train {
							assertClose(t, "eval running mean", stats.Mean, runMean, 0)
							assertClose(t, "eval running var", stats.Var, runVar, 0)
						}
					})
				}
			}
		}
	}
}

// TestBatchNorm2DLargeMean checks the batch statistics on a channel whose
// mean dwarfs its spread, where E[x²]-E[x]² cancels badly.
func TestBatchNorm2DLargeMean(t *testing.T) {
	t.Parallel()
	rng := testRNG(11)
	in := Shape{N: 4, C: 2, H: 8, W: 8}
	x := randMatrix(rng, in.C, in.Cols(), false)
	for i := range data(x) {
		data(x)[i] += 1000
	}
	gamma, beta := randMatrix(rng, in.C, 1, false), randMatrix(rng, in.C, 1, false)
	y, err := BatchNorm2D(x, in, gamma, beta, BNStats{}, BNOptions{Train: true})
	if err != nil {
		t.Fatal(err)
	}
	want, _, _ := refBatchNorm(f64(x), in, f64(gamma), f64(beta), nil, nil, 1e-5, true, false)
	assertClose(t, "y", data(y), want, 1e-3)
}

func TestBatchNorm2DRunningStats(t *testing.T) {
	t.Parallel()
	rng := testRNG(12)
	in := Shape{N: 3, C: 3, H: 2, W: 5}
	for _, mom := range []float32{0, 0.3, 1} {
		x := randMatrix(rng, in.C, in.Cols(), false)
		for i := range data(x) {
			data(x)[i] = 3*data(x)[i] + 0.5
		}
		gamma, beta := randMatrix(rng, in.C, 1, false), randMatrix(rng, in.C, 1, false)
		stats := randStats(rng, in.C)
		oldMean, oldVar := f64s(stats.Mean), f64s(stats.Var)
		if _, err := BatchNorm2D(x, in, gamma, beta, stats, BNOptions{Train: true, Momentum: mom}); err != nil {
			t.Fatal(err)
		}
		_, mean, variance := refBatchNorm(f64(x), in, f64(gamma), f64(beta), nil, nil, 1e-5, true, false)
		m, n := float64(mom), float64(in.Cols())
		if m == 0 {
			m = 0.1
		}
		wantMean, wantVar := make([]float64, in.C), make([]float64, in.C)
		for c := range wantMean {
			wantMean[c] = (1-m)*oldMean[c] + m*mean[c]
			wantVar[c] = (1-m)*oldVar[c] + m*variance[c]*n/(n-1) // unbiased
		}
		assertClose(t, fmt.Sprintf("running mean (momentum %v)", mom), stats.Mean, wantMean, 1e-6)
		assertClose(t, fmt.Sprintf("running var (momentum %v)", mom), stats.Var, wantVar, 1e-6)
	}
}

// bnInputs draws x, gamma and beta for a batch-norm gradient check. With
// relu it redraws until every pre-ReLU output is at least margin away from
// the kink, so that finite differences never straddle it, and every channel
// has outputs on both sides of it.
func bnInputs(t *testing.T, rng *rand.Rand, in Shape, stats BNStats, train, relu bool, margin float64) (x, gamma, beta *mat.Dense[float32]) {
	for range 1000 {
		x = randMatrix(rng, in.C, in.Cols(), true)
		gamma, beta = randMatrix(rng, in.C, 1, true), randMatrix(rng, in.C, 1, true)
		if !relu {
			return
		}
		z, _, _ := refBatchNorm(f64(x), in, f64(gamma), f64(beta), f64s(stats.Mean), f64s(stats.Var), 1e-5, train, false)
		ok := true
		m := in.Cols()
		for c := 0; c < in.C; c++ {
			// Both sides of the kink in every channel, or the mask is
			// not really tested.
			pos, neg := 0, 0
			for _, v := range z[c*m : (c+1)*m] {
				ok = ok && math.Abs(v) > margin
				if v > 0 {
					pos++
				} else {
					neg++
				}
			}
			ok = ok && pos > 0 && neg > 0
		}
		if ok {
			return
		}
	}
	t.Fatal("no batch-norm input away from the ReLU kink")
	return
}

func TestBatchNorm2DGrad(t *testing.T) {
	t.Parallel()
	rng := testRNG(13)
	for _, in := range []Shape{{N: 2, C: 2, H: 3, W: 2}, {N: 1, C: 3, H: 2, W: 3}} {
		for _, train := range []bool{true, false} {
			for _, relu := range []bool{false, true} {
				t.Run(fmt.Sprintf("%v/train=%v/relu=%v", in, train, relu), func(t *testing.T) {
					stats := randStats(rng, in.C)
					x, gamma, beta := bnInputs(t, rng, in, stats, train, relu, 0.05)
					if train {
						stats = BNStats{} // keep repeated forwards from drifting anything
					}
					build := func() (mat.Tensor, error) {
						return BatchNorm2D(x, in, gamma, beta, stats, BNOptions{Train: train, ReLU: relu})
					}
					gradCheck(t, build, []gradParam{{"x", x}, {"gamma", gamma}, {"beta", beta}}, rng, gradH, gradTol)
				})
			}
		}
	}
}

// TestBatchNorm2DPartialGrad checks that operands without gradients get
// none and the others still get theirs.
func TestBatchNorm2DPartialGrad(t *testing.T) {
	t.Parallel()
	rng := testRNG(14)
	in := Shape{N: 2, C: 2, H: 2, W: 2}
	x := randMatrix(rng, in.C, in.Cols(), false)
	gamma, beta := randMatrix(rng, in.C, 1, true), randMatrix(rng, in.C, 1, false)
	y, err := BatchNorm2D(x, in, gamma, beta, BNStats{}, BNOptions{Train: true, ReLU: true})
	if err != nil {
		t.Fatal(err)
	}
	y.AccGrad(randMatrix(rng, in.C, in.Cols(), false))
	if err := ag.Backward(y); err != nil {
		t.Fatal(err)
	}
	if x.HasGrad() || beta.HasGrad() || !gamma.HasGrad() {
		t.Errorf("gradients: x %v, gamma %v, beta %v; want only gamma", x.HasGrad(), gamma.HasGrad(), beta.HasGrad())
	}
}

func TestBatchNorm2DErrors(t *testing.T) {
	t.Parallel()
	rng := testRNG(15)
	in := Shape{N: 2, C: 3, H: 2, W: 2}
	x := randMatrix(rng, in.C, in.Cols(), true)
	g, b := randMatrix(rng, in.C, 1, true), randMatrix(rng, in.C, 1, true)
	stats := randStats(rng, in.C)
	train, eval := BNOptions{Train: true}, BNOptions{}
	badVar := randStats(rng, in.C)
	badVar.Var[1] = -1
	for _, tc := range []struct {
		name        string
		x           mat.Tensor
		in          Shape
		gamma, beta mat.Tensor
		stats       BNStats
		opt         BNOptions
	}{
		{"gamma wrong length", x, in, randMatrix(rng, in.C-1, 1, true), b, stats, train},
		{"gamma row vector", x, in, randMatrix(rng, 1, in.C, true), b, stats, train},
		{"beta wrong length", x, in, g, randMatrix(rng, in.C+1, 1, true), stats, train},
		{"nil gamma", x, in, nil, b, stats, train},
		{"x shape mismatch", x, Shape{N: 2, C: 3, H: 2, W: 3}, g, b, stats, train},
		{"stats wrong length", x, in, g, b, BNStats{Mean: make([]float32, 2), Var: make([]float32, 2)}, train},
		{"stats half nil", x, in, g, b, BNStats{Mean: make([]float32, 3)}, train},
		{"eval without stats", x, in, g, b, BNStats{}, eval},
		{"eval negative variance", x, in, g, b, badVar, eval},
		{"one value per channel", randMatrix(rng, 3, 1, true), Shape{N: 1, C: 3, H: 1, W: 1}, g, b, stats, train},
		{"negative eps", x, in, g, b, stats, BNOptions{Train: true, Eps: -1}},
		{"momentum above 1", x, in, g, b, stats, BNOptions{Train: true, Momentum: 1.5}},
		{"NaN momentum", x, in, g, b, stats, BNOptions{Train: true, Momentum: float32(math.NaN())}},
	} {
		_, err := BatchNorm2D(tc.x, tc.in, tc.gamma, tc.beta, tc.stats, tc.opt)
		expectError(t, tc.name, err)
	}
}

// BenchmarkBatchNorm2DRS times training-mode batch-norm with fused ReLU on
// workload RS's three conv outputs (batch 64).
func BenchmarkBatchNorm2DRS(b *testing.B) {
	for _, l := range []struct {
		name string
		in   Shape
	}{
		{"bn1", Shape{N: rsBatch, C: 32, H: 32, W: 32}},
		{"bn2", Shape{N: rsBatch, C: 64, H: 16, W: 16}},
		{"bn3", Shape{N: rsBatch, C: 128, H: 8, W: 8}},
	} {
		rng := testRNG(16)
		x := randMatrix(rng, l.in.C, l.in.Cols(), true)
		gamma, beta := randMatrix(rng, l.in.C, 1, true), randMatrix(rng, l.in.C, 1, true)
		fn, err := newBatchNormFn(x, l.in, gamma, beta, randStats(rng, l.in.C), BNOptions{Train: true, ReLU: true})
		if err != nil {
			b.Fatal(err)
		}
		gy := randMatrix(rng, l.in.C, l.in.Cols(), false)
		benchOp(b, l.name, rsBatch, func() {
			if _, err := fn.Forward(); err != nil {
				b.Fatal(err)
			}
		}, func() {
			if err := fn.Backward(gy); err != nil {
				b.Fatal(err)
			}
			x.ZeroGrad()
			gamma.ZeroGrad()
			beta.ZeroGrad()
		})
	}
}
