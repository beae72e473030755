package core

import (
	"math"
	"testing"

	"github.com/nlpodyssey/spago/nn"
)

func paramWithGrad(w, g []float32) *nn.Param {
	p := nn.NewParam(fromData(len(w), 1, append([]float32(nil), w...)))
	p.AccGrad(fromData(len(g), 1, g))
	return p
}

// TestSGDMatchesPyTorch checks two updates against torch.optim.SGD's rule,
// written out: g += wd·p; v = mu·v + g; p -= lr·v.
func TestSGDMatchesPyTorch(t *testing.T) {
	t.Parallel()
	o := &SGD{LR: 0.1, Momentum: 0.9, WeightDecay: 0.01}
	w, g := []float64{1, -2}, []float64{0.5, 0.25}
	p := paramWithGrad([]float32{1, -2}, []float32{0.5, 0.25})
	v := []float64{0, 0}
	for step := range 2 {
		if step > 0 {
			p.AccGrad(fromData(2, 1, []float32{0.5, 0.25}))
		}
		if err := o.OptimizeParams(p); err != nil {
			t.Fatal(err)
		}
		for i := range w {
			gi := g[i] + 0.01*w[i]
			v[i] = 0.9*v[i] + gi
			w[i] -= 0.1 * v[i]
		}
		for i, got := range data(p) {
			if math.Abs(float64(got)-w[i]) > 1e-6 {
				t.Fatalf("step %d: w[%d] = %v, want %v", step, i, got, w[i])
			}
		}
		if p.HasGrad() {
			t.Fatal("gradient not cleared")
		}
	}
}

// TestAdamMatchesDefinition checks three AdamW updates against the formulas
// of Loshchilov & Hutter (2019), Algorithm 2, in float64.
func TestAdamMatchesDefinition(t *testing.T) {
	t.Parallel()
	o := &Adam{WeightDecay: 0.1}
	p := nn.NewParam(fromData(2, 1, []float32{1, -2}))
	w, m, v := []float64{1, -2}, []float64{0, 0}, []float64{0, 0}
	grads := [][]float64{{0.5, -1}, {0.2, 0.3}, {-0.4, 0.1}}
	for step, g := range grads {
		p.AccGrad(fromData(2, 1, []float32{float32(g[0]), float32(g[1])}))
		lr := 0.01 * float64(step+1)
		o.Prepare(lr, step+1)
		if err := o.OptimizeParams(p); err != nil {
			t.Fatal(err)
		}
		for i := range w {
			m[i] = 0.9*m[i] + 0.1*g[i]
			v[i] = 0.999*v[i] + 0.001*g[i]*g[i]
			mh := m[i] / (1 - math.Pow(0.9, float64(step+1)))
			vh := v[i] / (1 - math.Pow(0.999, float64(step+1)))
			w[i] -= lr * (mh/(math.Sqrt(vh)+1e-8) + 0.1*w[i])
		}
		for i, got := range data(p) {
			if math.Abs(float64(got)-w[i]) > 1e-5 {
				t.Fatalf("step %d: w[%d] = %v, want %v", step, i, got, w[i])
			}
		}
	}
}

func TestOptimizerSkipsParamWithoutGrad(t *testing.T) {
	t.Parallel()
	for _, o := range []Optimizer{&SGD{LR: 1, WeightDecay: 1}, &Adam{LR: 1, WeightDecay: 1}} {
		p := nn.NewParam(fromData(1, 1, []float32{3}))
		if err := o.OptimizeParams(p); err != nil {
			t.Fatal(err)
		}
		if data(p)[0] != 3 {
			t.Errorf("%T changed a parameter without gradient", o)
		}
	}
}
