package core

import (
	"encoding/gob"
	"fmt"
	"math/rand/v2"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"
)

// Projector is the projection (and prediction) head of the
// joint-embedding methods after SimCLR: fc-BN-ReLU-fc, the two-layer form
// of the heads of SimSiam (Chen & He 2021, section 4.4: the predictor,
// and the projector's hidden layers), BYOL (Grill et al. 2020, section
// 3.3), VICReg's expander and Barlow Twins' projector (their hidden
// layers). The batch-norm normalises each hidden unit over the batch's
// rows; it keeps running statistics for evaluation, as the trunk's do.
// Layers are in PyTorch's layout: W1 [hidden, in] (no bias: the
// batch-norm's Beta takes its place), Gamma, Beta, RunMean, RunVar
// [hidden, 1], W2 [out, hidden], B2 [out, 1]. With an output batch-norm
// (SimSiam's projector ends in one, section 4.4) the Out* fields hold its
// parameters and statistics, [out, 1], and B2 is nil (OutBeta takes its
// place); otherwise they are nil.
type Projector struct {
	nn.Module
	W1                           *nn.Param
	Gamma, Beta, RunMean, RunVar *nn.Param
	W2, B2                       *nn.Param

	OutGamma, OutBeta, OutMean, OutVar *nn.Param
}

var _ nn.Model = &Projector{}

func init() { gob.Register(&Projector{}) }

// NewProjector returns an in -> hidden -> out projector, with a batch-norm
// on the output too when outBN, its linear layers initialised as PyTorch's
// nn.Linear (uniform in ±1/√fan-in, drawn from rng in the order W1, W2,
// B2) and its batch-norms as PyTorch's (Gamma 1, Beta 0, running mean 0
// and variance 1). It refuses more than [MaxHeadValues] parameters before
// allocating them.
func NewProjector(in, hidden, out int, outBN bool, rng *rand.Rand) (*Projector, error) {
	if in < 1 || hidden < 1 || out < 1 {
		return nil, fmt.Errorf("core: projector %d -> %d -> %d, want positive sizes", in, hidden, out)
	}
	if n := MLPValues(in, hidden, out); n > MaxHeadValues {
		return nil, fmt.Errorf("core: projector %d -> %d -> %d has %d parameters, at most %d allowed", in, hidden, out, n, MaxHeadValues)
	}
	ones := func(n int) *mat.Dense[float32] {
		v := make([]float32, n)
		for i := range v {
			v[i] = 1
		}
		return fromData(n, 1, v)
	}
	p := &Projector{
		W1:      nn.NewParam(UniformFanIn(hidden, in, in, rng)),
		Gamma:   nn.NewParam(ones(hidden)),
		Beta:    nn.NewParam(newMatrix(hidden, 1)),
		RunMean: nn.NewParam(newMatrix(hidden, 1)).WithGrad(false),
		RunVar:  nn.NewParam(ones(hidden)).WithGrad(false),
		W2:      nn.NewParam(UniformFanIn(out, hidden, hidden, rng)),
	}
	if !outBN {
		p.B2 = nn.NewParam(UniformFanIn(out, 1, hidden, rng))
		return p, nil
	}
	p.OutGamma = nn.NewParam(ones(out))
	p.OutBeta = nn.NewParam(newMatrix(out, 1))
	p.OutMean = nn.NewParam(newMatrix(out, 1)).WithGrad(false)
	p.OutVar = nn.NewParam(ones(out)).WithGrad(false)
	return p, nil
}

// In, Hidden and Out are the projector's widths.
func (p *Projector) In() int     { return p.W1.Shape()[1] }
func (p *Projector) Hidden() int { return p.W1.Shape()[0] }
func (p *Projector) Out() int    { return p.W2.Shape()[0] }

// Forward applies the projector to x, [N, In] rows, giving [N, Out]. In
// training (train) the batch-norm uses the batch's statistics, which needs
// N >= 2, and updates the running ones (momentum 0.1); otherwise the
// running statistics normalise.
func (p *Projector) Forward(x mat.Tensor, train bool) (mat.Tensor, error) {
	if x == nil || len(x.Shape()) != 2 {
		return nil, fmt.Errorf("core: projector input is not a matrix")
	}
	n := x.Shape()[0]
	if train && n < 2 {
		return nil, fmt.Errorf("core: projector trains on %d rows, want at least 2 for the batch statistics", n)
	}
	h, err := Linear(x, p.W1, nil)
	if err != nil {
		return nil, err
	}
	// [N, hidden] rows to the planar [hidden, N] of N 1x1 maps.
	sh := Shape{N: n, C: p.Hidden(), H: 1, W: 1}
	stats := BNStats{Mean: data(p.RunMean), Var: data(p.RunVar)}
	y, err := BatchNorm2D(ag.T(h), sh, p.Gamma, p.Beta, stats, BNOptions{Train: train, ReLU: true})
	if err != nil {
		return nil, err
	}
	if p.OutGamma == nil {
		return Linear(ag.T(y), p.W2, p.B2)
	}
	o, err := Linear(ag.T(y), p.W2, nil)
	if err != nil {
		return nil, err
	}
	osh := Shape{N: n, C: p.Out(), H: 1, W: 1}
	ostats := BNStats{Mean: data(p.OutMean), Var: data(p.OutVar)}
	if o, err = BatchNorm2D(ag.T(o), osh, p.OutGamma, p.OutBeta, ostats, BNOptions{Train: train}); err != nil {
		return nil, err
	}
	return ag.T(o), nil
}
