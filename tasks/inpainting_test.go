package tasks

import (
	"context"
	"encoding/json"
	"image"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/pretextlab/pretext/core"
)

func newTestInpainting(t testing.TB, trunk *core.Trunk, config string) *Inpainting {
	t.Helper()
	task, err := New("inpainting", json.RawMessage(config), trunk, testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	return task.(*Inpainting)
}

// TestInpaintingExamples rebuilds each example from the same rng stream:
// the crop by core.RandomResizedCrop and core.RandomFlip, the hole as the
// central 16x16 square of the 32x32 crop (or blocks covering at least a
// quarter), the view as the crop with the hole set to the mean, the target
// as the crop and the mask.
func TestInpaintingExamples(t *testing.T) {
	t.Parallel()
	photos := testPhotos(t)
	for _, tc := range []struct {
		mask     string
		channels int
	}{{"center", 3}, {"blocks", 3}, {"center", 1}} {
		trunk, err := core.NewTrunk(core.TrunkConfig{InChannels: tc.channels, Widths: []int{8, 16, 32}}, testRNG(1))
		if err != nil {
			t.Fatal(err)
		}
		task := newTestInpainting(t, trunk, `{"mask":"`+tc.mask+`"}`)
		fill := float32(0)
		if tc.channels == 1 {
			fill = float32(0.299*0.485 + 0.587*0.456 + 0.114*0.406)
		}
		for i, img := range photos[:3] {
			seed := uint64(20 + i)
			exs, err := task.Examples(nil, img, testRNG(seed))
			if err != nil {
				t.Fatal(err)
			}
			if len(exs) != 1 || len(exs[0].Views) != 1 {
				t.Fatalf("%d examples", len(exs))
			}
			ex := exs[0]
			rng := testRNG(seed)
			crop := core.RandomFlip(core.RandomResizedCrop(img, 32, core.CropConfig{MinScale: 0.25}, rng), rng)
			orig := core.TrunkInput(crop, tc.channels)
			const hw = 32 * 32
			if len(ex.Target) != (tc.channels+1)*hw {
				t.Fatalf("target has %d values, want %d", len(ex.Target), (tc.channels+1)*hw)
			}
			if !slices.Equal(ex.Target[:tc.channels*hw], orig.Pix) {
				t.Errorf("%s/%d: target is not the crop", tc.mask, tc.channels)
			}
			holes := 0
			for p := range hw {
				y, x := p/32, p%32
				inHole := ex.Target[tc.channels*hw+p] == 1
				if v := ex.Target[tc.channels*hw+p]; v != 0 && v != 1 {
					t.Fatalf("mask value %v", v)
				}
				if tc.mask == "center" && inHole != (y >= 8 && y < 24 && x >= 8 && x < 24) {
					t.Fatalf("%s: mask at (%d, %d) is %v", tc.mask, x, y, inHole)
				}
				if inHole {
					holes++
				}
				for c := range tc.channels {
					want := orig.Pix[c*hw+p]
					if inHole {
						want = fill
					}
					if got := ex.Views[0].Pix[c*hw+p]; got != want {
						t.Fatalf("%s/%d: view (%d, %d, %d) = %v, want %v (hole %v)", tc.mask, tc.channels, c, x, y, got, want, inHole)
					}
				}
			}
			if tc.mask == "blocks" && !(holes >= hw/4 && holes < hw/4+64) {
				t.Errorf("blocks cover %d of %d pixels, want a quarter and less than one more 8x8 block", holes, hw)
			}
		}
	}
	task := newTestInpainting(t, smallTrunk(t, 1), "")
	for _, img := range []*image.NRGBA{nil, image.NewNRGBA(image.Rect(0, 0, 0, 5))} {
		if _, err := task.Examples(nil, img, testRNG(1)); err == nil {
			t.Errorf("photo %v: no error", img)
		}
	}
}

// TestInpaintingLossFalls trains a small trunk and the decoder on the sample
// photos; the held-out loss must beat filling the hole with the mean.
func TestInpaintingLossFalls(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the sample photos; -short skips it")
	}
	t.Parallel()
	trunk := smallTrunk(t, 2)
	task := newTestInpainting(t, trunk, "")
	photos := testPhotos(t)
	losses, tr := trainLosses(t, trunk, task, photos, core.TrainConfig{Optimizer: "adam", LR: 3e-3}, 40, 16, 3)
	checkLossFalls(t, losses, 5, 0.85)
	held, err := Batch(task, photos, 32, testRNG(4))
	if err != nil {
		t.Fatal(err)
	}
	loss, score, err := tr.Evaluate(held)
	if err != nil {
		t.Fatal(err)
	}
	base := task.BaselineLoss(held)
	t.Logf("eval loss %.4f (accuracy %.3f) vs the mean fill %.4f", loss, score.Accuracy, base)
	if !(loss < base) || !(score.Accuracy > 0 && score.Accuracy <= 1) {
		t.Errorf("eval loss %.4f, accuracy %.3f: does not beat the mean fill (%.4f)", loss, score.Accuracy, base)
	}
}

// TestInpaintingBaseline checks BaselineLoss and Accuracy against a zero
// residual: a head whose output conv is zero predicts the mean fill.
func TestInpaintingBaseline(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 5)
	task := newTestInpainting(t, trunk, `{"context_weight":0.5}`)
	clear(mat.Data[float32](task.Decoder.Out.Value()))
	batch, err := Batch(task, testPhotos(t), 4, testRNG(6))
	if err != nil {
		t.Fatal(err)
	}
	loss, score, err := task.Loss(trunk, batch, false)
	if err != nil {
		t.Fatal(err)
	}
	// Independent: the weighted mean of (fill - original)² in the hole.
	var num, den float64
	for _, ex := range batch {
		o, m := ex.Target[:3*1024], ex.Target[3*1024:]
		for p := range 1024 {
			w := 0.5
			if m[p] == 1 {
				w = 1
			}
			for c := range 3 {
				d := float64(o[c*1024+p]) // the fill is 0
				if m[p] == 0 {
					d = 0
				}
				num += w * d * d
			}
			den += 3 * w
		}
	}
	got := float64(loss.Value().Item().F32())
	if base := task.BaselineLoss(batch); math.Abs(got-num/den) > 1e-5*num/den || math.Abs(base-num/den) > 1e-9*num/den {
		t.Errorf("zero head loss %v, baseline %v, want %v", got, base, num/den)
	}
	if score.Accuracy != 0 {
		t.Errorf("zero head accuracy %v, want 0", score.Accuracy)
	}
}

// TestInpaintingAdversarial trains with the discriminator: the loss value
// is still the reconstruction loss, both players get gradients, and the
// reconstruction loss falls.
func TestInpaintingAdversarial(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the sample photos; -short skips it")
	}
	t.Parallel()
	trunk := smallTrunk(t, 7)
	task := newTestInpainting(t, trunk, `{"adv_weight":0.01}`)
	if task.Disc == nil {
		t.Fatal("no discriminator")
	}
	photos := testPhotos(t)
	before := slices.Clone(mat.Data[float32](task.Disc.W2.Value()))
	losses, _ := trainLosses(t, trunk, task, photos, core.TrainConfig{Optimizer: "adam", LR: 3e-3}, 40, 16, 9)
	checkLossFalls(t, losses, 5, 0.85)
	if slices.Equal(before, mat.Data[float32](task.Disc.W2.Value())) {
		t.Errorf("training did not change the discriminator")
	}
	// One backward pass with and without the adversary (after training:
	// the decoder's output conv starts at zero, which stops every gradient
	// but its own).
	batch, err := Batch(task, photos, 8, testRNG(8))
	if err != nil {
		t.Fatal(err)
	}
	grads := func(withDisc bool) (float64, []float32, []float32) {
		disc := task.Disc
		if !withDisc {
			task.Disc = nil
		}
		defer func() { task.Disc = disc }()
		m := &trainerModelForTest{Trunk: trunk, Head: task}
		nn.ZeroGrad(m)
		loss, _, err := task.Loss(trunk, batch, true)
		if err != nil {
			t.Fatal(err)
		}
		if err := ag.Backward(loss); err != nil {
			t.Fatal(err)
		}
		var dg []float32
		if withDisc {
			dg = slices.Clone(mat.Data[float32](disc.W1.Grad()))
		}
		tg := slices.Clone(mat.Data[float32](trunk.Layers[0].W.Grad()))
		return float64(loss.Value().Item().F32()), dg, tg
	}
	lAdv, dg, tgAdv := grads(true)
	lRec, _, tgRec := grads(false)
	if lAdv != lRec {
		t.Errorf("loss with the adversary %v, without %v: want the same value", lAdv, lRec)
	}
	if allZero(dg) {
		t.Errorf("discriminator has no gradient")
	}
	if slices.Equal(tgAdv, tgRec) {
		t.Errorf("the adversary's gradient does not reach the trunk")
	}
}

// trainerModelForTest joins trunk and head for nn.ZeroGrad.
type trainerModelForTest struct {
	nn.Module
	Trunk *core.Trunk
	Head  core.Objective
}

func allZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

func TestInpaintingSpecCheckpoint(t *testing.T) {
	t.Parallel()
	for _, config := range []string{`{"size":16,"mask":"blocks","upsample":"nearest"}`, `{"adv_weight":0.001,"upsample":"bilinear"}`} {
		trunk := smallTrunk(t, 10)
		task := newTestInpainting(t, trunk, config)
		got, err := Resolve(task.Spec(), trunk)
		if err != nil {
			t.Fatal(err)
		}
		if g := got.(*Inpainting); g.Config() != task.Config() || (g.Disc == nil) != (task.Disc == nil) {
			t.Errorf("resolved %+v, want %+v", g.Config(), task.Config())
		}
		photos := testPhotos(t)
		_, tr := trainLosses(t, trunk, task, photos, core.TrainConfig{Optimizer: "adam"}, 2, 4, 11)
		batch, err := Batch(task, photos, 4, testRNG(12))
		if err != nil {
			t.Fatal(err)
		}
		checkpointRoundTrip(t, tr, batch)
	}
}

func TestInpaintingPredict(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 13)
	task := newTestInpainting(t, trunk, "")
	photos := testPhotos(t)
	_, _ = trainLosses(t, trunk, task, photos, core.TrainConfig{Optimizer: "adam", LR: 3e-3}, 5, 8, 14)
	img := photos[1]
	p, err := task.Predict(trunk, img, testRNG(15))
	if err != nil {
		t.Fatal(err)
	}
	if p.Image == nil || p.Input == nil || p.Image.Bounds() != image.Rect(0, 0, 32, 32) || p.Input.Bounds() != p.Image.Bounds() {
		t.Fatalf("prediction images %v, %v, want 32x32", p.Image, p.Input)
	}
	if !strings.Contains(p.Summary, "PSNR") {
		t.Errorf("summary %q", p.Summary)
	}
	t.Log(p.Summary)
	// The context is the original crop; the input's hole is the mean
	// colour (ImageNet's, 124/116/104 in 8 bits).
	crop := core.CenterCrop(img, 32)
	orig := core.TrunkInput(crop, 3).Image(core.ImageNetNorm)
	for _, pt := range []image.Point{{0, 0}, {31, 5}, {7, 20}, {24, 31}} {
		if p.Image.NRGBAAt(pt.X, pt.Y) != orig.NRGBAAt(pt.X, pt.Y) || p.Input.NRGBAAt(pt.X, pt.Y) != orig.NRGBAAt(pt.X, pt.Y) {
			t.Errorf("context pixel %v: image %v, input %v, want the original %v", pt, p.Image.NRGBAAt(pt.X, pt.Y), p.Input.NRGBAAt(pt.X, pt.Y), orig.NRGBAAt(pt.X, pt.Y))
		}
	}
	hole := 0
	for _, pt := range []image.Point{{8, 8}, {16, 16}, {23, 23}} {
		if c := p.Input.NRGBAAt(pt.X, pt.Y); c.R != 124 || c.G != 116 || c.B != 104 {
			t.Errorf("input hole pixel %v is %v, want the mean colour", pt, c)
		}
		if p.Image.NRGBAAt(pt.X, pt.Y) != p.Input.NRGBAAt(pt.X, pt.Y) {
			hole++
		}
	}
	if hole == 0 {
		t.Errorf("the hole was not painted")
	}
	if _, err := task.Predict(trunk, image.NewNRGBA(image.Rect(0, 0, 0, 0)), testRNG(1)); err == nil {
		t.Errorf("empty photo: no error")
	}
}

func TestInpaintingConfig(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 1)
	for _, cfg := range []string{
		`{"size":-1}`, `{"size":30}`, `{"size":100000}`, `{"mask":"ring"}`, `{"context_weight":2}`,
		`{"adv_weight":-0.1}`, `{"adv_weight":2}`, `{"hidden":-3}`, `{"upsample":"cubic"}`, `{"min_scale":1.5}`, `{"nope":1}`,
	} {
		if _, err := New("inpainting", json.RawMessage(cfg), trunk, testRNG(1)); err == nil {
			t.Errorf("config %s: no error", cfg)
		}
	}
	task := newTestInpainting(t, trunk, "")
	want := InpaintingConfig{Size: 32, MinScale: 0.25, Mask: "center", ContextWeight: 0.01, Hidden: 32, Upsample: "deconv"}
	if task.Config() != want || task.InputSize() != 32 || task.Disc != nil {
		t.Errorf("defaults %+v, want %+v", task.Config(), want)
	}
	if len(task.Decoder.Stages) != 2 {
		t.Errorf("%d decoder stages for a trunk of stride 4, want 2", len(task.Decoder.Stages))
	}
	batch, err := Batch(task, testPhotos(t), 2, testRNG(2))
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]func([]core.Example){
		"short target": func(b []core.Example) { b[1].Target = b[1].Target[:10] },
		"no view":      func(b []core.Example) { b[0].Views = nil },
		"no hole": func(b []core.Example) {
			b[0].Target = slices.Clone(b[0].Target)
			b[1].Target = slices.Clone(b[1].Target)
			clear(b[0].Target[3*1024:])
			clear(b[1].Target[3*1024:])
		},
	} {
		b := slices.Clone(batch)
		bad(b)
		if _, _, err := task.Loss(trunk, b, true); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	tr, err := core.NewTrainer(trunk, task, core.TrainConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Step(context.Background(), batch[:1]); err != nil {
		t.Errorf("batch of one: %v", err)
	}
}
