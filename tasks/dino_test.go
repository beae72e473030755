package tasks

import (
	"context"
	"encoding/json"
	"image"
	"image/color"
	"math"
	"strings"
	"testing"

	"github.com/nlpodyssey/spago/mat"

	"github.com/pretextlab/pretext/core"
)

// dinoSmall is DINO with small settings for the small trunk.
const dinoSmall = `{"hidden":64,"bottleneck":32,"prototypes":128,"local_crops":2}`

func newDINO(t *testing.T, config string, trunk *core.Trunk) *DINO {
	t.Helper()
	task, err := New("dino", json.RawMessage(config), trunk, testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	return task.(*DINO)
}

// TestMultiCropViews checks the views' number, order and sizes, and their
// crop scales on a photo that is a left-to-right ramp, the distortions
// off: a view spans as much of the ramp's values as its crop spans of the
// photo's width, which the scale ranges bound (area a of the photo, aspect
// at most 4/3, so width in [√(a·3/4), √(a·4/3)]).
func TestMultiCropViews(t *testing.T) {
	t.Parallel()
	ramp := image.NewNRGBA(image.Rect(0, 0, 200, 200))
	for y := range 200 {
		for x := range 200 {
			v := uint8(x * 255 / 199)
			ramp.SetNRGBA(x, y, color.NRGBA{v, v, v, 255})
		}
	}
	c := MultiCropConfig{ViewConfig: ViewConfig{Jitter: -1, GreyProb: -1}}.withDefaults()
	if c.LocalCrops != 6 || c.LocalSize != 16 || c.MinScale != 0.4 || c.LocalMinScale != 0.05 || c.LocalMaxScale != 0.4 {
		t.Fatalf("defaults %+v", c)
	}
	rng := testRNG(5)
	span := func(p core.Planar) float64 { // of channel 0, in the ramp's [0, 1]
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range p.Pix[:p.H*p.W] {
			lo, hi = min(lo, float64(v)), max(hi, float64(v))
		}
		return (hi - lo) * float64(core.ImageNetNorm.Std[0]) // undo the normalisation's scale
	}
	var globalMin, localMax float64 = 1, 0
	for range 40 {
		exs, err := c.example("test", nil, ramp, 3, rng)
		if err != nil {
			t.Fatal(err)
		}
		v := exs[0].Views
		if len(v) != 8 {
			t.Fatalf("%d views, want 8", len(v))
		}
		for i, p := range v {
			want := 32
			if i >= 2 {
				want = 16
			}
			if p.H != want || p.W != want || p.C != 3 {
				t.Fatalf("view %d is %dx%dx%d, want 3x%dx%d", i, p.C, p.H, p.W, want, want)
			}
			if i < 2 {
				globalMin = min(globalMin, span(p))
			} else {
				localMax = max(localMax, span(p))
			}
		}
	}
	// The resize blurs the ends by a pixel or so of the view: slack 0.08.
	t.Logf("global views span at least %.2f of the width, local at most %.2f", globalMin, localMax)
	if lo := math.Sqrt(0.4*3/4) - 0.08; globalMin < lo {
		t.Errorf("a global view spans %.2f of the width, below the 0.4 scale's %.2f", globalMin, lo)
	}
	if hi := math.Sqrt(0.4*4/3) + 0.02; localMax > hi {
		t.Errorf("a local view spans %.2f of the width, above the 0.4 scale's %.2f", localMax, hi)
	}
	// No local views.
	none := MultiCropConfig{LocalCrops: -1}.withDefaults()
	exs, err := none.example("test", nil, ramp, 3, rng)
	if err != nil || len(exs[0].Views) != 2 {
		t.Fatalf("local_crops -1: %v, %v", exs, err)
	}
	// The stacks are view-major, globals and locals apart.
	batch := []core.Example{}
	for range 3 {
		if batch, err = c.example("test", batch, ramp, 3, rng); err != nil {
			t.Fatal(err)
		}
	}
	g, l, err := c.stack("test", batch, 2)
	if err != nil {
		t.Fatal(err)
	}
	if g.sh != (core.Shape{N: 6, C: 3, H: 32, W: 32}) || l.sh != (core.Shape{N: 18, C: 3, H: 16, W: 16}) {
		t.Fatalf("stacks %+v and %+v", g.sh, l.sh)
	}
	// Row v·N+i of the locals (view 2+v of example i): example 1's view 4.
	plane := 16 * 16
	if got, want := l.x[(2*3+1)*plane], batch[1].Views[4].Pix[0]; got != want {
		t.Errorf("locals row 7 starts %v, want example 1's view 4's %v", got, want)
	}
}

// TestDINOLoss checks the task's loss against core.DINOLoss of the
// student's and teacher's outputs built here from the trunk, the teacher
// and the heads in evaluation mode, and its accuracy against
// core.PairAccuracy of the student's global bottleneck features.
func TestDINOLoss(t *testing.T) {
	t.Parallel()
	photos := testPhotos(t)
	trunk := smallTrunk(t, 2)
	task := newDINO(t, dinoSmall, trunk)
	// A centre that is not zero, to check it is used.
	for j, c := range task.Center.Value().Data().F32() {
		task.Center.Value().Data().F32()[j] = c + 0.01*float32(j%7)
	}
	batch, err := Batch(task, photos, 5, testRNG(3))
	if err != nil {
		t.Fatal(err)
	}
	loss, score, err := task.Loss(trunk, batch, false)
	if err != nil {
		t.Fatal(err)
	}
	n := len(batch)
	viewsOf := func(from, to int) []core.Planar {
		var out []core.Planar
		for v := from; v < to; v++ {
			for _, ex := range batch {
				out = append(out, ex.Views[v])
			}
		}
		return out
	}
	embed := func(tr *core.Trunk, views []core.Planar) mat.Tensor {
		f, err := tr.Embed(views)
		if err != nil {
			t.Fatal(err)
		}
		return rowMatrix(f)
	}
	f, err := core.ConcatRows(embed(trunk, viewsOf(0, 2)), embed(trunk, viewsOf(2, 4)))
	if err != nil {
		t.Fatal(err)
	}
	s, unit, err := task.Head.Forward(f, false)
	if err != nil {
		t.Fatal(err)
	}
	te, _, err := task.TargetHead.Forward(embed(task.Target, viewsOf(0, 2)), false)
	if err != nil {
		t.Fatal(err)
	}
	want, err := core.DINOLoss(s, te, task.Center, 0.1, 0.04)
	if err != nil {
		t.Fatal(err)
	}
	got, w := float64(loss.Value().Item().F32()), float64(want.Value().Item().F32())
	t.Logf("loss %.5f (ln K = %.5f)", got, math.Log(128))
	if math.Abs(got-w) > 1e-4*math.Max(1, math.Abs(w)) {
		t.Errorf("loss %v, want %v", got, w)
	}
	// Photo i's global views at rows i and n+i of unit.
	u := unit.Value().Data().F32()
	d := unit.Shape()[1]
	pairs := make([]float32, 0, 2*n*d)
	for i := range n {
		pairs = append(pairs, u[i*d:(i+1)*d]...)
		pairs = append(pairs, u[(n+i)*d:(n+i+1)*d]...)
	}
	acc, err := core.PairAccuracy(mat.NewDense[float32](mat.WithShape(2*n, d), mat.WithBacking(pairs)))
	if err != nil {
		t.Fatal(err)
	}
	if score.Accuracy != acc {
		t.Errorf("accuracy %v, want %v", score.Accuracy, acc)
	}
	// The logits are cosines: unit bottleneck against unit prototypes.
	for _, v := range s.Value().Data().F32() {
		if !(v >= -1.0001 && v <= 1.0001) {
			t.Fatalf("logit %v is not a cosine", v)
		}
	}
}

// TestDINOCenter: after a training step the centre is m·C + (1-m) times
// the mean of the teacher's outputs for the step's global views (batch
// statistics, as in training), and the teacher moved towards the student.
func TestDINOCenter(t *testing.T) {
	t.Parallel()
	photos := testPhotos(t)
	trunk := smallTrunk(t, 4)
	task := newDINO(t, dinoSmall, trunk)
	batch, err := Batch(task, photos, 6, testRNG(5))
	if err != nil {
		t.Fatal(err)
	}
	// The teacher's outputs, from a copy (its forward pass in training
	// updates its running statistics, not its outputs).
	g, _, err := task.cfg.stack("dino", batch, 2)
	if err != nil {
		t.Fatal(err)
	}
	ft, err := task.Target.Frozen().Forward(g.matrix(), g.sh, true)
	if err != nil {
		t.Fatal(err)
	}
	te, _, err := task.TargetHead.frozen().Forward(ft, true)
	if err != nil {
		t.Fatal(err)
	}
	mean := columnMeans(te.Value().Data().F32(), 128)
	tr, err := core.NewTrainer(trunk, task, core.TrainConfig{Optimizer: "adam"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Step(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	for j, c := range task.Center.Value().Data().F32() {
		if want := 0.1 * mean[j]; math.Abs(float64(c)-want) > 1e-6 {
			t.Fatalf("centre[%d] = %v, want %v", j, c, want)
		}
	}
	// An evaluation leaves the centre alone.
	before := append([]float32(nil), task.Center.Value().Data().F32()...)
	if _, _, err := tr.Evaluate(batch); err != nil {
		t.Fatal(err)
	}
	if err := task.Follow(2); err != nil {
		t.Fatal(err)
	}
	for j, c := range task.Center.Value().Data().F32() {
		if c != before[j] {
			t.Fatalf("centre[%d] moved from %v to %v without a training step", j, before[j], c)
		}
	}
}

// TestDINOLossFalls trains DINO on the sample photos: the loss falls and
// the trunk's features match a photo's views more often than a random-init
// trunk's (they did not collapse). The colour distortions are milder than
// the defaults', as in TestJointLossFalls.
//
// DINO's loss is not monotone, its target moves: at the start student and
// teacher are the same network and the centre is zero, so both put their
// mass on the same few prototypes and the loss is low; as the centre
// catches up (over about 1/(1-m) = 10 steps) the teacher's outputs spread
// and the loss rises, then falls as the student learns to predict them. So
// the loss falls from steps 10-30 (in this run 3.97) to the last ten (3.70).
func TestDINOLossFalls(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the sample photos; -short skips it")
	}
	t.Parallel()
	photos := testPhotos(t)
	trunk := smallTrunk(t, 5)
	config := strings.TrimSuffix(dinoSmall, "}") + `,"jitter_prob":0.5,"grey_prob":-1}`
	task := newDINO(t, config, trunk)
	losses, tr := trainLosses(t, trunk, task, photos, core.TrainConfig{Optimizer: "adam", LR: 2e-3}, 100, 16, 6)
	early, last := meanOf(losses[10:30]), meanOf(losses[90:])
	t.Logf("loss: steps 11-30 mean %.4f, last 10 mean %.4f (ln K = %.4f)", early, last, math.Log(128))
	if !(last < 0.95*early) {
		t.Errorf("loss did not fall: steps 11-30 mean %.4f, last 10 mean %.4f, want below 0.95 x", early, last)
	}
	checkViewMatching(t, task, tr.Trunk, photos)
}

// TestDINOCheckpoint rebuilds DINO from its spec and a checkpoint: heads,
// teacher, centre and batch-norm statistics.
func TestDINOCheckpoint(t *testing.T) {
	t.Parallel()
	photos := testPhotos(t)
	trunk := smallTrunk(t, 7)
	task := newDINO(t, dinoSmall, trunk)
	_, tr := trainLosses(t, trunk, task, photos, core.TrainConfig{Optimizer: "adam"}, 2, 8, 8)
	batch, err := Batch(task, photos, 8, testRNG(9))
	if err != nil {
		t.Fatal(err)
	}
	got := checkpointRoundTrip(t, tr, batch)
	d := got.Head.(*DINO)
	if d.Name() != "dino" || d.cfg.LocalCrops != 2 || d.cfg.Prototypes != 128 {
		t.Errorf("loaded %s with %+v", d.Name(), d.cfg)
	}
	if c := d.Center.Value().Data().F32(); allZeroF32(c) {
		t.Errorf("the loaded centre is zero")
	}
	for i, v := range task.Center.Value().Data().F32() {
		if d.Center.Value().Data().F32()[i] != v {
			t.Fatalf("centre[%d] %v, saved %v", i, d.Center.Value().Data().F32()[i], v)
		}
	}
	if d.Center.RequiresGrad() || d.TargetHead.Prototypes.RequiresGrad() || d.Target.Layers[0].W.RequiresGrad() {
		t.Errorf("the loaded teacher or centre takes gradients")
	}
}

func allZeroF32(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// TestDINOResume: a run saved after 3 steps and loaded goes on exactly as
// the run that was not stopped (teacher and centre in the checkpoint, the
// loaded task following the loaded trunk).
func TestDINOResume(t *testing.T) {
	t.Parallel()
	whole, loaded := checkResume(t, "dino", dinoSmall)
	d := loaded.Head.(*DINO)
	w0 := smallTrunk(t, 20).Layers[0].W.Value().Data().F32()[0]
	if wt, wo := d.Target.Layers[0].W.Value().Data().F32()[0], loaded.Trunk.Layers[0].W.Value().Data().F32()[0]; wt == w0 || wt == wo {
		t.Errorf("teacher weight %v: the initial %v or the student's %v", wt, w0, wo)
	}
	wc := whole.Head.(*DINO).Center.Value().Data().F32()
	for j, c := range d.Center.Value().Data().F32() {
		if c != wc[j] {
			t.Fatalf("centre[%d] %v after the reload, %v without it", j, c, wc[j])
		}
	}
}

// TestDINOScores: the held-out measure is view matching on the two-view
// methods' views, and DINO has no baseline loss.
func TestDINOScores(t *testing.T) {
	t.Parallel()
	photos := testPhotos(t)[:8]
	trunk := smallTrunk(t, 11)
	task := newDINO(t, dinoSmall, trunk)
	checkMultiCropScores(t, "dino", task, trunk, photos)
	if _, ok := Task(task).(Baseliner); ok {
		t.Errorf("dino has a baseline loss")
	}
}

func TestDINOErrors(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 14)
	for _, cfg := range []string{
		`{"prototypes":-1}`, `{"prototypes":100000}`, `{"student_temp":-1}`, `{"teacher_temp":1000}`,
		`{"center_momentum":1}`, `{"momentum":1}`, `{"momentum":-0.5}`,
		`{"local_crops":17}`, `{"local_size":64}`, `{"local_size":-2}`, `{"local_min_scale":0.5}`, `{"local_max_scale":1.5}`,
		`{"size":-1}`, `{"min_scale":2}`, `{"jitter":3}`, `{"grey_prob":1.5}`, `{"bottleneck":-2}`, `{"bottleneck":16384,"prototypes":65536}`,
		`{"neighbors":100}`, `{"bogus":1}`, `[`,
	} {
		if _, err := New("dino", json.RawMessage(cfg), trunk, testRNG(1)); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
			t.Errorf("config %s: error %v", cfg, err)
		}
	}
	// A local size the small trunk cannot take: a 3-pixel view pools to
	// 1x1 maps, which its second pool cannot halve.
	if _, err := New("dino", json.RawMessage(`{"local_size":3}`), trunk, testRNG(1)); err == nil {
		t.Errorf("local_size 3: no error")
	}
	task := newDINO(t, dinoSmall, trunk)
	if _, err := task.Examples(nil, nil, testRNG(1)); err == nil {
		t.Errorf("Examples of no photo: no error")
	}
	if _, err := task.Examples(nil, testPhotos(t)[0], nil); err == nil {
		t.Errorf("Examples without a rng: no error")
	}
	g, l := core.NewPlanar(3, 32, 32), core.NewPlanar(3, 16, 16)
	four := core.Example{Views: []core.Planar{g, g, l, l}}
	two := core.Example{Views: []core.Planar{g, g}}
	wrongSize := core.Example{Views: []core.Planar{g, l, l, l}}
	for name, batch := range map[string][]core.Example{
		"none": nil, "one": {four}, "two views": {four, two}, "a global of the local size": {four, wrongSize},
	} {
		if _, _, err := task.Loss(trunk, batch, true); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
			t.Errorf("Loss on %s: error %v", name, err)
		}
	}
	if _, _, err := task.Loss(nil, []core.Example{four, four}, true); err == nil {
		t.Errorf("Loss without a trunk: no error")
	}
}
