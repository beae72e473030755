package eval

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// probeData is a 4-class problem with overlapping classes, so that the
// decays give different validation accuracies.
func probeData(seed uint64) (train Features, trainY []int, test Features, testY []int) {
	rng := newRand(seed)
	train, trainY = blobs(rng, 600, 8, 4, 1.2)
	test, testY = blobs(rng, 400, 8, 4, 1.2)
	return
}

// TestLinearProbeProtocol repeats the protocol by hand: standardise by all
// training rows, fit every decay on all but the last rows, score on those,
// refit with the best on all training rows.
func TestLinearProbeProtocol(t *testing.T) {
	train, trainY, test, testY := probeData(20)
	// 100 is so strong it leaves only the class priors: the worst choice.
	cfg := ProbeConfig{WeightDecays: []float64{0, 1e-2, 1, 100}, Validation: 150}
	res, err := LinearProbe(train, trainY, test, testY, 4, cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, ss := Standardize(train, test)
	fit, val := st.rows(0, 450), st.rows(450, 600)
	best, bestDecay := -1.0, 0.0
	for i, d := range cfg.WeightDecays {
		m, _, err := FitLogistic(fit, trainY[:450], 4, d, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		acc := accuracyOf(m.Predict(val), trainY[450:])
		if got := res.Validation[i]; got.Decay != d || got.Accuracy != acc {
			t.Errorf("validation %d = %+v, want decay %v accuracy %v", i, got, d, acc)
		}
		if acc > best || (acc == best && d > bestDecay) {
			best, bestDecay = acc, d
		}
	}
	t.Logf("validation %+v, chose %v, test accuracy %.4f, train %.4f, %d iterations", res.Validation, res.WeightDecay, res.Accuracy, res.TrainAccuracy, res.Iterations)
	if res.WeightDecay != bestDecay || res.WeightDecay == 100 {
		t.Errorf("chose decay %v, want %v", res.WeightDecay, bestDecay)
	}
	m, iters, err := FitLogistic(st, trainY, 4, bestDecay, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.W, res.Model.W) || !slices.Equal(m.B, res.Model.B) || iters != res.Iterations || !res.Converged {
		t.Error("the final model is not the refit on all training rows")
	}
	if acc := accuracyOf(m.Predict(ss), testY); acc != res.Accuracy || acc < 0.6 {
		t.Errorf("test accuracy %v, by hand %v", res.Accuracy, acc)
	}
	if acc := accuracyOf(m.Predict(st), trainY); acc != res.TrainAccuracy {
		t.Errorf("train accuracy %v, by hand %v", res.TrainAccuracy, acc)
	}
}

// TestLinearProbeIgnoresTest checks that neither the test labels nor the
// test features take part in choosing the decay or fitting the model.
func TestLinearProbeIgnoresTest(t *testing.T) {
	train, trainY, test, testY := probeData(21)
	cfg := ProbeConfig{WeightDecays: []float64{0, 1e-3, 1e-1, 10}}
	ref, err := LinearProbe(train, trainY, test, testY, 4, cfg)
	if err != nil {
		t.Fatal(err)
	}
	scrambled := slices.Clone(testY)
	for i := range scrambled {
		scrambled[i] = (scrambled[i]*3 + i) % 4
	}
	other := Features{N: 7, Dim: test.Dim, Data: make([]float32, 7*test.Dim)}
	for i := range other.Data {
		other.Data[i] = float32(i%13) * 100
	}
	for _, tc := range []struct {
		name  string
		test  Features
		testY []int
	}{
		{"scrambled labels", test, scrambled},
		{"other rows", other, make([]int, 7)},
	} {
		name := tc.name
		res, err := LinearProbe(train, trainY, tc.test, tc.testY, 4, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.WeightDecay != ref.WeightDecay || !slices.Equal(res.Validation, ref.Validation) ||
			res.TrainAccuracy != ref.TrainAccuracy || !slices.Equal(res.Model.W, ref.Model.W) {
			t.Errorf("%s: chose %v from %v, want %v from %v", name, res.WeightDecay, res.Validation, ref.WeightDecay, ref.Validation)
		}
		if name == "scrambled labels" && !(res.Accuracy < ref.Accuracy-0.3) {
			t.Errorf("scrambled test labels score %v, the true ones %v", res.Accuracy, ref.Accuracy)
		}
	}
}

func TestLinearProbeDefaults(t *testing.T) {
	train, trainY, test, testY := probeData(22)
	train, trainY = train.rows(0, 240), trainY[:240]
	def, err := LinearProbe(train, trainY, test, testY, 4, ProbeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// The defaults: decays 0, 1e-4, 1e-3, 1e-2 and a twelfth of the rows
	// (20 of 240) held out.
	explicit, err := LinearProbe(train, trainY, test, testY, 4, ProbeConfig{
		WeightDecays: []float64{0, 1e-4, 1e-3, 1e-2}, Validation: 20, MaxIter: 300, Tol: 1e-5})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(def.Validation, explicit.Validation) || def.Accuracy != explicit.Accuracy || len(def.Validation) != 4 {
		t.Errorf("defaults give %+v, explicit settings %+v", def, explicit)
	}
	one, err := LinearProbe(train, trainY, test, testY, 4, ProbeConfig{WeightDecays: []float64{0.5}})
	if err != nil {
		t.Fatal(err)
	}
	if one.Validation != nil || one.WeightDecay != 0.5 {
		t.Errorf("one decay: validation %v, decay %v; want none and 0.5", one.Validation, one.WeightDecay)
	}
}

func TestLinearProbeErrors(t *testing.T) {
	train, trainY, test, testY := probeData(23)
	narrow := Features{N: 1, Dim: 3, Data: []float32{1, 2, 3}}
	tests := []struct {
		name    string
		train   Features
		trainY  []int
		test    Features
		testY   []int
		classes int
		cfg     ProbeConfig
		want    string
	}{
		{"width", train, trainY, narrow, []int{0}, 4, ProbeConfig{}, "test features are 3 wide, training ones 8"},
		{"test label", train, trainY, test, make([]int, 3), 4, ProbeConfig{}, "3 test labels for 400 rows"},
		{"train label", train, make([]int, 600), test, testY, 0, ProbeConfig{}, "0 classes"},
		{"decay", train, trainY, test, testY, 4, ProbeConfig{WeightDecays: []float64{0, math.Inf(1)}}, "weight decay +Inf"},
		{"validation", train, trainY, test, testY, 4, ProbeConfig{Validation: 600}, "600 validation rows leave none of the 600"},
		{"one row", train.rows(0, 1), trainY[:1], test, testY, 4, ProbeConfig{}, "1 validation rows leave none of the 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LinearProbe(tc.train, tc.trainY, tc.test, tc.testY, tc.classes, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
