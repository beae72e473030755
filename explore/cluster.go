package explore

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/pretextlab/pretext/internal/kmeans"
)

// ClusterConfig sets Cluster. The zero value chooses k automatically.
type ClusterConfig struct {
	// K is the number of groups; 0 chooses it in [MinK, MaxK] by the
	// highest mean silhouette.
	K int
	// MinK and MaxK bound the automatic choice (defaults 4 and
	// min(12, n/2)), both clamped to [2, n-1]. (The mean silhouette of
	// photos' embeddings is highest at 2 or 3 groups and falls slowly
	// after: too few to be galleries, so the default starts at 4.)
	MinK, MaxK int
	// Restarts is the k-means runs from fresh k-means++ seeds for each k,
	// the one of lowest inertia kept (default 4).
	Restarts int
	// Seed seeds the k-means++ draws.
	Seed uint64
}

// Groups is a clustering of a Set into galleries.
type Groups struct {
	// K is the number of groups.
	K int `json:"k"`
	// Labels[i] is photo i's group, in [0, K). Group 0 is the largest,
	// then by size (the lower first photo first on ties).
	Labels []int `json:"labels"`
	// Members lists each group's photos, the most typical first (the most
	// similar to the group's mean).
	Members [][]int `json:"members"`
	// Silhouette is the mean silhouette of the clustering (cosine
	// distance), in [-1, 1]: near 1 for tight, well separated groups.
	Silhouette float64 `json:"silhouette"`
	// Tried is the mean silhouette of each k tried when k was chosen
	// automatically, Tried[k-MinK] for k; empty when K was given.
	Tried []float64 `json:"tried,omitempty"`
	// MinK is the smallest k tried.
	MinK int `json:"min_k,omitempty"`
}

// Cluster groups the set's embeddings by k-means (on the unit vectors, so
// by cosine similarity), k given or chosen by silhouette.
func Cluster(s *Set, cfg ClusterConfig) (Groups, error) {
	if err := s.check(); err != nil {
		return Groups{}, err
	}
	n := s.Len()
	if cfg.Restarts == 0 {
		cfg.Restarts = 4
	}
	if cfg.K < 0 || cfg.K > n || cfg.Restarts < 1 || cfg.MinK < 0 || cfg.MaxK < 0 {
		return Groups{}, fmt.Errorf("explore: %d groups (min %d, max %d) of %d photos with %d restarts", cfg.K, cfg.MinK, cfg.MaxK, n, cfg.Restarts)
	}
	rows := make([][]float64, n)
	for i := range rows {
		rows[i] = make([]float64, s.Dim)
		for j, v := range s.Row(i) {
			rows[i][j] = float64(v)
		}
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xc1))
	run := func(k int) ([]int, error) {
		res, err := kmeans.Run(rows, kmeans.Config{K: k, Restarts: cfg.Restarts}, rng)
		return res.Labels, err
	}
	if n < 3 || cfg.K == 1 {
		return finish(s, make([]int, n), 1, nil, nil, 0), nil
	}
	sim := s.Similarities()
	if cfg.K > 0 {
		labels, err := run(cfg.K)
		if err != nil {
			return Groups{}, err
		}
		return finish(s, labels, cfg.K, sim, nil, 0), nil
	}
	lo, hi := cfg.MinK, cfg.MaxK
	if lo == 0 {
		lo = 4
	}
	if hi == 0 {
		hi = min(12, n/2)
	}
	if cfg.MinK == 0 {
		lo = min(lo, hi)
	}
	lo, hi = min(max(lo, 2), n-1), min(max(hi, 2), n-1)
	if lo > hi {
		return Groups{}, fmt.Errorf("explore: at least %d groups but at most %d", cfg.MinK, cfg.MaxK)
	}
	var best []int
	bestK, bestS := 0, -2.0
	tried := make([]float64, 0, hi-lo+1)
	for k := lo; k <= hi; k++ {
		labels, err := run(k)
		if err != nil {
			return Groups{}, err
		}
		sc := silhouette(sim, n, labels, k)
		tried = append(tried, sc)
		if sc > bestS {
			best, bestK, bestS = labels, k, sc
		}
	}
	return finish(s, best, bestK, sim, tried, lo), nil
}

// finish renumbers the groups by size, orders their members by typicality
// and scores the clustering.
func finish(s *Set, labels []int, k int, sim []float64, tried []float64, minK int) Groups {
	n := s.Len()
	members := make([][]int, k)
	for i, l := range labels {
		members[l] = append(members[l], i)
	}
	members = slices.DeleteFunc(members, func(m []int) bool { return len(m) == 0 })
	slices.SortStableFunc(members, func(a, b []int) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return a[0] - b[0]
	})
	g := Groups{K: len(members), Labels: make([]int, n), Members: members, Tried: tried, MinK: minK}
	for c, m := range members {
		mean := make([]float32, s.Dim)
		for _, i := range m {
			for j, v := range s.Row(i) {
				mean[j] += v
			}
		}
		typ := make(map[int]float64, len(m))
		for _, i := range m {
			g.Labels[i] = c
			typ[i] = dot(mean, s.Row(i))
		}
		slices.SortStableFunc(m, func(a, b int) int {
			switch {
			case typ[a] > typ[b]:
				return -1
			case typ[a] < typ[b]:
				return 1
			}
			return a - b
		})
	}
	if sim != nil && g.K > 1 {
		g.Silhouette = silhouette(sim, n, g.Labels, g.K)
	}
	return g
}

// silhouette is the mean silhouette (Rousseeuw 1987) of a clustering with
// cosine distance 1 - sim: for each photo, (b - a)/max(a, b), a its mean
// distance to the rest of its group, b the least mean distance to another
// group; 0 for a photo alone in its group (scikit-learn's convention).
func silhouette(sim []float64, n int, labels []int, k int) float64 {
	size := make([]int, k)
	for _, l := range labels {
		size[l]++
	}
	sum := make([]float64, k)
	var total float64
	for i := range n {
		clear(sum)
		for j := range n {
			if j != i {
				sum[labels[j]] += 1 - sim[i*n+j]
			}
		}
		own := labels[i]
		if size[own] < 2 {
			continue
		}
		a := sum[own] / float64(size[own]-1)
		b := -1.0
		for c := range k {
			if c != own && size[c] > 0 {
				if d := sum[c] / float64(size[c]); b < 0 || d < b {
					b = d
				}
			}
		}
		if b < 0 {
			continue
		}
		if m := max(a, b); m > 0 {
			total += (b - a) / m
		}
	}
	return total / float64(n)
}
