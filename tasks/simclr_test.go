package tasks

import (
	"encoding/json"
	"image"
	"image/color"
	"math"
	"strings"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/pretextlab/pretext/core"
)

func newTestSimCLR(t *testing.T, trunk *core.Trunk, cfg SimCLRConfig) *SimCLR {
	t.Helper()
	s, err := NewSimCLR(cfg, trunk, testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestShiftHue checks hue turns against the primaries: a third of a turn
// takes red to green and green to blue; grey has no hue; a whole turn
// changes nothing.
func TestShiftHue(t *testing.T) {
	t.Parallel()
	img := image.NewNRGBA(image.Rect(0, 0, 4, 1))
	for x, c := range []color.NRGBA{{255, 0, 0, 255}, {0, 255, 0, 255}, {128, 128, 128, 200}, {200, 100, 50, 255}} {
		img.SetNRGBA(x, 0, c)
	}
	for _, tc := range []struct {
		name  string
		turns float64
		want  []color.NRGBA
	}{
		{"third", 1.0 / 3, []color.NRGBA{{0, 255, 0, 255}, {0, 0, 255, 255}, {128, 128, 128, 200}}},
		{"minus third", -1.0 / 3, []color.NRGBA{{0, 0, 255, 255}, {255, 0, 0, 255}, {128, 128, 128, 200}}},
		{"half", 0.5, []color.NRGBA{{0, 255, 255, 255}, {255, 0, 255, 255}, {128, 128, 128, 200}}},
		{"whole", 1, []color.NRGBA{{255, 0, 0, 255}, {0, 255, 0, 255}, {128, 128, 128, 200}, {200, 100, 50, 255}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := shiftHue(img, tc.turns)
			for x, w := range tc.want {
				if c := got.NRGBAAt(x, 0); c != w {
					t.Errorf("pixel %d: %v, want %v", x, c, w)
				}
			}
		})
	}
	// Orange (200,100,50) is hue 20°: half a turn gives 200°, the colour
	// with the same max and min and the middle channel mirrored: (50,150,200).
	if c := shiftHue(img, 0.5).NRGBAAt(3, 0); c != (color.NRGBA{50, 150, 200, 255}) {
		t.Errorf("orange turned half: %v, want {50 150 200 255}", c)
	}
	if img.NRGBAAt(0, 0) != (color.NRGBA{255, 0, 0, 255}) {
		t.Errorf("shiftHue modified its input")
	}
}

// TestSimCLRExamples checks an example's two views: trunk-sized, made by
// two draws of the augmentation (so they differ), grey when grey_prob is 1,
// and, for a flat photo with colour changes off, the photo's colour.
func TestSimCLRExamples(t *testing.T) {
	t.Parallel()
	photos := testPhotos(t)
	trunk := smallTrunk(t, 1)
	s := newTestSimCLR(t, trunk, SimCLRConfig{})
	rng := testRNG(2)
	for i, img := range photos[:4] {
		exs, err := s.Examples(nil, img, rng)
		if err != nil {
			t.Fatal(err)
		}
		if len(exs) != 1 || len(exs[0].Views) != 2 {
			t.Fatalf("photo %d: %d examples, want 1 with 2 views", i, len(exs))
		}
		a, b := exs[0].Views[0], exs[0].Views[1]
		for _, v := range exs[0].Views {
			if v.C != 3 || v.H != 32 || v.W != 32 {
				t.Fatalf("view is %dx%dx%d, want 3x32x32", v.C, v.H, v.W)
			}
		}
		if planarEqual(a, b) {
			t.Errorf("photo %d: the two views are equal", i)
		}
	}

	grey := newTestSimCLR(t, trunk, SimCLRConfig{ViewConfig: ViewConfig{GreyProb: 1}})
	exs, err := grey.Examples(nil, photos[0], rng)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range exs[0].Views {
		im := v.Image(core.ImageNetNorm)
		for i := 0; i < len(im.Pix); i += 4 {
			if p := im.Pix[i : i+3]; max(p[0], p[1], p[2])-min(p[0], p[1], p[2]) > 1 {
				t.Fatalf("grey_prob 1: pixel %d is %v", i/4, p)
			}
		}
	}

	flat := imaging.New(50, 40, color.NRGBA{30, 160, 90, 255})
	plain := newTestSimCLR(t, trunk, SimCLRConfig{ViewConfig: ViewConfig{Jitter: -1, GreyProb: -1}})
	want := core.PlanarFromImage(imaging.New(32, 32, color.NRGBA{30, 160, 90, 255}), core.ImageNetNorm)
	exs, err = plain.Examples(nil, flat, rng)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range exs[0].Views {
		if !planarEqual(v, want) {
			t.Errorf("a flat photo's view without colour changes is not the photo's colour")
		}
	}
}

// TestSimCLREmbeddingRows checks that Loss pairs the views of one example:
// in evaluation mode each view's embedding depends on it alone, so the rows
// of example 1 of a batch equal those of a batch holding it alone.
func TestSimCLREmbeddingRows(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 3)
	s := newTestSimCLR(t, trunk, SimCLRConfig{Proj: 8})
	batch, err := Batch(s, testPhotos(t), 3, testRNG(4))
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.Embeddings(trunk, batch, false)
	if err != nil {
		t.Fatal(err)
	}
	one, err := s.Embeddings(trunk, batch[1:2], false)
	if err != nil {
		t.Fatal(err)
	}
	if sh := all.Shape(); sh[0] != 6 || sh[1] != 8 {
		t.Fatalf("embeddings have shape %v, want [6 8]", sh)
	}
	a, o := all.Value().Data().F32(), one.Value().Data().F32()
	for k, v := range o {
		if d := math.Abs(float64(a[2*8+k] - v)); d > 1e-5 {
			t.Fatalf("row %d of example 1 alone is %v, in the batch %v", k/8, v, a[2*8+k])
		}
	}
	// The loss is NT-Xent of these rows; a batch of N has the baseline
	// ln(2N-1) of equal similarities.
	if got, want := s.BaselineLoss(batch), math.Log(5); got != want {
		t.Errorf("baseline %v, want ln 5", got)
	}
}

// TestSimCLRLossFalls trains a small trunk on the sample photos. The
// colour distortions are milder than the defaults' (they are what makes
// the task hard: with the defaults the loss falls about 5% in 60 steps),
// so a few dozen steps show the loss falling.
func TestSimCLRLossFalls(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the sample photos; -short skips it")
	}
	t.Parallel()
	trunk := smallTrunk(t, 5)
	s := newTestSimCLR(t, trunk, SimCLRConfig{ViewConfig: ViewConfig{MinScale: 0.5, JitterProb: 0.5, GreyProb: -1}})
	losses, _ := trainLosses(t, trunk, s, testPhotos(t), core.TrainConfig{Optimizer: "adam", LR: 3e-3}, 60, 16, 6)
	checkLossFalls(t, losses, 5, 0.85)
}

// TestSimCLRSpecCheckpoint rebuilds the task from its spec and from a
// checkpoint.
func TestSimCLRSpecCheckpoint(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 7)
	s := newTestSimCLR(t, trunk, SimCLRConfig{ViewConfig: ViewConfig{Size: 24, BlurProb: 0.5}, Proj: 16, Temperature: 0.2})
	got, err := Resolve(s.Spec(), trunk)
	if err != nil {
		t.Fatal(err)
	}
	s2, ok := got.(*SimCLR)
	if !ok {
		t.Fatalf("Resolve gave %T", got)
	}
	if s2.Config() != s.Config() || s2.InputSize() != 24 || s2.Config().Hidden != trunk.Features() {
		t.Errorf("resolved config %+v, want %+v", s2.Config(), s.Config())
	}
	photos := testPhotos(t)
	_, tr := trainLosses(t, trunk, s, photos, core.TrainConfig{Optimizer: "adam"}, 2, 8, 8)
	batch, err := Batch(s, photos, 8, testRNG(9))
	if err != nil {
		t.Fatal(err)
	}
	checkpointRoundTrip(t, tr, batch)
}

// TestSimCLRPredict checks the nearest neighbours against a search of
// trunk.Embed's features done here, and the montage's layout.
func TestSimCLRPredict(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 10)
	s := newTestSimCLR(t, trunk, SimCLRConfig{Neighbors: 3})
	photos := testPhotos(t)
	query := photos[2]

	p, err := s.Predict(trunk, query, testRNG(11))
	if err != nil {
		t.Fatal(err)
	}
	if b := p.Image.Bounds(); b.Dx() != thumbSide+2*tileGap {
		t.Errorf("before any refresh the montage is %v, want the photo alone", b)
	}

	if !s.NeedsRefresh(5) {
		t.Errorf("no refresh asked for before the first photos")
	}
	msg, err := Prepare(s, trunk, photos, 0, testRNG(12))
	if err != nil || msg == "" {
		t.Fatalf("Prepare: %q, %v", msg, err)
	}
	if s.NeedsRefresh(1) {
		t.Errorf("refresh asked for again after the first")
	}
	if p, err = s.Predict(trunk, query, testRNG(11)); err != nil {
		t.Fatal(err)
	}
	if b := p.Image.Bounds(); b.Dx() != 4*thumbSide+5*tileGap || b.Dy() != thumbSide+2*tileGap {
		t.Errorf("montage is %v, want 4 photos in a row", b)
	}
	if b := p.Input.Bounds(); b.Dx() != 32 || b.Dy() != 32 {
		t.Errorf("input is %v, want 32x32", b)
	}
	first := imaging.Crop(p.Image, image.Rect(tileGap, tileGap, tileGap+thumbSide, tileGap+thumbSide))
	if !imagesEqual(first, core.CenterCrop(query, thumbSide)) {
		t.Errorf("the montage does not start with the photo")
	}

	// Independent search: cosine of the features, best first, the query
	// itself excluded.
	views, err := centreViews(photos, 32, 3)
	if err != nil {
		t.Fatal(err)
	}
	feats, err := trunk.Embed(views)
	if err != nil {
		t.Fatal(err)
	}
	best, next := -1, -1
	for i := range photos {
		if i == 2 {
			continue
		}
		c := cosine(feats[2], feats[i])
		if best < 0 || c > cosine(feats[2], feats[best]) {
			best, next = i, best
		} else if next < 0 || c > cosine(feats[2], feats[next]) {
			next = i
		}
	}
	want := "nearest: photos #" + itoa(best) + ", #" + itoa(next) + ", #"
	if !strings.HasPrefix(p.Summary, want) {
		t.Errorf("summary %q, want it to start %q", p.Summary, want)
	}
	second := imaging.Crop(p.Image, image.Rect(2*tileGap+thumbSide, tileGap, 2*tileGap+2*thumbSide, tileGap+thumbSide))
	if !imagesEqual(second, core.CenterCrop(photos[best], thumbSide)) {
		t.Errorf("the montage's second photo is not the nearest, #%d", best)
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// imagesEqual reports whether a and b have the same size and pixels.
func imagesEqual(a, b *image.NRGBA) bool {
	if a.Bounds().Size() != b.Bounds().Size() {
		return false
	}
	ca, cb := imaging.Clone(a), imaging.Clone(b)
	for i := range ca.Pix {
		if ca.Pix[i] != cb.Pix[i] {
			return false
		}
	}
	return true
}

// TestSimCLRHeldOut scores held-out photos: SimCLR is a Refresher, so
// HeldOutScore asks it to assign them first, which it does not need.
func TestSimCLRHeldOut(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 13)
	s := newTestSimCLR(t, trunk, SimCLRConfig{})
	tr, err := core.NewTrainer(trunk, s, core.TrainConfig{})
	if err != nil {
		t.Fatal(err)
	}
	photos := testPhotos(t)[:8]
	h, err := HeldOutScore(tr, s, photos, 1, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	if h.Examples != 8 || !(h.Accuracy >= 0 && h.Accuracy <= 1) || !(h.Loss > 0) {
		t.Errorf("held-out score %+v", h)
	}
	// Two batches of 4 examples: 8 views, 7 others each.
	if want := math.Log(7); math.Abs(h.BaselineLoss-want) > 1e-12 {
		t.Errorf("baseline %v, want ln 7", h.BaselineLoss)
	}
}

func TestSimCLRErrors(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 14)
	s := newTestSimCLR(t, trunk, SimCLRConfig{})
	for _, img := range []*image.NRGBA{nil, image.NewNRGBA(image.Rect(0, 0, 0, 5))} {
		if _, err := s.Examples(nil, img, testRNG(1)); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
			t.Errorf("Examples(%v): error %v", img, err)
		}
		if _, err := s.Predict(trunk, img, testRNG(1)); err == nil {
			t.Errorf("Predict(%v): no error", img)
		}
	}
	for _, cfg := range []string{`{"size":-1}`, `{"size":1}`, `{"min_scale":2}`, `{"jitter":3}`,
		`{"grey_prob":1.5}`, `{"proj":-2}`, `{"temperature":-1}`, `{"neighbors":100}`, `{"bogus":1}`, `[`} {
		if _, err := New("simclr", json.RawMessage(cfg), trunk, testRNG(1)); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
			t.Errorf("config %s: error %v", cfg, err)
		}
	}
	one := core.Example{Views: []core.Planar{core.NewPlanar(3, 32, 32)}}
	for _, batch := range [][]core.Example{nil, {{}}, {one}} {
		if _, _, err := s.Loss(trunk, batch, true); err == nil {
			t.Errorf("Loss on %d examples with bad views: no error", len(batch))
		}
	}
	if _, err := s.Refresh(trunk, nil, testRNG(1)); err == nil {
		t.Errorf("Refresh with no photos: no error")
	}
}
