package tasks

import (
	"encoding/json"
	"image"
	"image/color"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/pretextlab/pretext/core"
)

func newTestExemplar(t *testing.T, trunk *core.Trunk, cfg ExemplarConfig) *Exemplar {
	t.Helper()
	e, err := NewExemplar(cfg, trunk, testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// plainExemplar has every transformation off: a view is the seed itself.
var plainExemplar = ExemplarConfig{Shift: -1, MinZoom: 1, MaxZoom: 1, Rotate: -1, Jitter: -1, Noise: -1}

// TestSeedCorners puts a textured square on a flat photo: the first seed
// covers it, the second is at least half a seed away.
func TestSeedCorners(t *testing.T) {
	t.Parallel()
	img := imaging.New(96, 128, color.Gray{Y: 120})
	for y := 20; y < 52; y++ {
		for x := 50; x < 82; x++ {
			if (x/3+y/3)%2 == 0 {
				img.Set(x, y, image.White)
			}
		}
	}
	got := seedCorners(img, 32, 20)
	if len(got) != 20 {
		t.Fatalf("%d corners, want 20", len(got))
	}
	if d := got[0].Sub(image.Pt(50, 20)); abs(d.X) > 4 || abs(d.Y) > 4 {
		t.Errorf("best seed at %v, want near (50, 20)", got[0])
	}
	if d := got[1].Sub(got[0]); max(abs(d.X), abs(d.Y)) < 16 {
		t.Errorf("second seed at %v, within half a seed of the first at %v", got[1], got[0])
	}
	for _, p := range got {
		if p.X < 0 || p.Y < 0 || p.X+32 > 96 || p.Y+32 > 128 {
			t.Errorf("seed at %v is not inside the photo", p)
		}
	}
}

// TestSampleView checks the sampler against imaging: the identity, a
// quarter turn (imaging.Rotate90, counter-clockwise) and a 2x zoom of a
// ramp (bilinear interpolation is exact on it).
func TestSampleView(t *testing.T) {
	t.Parallel()
	src := coordImage(32)
	if got := sampleView(src, [2]float64{16, 16}, 32, 1, 0); !slices.Equal(got.Pix, src.Pix) {
		t.Errorf("identity view differs from the source")
	}
	if got, want := sampleView(src, [2]float64{16, 16}, 32, 1, math.Pi/2), imaging.Rotate90(src); !slices.Equal(got.Pix, want.Pix) {
		t.Errorf("quarter turn differs from imaging.Rotate90")
	}
	got := sampleView(src, [2]float64{16, 16}, 32, 2, 0)
	for x := range 32 {
		want := 16 + (float64(x)+0.5-16)/2 - 0.5 // the source pixel's x
		if r := float64(got.Pix[got.PixOffset(x, 10)]); math.Abs(r-want) > 0.5 {
			t.Errorf("zoomed pixel %d shows x=%v, want %v", x, r, want)
		}
	}
}

// TestExemplarClasses checks the class of every photo's seeds for fewer
// and more photos than classes, and that a plain view is the seed square
// cut from the scaled photo.
func TestExemplarClasses(t *testing.T) {
	t.Parallel()
	photos := testPhotos(t)
	trunk := smallTrunk(t, 1)
	for _, tc := range []struct {
		name            string
		photos, classes int
	}{{"fewer photos", 4, 10}, {"more photos", 6, 4}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := plainExemplar
			cfg.Classes = tc.classes
			e := newTestExemplar(t, trunk, cfg)
			if !e.NeedsRefresh(0) {
				t.Fatal("a new task does not need a refresh")
			}
			msg, err := Prepare(e, trunk, photos[:tc.photos], 0, testRNG(2))
			if err != nil || msg == "" {
				t.Fatalf("Prepare: %q, %v", msg, err)
			}
			if e.NeedsRefresh(1) {
				t.Fatal("needs a refresh after one")
			}
			rng := testRNG(3)
			for k, img := range photos[:tc.photos] {
				// Photo k holds classes k, k+P, ... below C; with P >= C
				// its one class is k mod C.
				var want []int
				for c := k % tc.classes; c < tc.classes; c += tc.photos {
					want = append(want, c)
				}
				small := imaging.Resize(img, 0, 96, imaging.Linear)
				if img.Bounds().Dx() < img.Bounds().Dy() {
					small = imaging.Resize(img, 96, 0, imaging.Linear)
				}
				corners := seedCorners(small, 32, len(want))
				seen := map[int]bool{}
				for range 30 {
					exs, err := e.Examples(nil, img, rng)
					if err != nil {
						t.Fatal(err)
					}
					c := exs[0].Class
					i := slices.Index(want, c)
					if i < 0 {
						t.Fatalf("photo %d: class %d, want one of %v", k, c, want)
					}
					seen[c] = true
					at := corners[i]
					patch := imaging.Crop(small, image.Rect(at.X, at.Y, at.X+32, at.Y+32))
					if !planarEqual(exs[0].Views[0], core.TrunkInput(patch, 3)) {
						t.Fatalf("photo %d class %d: the view is not the seed at %v", k, c, at)
					}
				}
				if len(seen) != len(want) {
					t.Errorf("photo %d: classes %v seen, want %v", k, seen, want)
				}
			}
			if _, err := e.Examples(nil, photos[tc.photos], rng); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
				t.Errorf("Examples of a photo outside the classes: error %v", err)
			}
		})
	}
}

// TestExemplarViews checks that transformed views differ from one another
// and from the seed, and stay finite.
func TestExemplarViews(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 1)
	e := newTestExemplar(t, trunk, ExemplarConfig{Classes: 4})
	photos := testPhotos(t)[:4]
	if _, err := e.Refresh(trunk, photos, testRNG(1)); err != nil {
		t.Fatal(err)
	}
	rng := testRNG(4)
	a, err := e.Examples(nil, photos[0], rng)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.Examples(nil, photos[0], rng)
	if err != nil {
		t.Fatal(err)
	}
	if a[0].Class != 0 || b[0].Class != 0 {
		t.Errorf("classes %d and %d, want 0", a[0].Class, b[0].Class)
	}
	if planarEqual(a[0].Views[0], b[0].Views[0]) {
		t.Errorf("two views of a seed are equal")
	}
	seed := core.TrunkInput(e.state().patch[0], 3)
	var d float64
	for i, v := range a[0].Views[0].Pix {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatal("view has a non-finite value")
		}
		d += math.Abs(float64(v - seed.Pix[i]))
	}
	if d/float64(len(seed.Pix)) < 0.05 {
		t.Errorf("a transformed view is nearly the seed (mean difference %v)", d/float64(len(seed.Pix)))
	}
}

// TestExemplarLossFalls trains a small trunk on the sample photos.
func TestExemplarLossFalls(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the sample photos; -short skips it")
	}
	t.Parallel()
	trunk := smallTrunk(t, 2)
	e := newTestExemplar(t, trunk, ExemplarConfig{Classes: 8})
	photos := testPhotos(t)[:4]
	if _, err := Prepare(e, trunk, photos, 0, testRNG(1)); err != nil {
		t.Fatal(err)
	}
	losses, _ := trainLosses(t, trunk, e, photos, core.TrainConfig{Optimizer: "adam", LR: 3e-3}, 40, 32, 3)
	checkLossFalls(t, losses, 5, 0.8)
}

// TestExemplarSpecCheckpoint rebuilds the task from its spec and from a
// checkpoint; refreshed with the same photos, the loaded task has the
// same seeds.
func TestExemplarSpecCheckpoint(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 4)
	e := newTestExemplar(t, trunk, ExemplarConfig{Classes: 12, Size: 24, Rotate: -1, Noise: 0.1})
	got, err := Resolve(e.Spec(), trunk)
	if err != nil {
		t.Fatal(err)
	}
	e2, ok := got.(*Exemplar)
	if !ok {
		t.Fatalf("Resolve gave %T", got)
	}
	if e2.Config() != e.Config() || e2.InputSize() != 24 {
		t.Errorf("resolved config %+v, want %+v", e2.Config(), e.Config())
	}
	photos := testPhotos(t)[:5]
	if _, err := e.Refresh(trunk, photos, testRNG(1)); err != nil {
		t.Fatal(err)
	}
	_, tr := trainLosses(t, trunk, e, photos, core.TrainConfig{Optimizer: "adam"}, 2, 8, 5)
	batch, err := Batch(e, photos, 8, testRNG(6))
	if err != nil {
		t.Fatal(err)
	}
	loaded := checkpointRoundTrip(t, tr, batch).Head.(*Exemplar)
	if !loaded.NeedsRefresh(tr.Steps()) {
		t.Fatal("a loaded task does not need a refresh")
	}
	if _, err := loaded.Refresh(trunk, photos, testRNG(99)); err != nil {
		t.Fatal(err)
	}
	for c, p := range e.state().patch {
		if q := loaded.state().patch[c]; (p == nil) != (q == nil) || (p != nil && !slices.Equal(p.Pix, q.Pix)) {
			t.Errorf("class %d's seed differs after reloading", c)
		}
	}
}

// TestExemplarAssign checks held-out labels: a refreshed photo given as
// held out gets its own class (its seed is its class's seed), the
// refreshed labels stay, and HeldOutScore runs.
func TestExemplarAssign(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 5)
	e := newTestExemplar(t, trunk, ExemplarConfig{Classes: 6})
	photos := testPhotos(t)
	if err := e.Assign(trunk, photos[6:8]); err == nil {
		t.Errorf("Assign before Refresh: no error")
	}
	if _, err := e.Refresh(trunk, photos[:6], testRNG(1)); err != nil {
		t.Fatal(err)
	}
	copies := make([]*image.NRGBA, 6)
	for i := range copies {
		copies[i] = imaging.Clone(photos[i])
	}
	if err := e.Assign(trunk, copies); err != nil {
		t.Fatal(err)
	}
	for i, img := range copies {
		if got := e.state().held[img][0].class; got != i {
			t.Errorf("copy of photo %d assigned class %d, want %d", i, got, i)
		}
	}
	tr, err := core.NewTrainer(trunk, e, core.TrainConfig{Optimizer: "sgd"})
	if err != nil {
		t.Fatal(err)
	}
	h, err := HeldOutScore(tr, e, photos[6:10], 2, 8, 1)
	if err != nil {
		t.Fatal(err)
	}
	if h.Examples != 8 || math.Abs(h.BaselineLoss-math.Log(6)) > 1e-12 || !(h.Loss > 0) {
		t.Errorf("held-out score %+v", h)
	}
	for k, img := range photos[6:10] {
		c := e.state().held[img][0].class
		if c < 0 || c >= 6 {
			t.Errorf("held-out photo %d assigned class %d", k, c)
		}
	}
	// The refreshed photos keep their classes.
	exs, err := e.Examples(nil, photos[3], testRNG(2))
	if err != nil || exs[0].Class != 3 {
		t.Errorf("photo 3 after Assign: %v, %v", exs, err)
	}
}

// TestExemplarGreyTrunk runs the task on a 1-channel trunk.
func TestExemplarGreyTrunk(t *testing.T) {
	t.Parallel()
	trunk, err := core.NewTrunk(core.TrunkConfig{InChannels: 1, Widths: []int{8, 16}}, testRNG(5))
	if err != nil {
		t.Fatal(err)
	}
	e := newTestExemplar(t, trunk, ExemplarConfig{Classes: 3, Size: 16})
	photos := testPhotos(t)[:3]
	if _, err := e.Refresh(trunk, photos, testRNG(1)); err != nil {
		t.Fatal(err)
	}
	batch, err := Batch(e, photos, 4, testRNG(6))
	if err != nil {
		t.Fatal(err)
	}
	if v := batch[0].Views[0]; v.C != 1 || v.H != 16 {
		t.Fatalf("view is %dx%dx%d", v.C, v.H, v.W)
	}
	if _, _, err := e.Loss(trunk, batch, true); err != nil {
		t.Fatal(err)
	}
	if err := e.Assign(trunk, testPhotos(t)[3:5]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Predict(trunk, photos[1], testRNG(7)); err != nil {
		t.Fatal(err)
	}
}

func TestExemplarPredict(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 7)
	e := newTestExemplar(t, trunk, ExemplarConfig{Classes: 8})
	photos := testPhotos(t)[:4]
	p, err := e.Predict(trunk, photos[0], testRNG(8))
	if err != nil {
		t.Fatal(err)
	}
	checkPrediction(t, p, 8)
	if b := p.Image.Bounds(); b.Dx() != 32 || b.Dy() != 32 || !strings.Contains(p.Summary, "not at hand") {
		t.Errorf("before Refresh: image %v, summary %q", b, p.Summary)
	}
	if _, err := e.Refresh(trunk, photos, testRNG(1)); err != nil {
		t.Fatal(err)
	}
	for _, img := range []*image.NRGBA{photos[0], testPhotos(t)[5]} {
		p, err := e.Predict(trunk, img, testRNG(8))
		if err != nil {
			t.Fatal(err)
		}
		checkPrediction(t, p, 8)
		k := topClass(p.Probs)
		if !strings.HasPrefix(p.Summary, "surrogate class "+string(rune('0'+k))+" (p=") {
			t.Errorf("summary %q, want class %d", p.Summary, k)
		}
		if b := p.Image.Bounds(); b.Dx() != 2*32+3*tileGap || b.Dy() != 32+2*tileGap {
			t.Errorf("image %v", b)
		}
		if b := p.Input.Bounds(); b.Dx() != 4*32+5*tileGap {
			t.Errorf("input %v", b)
		}
		// The image's right patch is the predicted class's seed.
		seed := e.state().patch[k]
		o := p.Image.PixOffset(2*tileGap+32+5, tileGap+7)
		if q := seed.PixOffset(5, 7); !slices.Equal(p.Image.Pix[o:o+4], seed.Pix[q:q+4]) {
			t.Errorf("image does not show class %d's seed", k)
		}
	}
}

func TestExemplarErrors(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 9)
	e := newTestExemplar(t, trunk, ExemplarConfig{Classes: 4})
	if _, err := e.Examples(nil, testPhotos(t)[0], testRNG(1)); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
		t.Errorf("Examples before Refresh: error %v", err)
	}
	for _, img := range []*image.NRGBA{nil, image.NewNRGBA(image.Rect(0, 0, 0, 5)), image.NewNRGBA(image.Rect(0, 0, 100, 15))} {
		if _, err := e.Examples(nil, img, testRNG(1)); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
			t.Errorf("Examples(%v): error %v", img, err)
		}
		if _, err := e.Predict(trunk, img, testRNG(1)); err == nil {
			t.Errorf("Predict(%v): no error", img)
		}
		if _, err := e.Refresh(trunk, []*image.NRGBA{testPhotos(t)[0], img}, testRNG(1)); err == nil {
			t.Errorf("Refresh with %v: no error", img)
		}
	}
	if _, err := e.Refresh(trunk, nil, testRNG(1)); err == nil {
		t.Errorf("Refresh without photos: no error")
	}
	if !e.NeedsRefresh(5) {
		t.Errorf("failed refreshes left the task refreshed")
	}
	for _, cfg := range []string{`{"classes":1}`, `{"classes":9000}`, `{"size":1}`, `{"size":600}`, `{"seed_frac":2}`, `{"seed_frac":-1}`, `{"shift":2}`, `{"min_zoom":2}`, `{"max_zoom":20}`, `{"rotate":200}`, `{"jitter":3}`, `{"noise":2}`, `{"bogus":1}`} {
		if _, err := New("exemplar", json.RawMessage(cfg), trunk, testRNG(1)); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
			t.Errorf("config %s: error %v", cfg, err)
		}
	}
	if _, _, err := e.Loss(trunk, []core.Example{{}}, true); err == nil {
		t.Errorf("Loss on an example without views: no error")
	}
}
