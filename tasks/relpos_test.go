package tasks

import (
	"encoding/json"
	"image"
	"math"
	"strings"
	"testing"

	"github.com/pretextlab/pretext/core"
)

func newTestRelPos(t *testing.T, trunk *core.Trunk, cfg RelPosConfig) *RelPos {
	t.Helper()
	r, err := NewRelPos(cfg, trunk, testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRelPosPatches checks the label convention on a crop whose pixels
// encode their own position: the neighbour of class k lies in the
// direction its name says, one cell (patch plus gap) away from the centre
// up to the jitter, and both patches are contiguous squares.
func TestRelPosPatches(t *testing.T) {
	t.Parallel()
	cfg := RelPosConfig{}.withDefaults()
	const patch, gap, jitter = 32, 16, 2
	if cfg.Patch != patch || cfg.gap() != gap || cfg.jitter() != jitter {
		t.Fatalf("defaults %+v", cfg)
	}
	crop := coordImage(cfg.side())
	// The direction of each class, written out from its name.
	dirs := map[string]image.Point{
		"top-left": {-1, -1}, "top": {0, -1}, "top-right": {1, -1},
		"left": {-1, 0}, "right": {1, 0},
		"bottom-left": {-1, 1}, "bottom": {0, 1}, "bottom-right": {1, 1},
	}
	rng := testRNG(21)
	for k := range relPosClasses {
		for range 5 {
			var jit [2]image.Point
			for i := range jit {
				jit[i] = image.Pt(rng.IntN(2*jitter+1)-jitter, rng.IntN(2*jitter+1)-jitter)
			}
			centre, neighbour := relPosPatches(crop, cfg, k, jit)
			corner := func(p *image.NRGBA) image.Point {
				if b := p.Bounds(); b.Dx() != patch || b.Dy() != patch {
					t.Fatalf("patch is %v", b)
				}
				x0, y0 := int(p.Pix[0]), int(p.Pix[1])
				for y := range patch {
					for x := range patch {
						o := p.PixOffset(x, y)
						if int(p.Pix[o]) != x0+x || int(p.Pix[o+1]) != y0+y {
							t.Fatalf("class %d: patch pixel (%d,%d) is from (%d,%d)", k, x, y, p.Pix[o], p.Pix[o+1])
						}
					}
				}
				return image.Pt(x0, y0)
			}
			c, n := corner(centre), corner(neighbour)
			if want := image.Pt(jitter+patch+gap, jitter+patch+gap).Add(jit[0]); c != want {
				t.Errorf("centre patch at %v, want %v", c, want)
			}
			d := dirs[relPosNames[k]]
			if want := c.Sub(jit[0]).Add(d.Mul(patch + gap)).Add(jit[1]); n != want {
				t.Errorf("class %d (%s): neighbour at %v, want %v", k, relPosNames[k], n, want)
			}
		}
	}
}

func TestProjectGreenMagenta(t *testing.T) {
	t.Parallel()
	img := image.NewNRGBA(image.Rect(0, 0, 3, 1))
	copy(img.Pix, []uint8{100, 50, 200, 255, 0, 90, 0, 255, 77, 77, 77, 255})
	out := projectGreenMagenta(img)
	for i := range 3 {
		r, g, b := float64(out.Pix[4*i]), float64(out.Pix[4*i+1]), float64(out.Pix[4*i+2])
		r0, g0, b0 := float64(img.Pix[4*i]), float64(img.Pix[4*i+1]), float64(img.Pix[4*i+2])
		// No green-magenta component is left; the orthogonal ones, r-b
		// and r+g+b, are kept (up to rounding).
		if math.Abs(2*g-r-b) > 2 || math.Abs((r-b)-(r0-b0)) > 1 || math.Abs((r+g+b)-(r0+g0+b0)) > 2 {
			t.Errorf("pixel %d: (%v,%v,%v) -> (%v,%v,%v)", i, r0, g0, b0, r, g, b)
		}
	}
	if out.Pix[8] != 77 || out.Pix[9] != 77 || out.Pix[10] != 77 {
		t.Errorf("grey changed: %v", out.Pix[8:11])
	}
}

func TestDropChannels(t *testing.T) {
	t.Parallel()
	p := core.NewPlanar(3, 8, 8)
	for i := range p.Pix {
		p.Pix[i] = float32(i%13) - 6
	}
	keep := append([]float32(nil), p.Pix[64:128]...)
	dropChannels(p, 1, testRNG(3))
	std := func(v []float32) float64 {
		var s, ss float64
		for _, x := range v {
			s += float64(x)
		}
		m := s / float64(len(v))
		for _, x := range v {
			ss += (float64(x) - m) * (float64(x) - m)
		}
		return math.Sqrt(ss / float64(len(v)))
	}
	if !planarEqual(core.Planar{C: 1, H: 8, W: 8, Pix: p.Pix[64:128]}, core.Planar{C: 1, H: 8, W: 8, Pix: keep}) {
		t.Errorf("kept channel changed")
	}
	for _, c := range []int{0, 2} {
		s := std(p.Pix[c*64 : (c+1)*64])
		if want := 0.01 * std(keep); s == 0 || s > 2*want || s < want/2 {
			t.Errorf("dropped channel %d has std %v, want about %v", c, s, want)
		}
	}
}

// TestRelPosExamples checks the examples' structure, the spread of classes
// and the colour guards.
func TestRelPosExamples(t *testing.T) {
	t.Parallel()
	r := newTestRelPos(t, smallTrunk(t, 1), RelPosConfig{})
	rng := testRNG(22)
	counts := make([]int, relPosClasses)
	grey, dropped, total := 0, 0, 0
	for _, img := range testPhotos(t) {
		for range 8 {
			exs, err := r.Examples(nil, img, rng)
			if err != nil {
				t.Fatal(err)
			}
			if len(exs) != 1 || len(exs[0].Views) != 2 {
				t.Fatalf("%d examples", len(exs))
			}
			counts[exs[0].Class]++
			isGrey := true
			for _, v := range exs[0].Views {
				if v.C != 3 || v.H != 32 || v.W != 32 {
					t.Fatalf("view is %dx%dx%d", v.C, v.H, v.W)
				}
				plane := 32 * 32
				for k := range plane {
					if math.Abs(float64(v.Pix[k]-v.Pix[plane+k])) > 1e-3 || math.Abs(float64(v.Pix[k]-v.Pix[2*plane+k])) > 1e-3 {
						isGrey = false
						break
					}
				}
				// A dropped patch has two channels of faint noise.
				faint := 0
				for c := range 3 {
					var ss float64
					for _, x := range v.Pix[c*plane : (c+1)*plane] {
						ss += float64(x) * float64(x)
					}
					if ss/float64(plane) < 1e-3 {
						faint++
					}
				}
				if faint == 2 {
					dropped++
				}
				total++
			}
			if isGrey {
				grey++
			}
		}
	}
	for k, n := range counts {
		if n < 4 {
			t.Errorf("class %d drawn %d times of %d", k, n, total/2)
		}
	}
	if n := total / 2; grey < n/10 || grey > n/2 {
		t.Errorf("%d of %d examples grey, want about 30%%", grey, n)
	}
	// About 0.7·0.3 of the patches are dropped.
	if dropped < total/10 || dropped > total*2/5 {
		t.Errorf("%d of %d patches dropped, want about 21%%", dropped, total)
	}
}

// TestRelPosLossFalls trains a small trunk on the sample photos. Without
// gap and jitter (edges continue across patches) the task is learnt within
// the test's few steps.
func TestRelPosLossFalls(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the sample photos; -short skips it")
	}
	t.Parallel()
	trunk := smallTrunk(t, 2)
	r := newTestRelPos(t, trunk, RelPosConfig{Patch: 16, Hidden: 64, Gap: -1, Jitter: -1, GreyProb: -1, DropProb: -1})
	losses, _ := trainLosses(t, trunk, r, testPhotos(t)[:4], core.TrainConfig{Optimizer: "adam", LR: 3e-3}, 70, 32, 3)
	checkLossFalls(t, losses, 5, 0.8)
}

// TestRelPosGreyTrunk runs the task on a 1-channel trunk.
func TestRelPosGreyTrunk(t *testing.T) {
	t.Parallel()
	trunk, err := core.NewTrunk(core.TrunkConfig{InChannels: 1, Widths: []int{8, 16}}, testRNG(5))
	if err != nil {
		t.Fatal(err)
	}
	r := newTestRelPos(t, trunk, RelPosConfig{Patch: 16, Hidden: 8})
	batch, err := Batch(r, testPhotos(t), 4, testRNG(6))
	if err != nil {
		t.Fatal(err)
	}
	if v := batch[0].Views[0]; v.C != 1 || v.H != 16 {
		t.Fatalf("view is %dx%dx%d", v.C, v.H, v.W)
	}
	if _, _, err := r.Loss(trunk, batch, true); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Predict(trunk, testPhotos(t)[1], testRNG(7)); err != nil {
		t.Fatal(err)
	}
}

// TestRelPosSpecCheckpoint rebuilds the task from its spec and from a
// checkpoint.
func TestRelPosSpecCheckpoint(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 4)
	r := newTestRelPos(t, trunk, RelPosConfig{Patch: 24, Gap: -1, Jitter: 3, Hidden: 16, GreyProb: -1, Project: true})
	got, err := Resolve(r.Spec(), trunk)
	if err != nil {
		t.Fatal(err)
	}
	r2, ok := got.(*RelPos)
	if !ok {
		t.Fatalf("Resolve gave %T", got)
	}
	if r2.Config() != r.Config() || r2.InputSize() != 24 || r2.Config().side() != 3*24+6 {
		t.Errorf("resolved config %+v, want %+v", r2.Config(), r.Config())
	}
	photos := testPhotos(t)
	_, tr := trainLosses(t, trunk, r, photos, core.TrainConfig{Optimizer: "adam"}, 2, 4, 5)
	batch, err := Batch(r, photos, 4, testRNG(6))
	if err != nil {
		t.Fatal(err)
	}
	checkpointRoundTrip(t, tr, batch)
}

// TestRelPosPredict checks the board: the centre patch in the middle, the
// neighbour at the predicted cell, the other cells empty.
func TestRelPosPredict(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 7)
	r := newTestRelPos(t, trunk, RelPosConfig{Hidden: 32})
	img := testPhotos(t)[0]
	p, err := r.Predict(trunk, img, testRNG(8))
	if err != nil {
		t.Fatal(err)
	}
	checkPrediction(t, p, relPosClasses)
	const patch = 32
	side := 3*patch + 4*tileGap
	if b := p.Image.Bounds(); b.Dx() != side || b.Dy() != side {
		t.Fatalf("board is %v, want %dx%d", b, side, side)
	}
	if b := p.Input.Bounds(); b.Dx() != 2*patch+3*tileGap || b.Dy() != patch+2*tileGap {
		t.Fatalf("input is %v", b)
	}
	k := topClass(p.Probs)
	if !strings.HasPrefix(p.Summary, relPosNames[k]+" (p=") {
		t.Errorf("summary %q, want it to name %s", p.Summary, relPosNames[k])
	}
	// The input's right patch is the neighbour, drawn at cell k on the
	// board; its left patch is the centre, at cell 4.
	same := func(pos int, inX int) bool {
		cx, cy := tileGap+pos%3*(patch+tileGap), tileGap+pos/3*(patch+tileGap)
		for y := range patch {
			for x := range patch {
				a := p.Image.PixOffset(cx+x, cy+y)
				b := p.Input.PixOffset(inX+x, tileGap+y)
				if p.Image.Pix[a] != p.Input.Pix[b] || p.Image.Pix[a+1] != p.Input.Pix[b+1] || p.Image.Pix[a+2] != p.Input.Pix[b+2] {
					return false
				}
			}
		}
		return true
	}
	if !same(4, tileGap) {
		t.Errorf("centre cell does not hold the centre patch")
	}
	if !same(relPosCell(k), 2*tileGap+patch) {
		t.Errorf("cell %d does not hold the neighbour", relPosCell(k))
	}
	for pos := range 9 {
		if pos == 4 || pos == relPosCell(k) {
			continue
		}
		o := p.Image.PixOffset(tileGap+pos%3*(patch+tileGap)+patch/2, tileGap+pos/3*(patch+tileGap)+patch/2)
		if p.Image.Pix[o] != boardGrey.R || p.Image.Pix[o+1] != boardGrey.G {
			t.Errorf("cell %d is not empty", pos)
		}
	}
}

func TestRelPosErrors(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 9)
	r := newTestRelPos(t, trunk, RelPosConfig{Hidden: 16})
	for _, img := range []*image.NRGBA{nil, image.NewNRGBA(image.Rect(0, 0, 0, 5)), image.NewNRGBA(image.Rect(0, 0, 31, 100))} {
		if _, err := r.Examples(nil, img, testRNG(1)); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
			t.Errorf("Examples(%v): error %v", img, err)
		}
		if _, err := r.Predict(trunk, img, testRNG(1)); err == nil {
			t.Errorf("Predict(%v): no error", img)
		}
	}
	if _, err := r.Examples(nil, image.NewNRGBA(image.Rect(0, 0, 32, 32)), testRNG(1)); err != nil {
		t.Errorf("Examples of a 32x32 photo: %v", err)
	}
	for _, cfg := range []string{`{"patch":-1}`, `{"patch":2}`, `{"patch":200}`, `{"gap":40}`, `{"jitter":33}`, `{"hidden":-1}`, `{"min_scale":1.5}`, `{"grey_prob":2}`, `{"drop_prob":2}`, `{"bogus":1}`} {
		if _, err := New("relative-position", json.RawMessage(cfg), trunk, testRNG(1)); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
			t.Errorf("config %s: error %v", cfg, err)
		}
	}
	exs, err := r.Examples(nil, testPhotos(t)[0], testRNG(2))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Loss(trunk, []core.Example{{Views: exs[0].Views[:1]}}, true); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
		t.Errorf("Loss with 1 view: error %v", err)
	}
	if _, _, err := r.Loss(trunk, []core.Example{{Views: exs[0].Views, Class: 8}}, true); err == nil {
		t.Errorf("Loss with class 8 of 8: no error")
	}
	if _, _, err := r.Loss(trunk, nil, true); err == nil {
		t.Errorf("Loss of an empty batch: no error")
	}
}
