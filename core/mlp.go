package core

import (
	"encoding/gob"
	"fmt"
	"math/rand/v2"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"
)

// MLP is a two-layer perceptron, fc-ReLU-fc, the head of the tasks that
// read several views' features at once (jigsaw, relative-position,
// jigsaw-positions) and SimCLR's projection. Its layers are in PyTorch's
// nn.Linear layout: W1 [hidden, in], B1 [hidden, 1], W2 [out, hidden], B2
// [out, 1]. Exports and checkpoints recognise it by its type.
type MLP struct {
	nn.Module
	W1, B1, W2, B2 *nn.Param
}

var _ nn.Model = &MLP{}

func init() { gob.Register(&MLP{}) }

// NewMLP returns an in -> hidden -> out perceptron initialised as
// PyTorch's nn.Linear (uniform in ±1/√fan-in), drawing W1, B1, W2 and B2
// from rng in that order. It refuses more than [MaxHeadValues] parameters
// before allocating them.
func NewMLP(in, hidden, out int, rng *rand.Rand) (*MLP, error) {
	if in < 1 || hidden < 1 || out < 1 {
		return nil, fmt.Errorf("core: perceptron %d -> %d -> %d, want positive sizes", in, hidden, out)
	}
	if n := MLPValues(in, hidden, out); n > MaxHeadValues {
		return nil, fmt.Errorf("core: perceptron %d -> %d -> %d has %d parameters, at most %d allowed", in, hidden, out, n, MaxHeadValues)
	}
	return &MLP{
		W1: nn.NewParam(UniformFanIn(hidden, in, in, rng)),
		B1: nn.NewParam(UniformFanIn(hidden, 1, in, rng)),
		W2: nn.NewParam(UniformFanIn(out, hidden, hidden, rng)),
		B2: nn.NewParam(UniformFanIn(out, 1, hidden, rng)),
	}, nil
}

// MLPValues is the number of parameters of an in -> hidden -> out
// perceptron with biases; it does not overflow for sizes up to 2^20.
func MLPValues(in, hidden, out int) int { return (in+1)*hidden + (hidden+1)*out }

// In, Hidden and Out are the perceptron's widths.
func (m *MLP) In() int     { return m.W1.Shape()[1] }
func (m *MLP) Hidden() int { return m.W1.Shape()[0] }
func (m *MLP) Out() int    { return m.W2.Shape()[0] }

// Forward applies fc-ReLU-fc to x, [N, In] rows, giving [N, Out].
func (m *MLP) Forward(x mat.Tensor) (mat.Tensor, error) {
	h, err := Linear(x, m.W1, m.B1)
	if err != nil {
		return nil, err
	}
	if h, err = ReLU(h); err != nil {
		return nil, err
	}
	return Linear(h, m.W2, m.B2)
}
