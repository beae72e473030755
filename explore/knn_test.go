package explore

import (
	"errors"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/pretextlab/pretext/core"
)

// plainKNN is the k-NN vote written out with no shared code: float64
// cosine similarities to every bank row (skip: the query's own row, or
// -1), the k most similar (the lower index first on ties), each weighing
// exp(sim/t), the label with the most weight (the first in sorted order
// on ties). It returns the fraction of queries whose label it gets.
func plainKNN(bank [][]float64, bankY []string, queries [][]float64, queryY []string, k int, t float64, loo bool) float64 {
	cos := func(a, b []float64) float64 {
		var ab, aa, bb float64
		for i := range a {
			ab, aa, bb = ab+a[i]*b[i], aa+a[i]*a[i], bb+b[i]*b[i]
		}
		return ab / math.Sqrt(aa*bb)
	}
	labels := slices.Compact(slices.Sorted(slices.Values(bankY)))
	hits := 0
	for qi, q := range queries {
		type nb struct {
			i   int
			sim float64
		}
		var all []nb
		for i, b := range bank {
			if loo && i == qi {
				continue
			}
			all = append(all, nb{i, cos(q, b)})
		}
		slices.SortStableFunc(all, func(a, b nb) int {
			if a.sim > b.sim {
				return -1
			}
			if a.sim < b.sim {
				return 1
			}
			return 0
		})
		votes := map[string]float64{}
		for _, n := range all[:min(k, len(all))] {
			votes[bankY[n.i]] += math.Exp(n.sim / t)
		}
		best := labels[0]
		for _, l := range labels {
			if votes[l] > votes[best] {
				best = l
			}
		}
		if best == queryY[qi] {
			hits++
		}
	}
	return float64(hits) / float64(len(queries))
}

// setOf makes a Set of rows (scaled to unit length) and the float64 rows.
func setOf(t *testing.T, rows [][]float64) *Set {
	t.Helper()
	s := &Set{}
	for i, r := range rows {
		var n float64
		for _, v := range r {
			n += v * v
		}
		v := make([]float32, len(r))
		for j := range r {
			v[j] = float32(r[j] / math.Sqrt(n))
		}
		if err := s.Add([]string{strconv.Itoa(i)}, v); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// TestKNNKnownAnswers checks KNN on hand-built embeddings whose accuracy
// can be worked out on paper.
func TestKNNKnownAnswers(t *testing.T) {
	t.Parallel()
	// Two labels on two axes of the plane.
	bank := [][]float64{{1, 0}, {1, 0.1}, {1, -0.1}, {0, 1}, {0.1, 1}, {-0.1, 1}}
	bankY := []string{"a", "a", "a", "b", "b", "b"}
	// The first two queries lie by a's rows and the last by b's, so the
	// vote names them a, a, b; the second query is labelled b: 2 of 3.
	queries := [][]float64{{1, 0.05}, {1, 0.02}, {0.02, 1}}
	queryY := []string{"a", "b", "b"}
	for name, c := range map[string]struct {
		k    int
		want float64
	}{"k=1": {1, 2.0 / 3}, "k=3": {3, 2.0 / 3}, "k=20, all six vote": {20, 2.0 / 3}} {
		got, err := KNN(setOf(t, bank), bankY, setOf(t, queries), queryY, KNNConfig{K: c.k})
		want := KNNScore{Accuracy: c.want, K: min(c.k, 6), Images: 3, Bank: 6}
		if err != nil || got != want {
			t.Errorf("%s: %+v (%v), want %+v", name, got, err, want)
		}
	}
	// Leaving one out: each row's two nearest are of its own label, so at
	// k=2 every row is named right. At k=5 all the others vote, three of
	// the other label against two of its own, but the nearer ones weigh
	// exp(sim/0.07), far more: still every row right.
	for _, k := range []int{2, 5} {
		got, err := KNN(setOf(t, bank), bankY, nil, nil, KNNConfig{K: k})
		want := KNNScore{Accuracy: 1, K: k, Images: 6, Bank: 6, LeaveOneOut: true}
		if err != nil || got != want {
			t.Errorf("leave-one-out k=%d: %+v (%v), want %+v", k, got, err, want)
		}
	}
	// At a high temperature the votes weigh about the same: at k=5 every
	// row is outvoted 3 to 2.
	if got, err := KNN(setOf(t, bank), bankY, nil, nil, KNNConfig{K: 5, Temperature: 1000}); err != nil || got.Accuracy != 0 {
		t.Errorf("leave-one-out k=5, T=1000: %+v (%v), want accuracy 0", got, err)
	}
	// A query whose label no bank row has is wrong.
	if got, err := KNN(setOf(t, bank), bankY, setOf(t, queries[:1]), []string{"c"}, KNNConfig{}); err != nil || got.Accuracy != 0 {
		t.Errorf("a query of an unknown label: %+v (%v)", got, err)
	}
}

// TestKNNAgainstPlainVote compares KNN with plainKNN on blobs that
// overlap, so that some photos are misnamed.
func TestKNNAgainstPlainVote(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 7))
	const dim = 10
	draw := func(n int) ([][]float64, []string) {
		var rows [][]float64
		var y []string
		for range n {
			c := rng.IntN(3)
			r := make([]float64, dim)
			for j := range r {
				r[j] = rng.NormFloat64()
			}
			r[c] += 2.5 // a class pulls one axis
			rows, y = append(rows, r), append(y, "class "+strconv.Itoa(c))
		}
		return rows, y
	}
	bank, bankY := draw(120)
	queries, queryY := draw(80)
	for _, k := range []int{1, 5, 20} {
		for _, temp := range []float64{0.07, 0.5} {
			cfg := KNNConfig{K: k, Temperature: temp}
			got, err := KNN(setOf(t, bank), bankY, setOf(t, queries), queryY, cfg)
			want := plainKNN(bank, bankY, queries, queryY, k, temp, false)
			if err != nil || got.Accuracy != want {
				t.Errorf("k=%d T=%v: %v (%v), the plain vote %v", k, temp, got.Accuracy, err, want)
			}
			if want == 1 || want < 0.4 {
				t.Errorf("k=%d T=%v: accuracy %v: the blobs should overlap and still be told apart", k, temp, want)
			}
			got, err = KNN(setOf(t, bank), bankY, nil, nil, cfg)
			want = plainKNN(bank, bankY, bank, bankY, k, temp, true)
			if err != nil || got.Accuracy != want || !got.LeaveOneOut || got.Images != len(bank) {
				t.Errorf("leave-one-out k=%d T=%v: %+v (%v), the plain vote %v", k, temp, got, err, want)
			}
		}
	}
}

func TestKNNErrors(t *testing.T) {
	t.Parallel()
	s := setOf(t, [][]float64{{1, 0}, {0, 1}})
	for name, c := range map[string]struct {
		bank    *Set
		bankY   []string
		q       *Set
		qY      []string
		cfg     KNNConfig
		wantErr error
	}{
		"labels missing":           {s, []string{"a"}, nil, nil, KNNConfig{}, ErrNoLabels},
		"an empty label":           {s, []string{"a", ""}, nil, nil, KNNConfig{}, ErrNoLabels},
		"query labels missing":     {s, []string{"a", "b"}, s, nil, KNNConfig{}, ErrNoLabels},
		"one label, leave-one-out": {s, []string{"a", "a"}, nil, nil, KNNConfig{}, ErrOneClass},
		"empty bank":               {&Set{}, nil, nil, nil, KNNConfig{}, ErrNoPhotos},
		"k -1":                     {s, []string{"a", "b"}, nil, nil, KNNConfig{K: -1}, nil},
		"temperature -1":           {s, []string{"a", "b"}, nil, nil, KNNConfig{Temperature: -1}, nil},
		"queries of another width": {s, []string{"a", "b"}, setOf(t, [][]float64{{1, 0, 0}}), []string{"a"}, KNNConfig{}, nil},
	} {
		_, err := KNN(c.bank, c.bankY, c.q, c.qY, c.cfg)
		if err == nil || c.wantErr != nil && !errors.Is(err, c.wantErr) {
			t.Errorf("%s: error %v, want %v", name, err, c.wantErr)
		}
	}
}

// kindPhoto is a photo of one of two kinds: reddish horizontal stripes
// (kind 0) or bluish vertical ones (kind 1), with noise.
func kindPhoto(kind int, rng *rand.Rand) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, 48, 48))
	period := 4 + rng.IntN(4)
	for y := range 48 {
		for x := range 48 {
			v := uint8(rng.IntN(50))
			c := color.NRGBA{200 + v, 60 + v, 40, 255}
			if kind == 1 {
				c = color.NRGBA{40, 60 + v, 200 + v, 255}
			}
			if kind == 0 && (y/period)%2 == 0 || kind == 1 && (x/period)%2 == 0 {
				c.R, c.G, c.B = c.R/3, c.G/3, c.B/3
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// TestKNNPhotos measures a random trunk on two kinds of photos, which
// its features tell apart, and checks that the trunk is left as it was.
func TestKNNPhotos(t *testing.T) {
	t.Parallel()
	trunk, err := core.NewTrunk(core.TrunkConfig{}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	before := trunk.Clone()
	rng := rand.New(rand.NewPCG(3, 4))
	var photos []*image.NRGBA
	var labels []string
	for i := range 24 {
		photos, labels = append(photos, kindPhoto(i%2, rng)), append(labels, []string{"red", "blue"}[i%2])
	}
	for _, embed := range []EmbedConfig{{}, {Block: 3, Grid: 1, Side: 32}} {
		cfg := KNNConfig{K: 5, Embed: embed}
		loo, err := KNNPhotos(trunk, photos, labels, nil, nil, cfg)
		if err != nil || loo.Accuracy < 0.9 || loo.Images != 24 || loo.K != 5 || !loo.LeaveOneOut {
			t.Errorf("%+v: leave-one-out %+v (%v), want at least 0.9 of 24", embed, loo, err)
		}
		q, err := KNNPhotos(trunk, photos[:16], labels[:16], photos[16:], labels[16:], cfg)
		if err != nil || q.Accuracy < 0.9 || q.Images != 8 || q.Bank != 16 || q.LeaveOneOut {
			t.Errorf("%+v: queries %+v (%v), want at least 0.9 of 8", embed, q, err)
		}
	}
	// The trunk's parameters and running statistics are untouched.
	for l := range trunk.Layers {
		a, b := trunk.Layers[l], before.Layers[l]
		for i, pair := range [][2]*core.ConvBN{{a, b}} {
			for _, p := range [][2][]float32{
				{pair[0].W.Value().Data().F32(), pair[1].W.Value().Data().F32()},
				{pair[0].Gamma.Value().Data().F32(), pair[1].Gamma.Value().Data().F32()},
				{pair[0].Beta.Value().Data().F32(), pair[1].Beta.Value().Data().F32()},
				{pair[0].RunMean.Value().Data().F32(), pair[1].RunMean.Value().Data().F32()},
				{pair[0].RunVar.Value().Data().F32(), pair[1].RunVar.Value().Data().F32()},
			} {
				if !slices.Equal(p[0], p[1]) {
					t.Fatalf("layer %d (%d) changed", l, i)
				}
			}
		}
	}
	// Calibrating on every bank photo is the default; on fewer, the
	// statistics differ a little.
	all, _ := KNNPhotos(trunk, photos[:16], labels[:16], photos[16:], labels[16:], KNNConfig{})
	if c, err := KNNPhotos(trunk, photos[:16], labels[:16], photos[16:], labels[16:], KNNConfig{Calibrate: 100}); err != nil || c != all {
		t.Errorf("calibrating on more photos than the bank's 16: %+v (%v), by default %+v", c, err, all)
	}
	if c, err := KNNPhotos(trunk, photos[:16], labels[:16], photos[16:], labels[16:], KNNConfig{Calibrate: 4}); err != nil || c.Accuracy < 0.9 {
		t.Errorf("calibrating on 4 photos: %+v (%v)", c, err)
	}
	if _, err := KNNPhotos(trunk, photos, labels, nil, nil, KNNConfig{Calibrate: -1}); err == nil {
		t.Error("calibrating on -1 photos: no error")
	}
	if _, err := KNNPhotos(trunk, photos, labels[:3], nil, nil, KNNConfig{}); !errors.Is(err, ErrNoLabels) {
		t.Errorf("3 labels for 24 photos: %v", err)
	}
	if _, err := KNNPhotos(trunk, photos, labels, []*image.NRGBA{}, []string{}, KNNConfig{}); !errors.Is(err, ErrNoPhotos) {
		t.Errorf("no queries: %v", err)
	}
}
