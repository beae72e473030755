package eval

import (
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestFitLogisticBlobs(t *testing.T) {
	rng := newRand(10)
	// Three blobs 12 standard deviations apart: separable.
	train, trainY := blobs(rng, 300, 4, 3, 12)
	test, testY := blobs(rng, 300, 4, 3, 12)
	m, iters, err := FitLogistic(train, trainY, 3, 1e-3, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if acc := accuracyOf(m.Predict(test), testY); acc != 1 {
		t.Errorf("test accuracy %v, want 1", acc)
	}
	if iters < 1 || iters >= DefaultMaxIter {
		t.Errorf("%d iterations", iters)
	}
}

func TestFitLogisticLabelNoise(t *testing.T) {
	// Separable blobs, but a fifth of all labels (training and test) are
	// redrawn uniformly: a redrawn label is wrong with probability 2/3, so
	// the best classifier scores 1 - 0.2·2/3 ≈ 0.867 on the test rows.
	rng := newRand(11)
	noisy := func(n int) (Features, []int) {
		x, y := blobs(rng, n, 4, 3, 12)
		for i := range y {
			if rng.Float64() < 0.2 {
				y[i] = rng.IntN(3)
			}
		}
		return x, y
	}
	train, trainY := noisy(2000)
	test, testY := noisy(3000)
	m, _, err := FitLogistic(train, trainY, 3, 1e-3, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The binomial standard deviation over 3000 rows is 0.006.
	if acc := accuracyOf(m.Predict(test), testY); math.Abs(acc-(1-0.2*2.0/3)) > 0.025 {
		t.Errorf("test accuracy %v, want about 0.867", acc)
	}
}

func TestFitLogisticDecayShrinks(t *testing.T) {
	rng := newRand(12)
	x, y := blobs(rng, 200, 5, 3, 2)
	norm := math.Inf(1)
	var norms []float64
	for _, decay := range []float64{0, 1e-3, 1e-1, 10, 100, 1000} {
		m, _, err := FitLogistic(x, y, 3, decay, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		n := math.Sqrt(dot(m.W, m.W))
		t.Logf("decay %g: |W| = %.4g", decay, n)
		if !(n < norm) {
			t.Errorf("decay %g: |W| = %v, not below %v", decay, n, norm)
		}
		norm = n
		norms = append(norms, n)
	}
	// For a large decay λ, W ≈ -∇(data loss at W=0)/λ: ten times the decay,
	// a tenth of the weights.
	if r := norms[4] / norms[5]; math.Abs(r-10) > 0.2 {
		t.Errorf("|W| at decay 100 / |W| at decay 1000 = %v, want about 10", r)
	}
}

// TestFitLogisticBiasOnly checks that the bias is not penalised: with a
// huge decay W is 0, and the best bias makes softmax(B) the class
// frequencies.
func TestFitLogisticBiasOnly(t *testing.T) {
	rng := newRand(13)
	x, _ := blobs(rng, 100, 3, 3, 1)
	y := make([]int, 100)
	for i := range y {
		switch {
		case i < 50:
			y[i] = 0
		case i < 80:
			y[i] = 1
		default:
			y[i] = 2
		}
	}
	m, _, err := FitLogistic(x, y, 3, 1e6, 0, 1e-10)
	if err != nil {
		t.Fatal(err)
	}
	if n := math.Sqrt(dot(m.W, m.W)); n > 1e-5 {
		t.Errorf("|W| = %v, want 0", n)
	}
	var z float64
	for _, b := range m.B {
		z += math.Exp(b)
	}
	for c, want := range []float64{0.5, 0.3, 0.2} {
		if p := math.Exp(m.B[c]) / z; math.Abs(p-want) > 1e-6 {
			t.Errorf("softmax(B)[%d] = %v, want %v", c, p, want)
		}
	}
}

func TestFitLogisticThreads(t *testing.T) {
	rng := newRand(14)
	x, y := blobs(rng, 1100, 6, 4, 1.5)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var ref *Logistic
	for _, procs := range []int{1, 3} {
		runtime.GOMAXPROCS(procs)
		m, _, err := FitLogistic(x, y, 4, 1e-4, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if ref == nil {
			ref = m
		} else if !slices.Equal(m.W, ref.W) || !slices.Equal(m.B, ref.B) {
			t.Errorf("GOMAXPROCS %d: a different model", procs)
		}
	}
}

func TestPredictTies(t *testing.T) {
	// Equal scores: the lowest class wins.
	m := &Logistic{Classes: 3, Dim: 1, W: []float64{0, 1, 1}, B: []float64{0, 0, 0}}
	x := Features{N: 2, Dim: 1, Data: []float32{2, -2}}
	if got := m.Predict(x); !slices.Equal(got, []int{1, 0}) {
		t.Errorf("Predict = %v, want [1 0]", got)
	}
}

func TestFitLogisticErrors(t *testing.T) {
	good := Features{N: 2, Dim: 2, Data: []float32{1, 2, 3, 4}}
	tests := []struct {
		name    string
		x       Features
		y       []int
		classes int
		decay   float64
		want    string
	}{
		{"no rows", Features{N: 0, Dim: 2}, nil, 2, 0, "no training rows"},
		{"short data", Features{N: 2, Dim: 2, Data: []float32{1}}, []int{0, 1}, 2, 0, "hold 1 values"},
		{"labels count", good, []int{0}, 2, 0, "1 training labels for 2 rows"},
		{"label range", good, []int{0, 2}, 2, 0, "label 2 of row 1 out of range"},
		{"classes", good, []int{0, 0}, 0, 0, "0 classes"},
		{"negative decay", good, []int{0, 1}, 2, -1, "weight decay -1"},
		{"NaN decay", good, []int{0, 1}, 2, math.NaN(), "weight decay NaN"},
		{"NaN feature", Features{N: 1, Dim: 1, Data: []float32{float32(math.NaN())}}, []int{0}, 2, 0, "row 0 column 0 is NaN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := FitLogistic(tc.x, tc.y, tc.classes, tc.decay, 0, 0)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "eval: ") {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestFitLogisticsLockstep checks that fitting several decays together
// (one pass over the rows per round) gives every fit exactly the model and
// path it gets alone, including fits that stop at different rounds.
func TestFitLogisticsLockstep(t *testing.T) {
	rng := newRand(8)
	x, y := blobs(rng, 2500, 7, 4, 0.7) // three chunks
	decays := []float64{0, 1e-4, 1e-2, 0.5}
	models, opts, err := fitLogistics(x, y, 4, decays, 60, 0)
	if err != nil {
		t.Fatal(err)
	}
	iters := map[int]bool{}
	for i, d := range decays {
		// Alone: L-BFGS on the objective directly, no lockstep.
		params := make([]float64, 4*7+4)
		opt := lbfgs(newObjective(x, y, 4, d).eval, params, 60, DefaultTol)
		m := models[i]
		if opt != opts[i] || !slices.Equal(params[:4*7], m.W) || !slices.Equal(params[4*7:], m.B) {
			t.Errorf("decay %v: together %+v, alone %+v (or the weights differ)", d, opts[i], opt)
		}
		iters[opt.iters] = true
	}
	if len(iters) < 2 {
		t.Errorf("every fit took the same number of iterations (%v): the test does not cover fits ending at different rounds", iters)
	}
}
