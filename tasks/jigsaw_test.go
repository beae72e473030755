package tasks

import (
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

func newTestJigsaw(t *testing.T, trunk *core.Trunk, cfg JigsawConfig) *Jigsaw {
	t.Helper()
	j, err := NewJigsaw(cfg, trunk, testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// coordImage is a side x side image whose pixel (x, y) has red x, green y.
func coordImage(side int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, side, side))
	for y := range side {
		for x := range side {
			o := img.PixOffset(x, y)
			img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = uint8(x), uint8(y), 100, 255
		}
	}
	return img
}

// TestJigsawTiles checks the label convention on a crop whose pixels encode
// their own position: view i of class c is a contiguous Tile x Tile square
// from inside cell jigsawPerms[c][i], at that cell's offset.
func TestJigsawTiles(t *testing.T) {
	t.Parallel()
	const cell, tile = 32, 27
	crop := coordImage(3 * cell)
	rng := testRNG(11)
	for _, c := range []int{0, 1, 2, 57, 99, 999} {
		var off [jigsawTiles]image.Point
		for p := range off {
			off[p] = image.Pt(rng.IntN(cell-tile+1), rng.IntN(cell-tile+1))
		}
		views := shuffleTiles(cutTiles(crop, cell, tile, off), c)
		for i, v := range views {
			if b := v.Bounds(); b.Dx() != tile || b.Dy() != tile {
				t.Fatalf("view %d is %v", i, b)
			}
			x0, y0 := int(v.Pix[0]), int(v.Pix[1])
			pos := int(jigsawPerms[c][i])
			if got := y0/cell*3 + x0/cell; got != pos {
				t.Errorf("class %d view %d comes from cell %d, want %d", c, i, got, pos)
			}
			if got := image.Pt(x0%cell, y0%cell); got != off[pos] {
				t.Errorf("class %d view %d at offset %v in its cell, want %v", c, i, got, off[pos])
			}
			for y := range tile {
				for x := range tile {
					o := v.PixOffset(x, y)
					if int(v.Pix[o]) != x0+x || int(v.Pix[o+1]) != y0+y {
						t.Fatalf("class %d view %d pixel (%d,%d) is from (%d,%d), want (%d,%d)", c, i, x, y, v.Pix[o], v.Pix[o+1], x0+x, y0+y)
					}
				}
			}
		}
		// Putting view i back at position perm[c][i] restores grid order.
		var back [jigsawTiles]*image.NRGBA
		for i, v := range views {
			back[jigsawPerms[c][i]] = v
		}
		for p, v := range back {
			if got := int(v.Pix[1])/cell*3 + int(v.Pix[0])/cell; got != p {
				t.Errorf("class %d: position %d holds the tile of cell %d", c, p, got)
			}
		}
	}
}

func TestNormalizeTile(t *testing.T) {
	t.Parallel()
	p := core.NewPlanar(3, 4, 5)
	for i := range 20 {
		p.Pix[i] = float32(i * i)
		p.Pix[20+i] = 7 // constant
		p.Pix[40+i] = float32(-3 * i)
	}
	normalizeTile(p)
	for c := range 3 {
		var s, ss float64
		for _, v := range p.Pix[c*20 : (c+1)*20] {
			s += float64(v)
			ss += float64(v) * float64(v)
		}
		wantSS := 20.0
		if c == 1 {
			wantSS = 0
		}
		if math.Abs(s) > 1e-4 || math.Abs(ss-wantSS) > 1e-3 {
			t.Errorf("channel %d: sum %v, sum of squares %v; want 0 and %v", c, s, ss, wantSS)
		}
	}
}

// TestJigsawExamples checks the examples' structure and the shortcut guards.
func TestJigsawExamples(t *testing.T) {
	t.Parallel()
	j := newTestJigsaw(t, smallTrunk(t, 1), JigsawConfig{})
	rng := testRNG(12)
	classes := map[int]bool{}
	grey := 0
	for _, img := range testPhotos(t) {
		for range 4 {
			exs, err := j.Examples(nil, img, rng)
			if err != nil {
				t.Fatal(err)
			}
			if len(exs) != 1 || len(exs[0].Views) != 9 {
				t.Fatalf("%d examples", len(exs))
			}
			ex := exs[0]
			if ex.Class < 0 || ex.Class >= 100 {
				t.Fatalf("class %d", ex.Class)
			}
			classes[ex.Class] = true
			isGrey := true
			for _, v := range ex.Views {
				if v.C != 3 || v.H != 27 || v.W != 27 || len(v.Pix) != 3*27*27 {
					t.Fatalf("view is %dx%dx%d", v.C, v.H, v.W)
				}
				for _, x := range v.Pix {
					if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
						t.Fatal("view has a non-finite value")
					}
				}
				plane := 27 * 27
				for k := range plane {
					r, g, b := v.Pix[k], v.Pix[plane+k], v.Pix[2*plane+k]
					if math.Abs(float64(r-g)) > 1e-3 || math.Abs(float64(r-b)) > 1e-3 {
						isGrey = false
						break
					}
				}
			}
			if isGrey {
				grey++
			}
		}
	}
	if len(classes) < 30 {
		t.Errorf("only %d distinct classes in 64 examples", len(classes))
	}
	if grey < 5 || grey > 40 {
		t.Errorf("%d of 64 examples grey, want about 30%%", grey)
	}
}

// TestJigsawRawTiles checks that raw_tiles feeds the tiles as
// core.TrunkInput makes them (a tile of a uniform grey photo keeps its
// level), and that by default each tile's channels are normalised.
func TestJigsawRawTiles(t *testing.T) {
	t.Parallel()
	img := image.NewNRGBA(image.Rect(0, 0, 100, 100))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	in := core.TrunkInput(img, 3) // per channel: one level each
	want := []float32{in.Pix[0], in.Pix[100*100], in.Pix[2*100*100]}
	for _, raw := range []bool{false, true} {
		j := newTestJigsaw(t, smallTrunk(t, 1), JigsawConfig{RawTiles: raw, GreyProb: -1, DropProb: -1})
		exs, err := j.Examples(nil, img, testRNG(3))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range exs[0].Views {
			for k, x := range v.Pix {
				c := k / (v.H * v.W)
				if (raw && math.Abs(float64(x-want[c])) > 1e-5) || (!raw && x != 0) {
					t.Fatalf("raw_tiles %v: a channel %d value is %v (the photo's input level %v; normalised: 0)", raw, c, x, want[c])
				}
			}
		}
	}
}

// TestReshapeGradient checks the gradient through reshapeMatrix is the
// gradient of the same values held directly in the new shape.
func TestReshapeGradient(t *testing.T) {
	t.Parallel()
	xv := make([]float32, 12)
	wv := make([]float32, 18)
	for i := range xv {
		xv[i] = float32(i%5) - 2
	}
	for i := range wv {
		wv[i] = float32(i%7)/7 - 0.4
	}
	grad := func(reshape bool) []float32 {
		var x *nn.Param
		var in mat.Tensor
		if reshape {
			x = nn.NewParam(mat.NewDense[float32](mat.WithShape(6, 2), mat.WithBacking(slices.Clone(xv))))
			r, err := reshapeMatrix(x, 2, 6)
			if err != nil {
				t.Fatal(err)
			}
			if sh := r.Shape(); sh[0] != 2 || sh[1] != 6 {
				t.Fatalf("shape %v", sh)
			}
			in = r
		} else {
			x = nn.NewParam(mat.NewDense[float32](mat.WithShape(2, 6), mat.WithBacking(slices.Clone(xv))))
			in = x
		}
		w := nn.NewParam(mat.NewDense[float32](mat.WithShape(3, 6), mat.WithBacking(slices.Clone(wv))))
		y, err := core.Linear(in, w, nil)
		if err != nil {
			t.Fatal(err)
		}
		loss, _, err := core.SoftmaxCrossEntropy(y, []int{1, 2}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := ag.Backward(loss); err != nil {
			t.Fatal(err)
		}
		return slices.Clone(mat.Data[float32](x.Grad()))
	}
	got, want := grad(true), grad(false)
	if !slices.Equal(got, want) || slices.Equal(want, make([]float32, 12)) {
		t.Errorf("gradient through reshape %v, want %v", got, want)
	}
	x := nn.NewParam(mat.NewDense[float32](mat.WithShape(6, 2)))
	if _, err := reshapeMatrix(x, 5, 2); err == nil {
		t.Errorf("reshape 12 values to 5x2: no error")
	}
}

// TestJigsawLossFalls trains a small trunk on the sample photos.
func TestJigsawLossFalls(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the sample photos; -short skips it")
	}
	t.Parallel()
	trunk := smallTrunk(t, 2)
	j := newTestJigsaw(t, trunk, JigsawConfig{Perms: 10, Hidden: 64})
	losses, _ := trainLosses(t, trunk, j, testPhotos(t)[:4], core.TrainConfig{Optimizer: "adam", LR: 3e-3}, 40, 16, 3)
	checkLossFalls(t, losses, 5, 0.8)
}

// TestJigsawSpecCheckpoint rebuilds the task from its spec and from a
// checkpoint.
func TestJigsawSpecCheckpoint(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 4)
	j := newTestJigsaw(t, trunk, JigsawConfig{Cell: 16, Tile: 13, Perms: 1000, Hidden: 16, GreyProb: -1})
	got, err := Resolve(j.Spec(), trunk)
	if err != nil {
		t.Fatal(err)
	}
	j2, ok := got.(*Jigsaw)
	if !ok {
		t.Fatalf("Resolve gave %T", got)
	}
	if j2.Config() != j.Config() || j2.InputSize() != 13 {
		t.Errorf("resolved config %+v, want %+v", j2.Config(), j.Config())
	}
	photos := testPhotos(t)
	_, tr := trainLosses(t, trunk, j, photos, core.TrainConfig{Optimizer: "adam"}, 2, 4, 5)
	batch, err := Batch(j, photos, 4, testRNG(6))
	if err != nil {
		t.Fatal(err)
	}
	checkpointRoundTrip(t, tr, batch)
}

func TestJigsawPredict(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 7)
	j := newTestJigsaw(t, trunk, JigsawConfig{Hidden: 32})
	p, err := j.Predict(trunk, testPhotos(t)[0], testRNG(8))
	if err != nil {
		t.Fatal(err)
	}
	checkPrediction(t, p, 100)
	side := 3*27 + 4*tileGap
	for _, im := range []*image.NRGBA{p.Image, p.Input} {
		if im == nil || im.Bounds().Dx() != side || im.Bounds().Dy() != side {
			t.Errorf("board is %v, want %dx%d", im.Bounds(), side, side)
		}
	}
	if !strings.Contains(p.Summary, "permutation") {
		t.Errorf("summary %q", p.Summary)
	}
}

func TestJigsawErrors(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 9)
	j := newTestJigsaw(t, trunk, JigsawConfig{Hidden: 16})
	for _, img := range []*image.NRGBA{nil, image.NewNRGBA(image.Rect(0, 0, 0, 5)), image.NewNRGBA(image.Rect(0, 0, 10, 10)), image.NewNRGBA(image.Rect(0, 0, 200, 31))} {
		if _, err := j.Examples(nil, img, testRNG(1)); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
			t.Errorf("Examples(%v): error %v", img, err)
		}
		if _, err := j.Predict(trunk, img, testRNG(1)); err == nil {
			t.Errorf("Predict(%v): no error", img)
		}
	}
	if _, err := j.Examples(nil, image.NewNRGBA(image.Rect(0, 0, 32, 32)), testRNG(1)); err != nil {
		t.Errorf("Examples of a 32x32 photo: %v", err)
	}
	for _, cfg := range []string{`{"grid":4}`, `{"tile":33}`, `{"perms":1001}`, `{"perms":1}`, `{"hidden":-1}`, `{"cell":200}`, `{"cell":1,"tile":1}`, `{"min_scale":1.5}`, `{"grey_prob":2}`, `{"bogus":1}`} {
		if _, err := New("jigsaw", json.RawMessage(cfg), trunk, testRNG(1)); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
			t.Errorf("config %s: error %v", cfg, err)
		}
	}
	exs, err := j.Examples(nil, testPhotos(t)[0], testRNG(2))
	if err != nil {
		t.Fatal(err)
	}
	bad := []core.Example{{Views: exs[0].Views[:8]}}
	if _, _, err := j.Loss(trunk, bad, true); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
		t.Errorf("Loss with 8 views: error %v", err)
	}
	bad = []core.Example{{Views: exs[0].Views, Class: 100}}
	if _, _, err := j.Loss(trunk, bad, true); err == nil {
		t.Errorf("Loss with class 100 of 100: no error")
	}
	if _, _, err := j.Loss(trunk, nil, true); err == nil {
		t.Errorf("Loss of an empty batch: no error")
	}
}
