package core

import (
	"fmt"
	"math"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

// SoftmaxCrossEntropy returns the mean cross-entropy of softmax(logits)
// ([N, K]) against integer labels (len N, each in [0, K)), as a 1x1 node (so
// ag.Backward seeds it with 1), and the fraction of rows whose argmax (the
// first, on ties) equals the label.
//
// With classWeights (len K, or nil for all ones) the loss is
// Σ_i w[y_i]·(-log p_i[y_i]) / Σ_i w[y_i], PyTorch's weighted mean. It is
// computed stably in float64 (log-sum-exp after subtracting each row's max).
// Bad label values, wrong lengths, negative weights and a zero total weight
// are errors.
func SoftmaxCrossEntropy(logits mat.Tensor, labels []int, classWeights []float32) (loss mat.Tensor, accuracy float64, err error) {
	if logits == nil {
		return nil, 0, fmt.Errorf("core: cross-entropy logits are nil")
	}
	sh := logits.Shape()
	if len(sh) != 2 || sh[0] < 1 || sh[1] < 1 {
		return nil, 0, fmt.Errorf("core: cross-entropy logits have shape %v, want [N K] with N, K >= 1", sh)
	}
	n, k := sh[0], sh[1]
	if err := checkMatrix("cross-entropy logits", logits, n, k); err != nil {
		return nil, 0, err
	}
	if len(labels) != n {
		return nil, 0, fmt.Errorf("core: cross-entropy has %d labels for %d rows of logits", len(labels), n)
	}
	for i, y := range labels {
		if y < 0 || y >= k {
			return nil, 0, fmt.Errorf("core: cross-entropy label %d of row %d out of range [0, %d)", y, i, k)
		}
	}
	if classWeights != nil {
		if len(classWeights) != k {
			return nil, 0, fmt.Errorf("core: cross-entropy has %d class weights for %d classes", len(classWeights), k)
		}
		for j, w := range classWeights {
			if !(w >= 0) || math.IsInf(float64(w), 1) {
				return nil, 0, fmt.Errorf("core: cross-entropy class weight %d is %v, want finite and non-negative", j, w)
			}
		}
	}
	var total float64
	for _, y := range labels {
		total += xentWeight(classWeights, y)
	}
	if !(total > 0) || math.IsInf(total, 1) {
		return nil, 0, fmt.Errorf("core: cross-entropy batch has total class weight %v, want positive", total)
	}
	fn := &xentFn{logits: logits, labels: labels, weights: classWeights, total: total, n: n, k: k}
	loss = ag.NewOperator(fn).Run()
	return loss, fn.accuracy, nil
}

// xentWeight is class y's weight: 1 without class weights.
func xentWeight(weights []float32, y int) float64 {
	if weights == nil {
		return 1
	}
	return float64(weights[y])
}

// xentFn is the autograd function of [SoftmaxCrossEntropy].
type xentFn struct {
	logits  mat.Tensor
	labels  []int
	weights []float32
	total   float64 // Σ_i w[y_i]
	n, k    int
	// accuracy is set by Forward.
	accuracy float64
	// dlogits is d loss / d logits, [N, K]: w[y_i]/total·(p_i - onehot(y_i)).
	dlogits []float32
}

// Operands implements ag.AutoGradFunction.
func (f *xentFn) Operands() []mat.Tensor { return []mat.Tensor{f.logits} }

// Forward implements ag.AutoGradFunction.
func (f *xentFn) Forward() (mat.Tensor, error) {
	z := data(f.logits)
	f.dlogits = make([]float32, f.n*f.k)
	p := make([]float64, f.k)
	var sum float64
	correct := 0
	for i, y := range f.labels {
		row := z[i*f.k : (i+1)*f.k]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if best == y {
			correct++
		}
		zmax := float64(row[best])
		var s float64
		for j, v := range row {
			p[j] = math.Exp(float64(v) - zmax)
			s += p[j]
		}
		w := xentWeight(f.weights, y)
		// -log p_y = log Σ exp(z - max) - (z_y - max)
		sum += w * (math.Log(s) - (float64(row[y]) - zmax))
		scale := w / f.total
		g := f.dlogits[i*f.k : (i+1)*f.k]
		for j := range g {
			g[j] = float32(scale * p[j] / s)
		}
		g[y] = float32(scale * (p[y]/s - 1))
	}
	f.accuracy = float64(correct) / float64(f.n)
	return fromData(1, 1, []float32{float32(sum / f.total)}), nil
}

// Backward implements ag.AutoGradFunction: dlogits scaled by the incoming
// scalar gradient.
func (f *xentFn) Backward(gy mat.Tensor) error {
	if !f.logits.RequiresGrad() {
		return nil
	}
	g := data(gy)
	if len(g) != 1 {
		return fmt.Errorf("core: cross-entropy output gradient has %d values, want 1", len(g))
	}
	dm := newMatrix(f.n, f.k)
	d := data(dm)
	for i, v := range f.dlogits {
		d[i] = v * g[0]
	}
	f.logits.AccGrad(handoff{dm})
	return nil
}
