package core

import (
	"math"
	"testing"

	"github.com/nlpodyssey/spago/mat"
)

// refNTXent is NTXent in plain float64 from its definition: cosine
// similarities z_r·z_j / (|z_r||z_j|), -log of the partner's softmax share
// among the other rows (no max subtraction), and the nearest-row accuracy.
func refNTXent(z []float64, m, d int, tau float64) (loss, acc float64) {
	cos := func(a, b int) float64 {
		var dot, na, nb float64
		for k := range d {
			dot += z[a*d+k] * z[b*d+k]
			na += z[a*d+k] * z[a*d+k]
			nb += z[b*d+k] * z[b*d+k]
		}
		return dot / math.Sqrt(na*nb)
	}
	for r := range m {
		partner := r + 1
		if r%2 == 1 {
			partner = r - 1
		}
		var den float64
		best := -1
		for j := range m {
			if j == r {
				continue
			}
			den += math.Exp(cos(r, j) / tau)
			if best < 0 || cos(r, j) > cos(r, best) {
				best = j
			}
		}
		loss -= math.Log(math.Exp(cos(r, partner)/tau) / den)
		if best == partner {
			acc++
		}
	}
	return loss / float64(m), acc / float64(m)
}

func TestNTXentForward(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		m, d int
		tau  float64
	}{
		{"one pair", 2, 3, 0.5},
		{"four pairs", 8, 5, 0.5},
		{"cold", 6, 4, 0.1},
		{"hot", 10, 16, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := randMatrix(testRNG(uint64(tc.m*tc.d)), tc.m, tc.d, false)
			before := cloneData(z)
			loss, acc, err := NTXent(z, tc.tau)
			if err != nil {
				t.Fatal(err)
			}
			assertShape(t, "loss", loss, 1, 1)
			want, wantAcc := refNTXent(f64(z), tc.m, tc.d, tc.tau)
			assertClose(t, "loss", data(loss), []float64{want}, 1e-5)
			if acc != wantAcc {
				t.Errorf("accuracy %v, want %v", acc, wantAcc)
			}
			assertUnchanged(t, "z", z, before)
		})
	}
}

// TestNTXentPairs checks the pairing convention on embeddings whose closed
// form is known: rows 0 and 1 both e0, rows 2 and 3 both e1 (scaled
// differently, which normalisation removes). Each row's partner has cosine
// 1 and the other two 0, so the loss is log(e^{1/τ} + 2) - 1/τ and every
// row finds its partner. Pairing rows 0 with 2 instead would score 0.
func TestNTXentPairs(t *testing.T) {
	t.Parallel()
	const tau = 0.5
	z := fromData(4, 2, []float32{1, 0, 3, 0, 0, 2, 0, 0.5})
	loss, acc, err := NTXent(z, tau)
	if err != nil {
		t.Fatal(err)
	}
	want := math.Log(math.Exp(1/tau)+2) - 1/tau
	assertClose(t, "loss", data(loss), []float64{want}, 1e-6)
	if acc != 1 {
		t.Errorf("accuracy %v, want 1", acc)
	}
	// Swapping rows 1 and 2 pairs e0 with e1: no row finds its partner.
	z = fromData(4, 2, []float32{1, 0, 0, 2, 3, 0, 0, 0.5})
	if _, acc, err = NTXent(z, tau); err != nil || acc != 0 {
		t.Errorf("swapped pairs: accuracy %v (err %v), want 0", acc, err)
	}
}

func TestNTXentGrad(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		m, d int
		tau  float64
	}{
		{"two pairs", 4, 3, 0.5},
		{"three pairs", 6, 4, 0.5},
		{"cold", 4, 3, 0.2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := testRNG(uint64(31 + tc.m))
			z := randMatrix(rng, tc.m, tc.d, true)
			// Keep rows away from zero, where normalisation is steep.
			for i, v := range data(z) {
				data(z)[i] = v + float32(math.Copysign(0.5, float64(v)))
			}
			gradCheck(t, func() (mat.Tensor, error) {
				l, _, err := NTXent(z, tc.tau)
				return l, err
			}, []gradParam{{"z", z}}, rng, 1e-3, gradTol)
		})
	}
}

func TestNTXentErrors(t *testing.T) {
	t.Parallel()
	nan := float32(math.NaN())
	for _, tc := range []struct {
		name string
		z    mat.Tensor
		tau  float64
	}{
		{"nil", nil, 0.5},
		{"one row", fromData(1, 3, make([]float32, 3)), 0.5},
		{"odd rows", fromData(3, 2, make([]float32, 6)), 0.5},
		{"zero tau", fromData(2, 2, []float32{1, 0, 0, 1}), 0},
		{"negative tau", fromData(2, 2, []float32{1, 0, 0, 1}), -1},
		{"nan tau", fromData(2, 2, []float32{1, 0, 0, 1}), math.NaN()},
		{"nan value", fromData(2, 2, []float32{1, nan, 0, 1}), 0.5},
		{"float64", mat.NewDense[float64](mat.WithShape(2, 2)), 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := NTXent(tc.z, tc.tau)
			expectError(t, tc.name, err)
		})
	}
}
