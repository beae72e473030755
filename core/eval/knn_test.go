package eval

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"testing"
)

// TestKNNByHand checks a case worked out by hand. Training rows (class):
// (1,0) 0, (0,1) 1, (1,1) 1, (-1,0) 0. The test row (1, 0.2) has cosine
// similarities 1/√1.04 = 0.98058, 0.2/√1.04 = 0.19612, 1.2/√2.08 = 0.83205
// and -0.98058 to them.
//
//   - k=2, T=0.07: rows 0 and 2; class 0 gets exp(0.98058/0.07) ≈ 1.2e6,
//     class 1 exp(0.83205/0.07) ≈ 1.5e5: class 0.
//   - k=3, T=0.07: row 1 adds exp(0.19612/0.07) ≈ 16 to class 1: still 0.
//   - k=3, T=10: the weights are nearly equal, exp(0.098) = 1.10 against
//     exp(0.083) + exp(0.020) = 2.11: two votes beat one, class 1.
//   - k=4, T=10: row 3 adds exp(-0.098) to class 0, 2.01 in all: still 1.
//
// The test row (0.1, 1) is nearest rows 1 and 2: class 1 for any k <= 3.
func TestKNNByHand(t *testing.T) {
	train := Features{N: 4, Dim: 2, Data: []float32{1, 0, 0, 1, 1, 1, -1, 0}}
	trainY := []int{0, 1, 1, 0}
	test := Features{N: 2, Dim: 2, Data: []float32{1, 0.2, 0.1, 1}}
	tests := []struct {
		k    int
		temp float64
		want []int
	}{
		{1, 0.07, []int{0, 1}},
		{2, 0.07, []int{0, 1}},
		{3, 0.07, []int{0, 1}},
		{3, 10, []int{1, 1}},
		{4, 10, []int{1, 1}},
	}
	for _, tc := range tests {
		got, err := KNNPredict(train, trainY, test, 2, tc.k, tc.temp)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("k=%d T=%v: %v, want %v", tc.k, tc.temp, got, tc.want)
		}
	}
	acc, err := KNN(train, trainY, test, []int{1, 0}, 2, 3, 10)
	if err != nil || acc != 0.5 {
		t.Errorf("KNN accuracy %v (%v), want 0.5", acc, err)
	}
}

func TestKNNTies(t *testing.T) {
	// Rows 0 and 1 point the same way, so they are equally similar to
	// anything: of the two, row 0 is nearer (the lower index).
	train := Features{N: 3, Dim: 2, Data: []float32{1, 0, 2, 0, 0, 1}}
	test := Features{N: 1, Dim: 2, Data: []float32{1, 0.5}}
	for _, tc := range []struct {
		name   string
		trainY []int
		k      int
		want   int
	}{
		{"k=1 takes the first of equals", []int{1, 0, 0}, 1, 1},
		{"k=1 takes the first of equals, swapped", []int{0, 1, 1}, 1, 0},
		// Equal totals: the lower class id wins.
		{"tied vote", []int{1, 0, 1}, 2, 0},
		{"tied vote, swapped", []int{0, 1, 1}, 2, 0},
	} {
		got, err := KNNPredict(train, tc.trainY, test, 2, tc.k, 0.07)
		if err != nil {
			t.Fatal(err)
		}
		if got[0] != tc.want {
			t.Errorf("%s: class %d, want %d", tc.name, got[0], tc.want)
		}
	}
}

// knnReference is KNNPredict written plainly in float64: every similarity,
// a full sort, the weighted vote.
func knnReference(train Features, trainY []int, test Features, classes, k int, temp float64) []int {
	unit := func(r []float32) []float64 {
		var n float64
		for _, v := range r {
			n += float64(v) * float64(v)
		}
		u := make([]float64, len(r))
		for j, v := range r {
			u[j] = float64(v) / math.Sqrt(n)
		}
		return u
	}
	pred := make([]int, test.N)
	for i := range test.N {
		q := unit(test.Row(i))
		type nb struct {
			sim float64
			idx int
		}
		var all []nb
		for r := range train.N {
			all = append(all, nb{dot(q, unit(train.Row(r))), r})
		}
		slices.SortFunc(all, func(a, b nb) int { return cmp.Or(cmp.Compare(b.sim, a.sim), cmp.Compare(a.idx, b.idx)) })
		votes := make([]float64, classes)
		for _, n := range all[:k] {
			votes[trainY[n.idx]] += math.Exp(n.sim / temp)
		}
		pred[i] = 0
		for c := range votes {
			if votes[c] > votes[pred[i]] {
				pred[i] = c
			}
		}
	}
	return pred
}

func TestKNNReference(t *testing.T) {
	rng := newRand(30)
	train, trainY := blobs(rng, 300, 16, 5, 2)
	test, testY := blobs(rng, 75, 16, 5, 2)
	for _, k := range []int{1, 5, 20} {
		got, err := KNNPredict(train, trainY, test, 5, k, 0.07)
		if err != nil {
			t.Fatal(err)
		}
		want := knnReference(train, trainY, test, 5, k, 0.07)
		if !slices.Equal(got, want) {
			t.Errorf("k=%d: %v\nwant %v", k, got, want)
		}
		t.Logf("k=%d: accuracy %.3f", k, accuracyOf(got, testY))
	}
	// Far-apart blobs: every neighbour is of the right class.
	train, trainY = blobs(rng, 200, 8, 4, 20)
	test, testY = blobs(rng, 50, 8, 4, 20)
	if acc, err := KNN(train, trainY, test, testY, 4, DefaultK, DefaultTemperature); err != nil || acc != 1 {
		t.Errorf("separated blobs: accuracy %v (%v), want 1", acc, err)
	}
}

// TestKNNBlocks checks that the blocking of the similarity matrix changes
// nothing, with blocks that do not divide the row counts and training
// blocks smaller than k.
func TestKNNBlocks(t *testing.T) {
	rng := newRand(31)
	train, trainY := blobs(rng, 300, 10, 3, 1)
	test, _ := blobs(rng, 75, 10, 3, 1)
	ref, err := KNNPredict(train, trainY, test, 3, 20, 0.07)
	if err != nil {
		t.Fatal(err)
	}
	defer func(a, b int) { knnTestChunk, knnTrainChunk = a, b }(knnTestChunk, knnTrainChunk)
	for _, bs := range [][2]int{{7, 13}, {1, 1}, {256, 5}, {74, 299}, {1000, 1000}} {
		knnTestChunk, knnTrainChunk = bs[0], bs[1]
		got, err := KNNPredict(train, trainY, test, 3, 20, 0.07)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, ref) {
			t.Errorf("blocks %v: %v\nwant %v", bs, got, ref)
		}
	}
}

func TestKNNZeroRowAndSmallTemperature(t *testing.T) {
	// A zero test row is equally (0) similar to everything: its k nearest
	// are the first k rows. A temperature of 1e-4 would overflow
	// exp(sim/T) without the shift by the nearest similarity.
	train := Features{N: 3, Dim: 2, Data: []float32{1, 0, 0, 1, 1, 1}}
	test := Features{N: 2, Dim: 2, Data: []float32{0, 0, 1, 0.9}}
	got, err := KNNPredict(train, []int{1, 0, 0}, test, 2, 1, 1e-4)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int{1, 0}) {
		t.Errorf("got %v, want [1 0]", got)
	}
}

func TestKNNErrors(t *testing.T) {
	train := Features{N: 3, Dim: 2, Data: []float32{1, 0, 0, 1, 1, 1}}
	trainY := []int{0, 1, 1}
	test := Features{N: 1, Dim: 2, Data: []float32{1, 0}}
	tests := []struct {
		name    string
		test    Features
		testY   []int
		classes int
		k       int
		temp    float64
		want    string
	}{
		{"k too large", test, []int{0}, 2, 4, 0.07, "k=4 and 3 training rows"},
		{"k zero", test, []int{0}, 2, 0, 0.07, "k=0"},
		{"temperature", test, []int{0}, 2, 1, 0, "temperature 0"},
		{"width", Features{N: 1, Dim: 1, Data: []float32{1}}, []int{0}, 2, 1, 0.07, "1 wide, training ones 2"},
		{"test labels", test, []int{0, 1}, 2, 1, 0.07, "2 test labels for 1 rows"},
		{"classes", test, []int{0}, 1, 1, 0.07, "training label 1 of row 1 out of range [0, 1)"},
		{"NaN", Features{N: 1, Dim: 2, Data: []float32{1, float32(math.NaN())}}, []int{0}, 2, 1, 0.07, "test features row 0 column 1 is NaN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := KNN(train, trainY, tc.test, tc.testY, tc.classes, tc.k, tc.temp)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
