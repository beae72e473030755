package eval

import (
	"fmt"
	"math"
	"slices"
)

// Logistic is a multinomial logistic regression (softmax) classifier: the
// score of class c for a row x is B[c] + Σ_j W[c*Dim+j]·x[j], and the
// predicted class is the one with the highest score.
type Logistic struct {
	Classes, Dim int
	W            []float64 // Classes x Dim, row-major
	B            []float64 // Classes
}

// Defaults of FitLogistic (and of ProbeConfig).
const (
	// DefaultMaxIter is the L-BFGS iteration limit. (Fits on 60000
	// synthetic rows of 128 and of 512 features met the tolerance within
	// 40 iterations.)
	DefaultMaxIter = 300
	// DefaultTol is the gradient tolerance: the fit stops once no
	// component of the gradient exceeds it (SciPy's L-BFGS-B default
	// pgtol, which scikit-learn's lbfgs solver uses as well).
	DefaultTol = 1e-5
)

// FitLogistic fits a logistic model to the rows of x and their labels y in
// [0, classes) by minimising, from W = 0 and B = 0, the mean softmax
// cross-entropy plus (decay/2)·||W||² (the bias is not penalised), with its
// products with the features in float32 and the rest in float64 (see
// objective), with L-BFGS: 10 correction pairs, a backtracking line search
// with the Armijo condition, the first step of unit length. It stops after
// maxIter iterations (300 if maxIter <= 0), once no component of the
// gradient exceeds tol (1e-5 if tol <= 0), or when an iteration lowers the
// loss by less than 64 float64 epsilons, relatively, and returns the model
// and the number of iterations done.
//
// x is used as given; [LinearProbe] standardises it first. With decay 0 and
// separable classes the loss has no minimum: the weights grow until the
// gradient or the decrease is small enough.
func FitLogistic(x Features, y []int, classes int, decay float64, maxIter int, tol float64) (*Logistic, int, error) {
	m, res, err := fitLogistic(x, y, classes, decay, maxIter, tol)
	return m, res.iters, err
}

// fitLogistic is FitLogistic with the optimiser's whole report.
func fitLogistic(x Features, y []int, classes int, decay float64, maxIter int, tol float64) (*Logistic, lbfgsResult, error) {
	ms, rs, err := fitLogistics(x, y, classes, []float64{decay}, maxIter, tol)
	if err != nil {
		return nil, lbfgsResult{}, err
	}
	return ms[0], rs[0], nil
}

// fitLogistics is fitLogistic for several decays on the same rows. The fits
// run in lockstep, each L-BFGS in its own goroutine: every round evaluates
// the pending point of each unfinished fit in one pass over x
// (objective.evalMany), so four decays cost little more than one. Each fit
// follows exactly the path it would follow alone.
func fitLogistics(x Features, y []int, classes int, decays []float64, maxIter int, tol float64) ([]*Logistic, []lbfgsResult, error) {
	for _, d := range decays {
		if err := checkFit(x, y, classes, d); err != nil {
			return nil, nil, err
		}
	}
	if maxIter <= 0 {
		maxIter = DefaultMaxIter
	}
	if tol <= 0 {
		tol = DefaultTol
	}
	o := newObjective(x, y, classes, 0)
	type request struct {
		fit       int
		params, g []float64
		reply     chan float64
	}
	requests, done := make(chan request), make(chan struct{})
	nf := len(decays)
	params := make([][]float64, nf)
	results := make([]lbfgsResult, nf)
	for f := range nf {
		params[f] = make([]float64, o.size())
		go func() {
			reply := make(chan float64)
			results[f] = lbfgs(func(p, g []float64) float64 {
				requests <- request{f, p, g, reply}
				return <-reply
			}, params[f], maxIter, tol)
			done <- struct{}{}
		}()
	}
	var pending []request
	var ds, loss []float64
	var ps, gs [][]float64
	for active := nf; active > 0; {
		select {
		case r := <-requests:
			pending = append(pending, r)
		case <-done:
			active--
		}
		if active == 0 || len(pending) < active {
			continue
		}
		// Every unfinished fit waits for its loss: evaluate them all.
		slices.SortFunc(pending, func(a, b request) int { return a.fit - b.fit })
		ds, ps, gs, loss = ds[:0], ps[:0], gs[:0], loss[:0]
		for _, r := range pending {
			ds, ps, gs, loss = append(ds, decays[r.fit]), append(ps, r.params), append(gs, r.g), append(loss, 0)
		}
		o.evalMany(ds, ps, gs, loss)
		for i, r := range pending {
			r.reply <- loss[i]
		}
		pending = pending[:0]
	}
	models := make([]*Logistic, nf)
	d := x.Dim
	for f, p := range params {
		models[f] = &Logistic{Classes: classes, Dim: d, W: p[: classes*d : classes*d], B: p[classes*d:]}
	}
	return models, results, nil
}

// checkFit validates FitLogistic's arguments.
func checkFit(x Features, y []int, classes int, decay float64) error {
	if err := x.check("training"); err != nil {
		return err
	}
	if x.N < 1 {
		return fmt.Errorf("eval: no training rows")
	}
	if classes < 1 {
		return fmt.Errorf("eval: %d classes, want at least 1", classes)
	}
	if err := checkLabels("training", y, x.N, classes); err != nil {
		return err
	}
	if !(decay >= 0) || math.IsInf(decay, 1) {
		return fmt.Errorf("eval: weight decay %v, want finite and non-negative", decay)
	}
	return nil
}

// Predict returns the predicted class of every row of x: the one with the
// highest score, the lowest class id on ties. Scores are computed as in
// training (float64, the same summation order). Predict panics if x's
// width is not m.Dim.
func (m *Logistic) Predict(x Features) []int {
	if x.Dim != m.Dim || len(x.Data) != x.N*x.Dim {
		panic(fmt.Sprintf("eval: Predict of %d x %d features (%d values) with a model of width %d", x.N, x.Dim, len(x.Data), m.Dim))
	}
	pred := make([]int, x.N)
	row := make([]float64, x.Dim)
	for i := range x.N {
		for j, v := range x.Row(i) {
			row[j] = float64(v)
		}
		best, bestScore := 0, math.Inf(-1)
		for c := range m.Classes {
			if s := m.B[c] + dot(row, m.W[c*m.Dim:(c+1)*m.Dim]); s > bestScore {
				best, bestScore = c, s
			}
		}
		pred[i] = best
	}
	return pred
}

// accuracyOf returns the fraction of pred equal to y (0 for no rows).
func accuracyOf(pred, y []int) float64 {
	if len(y) == 0 {
		return 0
	}
	hits := 0
	for i, c := range y {
		if pred[i] == c {
			hits++
		}
	}
	return float64(hits) / float64(len(y))
}
