package core

import (
	"math"
	"math/rand/v2"

	"github.com/nlpodyssey/spago/mat"
)

// HeNormal returns a rows x cols matrix drawn from N(0, 2/fanIn), He et al.
// 2015's initialisation for layers followed by ReLU, in row-major order
// from rng.
func HeNormal(rows, cols, fanIn int, rng *rand.Rand) *mat.Dense[float32] {
	std := math.Sqrt(2 / float64(fanIn))
	v := make([]float32, rows*cols)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * std)
	}
	return fromData(rows, cols, v)
}

// UniformFanIn returns a rows x cols matrix uniform in ±1/√fanIn, PyTorch's
// default for nn.Linear weights and biases, in row-major order from rng.
func UniformFanIn(rows, cols, fanIn int, rng *rand.Rand) *mat.Dense[float32] {
	bound := 1 / math.Sqrt(float64(fanIn))
	v := make([]float32, rows*cols)
	for i := range v {
		v[i] = float32((2*rng.Float64() - 1) * bound)
	}
	return fromData(rows, cols, v)
}
