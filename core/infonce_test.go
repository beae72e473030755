package core

import (
	"math"
	"testing"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

// refInfoNCE is MoCo's loss from its definition: for each query the
// cross-entropy of its logits [q·k+, q·n_1, ..., q·n_K]/τ against class 0,
// every vector unit length, averaged over the 2N queries (the two
// directions of the symmetric loss).
func refInfoNCE(q, k, queue []float64, m, d, kq int, tau float64) (loss, acc float64) {
	unit := func(v []float64) []float64 {
		var n float64
		for _, x := range v {
			n += x * x
		}
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = x / math.Sqrt(n)
		}
		return out
	}
	cos := func(a, b []float64) float64 {
		a, b = unit(a), unit(b)
		var s float64
		for i := range a {
			s += a[i] * b[i]
		}
		return s
	}
	for r := range m {
		qr := q[r*d : (r+1)*d]
		p := r ^ 1
		logits := []float64{cos(qr, k[p*d:(p+1)*d]) / tau}
		for j := range kq {
			logits = append(logits, cos(qr, queue[j*d:(j+1)*d])/tau)
		}
		var z float64
		top := 0
		for j, l := range logits {
			z += math.Exp(l)
			if l > logits[top] {
				top = j
			}
		}
		loss += math.Log(z) - logits[0]
		if top == 0 {
			acc++
		}
	}
	return loss / float64(m), acc / float64(m)
}

func TestInfoNCEForward(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n, d, kq int
		tau      float64
	}{{1, 2, 1, 0.5}, {2, 3, 5, 0.2}, {4, 8, 16, 0.07}, {3, 4, 7, 1}} {
		rng := testRNG(uint64(3*tc.n + tc.kq))
		q, k, queue := randMatrix(rng, 2*tc.n, tc.d, false), randMatrix(rng, 2*tc.n, tc.d, false), randMatrix(rng, tc.kq, tc.d, false)
		// Some queries near their positive key, so the accuracy is not 0.
		for i := range tc.d {
			data(q)[i] = data(k)[tc.d+i] * 3
		}
		l, acc, err := InfoNCE(q, k, queue, tc.tau)
		if err != nil {
			t.Fatal(err)
		}
		want, wantAcc := refInfoNCE(f64(q), f64(k), f64(queue), 2*tc.n, tc.d, tc.kq, tc.tau)
		assertClose(t, "infonce", data(l), []float64{want}, 1e-5)
		if acc != wantAcc {
			t.Errorf("n=%d: accuracy %v, want %v", tc.n, acc, wantAcc)
		}
	}
}

// TestInfoNCEGrad checks the queries' gradient by finite differences, and
// that keys and queue, under the stop-gradient, get zeros.
func TestInfoNCEGrad(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ n, d, kq int }{{1, 2, 3}, {2, 3, 4}, {3, 5, 8}} {
		rng := testRNG(uint64(57 + tc.n))
		q, k, queue := randMatrix(rng, 2*tc.n, tc.d, true), randMatrix(rng, 2*tc.n, tc.d, true), randMatrix(rng, tc.kq, tc.d, true)
		gradCheck(t, func() (mat.Tensor, error) {
			l, _, err := InfoNCE(q, k, queue, 0.3)
			return l, err
		}, []gradParam{{"q", q}}, rng, 1e-3, gradTol)
		k.ZeroGrad()
		queue.ZeroGrad()
		l, _, err := InfoNCE(q, k, queue, 0.3)
		if err != nil {
			t.Fatal(err)
		}
		if err := ag.Backward(l); err != nil {
			t.Fatal(err)
		}
		for _, x := range []*mat.Dense[float32]{k, queue} {
			if x.HasGrad() && !allZero(data(x.Grad())) {
				t.Errorf("n=%d: a key or the queue got a gradient through the stop-gradient", tc.n)
			}
		}
	}
}

func TestInfoNCEErrors(t *testing.T) {
	t.Parallel()
	ok := fromData(2, 2, []float32{1, 2, 3, 4})
	queue := fromData(3, 2, []float32{1, 0, 0, 1, 1, 1})
	for _, tc := range []struct {
		name     string
		q, k, qu mat.Tensor
		tau      float64
	}{
		{"nil q", nil, ok, queue, 0.2},
		{"nil queue", ok, ok, nil, 0.2},
		{"keys misshapen", ok, fromData(2, 1, []float32{1, 2}), queue, 0.2},
		{"queue width", ok, ok, fromData(2, 3, make([]float32, 6)), 0.2},
		{"nan queue", ok, ok, fromData(1, 2, []float32{float32(math.NaN()), 1}), 0.2},
		{"tau zero", ok, ok, queue, 0},
		{"odd rows", fromData(3, 2, make([]float32, 6)), fromData(3, 2, make([]float32, 6)), queue, 0.2},
	} {
		if _, _, err := InfoNCE(tc.q, tc.k, tc.qu, tc.tau); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}
