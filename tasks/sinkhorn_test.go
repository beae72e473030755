package tasks

import (
	"math"
	"testing"
)

// randomLogProbs returns n rows of log-softmax of random logits over k
// classes.
func randomLogProbs(n, k int, scale float64, seed uint64) [][]float64 {
	rng := testRNG(seed)
	out := make([][]float64, n)
	for i := range out {
		z := make([]float64, k)
		for j := range z {
			z[j] = scale * rng.NormFloat64()
		}
		lse := logSumExpPlus(z, make([]float64, k))
		for j := range z {
			z[j] -= lse
		}
		out[i] = z
	}
	return out
}

// bestEquipartition enumerates every labelling of len(logP) samples into k
// clusters of equal size and returns the one with the largest total
// log-probability.
func bestEquipartition(logP [][]float64, k int) ([]int, float64) {
	n := len(logP)
	labels := make([]int, n)
	var best []int
	bestScore := math.Inf(-1)
	total := 1
	for range n {
		total *= k
	}
	for code := range total {
		c := code
		size := make([]int, k)
		var score float64
		for i := range n {
			labels[i] = c % k
			c /= k
			size[labels[i]]++
			score += logP[i][labels[i]]
		}
		balanced := true
		for _, s := range size {
			balanced = balanced && s == n/k
		}
		if balanced && score > bestScore {
			bestScore, best = score, append([]int(nil), labels...)
		}
	}
	return best, bestScore
}

// TestSinkhornBruteForce compares the labels of Sinkhorn-Knopp with a large
// λ against the best of all equipartitions of 6 samples into 3 clusters.
func TestSinkhornBruteForce(t *testing.T) {
	t.Parallel()
	for seed := range uint64(20) {
		logP := randomLogProbs(6, 3, 2, 10+seed)
		want, wantScore := bestEquipartition(logP, 3)
		res, err := sinkhorn(logP, sinkhornConfig{Lambda: 200, Iters: 20000, Tol: 1e-9})
		if err != nil {
			t.Fatal(err)
		}
		var score float64
		size := make([]int, 3)
		for i, l := range res.Labels {
			score += logP[i][l]
			size[l]++
		}
		for c, s := range size {
			if s != 2 {
				t.Errorf("seed %d: cluster %d has %d samples, want 2", seed, c, s)
			}
		}
		if math.Abs(score-wantScore) > 1e-12 {
			t.Errorf("seed %d: labels %v score %v, brute force %v scores %v (%d iterations, agree %.2f)", seed, res.Labels, score, want, wantScore, res.Iters, res.Agree)
		}
		if res.Agree != 1 {
			t.Errorf("seed %d: argmax of Q agrees on %.2f of the samples, want all", seed, res.Agree)
		}
	}
}

// TestSinkhornBalance checks the rounding's cluster sizes: ⌊N/K⌋ or
// ⌈N/K⌉, also when every sample prefers the same cluster and when there are
// fewer samples than clusters.
func TestSinkhornBalance(t *testing.T) {
	t.Parallel()
	same := make([][]float64, 7)
	for i := range same {
		same[i] = []float64{math.Log(0.98), math.Log(0.01), math.Log(0.01)}
	}
	cases := []struct {
		name string
		logP [][]float64
	}{
		{"7 into 3", randomLogProbs(7, 3, 1, 1)},
		{"all prefer one", same},
		{"2 into 4", randomLogProbs(2, 4, 1, 2)},
		{"40 into 8", randomLogProbs(40, 8, 3, 3)},
	}
	for _, c := range cases {
		res, err := sinkhorn(c.logP, sinkhornConfig{})
		if err != nil {
			t.Fatal(err)
		}
		n, k := len(c.logP), len(c.logP[0])
		size := make([]int, k)
		for _, l := range res.Labels {
			if l < 0 || l >= k {
				t.Fatalf("%s: label %d out of range", c.name, l)
			}
			size[l]++
		}
		for j, s := range size {
			if s != n/k && s != (n+k-1)/k {
				t.Errorf("%s: cluster %d has %d samples, want %d or %d (sizes %v)", c.name, j, s, n/k, (n+k-1)/k, size)
			}
		}
	}
	if _, err := sinkhorn([][]float64{{0, math.NaN()}}, sinkhornConfig{}); err == nil {
		t.Errorf("NaN log-probability: no error")
	}
	if _, err := sinkhorn([][]float64{{0, 0}}, sinkhornConfig{Lambda: -1}); err == nil {
		t.Errorf("negative lambda: no error")
	}
}
