package tasks

import (
	"encoding/json"
	"image"
	"image/color"
	"math"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/nlpodyssey/spago/mat"

	"github.com/pretextlab/pretext/core"
)

func TestColorizationSoftEncode(t *testing.T) {
	t.Parallel()
	rng := testRNG(70)
	for range 200 {
		a, b := rng.Float64()*220-110, rng.Float64()*220-115
		idx, w := softEncode(a, b, 5)
		// Independent: sort all bins by distance.
		order := make([]int, len(abBins))
		for i := range order {
			order[i] = i
		}
		d := func(q int) float64 { return math.Hypot(a-float64(abBins[q][0]), b-float64(abBins[q][1])) }
		sort.SliceStable(order, func(i, j int) bool { return d(order[i]) < d(order[j]) })
		var sum float64
		for k := range idx {
			if math.Abs(d(idx[k])-d(order[k])) > 1e-9 {
				t.Fatalf("ab (%.2f, %.2f): bin %d is %v at %.3f, want distance %.3f", a, b, k, abBins[idx[k]], d(idx[k]), d(order[k]))
			}
			want := math.Exp(-d(idx[k]) * d(idx[k]) / 50)
			var norm float64
			for j := range idx {
				norm += math.Exp(-d(idx[j]) * d(idx[j]) / 50)
			}
			if math.Abs(float64(w[k])-want/norm) > 1e-6 {
				t.Fatalf("ab (%.2f, %.2f): weight %d = %v, want %v", a, b, k, w[k], want/norm)
			}
			if k > 0 && w[k] > w[k-1] {
				t.Fatalf("weights not decreasing: %v", w)
			}
			sum += float64(w[k])
		}
		if math.Abs(sum-1) > 1e-6 {
			t.Fatalf("weights sum to %v", sum)
		}
	}
	// A bin centre gets the largest weight, its 4 grid neighbours the rest.
	idx, w := softEncode(20, -30, 5)
	if abBins[idx[0]] != [2]int{20, -30} || !(w[0] > 0.6) {
		t.Errorf("softEncode(bin centre) = %v %v", idx, w)
	}
}

func TestColorizationRebalance(t *testing.T) {
	t.Parallel()
	q := len(abBins)
	// No data: uniform prior, all weights 1.
	p := smoothPrior(make([]float64, q), 5)
	for i, w := range rebalanceWeights(p, 0.5) {
		if math.Abs(p[i]-1/float64(q)) > 1e-12 || math.Abs(w-1) > 1e-9 {
			t.Fatalf("empty prior: p[%d] = %v, w = %v", i, p[i], w)
		}
	}
	rng := testRNG(71)
	counts := make([]float64, q)
	for range 50 {
		counts[rng.IntN(q)] += rng.Float64() * 100
	}
	counts[0] = 1e4 // a dominant colour
	p = smoothPrior(counts, 5)
	for _, lambda := range []float64{0.1, 0.5, 1} {
		w := rebalanceWeights(p, lambda)
		var s, ps float64
		for i := range p {
			s += p[i] * w[i]
			ps += p[i]
			if !(w[i] > 0) {
				t.Fatalf("weight %d = %v", i, w[i])
			}
		}
		if math.Abs(s-1) > 1e-9 || math.Abs(ps-1) > 1e-9 {
			t.Errorf("lambda %v: Σ p̃·w = %v, Σ p̃ = %v, want 1", lambda, s, ps)
		}
		if lambda < 1 && !(w[0] < w[q/2]) {
			t.Errorf("lambda %v: common colour weighs %v, rare %v", lambda, w[0], w[q/2])
		}
	}
	// Smoothing spreads mass to neighbours only.
	one := make([]float64, q)
	one[100] = 1
	p = smoothPrior(one, 5)
	for i, v := range p {
		da, db := abBins[i][0]-abBins[100][0], abBins[i][1]-abBins[100][1]
		if want := math.Exp(-float64(da*da+db*db) / 50); v > 0 && want == 0 || p[100] <= v && i != 100 {
			t.Errorf("smoothed one-hot: p[%d] = %v", i, v)
		}
	}
}

// smallColorization returns the task with fast test settings.
func smallColorization(t testing.TB, trunk *core.Trunk, seed uint64) *Colorization {
	t.Helper()
	task, err := New("colorization", json.RawMessage(`{"size":32,"hidden":32}`), trunk, testRNG(seed))
	if err != nil {
		t.Fatal(err)
	}
	return task.(*Colorization)
}

// TestColorizationExamples checks the example against an independent
// construction on a flat-coloured photo: grey input of the colour's L*,
// target the colour's ab everywhere, and one unit of prior mass once a
// training step (not an evaluation) has seen it.
func TestColorizationExamples(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 1)
	c := smallColorization(t, trunk, 2)
	if h, w := c.TargetSize(); h != 8 || w != 8 {
		t.Fatalf("target size %dx%d, want 8x8 (32 input, two pools)", h, w)
	}
	img := image.NewNRGBA(image.Rect(0, 0, 50, 40))
	col := color.NRGBA{200, 60, 30, 255}
	for y := range 40 {
		for x := range 50 {
			img.SetNRGBA(x, y, col)
		}
	}
	exs, err := c.Examples(nil, img, testRNG(3))
	if err != nil {
		t.Fatal(err)
	}
	if len(exs) != 1 {
		t.Fatalf("%d examples, want 1", len(exs))
	}
	ex := exs[0]
	l, a, b := rgbToLab(col.R, col.G, col.B)
	if len(ex.Target) != 2*64 {
		t.Fatalf("target has %d values, want 128", len(ex.Target))
	}
	for i := range 64 {
		if math.Abs(float64(ex.Target[i])-a) > 1e-3 || math.Abs(float64(ex.Target[64+i])-b) > 1e-3 {
			t.Fatalf("target %d = (%v, %v), want (%.3f, %.3f)", i, ex.Target[i], ex.Target[64+i], a, b)
		}
	}
	v := ex.Views[0]
	if v.C != 3 || v.H != 32 || v.W != 32 {
		t.Fatalf("view is %dx%dx%d, want 3x32x32", v.C, v.H, v.W)
	}
	grey := v.Image(core.ImageNetNorm)
	g := grey.NRGBAAt(5, 7)
	gl, _, _ := rgbToLab(g.R, g.G, g.B)
	if g.R != g.G || g.G != g.B || math.Abs(gl-l) > 0.5 {
		t.Errorf("view pixel %v (L* %.2f), want a grey of L* %.2f", g, gl, l)
	}
	for _, v := range c.priorCounts() {
		if v != 0 {
			t.Fatal("making an example changed the prior")
		}
	}
	if _, _, err := c.Loss(trunk, exs[:1], false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Loss(trunk, exs[:1], true); err != nil {
		t.Fatal(err)
	}
	prior := c.priorCounts()
	var total float64
	for _, p := range prior {
		total += p
	}
	if math.Abs(total-1) > 1e-5 {
		t.Errorf("prior mass %v after one training example (and one evaluated), want 1", total)
	}
	idx, w := softEncode(a, b, 5)
	for k := range idx {
		if math.Abs(prior[idx[k]]-float64(w[k])) > 1e-5 {
			t.Errorf("prior[%v] = %v, want %v", abBins[idx[k]], prior[idx[k]], w[k])
		}
	}
	// A photo it cannot use is an error.
	if _, err := c.Examples(nil, image.NewNRGBA(image.Rect(0, 0, 0, 0)), testRNG(4)); err == nil {
		t.Errorf("empty photo: no error")
	}
}

func TestAreaMean(t *testing.T) {
	t.Parallel()
	plane := make([]float64, 6*4) // 6 wide, 4 high
	for i := range plane {
		plane[i] = float64(i)
	}
	dst := make([]float32, 2*3)
	areaMean(dst, plane, 6, 4, 2, 3)
	// Cell (0,0) covers x 0-1, y 0-1: 0, 1, 6, 7.
	want := []float32{3.5, 5.5, 7.5, 15.5, 17.5, 19.5}
	if !slices.Equal(dst, want) {
		t.Errorf("areaMean = %v, want %v", dst, want)
	}
}

func TestColorizationConfig(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 1)
	for _, cfg := range []string{
		`{"size":-1}`, `{"size":100000}`, `{"size":2}`, `{"lambda":2}`, `{"temperature":-1}`,
		`{"sigma":-5}`, `{"hidden":-1}`, `{"min_scale":1.5}`, `{"jitter":0.4}`, `{"nope":1}`,
	} {
		if _, err := New("colorization", json.RawMessage(cfg), trunk, testRNG(1)); err == nil {
			t.Errorf("config %s: no error", cfg)
		}
	}
	task, err := New("colorization", nil, trunk, testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	c := task.(*Colorization)
	want := ColorizationConfig{Size: 64, MinScale: 0.25, Hidden: 64, Temperature: 0.38, Lambda: 0.5, Sigma: 5}
	if c.Config() != want || c.InputSize() != 64 {
		t.Errorf("defaults %+v, want %+v", c.Config(), want)
	}
	if h, w := c.TargetSize(); h != 16 || w != 16 {
		t.Errorf("target size %dx%d at 64, want 16x16", h, w)
	}
	if sh := c.W2.Shape(); sh[0] != 313 || sh[1] != 64 {
		t.Errorf("classifier is %v, want [313 64]", sh)
	}
}

// TestColorizationTrains checks the loss falls on the sample photos, ends
// below predicting the prior everywhere, survives a checkpoint round trip
// (prior included) and gives predictions.
func TestColorizationTrains(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the sample photos; -short skips it")
	}
	t.Parallel()
	photos := testPhotos(t)
	trunk := smallTrunk(t, 5)
	c := smallColorization(t, trunk, 6)
	// Warm the prior up on the photos first, as a run's first batches do.
	warm, err := Batch(c, photos, 64, testRNG(7))
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range warm {
		c.addToPrior(ex.Target)
	}
	start := time.Now()
	losses, tr := trainLosses(t, trunk, c, photos, core.TrainConfig{Optimizer: "adam", LR: 3e-3}, 40, 8, 8)
	t.Logf("40 steps of 8 in %v", time.Since(start))
	checkLossFalls(t, losses, 5, 0.9)

	held, err := Batch(c, photos, 32, testRNG(9))
	if err != nil {
		t.Fatal(err)
	}
	loss, score, err := tr.Evaluate(held)
	if err != nil {
		t.Fatal(err)
	}
	base := c.BaselineLoss(held)
	t.Logf("eval loss %.4f (accuracy %.3f) vs predicting the prior %.4f", loss, score.Accuracy, base)
	if !(loss < base) {
		t.Errorf("eval loss %.4f does not beat predicting the prior (%.4f)", loss, base)
	}

	got := checkpointRoundTrip(t, tr, held)
	gc := got.Head.(*Colorization)
	if !slices.Equal(mat.Data[float32](gc.Prior.Value()), mat.Data[float32](c.Prior.Value())) {
		t.Errorf("prior not restored from the checkpoint")
	}

	// Predict on a photo and on a grey photo.
	for _, img := range []*image.NRGBA{photos[0], greyCopy(photos[1])} {
		p, err := c.Predict(trunk, img, testRNG(10))
		if err != nil {
			t.Fatal(err)
		}
		if p.Image == nil || p.Image.Bounds() != img.Bounds() || p.Input == nil || p.Input.Bounds() != img.Bounds() {
			t.Fatalf("prediction images %v / %v, want %v", p.Image.Bounds(), p.Input.Bounds(), img.Bounds())
		}
		if p.Summary == "" {
			t.Errorf("no summary")
		}
		for i := 3; i < len(p.Image.Pix); i += 4 {
			if p.Image.Pix[i] != 255 {
				t.Fatalf("prediction not opaque")
			}
		}
		// Lightness is kept: the colourised photo's L* is close to the input's.
		var dl float64
		b := img.Bounds()
		for y := 0; y < b.Dy(); y += 7 {
			for x := 0; x < b.Dx(); x += 7 {
				o, q := img.NRGBAAt(x+b.Min.X, y+b.Min.Y), p.Image.NRGBAAt(x, y)
				lo, _, _ := rgbToLab(o.R, o.G, o.B)
				lq, _, _ := rgbToLab(q.R, q.G, q.B)
				dl = max(dl, math.Abs(lo-lq))
			}
		}
		t.Logf("%s; max |ΔL*| %.1f", p.Summary, dl)
		if dl > 30 { // clipping out-of-gamut colours may change L* a little
			t.Errorf("lightness changed by up to %.1f", dl)
		}
	}
}

// greyCopy returns img's luminance as a grey image.
func greyCopy(img *image.NRGBA) *image.NRGBA {
	b := img.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			c := img.NRGBAAt(x+b.Min.X, y+b.Min.Y)
			g := uint8((299*int(c.R) + 587*int(c.G) + 114*int(c.B)) / 1000)
			out.SetNRGBA(x, y, color.NRGBA{g, g, g, 255})
		}
	}
	return out
}

func TestColorizationLossErrors(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 1)
	c := smallColorization(t, trunk, 2)
	exs, err := Batch(c, testPhotos(t), 2, testRNG(3))
	if err != nil {
		t.Fatal(err)
	}
	bad := slices.Clone(exs)
	bad[1].Target = bad[1].Target[:10]
	if _, _, err := c.Loss(trunk, bad, false); err == nil {
		t.Errorf("short target: no error")
	}
	bad = slices.Clone(exs)
	bad[0].Views = nil
	if _, _, err := c.Loss(trunk, bad, false); err == nil {
		t.Errorf("no view: no error")
	}
}

func TestBilinear(t *testing.T) {
	t.Parallel()
	// Constant planes stay constant; a 1x1 plane spreads; 2x1 -> 4x1 is
	// linear between the centres.
	out := bilinear([]float64{3}, 1, 1, 4, 3)
	for _, v := range out {
		if v != 3 {
			t.Fatalf("bilinear of a constant: %v", out)
		}
	}
	out = bilinear([]float64{0, 4}, 2, 1, 4, 1)
	want := []float64{0, 1, 3, 4}
	for i := range want {
		if math.Abs(out[i]-want[i]) > 1e-12 {
			t.Fatalf("bilinear 2->4 = %v, want %v", out, want)
		}
	}
}
