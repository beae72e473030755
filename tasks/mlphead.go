package tasks

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/pretextlab/pretext/core"
)

// Helpers shared by the context tasks whose head is a two-layer perceptron
// over the concatenated features of several views (relative-position,
// jigsaw-positions), as jigsaw's head is.

// newMLPParams returns the layers of an in -> hidden -> out perceptron
// drawn from rng, initialised as PyTorch's nn.Linear (uniform in ±1/√in).
func newMLPParams(in, hidden, out int, rng *rand.Rand) (w1, b1, w2, b2 *nn.Param) {
	return nn.NewParam(core.UniformFanIn(hidden, in, in, rng)),
		nn.NewParam(core.UniformFanIn(hidden, 1, in, rng)),
		nn.NewParam(core.UniformFanIn(out, hidden, hidden, rng)),
		nn.NewParam(core.UniformFanIn(out, 1, hidden, rng))
}

// viewFeatures runs trunk once over every view of batch, each example
// holding exactly k views, and returns the features concatenated per
// example: [N, k*F], example n's row holding its views' feature vectors in
// view order (the trunk's [k*N, F] rows read k at a time).
func viewFeatures(name string, trunk *core.Trunk, batch []core.Example, k int, train bool) (mat.Tensor, error) {
	if trunk == nil {
		return nil, fmt.Errorf("tasks: %s needs a trunk", name)
	}
	if len(batch) == 0 {
		return nil, fmt.Errorf("tasks: %s batch is empty", name)
	}
	views := make([]core.Planar, 0, k*len(batch))
	for n, ex := range batch {
		if len(ex.Views) != k {
			return nil, fmt.Errorf("tasks: %s example %d has %d views, want %d", name, n, len(ex.Views), k)
		}
		views = append(views, ex.Views...)
	}
	x, s, err := core.Stack(views)
	if err != nil {
		return nil, fmt.Errorf("tasks: %s: %w", name, err)
	}
	f, err := trunk.Forward(mat.NewDense[float32](mat.WithShape(s.C, s.Cols()), mat.WithBacking(x)), s, train)
	if err != nil {
		return nil, fmt.Errorf("tasks: %s: %w", name, err)
	}
	return reshapeMatrix(f, len(batch), k*trunk.Features())
}

// mlpForward applies the perceptron fc-ReLU-fc to x ([N, in]).
func mlpForward(name string, x mat.Tensor, w1, b1, w2, b2 *nn.Param) (mat.Tensor, error) {
	h, err := core.Linear(x, w1, b1)
	if err != nil {
		return nil, fmt.Errorf("tasks: %s: %w", name, err)
	}
	if h, err = core.ReLU(h); err != nil {
		return nil, fmt.Errorf("tasks: %s: %w", name, err)
	}
	y, err := core.Linear(h, w2, b2)
	if err != nil {
		return nil, fmt.Errorf("tasks: %s: %w", name, err)
	}
	return y, nil
}

// dropChannels keeps channel keep of p and replaces the others by Gaussian
// noise with 1/100 of the kept channel's standard deviation (Doersch et
// al. 2015's colour dropping).
func dropChannels(p core.Planar, keep int, rng *rand.Rand) {
	plane := p.H * p.W
	kept := p.Pix[keep*plane : (keep+1)*plane]
	var s, ss float64
	for _, v := range kept {
		s += float64(v)
	}
	mean := s / float64(plane)
	for _, v := range kept {
		ss += (float64(v) - mean) * (float64(v) - mean)
	}
	std := 0.01 * math.Sqrt(ss/float64(plane))
	for c := range p.C {
		if c == keep {
			continue
		}
		for k := range plane {
			p.Pix[c*plane+k] = float32(rng.NormFloat64() * std)
		}
	}
}
