package eval

import (
	"math/rand/v2"
)

// blobs returns n rows of d values around k class centres: centre c is
// sep·e_c (sep along axis c mod d, shifted by sep per wrap), and every value
// gets unit Gaussian noise. Labels cycle through the classes in a shuffled
// order.
func blobs(rng *rand.Rand, n, d, k int, sep float64) (Features, []int) {
	x := Features{N: n, Dim: d, Data: make([]float32, n*d)}
	y := make([]int, n)
	for i := range n {
		c := rng.IntN(k)
		y[i] = c
		row := x.Row(i)
		for j := range row {
			v := rng.NormFloat64()
			if j == c%d {
				v += sep * float64(1+c/d)
			}
			row[j] = float32(v)
		}
	}
	return x, y
}

// randomFeatures returns n rows of d standard Gaussian values.
func randomFeatures(rng *rand.Rand, n, d int) Features {
	x := Features{N: n, Dim: d, Data: make([]float32, n*d)}
	for i := range x.Data {
		x.Data[i] = float32(rng.NormFloat64())
	}
	return x
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }
