package kmeans

import (
	"math"
	"math/rand/v2"
	"testing"
)

// blobs returns per points around each of centres (spread sd) and their
// true labels.
func blobs(centres [][]float64, per int, sd float64, seed uint64) ([][]float64, []int) {
	rng := rand.New(rand.NewPCG(seed, 0))
	var rows [][]float64
	var truth []int
	for c, m := range centres {
		for range per {
			r := make([]float64, len(m))
			for j := range r {
				r[j] = m[j] + sd*rng.NormFloat64()
			}
			rows = append(rows, r)
			truth = append(truth, c)
		}
	}
	return rows, truth
}

// TestKMeansBlobs recovers well separated blobs and checks the result is a
// Lloyd fixed point: every row is nearest its own centroid, every centroid
// the mean of its rows, and the inertia their sum of squared distances.
func TestKMeansBlobs(t *testing.T) {
	centres := [][]float64{{0, 0, 0}, {10, 0, 0}, {0, 10, 0}, {0, 0, 10}}
	rows, truth := blobs(centres, 25, 1, 2)
	res, err := Run(rows, Config{K: 4, Restarts: 3}, rand.New(rand.NewPCG(1, 3)))
	if err != nil {
		t.Fatal(err)
	}
	// Each blob is one cluster and no two blobs share one.
	owner := map[int]int{}
	for i, l := range res.Labels {
		if o, ok := owner[l]; ok && o != truth[i] {
			t.Fatalf("cluster %d holds rows of blobs %d and %d", l, o, truth[i])
		}
		owner[l] = truth[i]
	}
	if len(owner) != 4 {
		t.Errorf("%d clusters used, want 4", len(owner))
	}
	var inertia float64
	sums := make([][]float64, 4)
	counts := make([]int, 4)
	for i, r := range rows {
		c, d := Nearest(r, res.Centroids)
		if c != res.Labels[i] {
			t.Errorf("row %d labelled %d, nearest centroid %d", i, res.Labels[i], c)
		}
		inertia += d
		if sums[c] == nil {
			sums[c] = make([]float64, 3)
		}
		for j, v := range r {
			sums[c][j] += v
		}
		counts[c]++
	}
	if math.Abs(inertia-res.Inertia) > 1e-9*inertia {
		t.Errorf("inertia %v, recomputed %v", res.Inertia, inertia)
	}
	for c := range 4 {
		for j := range 3 {
			if m := sums[c][j] / float64(counts[c]); math.Abs(m-res.Centroids[c][j]) > 1e-9 {
				t.Errorf("centroid %d[%d] = %v, mean of its rows %v", c, j, res.Centroids[c][j], m)
			}
		}
	}
	// More restarts never give a worse optimum than the first of them.
	one, _ := Run(rows, Config{K: 4}, rand.New(rand.NewPCG(1, 3)))
	if res.Inertia > one.Inertia+1e-9 {
		t.Errorf("3 restarts: inertia %v, worse than 1 restart's %v", res.Inertia, one.Inertia)
	}
}

// TestKMeansSplitsEmpty checks the empty-cluster rule: with every row in
// cluster 0, the two empty clusters are refilled from cluster 0's centroid,
// nudged by ±1/1024 in alternating coordinates.
func TestKMeansSplitsEmpty(t *testing.T) {
	rows := [][]float64{{1, 2}, {3, 4}, {5, 6}, {7, 8}}
	cent := [][]float64{{0, 0}, {9, 9}, {9, 9}}
	labels := []int{0, 0, 0, 0}
	fixed := updateCentroids(rows, labels, cent, rand.New(rand.NewPCG(1, 4)))
	if fixed != 2 {
		t.Fatalf("fixed %d empty clusters, want 2", fixed)
	}
	mean := []float64{4, 5}
	// Cluster 1 split from 0 (the only one with several rows), then 2 from
	// 0 or 1: each centroid is the mean times a product of (1±ε) factors.
	for c, m := range cent {
		for j, v := range m {
			r := v / mean[j]
			if math.Abs(r-1) > 2.5*splitEps || r == 1 {
				t.Errorf("centroid %d[%d] = %v: not the mean %v nudged by about 1/1024", c, j, v, mean[j])
			}
		}
	}
	if cent[0][0] == cent[1][0] || cent[1][0] == cent[2][0] || cent[0][0] == cent[2][0] {
		t.Errorf("split centroids coincide: %v", cent)
	}
	// Every point duplicated into fewer distinct places than clusters: the
	// run finishes and labels stay in range.
	dup := [][]float64{{1, 1}, {1, 1}, {1, 1}, {2, 2}}
	res, err := Run(dup, Config{K: 3}, rand.New(rand.NewPCG(1, 5)))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range res.Labels {
		if l < 0 || l >= 3 {
			t.Errorf("label %d out of range", l)
		}
	}
}

func TestKMeansErrors(t *testing.T) {
	for name, c := range map[string]struct {
		rows [][]float64
		k    int
	}{
		"no rows":    {nil, 1},
		"k zero":     {[][]float64{{1}}, 0},
		"k too big":  {[][]float64{{1}, {2}}, 3},
		"ragged":     {[][]float64{{1}, {2, 3}}, 1},
		"nan":        {[][]float64{{1}, {math.NaN()}}, 1},
		"empty rows": {[][]float64{{}}, 1},
	} {
		if _, err := Run(c.rows, Config{K: c.k}, rand.New(rand.NewPCG(1, 1))); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
