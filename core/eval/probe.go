package eval

import (
	"fmt"
	"math"
)

// ProbeConfig sets the linear probe. The zero value is the reference
// protocol.
type ProbeConfig struct {
	// WeightDecays are the candidate decays (default 0, 1e-4, 1e-3 and
	// 1e-2). With one candidate there is no validation.
	WeightDecays []float64
	// Validation is the number of rows at the end of the training set held
	// out to choose the decay (default: one twelfth of the training rows,
	// rounded, at least 1: the protocol's 5000 of 60000). The rows should
	// be in no particular order: sorted by class, the held-out rows would
	// all be of the last classes.
	Validation int
	// MaxIter is the L-BFGS iteration limit of every fit (default 300).
	MaxIter int
	// Tol is the gradient tolerance of every fit: it stops once no
	// component of the gradient exceeds Tol (default 1e-5).
	Tol float64
}

// DefaultWeightDecays are the reference protocol's candidate decays.
var DefaultWeightDecays = []float64{0, 1e-4, 1e-3, 1e-2}

// DecayScore is a candidate decay's accuracy on the validation rows.
type DecayScore struct {
	Decay, Accuracy float64
}

// ProbeResult is the outcome of [LinearProbe].
type ProbeResult struct {
	// Accuracy is the final model's accuracy on the test rows.
	Accuracy float64
	// WeightDecay is the decay chosen on the validation rows.
	WeightDecay float64
	// Validation holds each candidate's validation accuracy, in the
	// order of ProbeConfig.WeightDecays; nil with a single candidate.
	Validation []DecayScore
	// TrainAccuracy is the final model's accuracy on all training rows.
	TrainAccuracy float64
	// Iterations is the number of L-BFGS iterations of the final fit;
	// Converged reports that it stopped before MaxIter because the
	// gradient met Tol or the loss stopped decreasing at float64
	// precision.
	Iterations int
	Converged  bool
	// Evaluations counts the loss-and-gradient evaluations of all fits,
	// validation fits included: the probe's cost.
	Evaluations int
	// Model is the final model; it expects rows standardised by the
	// training statistics (see [Standardize]).
	Model *Logistic
}

// LinearProbe measures features by a linear classifier, following the
// reference protocol. It standardises train and test by the training rows'
// statistics ([Standardize]); fits a logistic model ([FitLogistic]) for
// every candidate decay on the training rows but the last cfg.Validation
// (the fits run in lockstep, sharing each pass over the rows) and scores it
// on those; refits on all training rows with the decay of the
// best validation accuracy (the larger decay on ties: the simpler model);
// and reports that model's accuracy on the test rows. The test rows and
// their labels take no part in any choice.
//
// The statistics are those of all training rows, validation rows included,
// as in the protocol: they use no labels.
func LinearProbe(train Features, trainY []int, test Features, testY []int, classes int, cfg ProbeConfig) (ProbeResult, error) {
	if err := checkFit(train, trainY, classes, 0); err != nil {
		return ProbeResult{}, err
	}
	if err := test.check("test"); err != nil {
		return ProbeResult{}, err
	}
	if test.Dim != train.Dim {
		return ProbeResult{}, fmt.Errorf("eval: test features are %d wide, training ones %d", test.Dim, train.Dim)
	}
	if err := checkLabels("test", testY, test.N, classes); err != nil {
		return ProbeResult{}, err
	}
	decays := cfg.WeightDecays
	if len(decays) == 0 {
		decays = DefaultWeightDecays
	}
	for _, d := range decays {
		if !(d >= 0) || math.IsInf(d, 1) {
			return ProbeResult{}, fmt.Errorf("eval: weight decay %v, want finite and non-negative", d)
		}
	}
	trainS, testS := Standardize(train, test)

	var res ProbeResult
	res.WeightDecay = decays[0]
	if len(decays) > 1 {
		v := cfg.Validation
		if v <= 0 {
			v = max((train.N+6)/12, 1)
		}
		if v >= train.N {
			return ProbeResult{}, fmt.Errorf("eval: %d validation rows leave none of the %d training rows to fit", v, train.N)
		}
		fit, val := trainS.rows(0, train.N-v), trainS.rows(train.N-v, train.N)
		fitY, valY := trainY[:train.N-v], trainY[train.N-v:]
		best := -1.0
		models, opts, err := fitLogistics(fit, fitY, classes, decays, cfg.MaxIter, cfg.Tol)
		if err != nil {
			return ProbeResult{}, err
		}
		for i, d := range decays {
			res.Evaluations += opts[i].evals
			acc := accuracyOf(models[i].Predict(val), valY)
			res.Validation = append(res.Validation, DecayScore{Decay: d, Accuracy: acc})
			if acc > best || (acc == best && d > res.WeightDecay) {
				best, res.WeightDecay = acc, d
			}
		}
	}
	m, opt, err := fitLogistic(trainS, trainY, classes, res.WeightDecay, cfg.MaxIter, cfg.Tol)
	if err != nil {
		return ProbeResult{}, err
	}
	res.Model = m
	res.Iterations = opt.iters
	res.Evaluations += opt.evals
	res.Converged = opt.stop != stopMaxIter
	res.TrainAccuracy = accuracyOf(m.Predict(trainS), trainY)
	res.Accuracy = accuracyOf(m.Predict(testS), testY)
	return res, nil
}
