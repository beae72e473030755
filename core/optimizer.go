package core

import (
	"encoding/gob"
	"fmt"
	"math"

	"github.com/nlpodyssey/spago/nn"
	"github.com/nlpodyssey/spago/optimizers"
)

// Optimizer updates one parameter from its accumulated gradient and clears
// the gradient. It is spago's optimizers.OptimizationStrategy with a
// learning rate the trainer sets before each step (for the schedule) and
// state the checkpoint can save: per-parameter buffers kept in param.State.
type Optimizer interface {
	optimizers.OptimizationStrategy
	// Prepare sets the learning rate of the next updates and their 1-based
	// index (the trainer's step), which Adam's bias correction needs.
	Prepare(lr float64, step int)
	// StateBuffers returns the named optimizer buffers of p (creating them
	// if p has none yet), in a fixed order, for checkpoints.
	StateBuffers(p *nn.Param) map[string][]float32
}

var (
	_ Optimizer = &SGD{}
	_ Optimizer = &Adam{}
)

// SGD is stochastic gradient descent with momentum and L2 weight decay, with
// PyTorch's torch.optim.SGD semantics (dampening 0):
//
//	g = grad + WeightDecay·p;  v = Momentum·v + g;  p -= lr·v
//
// spago's sgd has no weight decay, hence this one.
type SGD struct {
	LR          float64
	Momentum    float64
	WeightDecay float64
}

// MomentumState is SGD's per-parameter state: the velocity.
type MomentumState struct{ Velocity []float32 }

// AdamState is Adam's per-parameter state: first and second moment
// estimates.
type AdamState struct{ M, V []float32 }

func init() {
	gob.Register(&MomentumState{})
	gob.Register(&AdamState{})
}

// Prepare implements Optimizer.
func (o *SGD) Prepare(lr float64, _ int) { o.LR = lr }

// StateBuffers implements Optimizer.
func (o *SGD) StateBuffers(p *nn.Param) map[string][]float32 {
	st, err := momentumState(p)
	if err != nil {
		return nil
	}
	return map[string][]float32{"velocity": st.Velocity}
}

func momentumState(p *nn.Param) (*MomentumState, error) {
	if p.State == nil {
		p.State = &MomentumState{Velocity: make([]float32, p.Size())}
	}
	st, ok := p.State.(*MomentumState)
	if !ok {
		return nil, fmt.Errorf("core: parameter holds optimizer state %T, want SGD's", p.State)
	}
	return st, nil
}

// OptimizeParams implements optimizers.OptimizationStrategy.
func (o *SGD) OptimizeParams(p *nn.Param) error {
	if !p.HasGrad() {
		return nil
	}
	st, err := momentumState(p)
	if err != nil {
		return err
	}
	w, g, v := data(p), data(p.Grad()), st.Velocity
	g, v = g[:len(w)], v[:len(w)]
	lr, mu, wd := float32(o.LR), float32(o.Momentum), float32(o.WeightDecay)
	for i := range w {
		gi := g[i] + wd*w[i]
		v[i] = mu*v[i] + gi
		w[i] -= lr * v[i]
	}
	p.ZeroGrad()
	return nil
}

// Adam is Adam (Kingma & Ba 2015) with decoupled weight decay (AdamW,
// Loshchilov & Hutter 2019): p -= lr·(m̂/(√v̂+Eps) + WeightDecay·p).
type Adam struct {
	LR           float64
	Beta1, Beta2 float64 // default 0.9 and 0.999 when zero
	Eps          float64 // default 1e-8 when zero
	WeightDecay  float64

	step int // 1-based index of the current update, set by Prepare
}

// Prepare implements Optimizer.
func (o *Adam) Prepare(lr float64, step int) { o.LR, o.step = lr, max(step, 1) }

// StateBuffers implements Optimizer.
func (o *Adam) StateBuffers(p *nn.Param) map[string][]float32 {
	st, err := adamState(p)
	if err != nil {
		return nil
	}
	return map[string][]float32{"m": st.M, "v": st.V}
}

func adamState(p *nn.Param) (*AdamState, error) {
	if p.State == nil {
		p.State = &AdamState{M: make([]float32, p.Size()), V: make([]float32, p.Size())}
	}
	st, ok := p.State.(*AdamState)
	if !ok {
		return nil, fmt.Errorf("core: parameter holds optimizer state %T, want Adam's", p.State)
	}
	return st, nil
}

// OptimizeParams implements optimizers.OptimizationStrategy.
func (o *Adam) OptimizeParams(p *nn.Param) error {
	if !p.HasGrad() {
		return nil
	}
	st, err := adamState(p)
	if err != nil {
		return err
	}
	b1, b2, eps := o.Beta1, o.Beta2, o.Eps
	if b1 == 0 {
		b1 = 0.9
	}
	if b2 == 0 {
		b2 = 0.999
	}
	if eps == 0 {
		eps = 1e-8
	}
	t := float64(max(o.step, 1))
	c1 := 1 - math.Pow(b1, t)
	c2 := 1 - math.Pow(b2, t)
	w, g := data(p), data(p.Grad())
	m, v := st.M[:len(w)], st.V[:len(w)]
	g = g[:len(w)]
	fb1, fb2 := float32(b1), float32(b2)
	step := float32(o.LR / c1)
	decay := float32(o.LR * o.WeightDecay)
	rc2 := float32(1 / math.Sqrt(c2))
	feps := float32(eps)
	for i := range w {
		m[i] = fb1*m[i] + (1-fb1)*g[i]
		v[i] = fb2*v[i] + (1-fb2)*g[i]*g[i]
		w[i] -= step*m[i]/(float32(math.Sqrt(float64(v[i])))*rc2+feps) + decay*w[i]
	}
	p.ZeroGrad()
	return nil
}
