package tasks

import (
	"math"
	"testing"
)

// TestSymEigen checks the Jacobi solver on matrices with known spectra and
// on a random symmetric one (A·v = λ·v, orthonormal vectors).
func TestSymEigen(t *testing.T) {
	t.Parallel()
	s2 := math.Sqrt2
	cases := []struct {
		name string
		a    [][]float64
		vals []float64
	}{
		{"2x2", [][]float64{{2, 1}, {1, 2}}, []float64{3, 1}},
		// The second-difference matrix: eigenvalues 2 - 2cos(kπ/4).
		{"tridiagonal", [][]float64{{2, -1, 0}, {-1, 2, -1}, {0, -1, 2}}, []float64{2 + s2, 2, 2 - s2}},
		{"diagonal", [][]float64{{1, 0, 0}, {0, 5, 0}, {0, 0, 3}}, []float64{5, 3, 1}},
	}
	rng := testRNG(1)
	n := 8
	r := make([][]float64, n)
	for i := range r {
		r[i] = make([]float64, n)
	}
	for i := range n {
		for j := i; j < n; j++ {
			r[i][j] = rng.NormFloat64()
			r[j][i] = r[i][j]
		}
	}
	cases = append(cases, struct {
		name string
		a    [][]float64
		vals []float64
	}{"random", r, nil})
	for _, c := range cases {
		vals, vecs := symEigen(c.a)
		for k, want := range c.vals {
			if math.Abs(vals[k]-want) > 1e-10 {
				t.Errorf("%s: eigenvalue %d is %v, want %v", c.name, k, vals[k], want)
			}
		}
		for k := range vals {
			if k > 0 && vals[k] > vals[k-1] {
				t.Errorf("%s: eigenvalues not descending: %v", c.name, vals)
			}
			for i := range c.a {
				var av float64
				for j := range c.a {
					av += c.a[i][j] * vecs[k][j]
				}
				if math.Abs(av-vals[k]*vecs[k][i]) > 1e-9 {
					t.Errorf("%s: (A v%d)[%d] = %v, want %v", c.name, k, i, av, vals[k]*vecs[k][i])
				}
			}
			for l := range vals {
				var dot float64
				for j := range vecs[k] {
					dot += vecs[k][j] * vecs[l][j]
				}
				want := 0.0
				if k == l {
					want = 1
				}
				if math.Abs(dot-want) > 1e-9 {
					t.Errorf("%s: v%d·v%d = %v, want %v", c.name, k, l, dot, want)
				}
			}
		}
	}
	if v := []float64{1, 1}; math.Abs(math.Abs(symEigenVec(t, [][]float64{{2, 1}, {1, 2}})[0])-v[0]/s2) > 1e-12 {
		t.Errorf("leading eigenvector of [[2 1] [1 2]] is not (1, 1)/√2")
	}
}

func symEigenVec(t *testing.T, a [][]float64) []float64 {
	t.Helper()
	_, vecs := symEigen(a)
	return vecs[0]
}

func TestWhiteningErrors(t *testing.T) {
	t.Parallel()
	if _, err := fitWhitening([][]float64{{1, 2}}, 0); err == nil {
		t.Errorf("whitening to 0 dims: no error")
	}
	if _, err := fitWhitening(nil, 1); err == nil {
		t.Errorf("whitening no rows: no error")
	}
}

// TestWhitening checks the projections have unit variance and no
// correlation on the rows they were fitted to, and the output unit length.
func TestWhitening(t *testing.T) {
	t.Parallel()
	rng := testRNG(6)
	var rows [][]float64
	for range 400 {
		a, b, c := rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()
		rows = append(rows, []float64{5 + 3*a, 2*a + 0.5*b, b - c, 0.1 * c})
	}
	w, err := fitWhitening(rows, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.proj) != 3 {
		t.Fatalf("%d output dims, want 3", len(w.proj))
	}
	cov := make([][]float64, 3)
	for k := range cov {
		cov[k] = make([]float64, 3)
	}
	for _, r := range rows {
		z := make([]float64, 3)
		for k, p := range w.proj {
			for j, x := range r {
				z[k] += (x - w.mean[j]) * p[j]
			}
		}
		for a := range 3 {
			for b := range 3 {
				cov[a][b] += z[a] * z[b] / float64(len(rows))
			}
		}
		out := w.apply(r)
		var n float64
		for _, v := range out {
			n += v * v
		}
		if math.Abs(n-1) > 1e-9 {
			t.Errorf("output length² %v, want 1", n)
		}
	}
	for a := range 3 {
		for b := range 3 {
			want := 0.0
			if a == b {
				want = 1
			}
			// The eigenvalue floor (1e-5 of the largest) shrinks the
			// smallest direction's variance by a few parts in 1000 here.
			if math.Abs(cov[a][b]-want) > 3e-3 {
				t.Errorf("whitened covariance [%d][%d] = %v, want %v", a, b, cov[a][b], want)
			}
		}
	}
	// Fewer rows than dimensions: clamped to the rank, len(rows)-1.
	w2, err := fitWhitening(rows[:3], 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(w2.proj) != 2 {
		t.Errorf("3 rows whitened to %d dims, want 2", len(w2.proj))
	}
}

// TestNMI checks hand-computed values.
func TestNMI(t *testing.T) {
	t.Parallel()
	// a = 0 0 1 1, b = 0 0 0 1: H(a) = ln 2, H(b) = -(¾ln¾ + ¼ln¼),
	// I = ½ln(4/3) + ¼ln(2/3) + ¼ln 2.
	ha := math.Ln2
	hb := -(0.75*math.Log(0.75) + 0.25*math.Log(0.25))
	mi := 0.5*math.Log(4.0/3) + 0.25*math.Log(2.0/3) + 0.25*math.Ln2
	cases := []struct {
		name string
		a, b []int
		want float64
	}{
		{"identical", []int{0, 0, 1, 2, 2}, []int{0, 0, 1, 2, 2}, 1},
		{"renamed", []int{0, 0, 1, 2, 2}, []int{7, 7, 3, 5, 5}, 1},
		{"independent", []int{0, 0, 1, 1}, []int{0, 1, 0, 1}, 0},
		{"small", []int{0, 0, 1, 1}, []int{0, 0, 0, 1}, mi / math.Sqrt(ha*hb)},
		{"both single", []int{1, 1, 1}, []int{4, 4, 4}, 1},
		{"one single", []int{1, 1, 1}, []int{0, 1, 2}, 0},
	}
	for _, c := range cases {
		got, err := nmi(c.a, c.b)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: NMI %v, want %v", c.name, got, c.want)
		}
	}
	if _, err := nmi([]int{1}, []int{1, 2}); err == nil {
		t.Errorf("NMI of unequal lengths: no error")
	}
}
