package kmeans

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Config sets [Run]. The zero value of each field but K is the default.
type Config struct {
	// K is the number of clusters, in [1, len(rows)].
	K int
	// Iters bounds the Lloyd iterations of one run (default 20, faiss's
	// niter, which DeepCluster's clustering used).
	Iters int
	// Restarts is the number of runs from fresh k-means++ seeds (default
	// 1); the run with the lowest inertia wins.
	Restarts int
}

// Result is one clustering.
type Result struct {
	// Labels[i] is row i's cluster, in [0, K).
	Labels []int
	// Centroids are the K cluster means.
	Centroids [][]float64
	// Inertia is the sum of squared distances of rows to their centroids.
	Inertia float64
	// EmptyFixed counts the empty clusters the winning run refilled by
	// splitting a large one.
	EmptyFixed int
}

// splitEps is the relative perturbation that separates a split centroid
// from its copy (faiss's EPS = 1/1024 in Clustering.cpp's split_clusters).
const splitEps = 1.0 / 1024

// Run clusters rows into cfg.K clusters: k-means++ seeding (Arthur &
// Vassilvitskii 2007) and Lloyd iterations until no label changes. A
// cluster left empty by an assignment is refilled as DeepCluster's faiss
// does: a non-empty cluster is picked at random with probability
// proportional to its size minus one (a singleton cannot be split), its
// centroid copied into the empty one and the two pushed apart by a relative
// ±1/1024 in alternating coordinates.
func Run(rows [][]float64, cfg Config, rng *rand.Rand) (Result, error) {
	if err := CheckRows(rows); err != nil {
		return Result{}, err
	}
	if cfg.K < 1 || cfg.K > len(rows) {
		return Result{}, fmt.Errorf("kmeans: k-means with %d clusters for %d rows", cfg.K, len(rows))
	}
	if cfg.Iters == 0 {
		cfg.Iters = 20
	}
	if cfg.Restarts == 0 {
		cfg.Restarts = 1
	}
	if cfg.Iters < 1 || cfg.Restarts < 1 {
		return Result{}, fmt.Errorf("kmeans: k-means with %d iterations and %d restarts", cfg.Iters, cfg.Restarts)
	}
	var best Result
	for r := range cfg.Restarts {
		res := run(rows, cfg.K, cfg.Iters, rng)
		if r == 0 || res.Inertia < best.Inertia {
			best = res
		}
	}
	return best, nil
}

// CheckRows reports an error unless rows is a non-empty list of finite
// vectors of one positive length.
func CheckRows(rows [][]float64) error {
	if len(rows) == 0 || len(rows[0]) == 0 {
		return fmt.Errorf("kmeans: no vectors to cluster")
	}
	for i, r := range rows {
		if len(r) != len(rows[0]) {
			return fmt.Errorf("kmeans: vector %d has %d values, want %d", i, len(r), len(rows[0]))
		}
		for _, v := range r {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("kmeans: vector %d holds %v", i, v)
			}
		}
	}
	return nil
}

func SqDist(a, b []float64) float64 {
	var s float64
	for i, v := range a {
		d := v - b[i]
		s += d * d
	}
	return s
}

// nearest returns the index of the centroid nearest to v (the first, on
// ties) and the squared distance to it.
func Nearest(v []float64, centroids [][]float64) (int, float64) {
	best, bd := 0, math.Inf(1)
	for c, m := range centroids {
		if d := SqDist(v, m); d < bd {
			best, bd = c, d
		}
	}
	return best, bd
}

// plusPlus picks k seeds from rows by k-means++: the first uniformly, each
// next with probability proportional to its squared distance to the nearest
// seed so far (uniformly when every row sits on a seed).
func plusPlus(rows [][]float64, k int, rng *rand.Rand) [][]float64 {
	seeds := [][]float64{slices.Clone(rows[rng.IntN(len(rows))])}
	d2 := make([]float64, len(rows))
	for i, r := range rows {
		d2[i] = SqDist(r, seeds[0])
	}
	for len(seeds) < k {
		var total float64
		for _, d := range d2 {
			total += d
		}
		pick := rng.IntN(len(rows))
		if total > 0 {
			u := rng.Float64() * total
			for i, d := range d2 {
				if u -= d; u < 0 && d > 0 {
					pick = i
					break
				}
			}
		}
		s := slices.Clone(rows[pick])
		seeds = append(seeds, s)
		for i, r := range rows {
			d2[i] = min(d2[i], SqDist(r, s))
		}
	}
	return seeds
}

// run is one k-means run from a k-means++ seeding.
func run(rows [][]float64, k, iters int, rng *rand.Rand) Result {
	cent := plusPlus(rows, k, rng)
	labels := make([]int, len(rows))
	assign := func() (changed bool, inertia float64) {
		for i, r := range rows {
			c, d := Nearest(r, cent)
			if c != labels[i] {
				changed = true
			}
			labels[i] = c
			inertia += d
		}
		return changed, inertia
	}
	_, inertia := assign()
	fixed := 0
	for range iters {
		fixed += updateCentroids(rows, labels, cent, rng)
		changed, in := assign()
		inertia = in
		if !changed {
			break
		}
	}
	return Result{Labels: labels, Centroids: cent, Inertia: inertia, EmptyFixed: fixed}
}

// updateCentroids sets each centroid to the mean of its rows and refills
// empty clusters by splitting (see kmeans); it returns how many it refilled.
func updateCentroids(rows [][]float64, labels []int, cent [][]float64, rng *rand.Rand) int {
	size := make([]int, len(cent))
	for c := range cent {
		clear(cent[c])
	}
	for i, r := range rows {
		c := labels[i]
		size[c]++
		for j, v := range r {
			cent[c][j] += v
		}
	}
	for c, n := range size {
		if n > 0 {
			for j := range cent[c] {
				cent[c][j] /= float64(n)
			}
		}
	}
	fixed := 0
	for ci, n := range size {
		if n > 0 {
			continue
		}
		var total int
		for _, m := range size {
			total += max(m-1, 0)
		}
		if total == 0 {
			break // every cluster is a singleton: nothing to split
		}
		u := rng.IntN(total)
		cj := 0
		for c, m := range size {
			if u -= max(m-1, 0); u < 0 {
				cj = c
				break
			}
		}
		copy(cent[ci], cent[cj])
		for j := range cent[ci] {
			s := splitEps
			if j%2 == 1 {
				s = -s
			}
			cent[ci][j] *= 1 + s
			cent[cj][j] *= 1 - s
		}
		size[ci] = size[cj] / 2
		size[cj] -= size[ci]
		fixed++
	}
	return fixed
}
