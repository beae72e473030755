package tasks

import (
	"encoding/json"
	"image"
	"strings"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/pretextlab/pretext/core"
)

func newTestRotation(t *testing.T, trunk *core.Trunk, cfg RotationConfig) *Rotation {
	t.Helper()
	r, err := NewRotation(cfg, trunk, testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRotationLabels checks each example's image against imaging.Rotate90
// applied Class times to the call's one crop.
func TestRotationLabels(t *testing.T) {
	t.Parallel()
	photos := testPhotos(t)
	r := newTestRotation(t, smallTrunk(t, 1), RotationConfig{})
	for i, img := range photos[:4] {
		seed := uint64(100 + i)
		exs, err := r.Examples(nil, img, testRNG(seed))
		if err != nil {
			t.Fatal(err)
		}
		if len(exs) != 4 {
			t.Fatalf("%d examples, want 4", len(exs))
		}
		// The same rng stream gives the same crop.
		crop := r.rotationCrop(img, testRNG(seed))
		if crop.Bounds().Dx() != 32 || crop.Bounds().Dy() != 32 {
			t.Fatalf("crop is %v, want 32x32", crop.Bounds())
		}
		want := crop
		for k, ex := range exs {
			if ex.Class != k {
				t.Errorf("example %d has class %d", k, ex.Class)
			}
			if len(ex.Views) != 1 {
				t.Fatalf("example %d has %d views", k, len(ex.Views))
			}
			if !planarEqual(ex.Views[0], core.PlanarFromImage(want, core.ImageNetNorm)) {
				t.Errorf("photo %d: example %d is not the crop turned %d times by imaging.Rotate90", i, k, k)
			}
			want = imaging.Rotate90(want)
		}
	}
	// A non-square pixel pattern: class 1 turns the top row into the left
	// column, read bottom to top (counter-clockwise).
	img := image.NewNRGBA(image.Rect(0, 0, 3, 3))
	for x := range 3 {
		img.Pix[4*x] = uint8(10 * (x + 1))
	}
	if got := rotateCCW(img, 1); got.Pix[4*(2*3)] != 10 || got.Pix[0] != 30 {
		t.Errorf("rotateCCW(1) is not counter-clockwise: %v", got.Pix)
	}
}

// TestRotationLossFalls trains a small trunk on the sample photos.
func TestRotationLossFalls(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the sample photos; -short skips it")
	}
	t.Parallel()
	trunk := smallTrunk(t, 2)
	r := newTestRotation(t, trunk, RotationConfig{})
	losses, _ := trainLosses(t, trunk, r, testPhotos(t)[:4], core.TrainConfig{Optimizer: "adam", LR: 3e-3}, 40, 32, 3)
	checkLossFalls(t, losses, 5, 0.8)
}

// TestRotationSpecCheckpoint rebuilds the task from its spec and from a
// checkpoint.
func TestRotationSpecCheckpoint(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 4)
	r := newTestRotation(t, trunk, RotationConfig{Size: 24, Jitter: -1})
	got, err := Resolve(r.Spec(), trunk)
	if err != nil {
		t.Fatal(err)
	}
	r2, ok := got.(*Rotation)
	if !ok {
		t.Fatalf("Resolve gave %T", got)
	}
	if r2.Config() != r.Config() || r2.InputSize() != 24 {
		t.Errorf("resolved config %+v, want %+v", r2.Config(), r.Config())
	}
	photos := testPhotos(t)
	_, tr := trainLosses(t, trunk, r, photos, core.TrainConfig{Optimizer: "adam"}, 2, 8, 5)
	batch, err := Batch(r, photos, 8, testRNG(6))
	if err != nil {
		t.Fatal(err)
	}
	checkpointRoundTrip(t, tr, batch)
}

func TestRotationPredict(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 7)
	r := newTestRotation(t, trunk, RotationConfig{})
	img := testPhotos(t)[0]
	p, err := r.Predict(trunk, img, testRNG(8))
	if err != nil {
		t.Fatal(err)
	}
	checkPrediction(t, p, 4)
	if b := p.Input.Bounds(); b.Dx() != 32 || b.Dy() != 32 {
		t.Errorf("input is %v, want 32x32", b)
	}
	k := topClass(p.Probs)
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	if k%2 == 1 {
		w, h = h, w
	}
	if b := p.Image.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Errorf("image is %v, want %dx%d (class %d)", b, w, h, k)
	}
	if !strings.Contains(p.Summary, "p=") {
		t.Errorf("summary %q", p.Summary)
	}
}

func TestRotationErrors(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 9)
	r := newTestRotation(t, trunk, RotationConfig{})
	for _, img := range []*image.NRGBA{nil, image.NewNRGBA(image.Rect(0, 0, 0, 5))} {
		if _, err := r.Examples(nil, img, testRNG(1)); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
			t.Errorf("Examples(%v): error %v", img, err)
		}
		if _, err := r.Predict(trunk, img, testRNG(1)); err == nil {
			t.Errorf("Predict(%v): no error", img)
		}
	}
	for _, cfg := range []string{`{"size":-1}`, `{"size":1}`, `{"min_scale":2}`, `{"jitter":3}`, `{"bogus":1}`, `[`} {
		if _, err := New("rotation", json.RawMessage(cfg), trunk, testRNG(1)); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
			t.Errorf("config %s: error %v", cfg, err)
		}
	}
	if _, _, err := r.Loss(trunk, []core.Example{{}}, true); err == nil {
		t.Errorf("Loss on an example without views: no error")
	}
}
