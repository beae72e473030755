package tasks

import (
	"encoding/json"
	"image"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/nlpodyssey/spago/mat"

	"github.com/pretextlab/pretext/core"
)

func newTestSuperResolution(t testing.TB, trunk *core.Trunk, config string) *SuperResolution {
	t.Helper()
	task, err := New("super-resolution", json.RawMessage(config), trunk, testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	return task.(*SuperResolution)
}

// TestBicubic checks bicubicUp against Keys' kernel values at the offsets
// of 2x upsampling (published for a = -0.5: 0.8671875 at 1/4, 0.2265625
// at 3/4, -0.0703125 at 5/4, -0.0234375 at 7/4), and that constants and
// linear ramps come through unchanged away from the edges.
func TestBicubic(t *testing.T) {
	t.Parallel()
	impulse := core.NewPlanar(1, 1, 8)
	impulse.Pix[3] = 1
	got := bicubicUp(impulse, 1, 16).Pix
	want := []float32{0, 0, 0, -0.0234375, -0.0703125, 0.2265625, 0.8671875, 0.8671875, 0.2265625, -0.0703125, -0.0234375, 0, 0, 0, 0, 0}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-7 {
			t.Fatalf("bicubic 2x of an impulse = %v, want %v", got, want)
		}
	}
	ramp := core.NewPlanar(2, 6, 5)
	for c := range 2 {
		for y := range 6 {
			for x := range 5 {
				ramp.Pix[(c*6+y)*5+x] = float32(3*x-2*y) + float32(c)*10
			}
		}
	}
	for _, f := range []int{2, 3} {
		up := bicubicUp(ramp, 6*f, 5*f)
		for c := range 2 {
			for y := 2 * f; y < 4*f; y++ { // two input pixels from the edges
				for x := 2 * f; x < 3*f; x++ {
					sx, sy := (float64(x)+0.5)/float64(f)-0.5, (float64(y)+0.5)/float64(f)-0.5
					want := 3*sx - 2*sy + float64(c)*10
					if g := float64(up.Pix[(c*6*f+y)*5*f+x]); math.Abs(g-want) > 1e-4 {
						t.Fatalf("factor %d: ramp at (%d, %d, %d) = %v, want %v", f, c, x, y, g, want)
					}
				}
			}
		}
	}
	flat := core.NewPlanar(1, 3, 3)
	for i := range flat.Pix {
		flat.Pix[i] = 0.7
	}
	for i, v := range bicubicUp(flat, 12, 12).Pix {
		if math.Abs(float64(v)-0.7) > 1e-6 {
			t.Fatalf("bicubic of a constant: %d is %v", i, v)
		}
	}
}

// TestSuperResolutionExamples rebuilds each example: the target is the
// crop (same rng stream), the view the bicubic upsample of its 2x2 block
// means, averaged here by hand.
func TestSuperResolutionExamples(t *testing.T) {
	t.Parallel()
	photos := testPhotos(t)
	for _, channels := range []int{3, 1} {
		trunk, err := core.NewTrunk(core.TrunkConfig{InChannels: channels, Widths: []int{8, 16, 32}}, testRNG(1))
		if err != nil {
			t.Fatal(err)
		}
		task := newTestSuperResolution(t, trunk, "")
		for i, img := range photos[:3] {
			seed := uint64(30 + i)
			exs, err := task.Examples(nil, img, testRNG(seed))
			if err != nil {
				t.Fatal(err)
			}
			rng := testRNG(seed)
			crop := core.RandomFlip(core.RandomResizedCrop(img, 32, core.CropConfig{MinScale: 0.25}, rng), rng)
			hr := core.TrunkInput(crop, channels)
			if len(exs) != 1 || !slices.Equal(exs[0].Target, hr.Pix) {
				t.Fatalf("%d channels: target is not the crop", channels)
			}
			lr := core.NewPlanar(channels, 16, 16)
			for c := range channels {
				for y := range 16 {
					for x := range 16 {
						at := func(dy, dx int) float32 { return hr.Pix[(c*32+2*y+dy)*32+2*x+dx] }
						lr.Pix[(c*16+y)*16+x] = (at(0, 0) + at(0, 1) + at(1, 0) + at(1, 1)) / 4
					}
				}
			}
			want := bicubicUp(lr, 32, 32)
			v := exs[0].Views[0]
			if v.C != channels || v.H != 32 || v.W != 32 {
				t.Fatalf("view is %dx%dx%d", v.C, v.H, v.W)
			}
			for j := range want.Pix {
				if math.Abs(float64(v.Pix[j]-want.Pix[j])) > 1e-5 {
					t.Fatalf("%d channels: view[%d] = %v, want %v", channels, j, v.Pix[j], want.Pix[j])
				}
			}
		}
	}
	task := newTestSuperResolution(t, smallTrunk(t, 1), "")
	if _, err := task.Examples(nil, image.NewNRGBA(image.Rect(0, 0, 4, 0)), testRNG(1)); err == nil {
		t.Errorf("empty photo: no error")
	}
}

// TestSuperResolutionLossFalls trains on three quarters of the sample
// photos: the loss falls, and on the quarter held back (never trained on)
// the model beats bicubic upsampling, in loss and in PSNR on the same
// crops.
func TestSuperResolutionLossFalls(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 60 steps; -short skips it")
	}
	t.Parallel()
	var train, held []*image.NRGBA
	for i, p := range testPhotos(t) {
		if i%4 == 3 {
			held = append(held, p)
		} else {
			train = append(train, p)
		}
	}
	trunk := smallTrunk(t, 2)
	task := newTestSuperResolution(t, trunk, "")
	losses, tr := trainLosses(t, trunk, task, train, core.TrainConfig{Optimizer: "adam", LR: 3e-3}, 60, 16, 3)
	// A batch's loss mostly says how much detail its crops have, so
	// each is taken relative to bicubic's on the same batch (drawn
	// again from the same seed): that ratio must fall.
	rng := testRNG(3)
	for i := range losses {
		b, err := Batch(task, train, 16, rng)
		if err != nil {
			t.Fatal(err)
		}
		losses[i] /= task.BaselineLoss(b)
	}
	checkLossFalls(t, losses, 5, 0.95)
	heldBatch, err := Batch(task, held, 32, testRNG(4))
	if err != nil {
		t.Fatal(err)
	}
	l, score, err := tr.Evaluate(heldBatch)
	if err != nil {
		t.Fatal(err)
	}
	base := task.BaselineLoss(heldBatch)
	// Eight crops of each held-back photo: PSNR compares model and
	// bicubic on the same crops, so their difference is what counts.
	var crops []*image.NRGBA
	for range 8 {
		crops = append(crops, held...)
	}
	model, bicubic, err := task.PSNR(trunk, crops, testRNG(5))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("held back: eval loss %.4f (accuracy %.3f) vs bicubic %.4f; PSNR %.2f dB vs bicubic %.2f dB", l, score.Accuracy, base, model, bicubic)
	if math.IsNaN(model) || math.IsInf(model, 0) || !(bicubic > 10 && bicubic < 100) {
		t.Errorf("PSNR model %v, bicubic %v", model, bicubic)
	}
	if !(model > bicubic) {
		t.Errorf("held-back PSNR %.3f dB does not beat bicubic's %.3f dB", model, bicubic)
	}
	if !(l < base) || !(score.Accuracy > 0 && score.Accuracy <= 1) {
		t.Errorf("held-back eval loss %.4f, accuracy %v: does not beat bicubic (%.4f)", l, score.Accuracy, base)
	}
}

// TestSuperResolutionBaseline checks that a zero residual scores the
// bicubic upsample: the baseline loss, accuracy 0 and bicubic's PSNR.
func TestSuperResolutionBaseline(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 6)
	task := newTestSuperResolution(t, trunk, "")
	for _, w := range mat.Data[float32](task.Decoder.Out.Value()) {
		if w != 0 {
			t.Fatal("the output conv does not start at zero")
		}
	}
	// Train the stages a little so the maps behind Out are not what zero
	// weights alone would make trivial, then zero Out and Skip again.
	_, _ = trainLosses(t, trunk, task, testPhotos(t), core.TrainConfig{Optimizer: "adam"}, 2, 4, 8)
	clear(mat.Data[float32](task.Decoder.Out.Value()))
	clear(mat.Data[float32](task.Decoder.Skip.Value()))
	batch, err := Batch(task, testPhotos(t), 4, testRNG(7))
	if err != nil {
		t.Fatal(err)
	}
	loss, score, err := task.Loss(trunk, batch, false)
	if err != nil {
		t.Fatal(err)
	}
	var se float64
	for _, ex := range batch {
		for i, v := range ex.Views[0].Pix {
			se += float64(v-ex.Target[i]) * float64(v-ex.Target[i])
		}
	}
	want := se / float64(4*3*32*32)
	if got := float64(loss.Value().Item().F32()); math.Abs(got-want) > 1e-5*want || math.Abs(task.BaselineLoss(batch)-want) > 1e-9*want || score.Accuracy != 0 {
		t.Errorf("zero head: loss %v, baseline %v, accuracy %v; want %v, %v, 0", got, task.BaselineLoss(batch), score.Accuracy, want, want)
	}
	// L1: the mean absolute error of bicubic.
	l1 := newTestSuperResolution(t, trunk, `{"loss":"l1"}`)
	l1.Decoder = task.Decoder
	loss, _, err = l1.Loss(trunk, batch, false)
	if err != nil {
		t.Fatal(err)
	}
	var ae float64
	for _, ex := range batch {
		for i, v := range ex.Views[0].Pix {
			ae += math.Abs(float64(v - ex.Target[i]))
		}
	}
	want = ae / float64(4*3*32*32)
	if got := float64(loss.Value().Item().F32()); math.Abs(got-want) > 1e-5*want || math.Abs(l1.BaselineLoss(batch)-want) > 1e-9*want {
		t.Errorf("zero head L1: loss %v, baseline %v; want %v", got, l1.BaselineLoss(batch), want)
	}
	model, bicubic, err := task.PSNR(trunk, testPhotos(t)[:3], testRNG(8))
	if err != nil {
		t.Fatal(err)
	}
	if model != bicubic {
		t.Errorf("zero head PSNR %v, bicubic %v: want equal", model, bicubic)
	}
}

func TestSuperResolutionSpecCheckpoint(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 9)
	task := newTestSuperResolution(t, trunk, `{"size":24,"factor":3,"loss":"l1","upsample":"nearest"}`)
	got, err := Resolve(task.Spec(), trunk)
	if err != nil {
		t.Fatal(err)
	}
	if g := got.(*SuperResolution); g.Config() != task.Config() || g.InputSize() != 24 {
		t.Errorf("resolved %+v, want %+v", g.Config(), task.Config())
	}
	photos := testPhotos(t)
	_, tr := trainLosses(t, trunk, task, photos, core.TrainConfig{Optimizer: "adam"}, 2, 4, 10)
	batch, err := Batch(task, photos, 4, testRNG(11))
	if err != nil {
		t.Fatal(err)
	}
	checkpointRoundTrip(t, tr, batch)
}

func TestSuperResolutionPredict(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 12)
	task := newTestSuperResolution(t, trunk, "")
	img := testPhotos(t)[2]
	p, err := task.Predict(trunk, img, testRNG(13))
	if err != nil {
		t.Fatal(err)
	}
	if p.Image == nil || p.Input == nil || p.Image.Bounds() != image.Rect(0, 0, 32, 32) || p.Input.Bounds() != p.Image.Bounds() {
		t.Fatalf("prediction images %v, %v, want 32x32", p.Image, p.Input)
	}
	if !strings.Contains(p.Summary, "bicubic") {
		t.Errorf("summary %q", p.Summary)
	}
	t.Log(p.Summary)
	// The input shows the small crop in 2x2 blocks.
	for y := 0; y < 32; y += 2 {
		for x := 0; x < 32; x += 2 {
			c := p.Input.NRGBAAt(x, y)
			if p.Input.NRGBAAt(x+1, y) != c || p.Input.NRGBAAt(x, y+1) != c || p.Input.NRGBAAt(x+1, y+1) != c {
				t.Fatalf("input block at (%d, %d) is not one colour", x, y)
			}
		}
	}
	if _, err := task.Predict(trunk, nil, testRNG(1)); err == nil {
		t.Errorf("nil photo: no error")
	}
}

func TestSuperResolutionConfig(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 1)
	for _, cfg := range []string{
		`{"size":-1}`, `{"size":30}`, `{"size":33,"factor":3}`, `{"factor":1}`, `{"factor":9}`, `{"loss":"l3"}`,
		`{"hidden":-1}`, `{"upsample":"cubic"}`, `{"min_scale":-1}`, `{"nope":1}`,
	} {
		if _, err := New("super-resolution", json.RawMessage(cfg), trunk, testRNG(1)); err == nil {
			t.Errorf("config %s: no error", cfg)
		}
	}
	task := newTestSuperResolution(t, trunk, "")
	want := SuperResolutionConfig{Size: 32, Factor: 2, MinScale: 0.25, Loss: "l2", Hidden: 32, Upsample: "deconv"}
	if task.Config() != want || task.Decoder.Skip == nil {
		t.Errorf("defaults %+v, want %+v (with the skip path)", task.Config(), want)
	}
	batch, err := Batch(task, testPhotos(t), 2, testRNG(2))
	if err != nil {
		t.Fatal(err)
	}
	bad := slices.Clone(batch)
	bad[0].Target = bad[0].Target[:5]
	if _, _, err := task.Loss(trunk, bad, true); err == nil {
		t.Errorf("short target: no error")
	}
	if _, _, err := task.PSNR(trunk, nil, testRNG(1)); err == nil {
		t.Errorf("PSNR of no photos: no error")
	}
}
