package tasks

import "math/rand/v2"

// Split shuffles the indices 0..n-1 with a rng seeded by seed and holds back
// a fraction of them (at least one when there are two or more and holdout
// is positive, never all) for measuring a task on photos it never trained
// on. The command line and the page split the same way, so the same photos
// (in the same order) and seed hold back the same ones.
func Split(n int, holdout float64, seed uint64) (train, held []int) {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	rng := rand.New(rand.NewPCG(seed, 0x11d))
	rng.Shuffle(n, func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	k := int(float64(n)*holdout + 0.5)
	if holdout > 0 && k == 0 && n >= 2 {
		k = 1
	}
	k = max(0, min(k, n-1))
	return idx[k:], idx[:k]
}
