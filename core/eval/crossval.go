package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Split is one round of cross validation: indices of the items it trains
// on and of those it tests on.
type Split struct {
	// Train holds the items outside the round's fold, in a fixed shuffled
	// order: labels.csv is often sorted by class, and [LinearProbe]
	// chooses its weight decay on the last training rows, which must not
	// all be of the last classes.
	Train []int
	// Test holds the fold's items, in the same shuffled order.
	Test []int
}

// splitSeed seeds each round's shuffle, PCG(splitSeed, round): a fixed
// constant of the protocol, so the order is the same on every run and
// platform. Changing it changes every cross-validated figure.
const splitSeed = 0x5eed

// Splits returns the k rounds of cross validation over items whose folds
// are given (fold[i] in [0, k), as [Folds] assigns them): round f tests on
// the items of fold f and trains on all the others, so every item is
// tested in exactly one round. Both index lists of round f follow one
// permutation of all items drawn from PCG(0x5eed, f): the order is
// shuffled but fixed, the same for the same folds everywhere.
//
// Splits panics if k < 1 or a fold is outside [0, k).
func Splits(folds []int, k int) []Split {
	if k < 1 {
		panic(fmt.Sprintf("eval: Splits with k=%d, want at least 1", k))
	}
	for i, f := range folds {
		if f < 0 || f >= k {
			panic(fmt.Sprintf("eval: Splits: item %d is in fold %d, want [0, %d)", i, f, k))
		}
	}
	out := make([]Split, k)
	for f := range out {
		for _, i := range rand.New(rand.NewPCG(splitSeed, uint64(f))).Perm(len(folds)) {
			if folds[i] == f {
				out[f].Test = append(out[f].Test, i)
			} else {
				out[f].Train = append(out[f].Train, i)
			}
		}
	}
	return out
}

// MeanSD returns the mean of v and its sample standard deviation (dividing
// by len(v)-1, as a spread over cross-validation folds is reported). The
// deviation of a single value is 0; the mean of none is NaN.
func MeanSD(v []float64) (mean, sd float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	for _, x := range v {
		sd += (x - mean) * (x - mean)
	}
	if len(v) > 1 {
		sd = math.Sqrt(sd / float64(len(v)-1))
	}
	return mean, sd
}
