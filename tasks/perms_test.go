package tasks

import (
	"math"
	"testing"
)

// permStats returns the minimum and mean Hamming distance over all pairs of
// the first n permutations of the table.
func permStats(n int) (minD int, mean float64) {
	minD = math.MaxInt
	var sum, pairs int
	for a := range n {
		for b := a + 1; b < n; b++ {
			d := 0
			for i := range jigsawTiles {
				if jigsawPerms[a][i] != jigsawPerms[b][i] {
					d++
				}
			}
			minD = min(minD, d)
			sum += d
			pairs++
		}
	}
	return minD, float64(sum) / float64(pairs)
}

// TestPermsValid checks every row is a permutation of 0..8 and all rows
// differ.
func TestPermsValid(t *testing.T) {
	t.Parallel()
	seen := make(map[[jigsawTiles]uint8]int, len(jigsawPerms))
	for k, p := range jigsawPerms {
		var used [jigsawTiles]bool
		for _, v := range p {
			if int(v) >= jigsawTiles || used[v] {
				t.Fatalf("row %d %v is not a permutation of 0..8", k, p)
			}
			used[v] = true
		}
		if j, ok := seen[p]; ok {
			t.Fatalf("rows %d and %d are both %v", j, k, p)
		}
		seen[p] = k
	}
}

// TestPermsHamming pins the table's Hamming distances between pairs of
// its permutations, measured when it was generated.
func TestPermsHamming(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n    int
		minD int
		mean float64
	}{
		{100, 6, 8.0339},
		{1000, 5, 7.9095},
	} {
		minD, mean := permStats(tc.n)
		t.Logf("P=%d: min Hamming distance %d, mean %.4f", tc.n, minD, mean)
		if minD != tc.minD || math.Abs(mean-tc.mean) > 5e-5 {
			t.Errorf("P=%d: min distance %d, mean %.4f; want %d and %.4f", tc.n, minD, mean, tc.minD, tc.mean)
		}
	}
}

// TestPermsGreedy checks the first 100 rows are the greedy selection of
// gen_perms.go, recomputed independently: each row is, of all 9!
// permutations in lexicographic order, the first whose minimum Hamming
// distance to the rows before it is largest.
func TestPermsGreedy(t *testing.T) {
	t.Parallel()
	const n = 100
	// All permutations of 0..8 in lexicographic order (Heap's algorithm
	// would not give that order; this is the next-permutation step).
	var all [][jigsawTiles]uint8
	p := [jigsawTiles]uint8{0, 1, 2, 3, 4, 5, 6, 7, 8}
	for {
		all = append(all, p)
		i := jigsawTiles - 2
		for i >= 0 && p[i] >= p[i+1] {
			i--
		}
		if i < 0 {
			break
		}
		j := jigsawTiles - 1
		for p[j] <= p[i] {
			j--
		}
		p[i], p[j] = p[j], p[i]
		for a, b := i+1, jigsawTiles-1; a < b; a, b = a+1, b-1 {
			p[a], p[b] = p[b], p[a]
		}
	}
	if len(all) != 362880 {
		t.Fatalf("%d permutations, want 9! = 362880", len(all))
	}
	minD := make([]uint8, len(all))
	for i := range minD {
		minD[i] = math.MaxUint8
	}
	for k := 1; k < n; k++ {
		last := jigsawPerms[k-1]
		best := 0
		for i := range all {
			var d uint8
			for x := range jigsawTiles {
				if all[i][x] != last[x] {
					d++
				}
			}
			if d < minD[i] {
				minD[i] = d
			}
			if minD[i] > minD[best] {
				best = i
			}
		}
		if all[best] != jigsawPerms[k] {
			t.Fatalf("row %d is %v, greedy selection gives %v (min distance %d)", k, jigsawPerms[k], all[best], minD[best])
		}
	}
}
