package eval

import (
	"fmt"
	"math"
	"slices"

	"github.com/pretextlab/pretext/core"
)

// Default k-NN settings, those of the reference protocol
// (../shared/bench/quality.md). The exp(sim/temperature) vote is InstDisc's
// (Wu et al., "Unsupervised Feature Learning via Non-Parametric Instance
// Discrimination", CVPR 2018, §3.4, with k = 200 there), as in the lightly
// benchmarks.
const (
	DefaultK           = 20
	DefaultTemperature = 0.07
)

// The similarities are computed in blocks of knnTestChunk test rows by
// knnTrainChunk training rows (4 MiB of float32 at these sizes), whatever
// the number of rows. Tests shrink them to exercise the block edges.
var (
	knnTestChunk  = 256
	knnTrainChunk = 4096
)

// KNN returns the accuracy of [KNNPredict] on the test rows, whose labels
// are testY (0 if there are no test rows).
func KNN(train Features, trainY []int, test Features, testY []int, classes, k int, temperature float64) (accuracy float64, err error) {
	if classes >= 1 { // else KNNPredict says what is wrong
		if err := checkLabels("test", testY, test.N, classes); err != nil {
			return 0, err
		}
	}
	pred, err := KNNPredict(train, trainY, test, classes, k, temperature)
	if err != nil {
		return 0, err
	}
	return accuracyOf(pred, testY), nil
}

// KNNPredict classifies each test row by its k nearest training rows under
// cosine similarity: each of them votes for its class with weight
// exp(sim/temperature), and the class with the largest total wins. The
// protocol's values are k = 20 and temperature = 0.07.
//
// Rows are L2-normalised (in copies; a zero row stays zero, so its
// similarity to everything is 0) and the similarities of a block of test
// rows to a block of training rows are one [core.Gemm] in float32. Ties are
// broken towards lower indices: among training rows equally similar to a
// test row, the one that comes first in train is nearer; among classes with
// equal totals, the lowest class id wins.
func KNNPredict(train Features, trainY []int, test Features, classes, k int, temperature float64) ([]int, error) {
	if err := train.check("training"); err != nil {
		return nil, err
	}
	if err := test.check("test"); err != nil {
		return nil, err
	}
	if test.Dim != train.Dim {
		return nil, fmt.Errorf("eval: test features are %d wide, training ones %d", test.Dim, train.Dim)
	}
	if classes < 1 {
		return nil, fmt.Errorf("eval: %d classes, want at least 1", classes)
	}
	if err := checkLabels("training", trainY, train.N, classes); err != nil {
		return nil, err
	}
	if k < 1 || k > train.N {
		return nil, fmt.Errorf("eval: k-NN with k=%d and %d training rows, want 1 <= k <= %[2]d", k, train.N)
	}
	if !(temperature > 0) || math.IsInf(temperature, 1) {
		return nil, fmt.Errorf("eval: k-NN temperature %v, want positive and finite", temperature)
	}
	d := train.Dim
	tr, te := normalizeRows(train), normalizeRows(test)
	pred := make([]int, test.N)
	tc, rc := min(knnTestChunk, test.N), min(knnTrainChunk, train.N)
	sim := make([]float32, tc*rc)
	tops := make([]topK, tc)
	for i := range tops {
		tops[i] = topK{sim: make([]float32, 0, k), idx: make([]int, 0, k)}
	}
	votes := make([][]float64, tc)
	for i := range votes {
		votes[i] = make([]float64, classes)
	}
	for t0 := 0; t0 < test.N; t0 += tc {
		m := min(tc, test.N-t0)
		for i := range m {
			tops[i].reset()
		}
		for r0 := 0; r0 < train.N; r0 += rc {
			n := min(rc, train.N-r0)
			// sim[i][j] = te[t0+i]·tr[r0+j]: test block x training blockᵀ.
			core.Gemm(false, true, m, n, d, te[t0*d:], d, tr[r0*d:], d, 0, sim, n)
			parallel(m, func(i int) { tops[i].scan(sim[i*n:(i+1)*n], r0) })
		}
		parallel(m, func(i int) {
			pred[t0+i] = tops[i].vote(trainY, temperature, votes[i])
		})
	}
	return pred, nil
}

// normalizeRows returns the rows of f scaled to unit L2 norm (norms in
// float64); zero rows stay zero.
func normalizeRows(f Features) []float32 {
	out := make([]float32, len(f.Data))
	for i := range f.N {
		row := f.Row(i)
		var sq float64
		for _, v := range row {
			sq += float64(float64(v) * float64(v))
		}
		if sq == 0 {
			continue
		}
		inv := 1 / math.Sqrt(sq)
		o := out[i*f.Dim : (i+1)*f.Dim]
		for j, v := range row {
			o[j] = float32(float64(v) * inv)
		}
	}
	return out
}

// topK keeps the k most similar training rows seen so far for one test row,
// as a binary min-heap whose root is the least similar of them (of equal
// similarities, the later row).
type topK struct {
	sim []float32
	idx []int
}

func (h *topK) reset() { h.sim, h.idx = h.sim[:0], h.idx[:0] }

// worse reports that entry a is farther than entry b.
func (h *topK) worse(a, b int) bool {
	return h.sim[a] < h.sim[b] || (h.sim[a] == h.sim[b] && h.idx[a] > h.idx[b])
}

// scan offers the training rows r0, r0+1, ... with similarities sims.
// Rows come in increasing index, so a row as similar as the root is
// farther than it (it comes later) and is passed over.
func (h *topK) scan(sims []float32, r0 int) {
	j := 0
	for ; j < len(sims) && len(h.sim) < cap(h.sim); j++ {
		h.sim = append(h.sim, sims[j])
		h.idx = append(h.idx, r0+j)
		h.up(len(h.sim) - 1)
	}
	if j == len(sims) {
		return
	}
	root := h.sim[0]
	for ; j < len(sims); j++ {
		if s := sims[j]; s > root {
			h.sim[0], h.idx[0] = s, r0+j
			h.down(0)
			root = h.sim[0]
		}
	}
}

func (h *topK) swap(a, b int) {
	h.sim[a], h.sim[b] = h.sim[b], h.sim[a]
	h.idx[a], h.idx[b] = h.idx[b], h.idx[a]
}

func (h *topK) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.worse(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h *topK) down(i int) {
	n := len(h.sim)
	for {
		w := i
		if l := 2*i + 1; l < n && h.worse(l, w) {
			w = l
		}
		if r := 2*i + 2; r < n && h.worse(r, w) {
			w = r
		}
		if w == i {
			return
		}
		h.swap(i, w)
		i = w
	}
}

// vote returns the class of the largest sum of exp(sim/temperature) over
// the kept rows, the lowest class id on ties; votes is scratch of one value
// per class. The neighbours are summed from the nearest, and every weight
// is divided by the nearest one's, exp((sim - maxSim)/temperature): a
// common factor, which keeps small temperatures from overflowing.
func (h *topK) vote(labels []int, temperature float64, votes []float64) int {
	order := make([]int, len(h.sim))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		switch {
		case h.worse(b, a):
			return -1
		case h.worse(a, b):
			return 1
		}
		return 0
	})
	clear(votes)
	top := float64(h.sim[order[0]])
	for _, e := range order {
		votes[labels[h.idx[e]]] += math.Exp((float64(h.sim[e]) - top) / temperature)
	}
	best := 0
	for c, v := range votes {
		if v > votes[best] {
			best = c
		}
	}
	return best
}
