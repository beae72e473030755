package core

import (
	"fmt"
	"math"
	"testing"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

// refSoftXent is SoftCrossEntropyColumns in plain float64 from log-softmax
// computed directly, and the argmax accuracy.
func refSoftXent(z []float64, t []float32, w []float32, k, p int) (loss, acc float64) {
	var total float64
	for col := range p {
		var s float64
		for c := range k {
			s += math.Exp(z[c*p+col])
		}
		wt := 1.0
		if w != nil {
			wt = float64(w[col])
		}
		var ce float64
		zb, tb := 0, 0
		for c := range k {
			ce -= float64(t[c*p+col]) * (z[c*p+col] - math.Log(s))
			if z[c*p+col] > z[zb*p+col] {
				zb = c
			}
			if t[c*p+col] > t[tb*p+col] {
				tb = c
			}
		}
		loss += wt * ce
		total += wt
		if zb == tb {
			acc++
		}
	}
	return loss / total, acc / float64(p)
}

// softTargets returns random [k, p] targets whose columns sum to 1.
func softTargets(k, p int, seed uint64) []float32 {
	rng := testRNG(seed)
	t := make([]float32, k*p)
	for col := range p {
		var s float64
		for c := range k {
			v := rng.Float64()
			if rng.IntN(3) == 0 {
				v = 0 // sparse, like soft-encoded colour targets
			}
			t[c*p+col] = float32(v)
			s += v
		}
		if s == 0 {
			t[col] = 1
			s = 1
		}
		for c := range k {
			t[c*p+col] = float32(float64(t[c*p+col]) / s)
		}
	}
	return t
}

func TestSoftCrossEntropyColumns(t *testing.T) {
	t.Parallel()
	rng := testRNG(60)
	for _, tc := range []struct {
		k, p     int
		weighted bool
	}{
		{1, 1, false},
		{3, 1, false},
		{4, 5, false},
		{5, 7, true},
		{13, 600, true}, // several column chunks
	} {
		t.Run(fmt.Sprintf("%dx%d/weighted=%v", tc.k, tc.p, tc.weighted), func(t *testing.T) {
			logits := randMatrix(rng, tc.k, tc.p, true)
			for i := range data(logits) {
				data(logits)[i] *= 3
			}
			targets := softTargets(tc.k, tc.p, uint64(tc.k*1000+tc.p))
			var weights []float32
			if tc.weighted {
				weights = make([]float32, tc.p)
				for i := range weights {
					weights[i] = float32(rng.Float64() * 2)
				}
				weights[0] = 0 // a zero weight is allowed
			}
			before := cloneData(logits)
			tBefore := append([]float32(nil), targets...)
			loss, acc, err := SoftCrossEntropyColumns(logits, targets, weights)
			if err != nil {
				t.Fatal(err)
			}
			wantLoss, wantAcc := refSoftXent(f64(logits), targets, weights, tc.k, tc.p)
			assertShape(t, "loss", loss, 1, 1)
			assertClose(t, "loss", data(loss), []float64{wantLoss}, 1e-6)
			if acc != wantAcc {
				t.Errorf("accuracy %v, want %v", acc, wantAcc)
			}
			assertUnchanged(t, "logits", logits, before)
			for i := range targets {
				if targets[i] != tBefore[i] {
					t.Fatalf("targets[%d] modified", i)
				}
			}
			if tc.k > 1 && tc.p <= 50 {
				gradCheck(t, func() (mat.Tensor, error) {
					loss, _, err := SoftCrossEntropyColumns(logits, targets, weights)
					return loss, err
				}, []gradParam{{"logits", logits}}, rng, gradH, gradTol)
			}
		})
	}
}

// TestSoftCrossEntropyColumnsOneHot checks that one-hot targets give
// SoftmaxCrossEntropy's loss and gradient on the transposed logits.
func TestSoftCrossEntropyColumnsOneHot(t *testing.T) {
	t.Parallel()
	rng := testRNG(61)
	k, p := 4, 6
	logits := randMatrix(rng, k, p, true)
	tr := newMatrix(p, k) // [P, K]: SoftmaxCrossEntropy's layout
	tr.SetRequiresGrad(true)
	for c := range k {
		for col := range p {
			data(tr)[col*k+c] = data(logits)[c*p+col]
		}
	}
	labels := []int{0, 3, 1, 1, 2, 0}
	classWeights := []float32{1, 2, 0.5, 3}
	targets := make([]float32, k*p)
	weights := make([]float32, p)
	for col, y := range labels {
		targets[y*p+col] = 1
		weights[col] = classWeights[y]
	}
	got, gotAcc, err := SoftCrossEntropyColumns(logits, targets, weights)
	if err != nil {
		t.Fatal(err)
	}
	want, wantAcc, err := SoftmaxCrossEntropy(tr, labels, classWeights)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "loss", data(got), f64(want), 1e-6)
	if gotAcc != wantAcc {
		t.Errorf("accuracy %v, want %v", gotAcc, wantAcc)
	}
	if err := ag.Backward(got); err != nil {
		t.Fatal(err)
	}
	if err := ag.Backward(want); err != nil {
		t.Fatal(err)
	}
	g, gt := data(logits.Grad()), data(tr.Grad())
	for c := range k {
		for col := range p {
			if d := math.Abs(float64(g[c*p+col] - gt[col*k+c])); d > 1e-6 {
				t.Errorf("grad [%d %d] = %v, want %v", c, col, g[c*p+col], gt[col*k+c])
			}
		}
	}
}

// TestSoftCrossEntropyColumnsAccuracy checks argmaxes, ties included (the
// first class wins in logits and targets alike).
func TestSoftCrossEntropyColumnsAccuracy(t *testing.T) {
	t.Parallel()
	// [K=3, P=4]: columns' logit argmaxes 0, 2, 1 (tie 1,2), 0 (all tie).
	logits := fromData(3, 4, []float32{
		3, 0, -1, 2,
		1, 1, 5, 2,
		0, 2, 5, 2,
	})
	// Target argmaxes 0, 1, 1 (tie 1,2), 2.
	targets := []float32{
		0.6, 0.2, 0, 0.1,
		0.3, 0.5, 0.5, 0.2,
		0.1, 0.3, 0.5, 0.7,
	}
	_, acc, err := SoftCrossEntropyColumns(logits, targets, nil)
	if err != nil {
		t.Fatal(err)
	}
	if acc != 0.5 {
		t.Errorf("accuracy %v, want 0.5", acc)
	}
}

func TestSoftCrossEntropyColumnsErrors(t *testing.T) {
	t.Parallel()
	rng := testRNG(62)
	good := randMatrix(rng, 3, 4, true)
	targets := softTargets(3, 4, 1)
	f64m := mat.NewDense[float64](mat.WithShape(3, 4))
	bad := func(i int, v float32) []float32 {
		t := append([]float32(nil), targets...)
		t[i] = v
		return t
	}
	for _, tc := range []struct {
		name    string
		logits  mat.Tensor
		targets []float32
		weights []float32
	}{
		{"nil logits", nil, targets, nil},
		{"logits not [K P]", mat.NewDense[float32](mat.WithShape(5)), targets, nil},
		{"empty logits", newMatrix(0, 4), nil, nil},
		{"float64 logits", f64m, targets, nil},
		{"short targets", good, targets[:11], nil},
		{"long targets", good, append(append([]float32(nil), targets...), 0), nil},
		{"negative target", good, bad(5, -0.1), nil},
		{"NaN target", good, bad(5, float32(math.NaN())), nil},
		{"infinite target", good, bad(5, float32(math.Inf(1))), nil},
		{"short weights", good, targets, []float32{1, 1, 1}},
		{"negative weight", good, targets, []float32{1, -1, 1, 1}},
		{"NaN weight", good, targets, []float32{1, float32(math.NaN()), 1, 1}},
		{"infinite weight", good, targets, []float32{1, float32(math.Inf(1)), 1, 1}},
		{"zero total weight", good, targets, []float32{0, 0, 0, 0}},
	} {
		loss, _, err := SoftCrossEntropyColumns(tc.logits, tc.targets, tc.weights)
		expectError(t, tc.name, err)
		if loss != nil {
			t.Errorf("%s: got a loss node with an error", tc.name)
		}
	}
}
