package tasks

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/tasks/samples"
)

// legacyGolden is what testdata/v1/gen (run at commit e05ef50, before
// the task contract moved to this package and perceptron heads became
// core.MLP values) recorded of each task's checkpoint: the evaluation
// loss on a fixed batch and the predictions on two sample photos.
type legacyGolden struct {
	Task     string
	Step     int
	EvalLoss float64
	Preds    []struct {
		Photo, Summary string
		Probs          []float64
		Image, Input   *legacyPic
	}
}

// legacyPic is an image's size and its 16x16 box-filtered RGBA pixels.
type legacyPic struct {
	W, H  int
	Thumb string
}

// TestLegacyCheckpoints: a checkpoint of every task written by the code
// before this restructuring (format version 1) still loads, evaluates to
// the same loss and predicts the same on the same photos; saved again, it
// is a current checkpoint that loads to the same model.
func TestLegacyCheckpoints(t *testing.T) {
	t.Parallel()
	photos := testPhotos(t)
	names := make([]string, len(photos))
	for i, p := range samples.Photos() {
		names[i] = p.Name
	}
	// Every task of format version 1 (the tasks registered since came
	// with version 2).
	files, err := filepath.Glob(filepath.Join("testdata", "v1", "*.ckpt"))
	if err != nil || len(files) != 13 {
		t.Fatalf("%d version 1 checkpoints (%v), want the 13 tasks of then", len(files), err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".ckpt")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var want legacyGolden
			js, err := os.ReadFile(filepath.Join("testdata", "v1", name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(js, &want); err != nil {
				t.Fatal(err)
			}
			tr, err := core.LoadTrainer(bytes.NewReader(raw), Resolve)
			if err != nil {
				t.Fatal(err)
			}
			checkLegacy(t, tr, photos, names, want)
			// Saved again: the current format, the same model.
			var buf bytes.Buffer
			if err := tr.Save(&buf); err != nil {
				t.Fatal(err)
			}
			again, err := core.LoadTrainer(&buf, Resolve)
			if err != nil {
				t.Fatal(err)
			}
			checkLegacy(t, again, photos, names, want)
		})
	}
}

// checkLegacy compares a loaded trainer with what gen recorded, doing what
// gen did: refresh a clustering task with the same seed, evaluate a
// seeded batch, predict with seed 1.
func checkLegacy(t *testing.T, tr *core.Trainer, photos []*image.NRGBA, names []string, want legacyGolden) {
	t.Helper()
	task, ok := tr.Head.(Task)
	if !ok || task.Name() != want.Task || tr.Steps() != want.Step {
		t.Fatalf("loaded %T at step %d, want task %s at step %d", tr.Head, tr.Steps(), want.Task, want.Step)
	}
	if _, err := Prepare(task, tr.Trunk, photos, tr.Steps(), rand.New(rand.NewPCG(7, 0))); err != nil {
		t.Fatal(err)
	}
	batch, err := Batch(task, photos, 12, rand.New(rand.NewPCG(9, 0)))
	if err != nil {
		t.Fatal(err)
	}
	loss, _, err := tr.Evaluate(batch)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(loss-want.EvalLoss) > 1e-5*(1+math.Abs(want.EvalLoss)) {
		t.Errorf("evaluation loss %.7f, recorded %.7f", loss, want.EvalLoss)
	}
	for _, wp := range want.Preds {
		k := -1
		for i, n := range names {
			if n == wp.Photo {
				k = i
			}
		}
		if k < 0 {
			t.Fatalf("no sample photo %s", wp.Photo)
		}
		p, err := task.Predict(tr.Trunk, photos[k], rand.New(rand.NewPCG(1, 0)))
		if err != nil {
			t.Fatal(err)
		}
		if p.Summary != wp.Summary {
			t.Errorf("%s: summary %q, recorded %q", wp.Photo, p.Summary, wp.Summary)
		}
		if len(p.Probs) != len(wp.Probs) {
			t.Fatalf("%s: %d probabilities, recorded %d", wp.Photo, len(p.Probs), len(wp.Probs))
		}
		for i := range p.Probs {
			if math.Abs(p.Probs[i]-wp.Probs[i]) > 1e-5 {
				t.Errorf("%s: probability %d is %.7f, recorded %.7f", wp.Photo, i, p.Probs[i], wp.Probs[i])
			}
		}
		comparePic(t, wp.Photo+" image", p.Image, wp.Image)
		comparePic(t, wp.Photo+" input", p.Input, wp.Input)
	}
}

// comparePic compares img with a recorded size and 16x16 thumbnail, to 2
// levels in 255 (builds that fuse multiply-adds round differently).
func comparePic(t *testing.T, what string, img *image.NRGBA, want *legacyPic) {
	t.Helper()
	if (img == nil) != (want == nil) {
		t.Fatalf("%s: present %v, recorded %v", what, img != nil, want != nil)
	}
	if img == nil {
		return
	}
	if b := img.Bounds(); b.Dx() != want.W || b.Dy() != want.H {
		t.Fatalf("%s: %dx%d, recorded %dx%d", what, b.Dx(), b.Dy(), want.W, want.H)
	}
	pix, err := base64.StdEncoding.DecodeString(want.Thumb)
	if err != nil {
		t.Fatal(err)
	}
	got := imaging.Resize(img, 16, 16, imaging.Box).Pix
	if len(got) != len(pix) {
		t.Fatalf("%s: thumbnail of %d bytes, recorded %d", what, len(got), len(pix))
	}
	worst := 0
	for i := range got {
		worst = max(worst, int(got[i])-int(pix[i]), int(pix[i])-int(got[i]))
	}
	if worst > 2 {
		t.Errorf("%s: thumbnail differs by up to %d levels from the recorded one", what, worst)
	}
}
