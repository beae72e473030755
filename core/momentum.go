package core

import (
	"fmt"

	"github.com/nlpodyssey/spago/nn"
)

// Follower is an objective with a second network that follows the trained
// one instead of being trained by gradients: the target (momentum, teacher)
// network of BYOL, MoCo and DINO, an exponential moving average of the
// online network's parameters. The trainer calls Follow after every
// update, with the number of steps taken so far (1 after the first). Its
// parameters must not require gradients; checkpoints and sessions save
// them with the head's, and the data-parallel replicas, which take
// identical updates, follow identically.
type Follower interface {
	Follow(step int) error
}

// MomentumUpdate moves every parameter of target (batch-norm running
// statistics included) towards online's of the same name:
// target = m·target + (1-m)·online, computed in float64 (BYOL's eq. 1 and
// Algorithm 1; MoCo's eq. 2). target and online must have the same
// parameters, by name and shape; m must be in [0, 1].
func MomentumUpdate(target, online nn.Model, m float64) error {
	if !(m >= 0 && m <= 1) {
		return fmt.Errorf("core: momentum %v out of range [0, 1]", m)
	}
	tp, op := NamedParams(target), NamedParams(online)
	if len(tp) != len(op) {
		return fmt.Errorf("core: momentum update of %d parameters from %d", len(tp), len(op))
	}
	for i, t := range tp {
		o := op[i]
		td, od := data(t.Param), data(o.Param)
		if t.Name != o.Name || len(td) != len(od) {
			return fmt.Errorf("core: momentum update of %s (%d values) from %s (%d values)", t.Name, len(td), o.Name, len(od))
		}
		for k, v := range od {
			td[k] = float32(m*float64(td[k]) + (1-m)*float64(v))
		}
	}
	return nil
}

// frozen copies p's value into a new parameter that requires no gradient
// (nil for nil).
func frozen(p *nn.Param) *nn.Param {
	if p == nil {
		return nil
	}
	s := p.Value().Shape()
	return nn.NewParam(fromData(s[0], s[1], append([]float32(nil), data(p)...))).WithGrad(false)
}

// Frozen returns a deep copy of the trunk whose parameters require no
// gradient: the start of a momentum network (see MomentumUpdate).
func (t *Trunk) Frozen() *Trunk {
	c := &Trunk{Config: t.Config}
	c.Config.Widths = append([]int(nil), t.Config.Widths...)
	for _, l := range t.Layers {
		c.Layers = append(c.Layers, &ConvBN{W: frozen(l.W), Gamma: frozen(l.Gamma), Beta: frozen(l.Beta), RunMean: frozen(l.RunMean), RunVar: frozen(l.RunVar), Pool: l.Pool})
	}
	return c
}

// Frozen returns a deep copy of the projector whose parameters require no
// gradient.
func (p *Projector) Frozen() *Projector {
	return &Projector{
		W1: frozen(p.W1), Gamma: frozen(p.Gamma), Beta: frozen(p.Beta), RunMean: frozen(p.RunMean), RunVar: frozen(p.RunVar),
		W2: frozen(p.W2), B2: frozen(p.B2),
		OutGamma: frozen(p.OutGamma), OutBeta: frozen(p.OutBeta), OutMean: frozen(p.OutMean), OutVar: frozen(p.OutVar),
	}
}
