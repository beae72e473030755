package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"math"
	"strings"
	"testing"

	"github.com/nlpodyssey/spago/mat"

	"github.com/pretextlab/pretext/core"
)

// The joint-embedding methods after SimCLR (vicreg, barlow-twins,
// simsiam) share ViewConfig's views, pairFeatures and the neighbours
// preview (tested through simclr_test.go); these tests check what each
// adds: its heads, its loss on the batch's pairs, its scores, its
// settings.

// jointMethods are the methods under test with small settings for the
// small trunk.
var jointMethods = []struct {
	name, config string
}{
	{"vicreg", `{"hidden":64,"proj":64}`},
	{"barlow-twins", `{"hidden":64,"proj":64}`},
	{"simsiam", `{"hidden":64,"proj":32}`},
	{"byol", `{"hidden":64,"proj":32}`},
	{"moco", `{"hidden":64,"proj":32,"queue":64}`},
}

func newJoint(t *testing.T, name, config string, trunk *core.Trunk) Task {
	t.Helper()
	task, err := New(name, json.RawMessage(config), trunk, testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// TestJointLoss checks each method's loss against core's loss applied to
// the method's own embeddings, built here from the trunk and heads, and
// its accuracy against core.PairAccuracy of the same rows.
func TestJointLoss(t *testing.T) {
	t.Parallel()
	photos := testPhotos(t)
	for _, m := range jointMethods {
		t.Run(m.name, func(t *testing.T) {
			trunk := smallTrunk(t, 2)
			task := newJoint(t, m.name, m.config, trunk)
			batch, err := Batch(task, photos, 6, testRNG(3))
			if err != nil {
				t.Fatal(err)
			}
			for _, ex := range batch {
				if len(ex.Views) != 2 || ex.Views[0].H != 32 || planarEqual(ex.Views[0], ex.Views[1]) {
					t.Fatalf("example has %d views (%dx%d), want two different 32x32 views", len(ex.Views), ex.Views[0].H, ex.Views[0].W)
				}
			}
			loss, score, err := task.Loss(trunk, batch, false)
			if err != nil {
				t.Fatal(err)
			}
			// The trunk's features of views 0,1 of example 0, then of
			// example 1, ...
			var views []core.Planar
			for _, ex := range batch {
				views = append(views, ex.Views...)
			}
			f, err := trunk.Embed(views)
			if err != nil {
				t.Fatal(err)
			}
			feats := rowMatrix(f)
			var want, z mat.Tensor
			switch tk := task.(type) {
			case *VICReg:
				z, err = tk.Head.Forward(feats, false)
				if err == nil {
					want, err = core.VICReg(z, core.VICRegConfig{})
				}
			case *BarlowTwins:
				z, err = tk.Head.Forward(feats, false)
				if err == nil {
					want, err = core.BarlowTwins(z, 0.005)
				}
			case *SimSiam:
				z, err = tk.Proj.Forward(feats, false)
				var p mat.Tensor
				if err == nil {
					p, err = tk.Pred.Forward(z, false)
				}
				if err == nil {
					want, err = core.CrossCosine(p, z)
				}
			case *MoCo:
				// Against the momentum network's keys and the queue.
				z, err = tk.Proj.Forward(feats, false)
				var k mat.Tensor
				fk, err2 := tk.Target.Embed(views)
				if err == nil && err2 == nil {
					k, err = tk.TargetProj.Forward(rowMatrix(fk), false)
				}
				if err == nil {
					want, _, err = core.InfoNCE(z, k, tk.Queue, 0.2)
				}
				if err == nil {
					// MoCo's accuracy is InfoNCE's, tested in core.
					_, acc, _ := core.InfoNCE(z, k, tk.Queue, 0.2)
					if score.Accuracy != acc {
						t.Errorf("accuracy %v, want %v", score.Accuracy, acc)
					}
					return
				}
			case *BYOL:
				// Against the target's projections of the same views.
				z, err = tk.Proj.Forward(feats, false)
				var p, zt mat.Tensor
				if err == nil {
					p, err = tk.Pred.Forward(z, false)
				}
				ft, err2 := tk.Target.Embed(views)
				if err == nil && err2 == nil {
					zt, err = tk.TargetProj.Forward(rowMatrix(ft), false)
				}
				if err == nil {
					want, err = core.CrossCosine(p, zt)
				}
			default:
				t.Fatalf("%T", task)
			}
			if err != nil {
				t.Fatal(err)
			}
			got, w := float64(loss.Value().Item().F32()), float64(want.Value().Item().F32())
			if math.Abs(got-w) > 1e-4*math.Max(1, math.Abs(w)) {
				t.Errorf("loss %v, want %v", got, w)
			}
			acc, err := core.PairAccuracy(z)
			if err != nil {
				t.Fatal(err)
			}
			if score.Accuracy != acc {
				t.Errorf("accuracy %v, want %v", score.Accuracy, acc)
			}
		})
	}
}

// TestJointLossFalls trains each method on the sample photos for a few
// dozen steps: the loss falls and the trunk's features match a photo's
// views more often than a random-init trunk's (they did not collapse). The
// colour distortions are milder than the defaults', as in
// TestSimCLRLossFalls.
func TestJointLossFalls(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the sample photos; -short skips it")
	}
	t.Parallel()
	photos := testPhotos(t)
	for _, m := range jointMethods {
		t.Run(m.name, func(t *testing.T) {
			trunk := smallTrunk(t, 5)
			config := strings.TrimSuffix(m.config, "}") + `,"min_scale":0.5,"jitter_prob":0.5,"grey_prob":-1}`
			task := newJoint(t, m.name, config, trunk)
			steps, ratio := 50, 0.85
			switch m.name {
			case "vicreg":
				ratio = 0.9 // its variance term keeps a floor under the loss
			case "byol":
				steps = 100 // its target follows with a lag of about 1/(1-τ) = 100 steps
			case "simsiam":
				steps = 100
			case "moco":
				steps, ratio = 100, 0.95 // the queue's keys get harder as it trains
			}
			losses, tr := trainLosses(t, trunk, task, photos, core.TrainConfig{Optimizer: "adam", LR: 2e-3}, steps, 16, 6)
			if m.name == "simsiam" || m.name == "byol" {
				// Its loss is a negative cosine in [-1, 1]: falling means
				// getting more negative.
				first, last := meanOf(losses[:5]), meanOf(losses[len(losses)-5:])
				t.Logf("loss: first 5 mean %.4f, last 5 mean %.4f", first, last)
				if !(last < first-0.2) {
					t.Errorf("loss did not fall by 0.2: first %.4f, last %.4f", first, last)
				}
			} else {
				checkLossFalls(t, losses, 5, ratio)
			}
			checkViewMatching(t, task.(Measurer), tr.Trunk, photos)
		})
	}
}

// TestJointCheckpoint rebuilds each method from its spec and from a
// checkpoint (heads, batch-norm statistics and all).
func TestJointCheckpoint(t *testing.T) {
	t.Parallel()
	photos := testPhotos(t)
	for _, m := range jointMethods {
		t.Run(m.name, func(t *testing.T) {
			trunk := smallTrunk(t, 7)
			task := newJoint(t, m.name, m.config, trunk)
			_, tr := trainLosses(t, trunk, task, photos, core.TrainConfig{Optimizer: "adam"}, 2, 8, 8)
			batch, err := Batch(task, photos, 8, testRNG(9))
			if err != nil {
				t.Fatal(err)
			}
			got := checkpointRoundTrip(t, tr, batch)
			if got.Head.Spec().Kind != m.name {
				t.Errorf("kind %q", got.Head.Spec().Kind)
			}
		})
	}
}

// TestJointScores checks the held-out scores: view matching against the
// random-init trunk, and the collapsed embedding's baseline loss.
func TestJointScores(t *testing.T) {
	t.Parallel()
	photos := testPhotos(t)[:8]
	for _, m := range jointMethods {
		t.Run(m.name, func(t *testing.T) {
			trunk := smallTrunk(t, 11)
			task := newJoint(t, m.name, m.config, trunk)
			tr, err := core.NewTrainer(trunk, task, core.TrainConfig{})
			if err != nil {
				t.Fatal(err)
			}
			h, err := HeldOutScore(tr, task, photos, 2, 4, 1)
			if err != nil {
				t.Fatal(err)
			}
			if h.Measure == nil || h.Measure.Name != "view matching" || !(h.Measure.Value >= 0 && h.Measure.Value <= 100) || !(h.Measure.Baseline >= 0 && h.Measure.Baseline <= 100) {
				t.Fatalf("measure %+v", h.Measure)
			}
			// The measure is core.PairAccuracy of the trunk's features of
			// the views: the same views made here from the same seed.
			mr, err := task.(Measurer).Measure(trunk, photos, testRNG(12))
			if err != nil {
				t.Fatal(err)
			}
			rng := testRNG(12)
			var views []core.Planar
			for _, p := range photos {
				exs, err := task.Examples(nil, p, rng)
				if err != nil {
					t.Fatal(err)
				}
				views = append(views, exs[0].Views...)
			}
			f, err := trunk.Embed(views)
			if err != nil {
				t.Fatal(err)
			}
			acc, err := core.PairAccuracy(rowMatrix(f))
			if err != nil {
				t.Fatal(err)
			}
			if mr.Value != 100*acc {
				t.Errorf("view matching %v, want %v", mr.Value, 100*acc)
			}
			switch m.name {
			case "vicreg":
				if want := 25 * (1 - 0.01); math.Abs(h.BaselineLoss-want) > 1e-12 {
					t.Errorf("baseline %v, want %v", h.BaselineLoss, want)
				}
			case "barlow-twins":
				if h.BaselineLoss != 64 {
					t.Errorf("baseline %v, want 64", h.BaselineLoss)
				}
			case "moco":
				if want := math.Log(65); math.Abs(h.BaselineLoss-want) > 1e-12 {
					t.Errorf("baseline %v, want ln 65", h.BaselineLoss)
				}
			case "simsiam", "byol":
				if _, ok := task.(Baseliner); ok {
					t.Errorf("%s has a baseline loss: its collapse is its loss's minimum", m.name)
				}
			}
		})
	}
	// A collapsed embedding reaches the baseline losses.
	z := fromRowsF32(8, 4, func(i, k int) float32 { return float32(k + 1) })
	if l, err := core.VICReg(z, core.VICRegConfig{}); err != nil || math.Abs(float64(l.Value().Item().F32())-25*0.99) > 1e-4 {
		t.Errorf("vicreg of a collapsed embedding: %v, %v", l, err)
	}
	if l, err := core.BarlowTwins(z, 0.005); err != nil || math.Abs(float64(l.Value().Item().F32())-4) > 1e-4 {
		t.Errorf("barlow twins of a collapsed embedding: %v, %v", l, err)
	}
}

func fromRowsF32(rows, cols int, at func(i, k int) float32) mat.Tensor {
	v := make([]float32, rows*cols)
	for i := range rows {
		for k := range cols {
			v[i*cols+k] = at(i, k)
		}
	}
	return mat.NewDense[float32](mat.WithShape(rows, cols), mat.WithBacking(v))
}

// TestJointPredict: the methods' previews are the shared neighbours
// preview over the refreshed photos.
func TestJointPredict(t *testing.T) {
	t.Parallel()
	photos := testPhotos(t)
	for _, m := range jointMethods {
		trunk := smallTrunk(t, 10)
		task := newJoint(t, m.name, m.config, trunk)
		if _, err := Prepare(task, trunk, photos, 0, testRNG(12)); err != nil {
			t.Fatal(err)
		}
		p, err := task.Predict(trunk, photos[2], testRNG(11))
		if err != nil {
			t.Fatal(err)
		}
		if b := p.Image.Bounds(); b.Dx() != 6*thumbSide+7*tileGap || !strings.HasPrefix(p.Summary, "nearest: photos #") {
			t.Errorf("%s: montage %v, summary %q", m.name, b, p.Summary)
		}
	}
}

func TestJointErrors(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 14)
	bad := map[string][]string{
		"vicreg":       {`{"sim":-1}`, `{"cov":1e9}`},
		"barlow-twins": {`{"lambda":1e9}`},
		"simsiam":      {`{"pred_hidden":-3}`, `{"hidden":16384,"proj":16384}`},
		"byol":         {`{"pred_hidden":-3}`, `{"momentum":1}`, `{"momentum":-0.5}`},
		"moco":         {`{"queue":-1}`, `{"queue":100000}`, `{"temperature":-1}`, `{"momentum":1}`},
	}
	for _, m := range jointMethods {
		for _, cfg := range append(bad[m.name], `{"size":-1}`, `{"min_scale":2}`, `{"jitter":3}`, `{"grey_prob":1.5}`, `{"proj":-2}`, `{"neighbors":100}`, `{"bogus":1}`, `[`) {
			if _, err := New(m.name, json.RawMessage(cfg), trunk, testRNG(1)); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
				t.Errorf("%s config %s: error %v", m.name, cfg, err)
			}
		}
		task := newJoint(t, m.name, m.config, trunk)
		if _, err := task.Examples(nil, nil, testRNG(1)); err == nil {
			t.Errorf("%s: Examples of no photo: no error", m.name)
		}
		two := core.Example{Views: []core.Planar{core.NewPlanar(3, 32, 32), core.NewPlanar(3, 32, 32)}}
		one := core.Example{Views: []core.Planar{core.NewPlanar(3, 32, 32)}}
		for _, batch := range [][]core.Example{nil, {two}, {two, one}} {
			if _, _, err := task.Loss(trunk, batch, true); err == nil {
				t.Errorf("%s: Loss on %d examples: no error", m.name, len(batch))
			}
		}
	}
}

// checkResume trains the task name (config) on a small trunk for 6 steps
// in one go, and from the same batches for 3 steps, a save and a load, and
// 3 more; it fails t unless the losses are the same bit for bit, and
// returns the uninterrupted trainer and the loaded one for the caller's
// own checks.
func checkResume(t *testing.T, name, config string) (whole, loaded *core.Trainer) {
	t.Helper()
	photos := testPhotos(t)
	rng := testRNG(21)
	var batches [][]core.Example
	probe := newJoint(t, name, config, smallTrunk(t, 20))
	for range 6 {
		b, err := Batch(probe, photos, 8, rng)
		if err != nil {
			t.Fatal(err)
		}
		batches = append(batches, b)
	}
	cfg := core.TrainConfig{Optimizer: "adam", LR: 2e-3}
	run := func(tr *core.Trainer, bs [][]core.Example) []float64 {
		var losses []float64
		for _, b := range bs {
			st, err := tr.Step(context.Background(), b)
			if err != nil {
				t.Fatal(err)
			}
			losses = append(losses, st.Loss)
		}
		return losses
	}
	trunk := smallTrunk(t, 20)
	whole, err := core.NewTrainer(trunk, newJoint(t, name, config, trunk), cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := run(whole, batches)

	trunk2 := smallTrunk(t, 20)
	half, err := core.NewTrainer(trunk2, newJoint(t, name, config, trunk2), cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := run(half, batches[:3])
	var buf bytes.Buffer
	if err := half.Save(&buf); err != nil {
		t.Fatal(err)
	}
	if loaded, err = core.LoadTrainer(&buf, Resolve); err != nil {
		t.Fatal(err)
	}
	got = append(got, run(loaded, batches[3:])...)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("step %d: loss %v after the reload, %v without it", i+1, got[i], want[i])
		}
	}
	return whole, loaded
}

// TestMomentumResume: a run of the momentum methods saved after 3 steps
// and loaded goes on exactly as the run that was not stopped: the target
// network and MoCo's queue are part of the checkpoint, and the loaded task
// follows the loaded trunk.
func TestMomentumResume(t *testing.T) {
	t.Parallel()
	for _, m := range jointMethods {
		if m.name != "byol" && m.name != "moco" {
			continue
		}
		t.Run(m.name, func(t *testing.T) {
			_, loaded := checkResume(t, m.name, m.config)
			// The target network moved from the trunk's initial weights.
			var target *core.Trunk
			switch tk := loaded.Head.(type) {
			case *BYOL:
				target = tk.Target
			case *MoCo:
				target = tk.Target
				if pos := tk.QueuePos.Value().Data().F32()[0]; pos != float32(6*16%64) {
					t.Errorf("queue position %v, want %v", pos, 6*16%64)
				}
			}
			w0 := smallTrunk(t, 20).Layers[0].W.Value().Data().F32()[0]
			if wt, wo := target.Layers[0].W.Value().Data().F32()[0], loaded.Trunk.Layers[0].W.Value().Data().F32()[0]; wt == w0 || wt == wo {
				t.Errorf("target weight %v: the initial %v or the online %v", wt, w0, wo)
			}
		})
	}
}

// checkViewMatching fails t unless the trained trunk's features match a
// photo's two views better than a random-init trunk's do (task's measure),
// by more than 2 points over eight draws of the views (16 photos: one draw
// alone is noisy).
func checkViewMatching(t *testing.T, task Measurer, trunk *core.Trunk, photos []*image.NRGBA) {
	t.Helper()
	var m Measure
	for r := range uint64(8) {
		mr, err := task.Measure(trunk, photos, testRNG(70+r))
		if err != nil {
			t.Fatal(err)
		}
		m.Value += mr.Value / 8
		m.Baseline += mr.Baseline / 8
	}
	t.Logf("view matching %.1f%%, random-init trunk %.1f%%", m.Value, m.Baseline)
	if !(m.Value > m.Baseline+2) {
		t.Errorf("view matching %.1f%%, random-init trunk %.1f%%: the trunk learned nothing", m.Value, m.Baseline)
	}
}
