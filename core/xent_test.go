package core

import (
	"fmt"
	"math"
	"testing"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

// refXent is the (weighted) mean cross-entropy of softmax(z) in float64,
// from log-softmax computed directly, and the argmax accuracy.
func refXent(z []float64, n, k int, labels []int, weights []float32) (loss, acc float64) {
	var total float64
	for i, y := range labels {
		row := z[i*k : (i+1)*k]
		var s float64
		for _, v := range row {
			s += math.Exp(v)
		}
		w := 1.0
		if weights != nil {
			w = float64(weights[y])
		}
		loss += -w * (row[y] - math.Log(s))
		total += w
		best := 0
		for j := range row {
			if row[j] > row[best] {
				best = j
			}
		}
		if best == y {
			acc++
		}
	}
	return loss / total, acc / float64(n)
}

func TestSoftmaxCrossEntropy(t *testing.T) {
	t.Parallel()
	rng := testRNG(50)
	for _, tc := range []struct {
		n, k    int
		weights []float32
	}{
		{1, 1, nil},
		{1, 4, nil},
		{5, 4, nil},
		{6, 4, []float32{0.5, 2, 0, 1.5}},
		{3, 7, []float32{1, 1, 1, 1, 1, 1, 1}},
	} {
		t.Run(fmt.Sprintf("%dx%d/weights=%v", tc.n, tc.k, tc.weights), func(t *testing.T) {
			logits := randMatrix(rng, tc.n, tc.k, true)
			for i := range data(logits) {
				data(logits)[i] *= 3
			}
			labels := make([]int, tc.n)
			for i := range labels {
				labels[i] = rng.IntN(tc.k)
			}
			if tc.weights != nil {
				labels[0] = 1 // a positive total weight
			}
			before := cloneData(logits)
			loss, acc, err := SoftmaxCrossEntropy(logits, labels, tc.weights)
			if err != nil {
				t.Fatal(err)
			}
			wantLoss, wantAcc := refXent(f64(logits), tc.n, tc.k, labels, tc.weights)
			assertShape(t, "loss", loss, 1, 1)
			assertClose(t, "loss", data(loss), []float64{wantLoss}, 1e-6)
			if acc != wantAcc {
				t.Errorf("accuracy %v, want %v", acc, wantAcc)
			}
			assertUnchanged(t, "logits", logits, before)
			if tc.k > 1 {
				gradCheck(t, func() (mat.Tensor, error) {
					loss, _, err := SoftmaxCrossEntropy(logits, labels, tc.weights)
					return loss, err
				}, []gradParam{{"logits", logits}}, rng, gradH, gradTol)
			}
		})
	}
}

// TestSoftmaxCrossEntropyAccuracy checks the accuracy on logits with known
// argmaxes, including a tie (which goes to the first class).
func TestSoftmaxCrossEntropyAccuracy(t *testing.T) {
	t.Parallel()
	logits := fromData(5, 3, []float32{
		3, 1, 0, // argmax 0
		0, 1, 2, // argmax 2
		-1, 5, 5, // tie: argmax 1
		2, 2, 2, // tie: argmax 0
		0, 0, 1, // argmax 2
	})
	loss, acc, err := SoftmaxCrossEntropy(logits, []int{0, 1, 2, 0, 0}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if acc != 0.4 {
		t.Errorf("accuracy %v, want 0.4", acc)
	}
	want, _ := refXent(f64(logits), 5, 3, []int{0, 1, 2, 0, 0}, nil)
	assertClose(t, "loss", data(loss), []float64{want}, 1e-6)
}

// TestSoftmaxCrossEntropySeed checks that ag.Backward seeds the 1x1 loss
// with 1 by itself: dlogits = w_i (softmax - onehot) / Σ w.
func TestSoftmaxCrossEntropySeed(t *testing.T) {
	t.Parallel()
	rng := testRNG(51)
	n, k := 4, 3
	logits := randMatrix(rng, n, k, true)
	labels := []int{2, 0, 1, 2}
	weights := []float32{1, 3, 0.5}
	loss, _, err := SoftmaxCrossEntropy(logits, labels, weights)
	if err != nil {
		t.Fatal(err)
	}
	if err := ag.Backward(loss); err != nil {
		t.Fatal(err)
	}
	z := f64(logits)
	var total float64
	for _, y := range labels {
		total += float64(weights[y])
	}
	want := make([]float64, n*k)
	for i, y := range labels {
		var s float64
		for j := 0; j < k; j++ {
			s += math.Exp(z[i*k+j])
		}
		for j := 0; j < k; j++ {
			p := math.Exp(z[i*k+j]) / s
			if j == y {
				p--
			}
			want[i*k+j] = float64(weights[y]) * p / total
		}
	}
	assertClose(t, "dlogits", data(logits.Grad()), want, 1e-6)
}

// TestSoftmaxCrossEntropyStable checks finite results for logits far
// beyond exp's float32 (and float64) range.
func TestSoftmaxCrossEntropyStable(t *testing.T) {
	t.Parallel()
	logits := fromData(2, 3, []float32{1000, -1000, 0, 1e30, 0, -1e30})
	loss, acc, err := SoftmaxCrossEntropy(logits, []int{0, 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Row 0: -log p ≈ 0; row 1: -log p = 1e30.
	assertClose(t, "loss", data(loss), []float64{0.5e30}, 1e-6)
	if acc != 0.5 {
		t.Errorf("accuracy %v, want 0.5", acc)
	}
}

func TestSoftmaxCrossEntropyErrors(t *testing.T) {
	t.Parallel()
	rng := testRNG(52)
	logits := randMatrix(rng, 3, 4, true)
	ok := []int{0, 3, 1}
	for _, tc := range []struct {
		name    string
		logits  mat.Tensor
		labels  []int
		weights []float32
	}{
		{"label too large", logits, []int{0, 4, 1}, nil},
		{"negative label", logits, []int{0, -1, 1}, nil},
		{"too few labels", logits, []int{0, 1}, nil},
		{"too many labels", logits, []int{0, 1, 2, 3}, nil},
		{"weights length", logits, ok, []float32{1, 1, 1}},
		{"negative weight", logits, ok, []float32{1, -1, 1, 1}},
		{"NaN weight", logits, ok, []float32{1, 1, float32(math.NaN()), 1}},
		{"infinite weight", logits, ok, []float32{1, 1, 1, float32(math.Inf(1))}},
		{"zero total weight", logits, ok, []float32{0, 0, 1, 0}},
		{"nil logits", nil, ok, nil},
		{"float64 logits", mat.NewDense[float64](mat.WithShape(3, 4)), ok, nil},
		{"empty logits", newMatrix(0, 4), nil, nil},
	} {
		_, _, err := SoftmaxCrossEntropy(tc.logits, tc.labels, tc.weights)
		expectError(t, tc.name, err)
	}
}

// TestOperatorChainGrad checks gradients through a whole small network,
// conv -> batch-norm+ReLU -> max-pool -> global average pool -> linear ->
// cross-entropy, where every operand but the first is another node.
func TestOperatorChainGrad(t *testing.T) {
	t.Parallel()
	rng := testRNG(53)
	in := Shape{N: 3, C: 2, H: 6, W: 5}
	x := randMatrix(rng, in.C, in.Cols(), true)
	w := randMatrix(rng, 4, in.C*9, true)
	gamma, beta := randMatrix(rng, 4, 1, true), randMatrix(rng, 4, 1, true)
	fw, fb := randMatrix(rng, 3, 4, true), randMatrix(rng, 3, 1, true)
	labels := []int{2, 0, 1}
	build := func() (mat.Tensor, error) {
		y, s, err := Conv2D(x, in, w, ConvSpec{KH: 3, KW: 3, PadH: 1, PadW: 1})
		if err != nil {
			return nil, err
		}
		if y, err = BatchNorm2D(y, s, gamma, beta, BNStats{}, BNOptions{Train: true, ReLU: true}); err != nil {
			return nil, err
		}
		if y, s, err = MaxPool2D(y, s, 2, 2); err != nil {
			return nil, err
		}
		if y, err = GlobalAvgPool(y, s); err != nil {
			return nil, err
		}
		if y, err = Linear(y, fw, fb); err != nil {
			return nil, err
		}
		loss, _, err := SoftmaxCrossEntropy(y, labels, nil)
		return loss, err
	}
	// A smaller step: ReLU kinks and pool switches are everywhere in a
	// network, and h = 1e-3 keeps perturbations from crossing them.
	gradCheck(t, build, []gradParam{{"x", x}, {"w", w}, {"gamma", gamma}, {"beta", beta}, {"fc.w", fw}, {"fc.b", fb}}, rng, 1e-3, gradTol)
}

// BenchmarkSoftmaxCrossEntropyRS times workload RS's loss: 4 rotation
// classes (batch 64).
func BenchmarkSoftmaxCrossEntropyRS(b *testing.B) {
	rng := testRNG(54)
	logits := randMatrix(rng, rsBatch, 4, true)
	labels := make([]int, rsBatch)
	for i := range labels {
		labels[i] = i % 4
	}
	fn := &xentFn{logits: logits, labels: labels, total: rsBatch, n: rsBatch, k: 4}
	gy := fromData(1, 1, []float32{1})
	benchOp(b, "rotation", rsBatch, func() {
		if _, err := fn.Forward(); err != nil {
			b.Fatal(err)
		}
	}, func() {
		if err := fn.Backward(gy); err != nil {
			b.Fatal(err)
		}
		logits.ZeroGrad()
	})
}
