package tasks

import (
	"bytes"
	"context"
	"image"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/tasks/samples"
)

// Shared test helpers for every task's tests.

var (
	samplePhotosOnce sync.Once
	samplePhotos     []*image.NRGBA
	samplePhotosErr  error
)

// testPhotos returns the embedded sample photos decoded by core.Decode with
// their longer side fitted in 128 pixels (small, so tests are fast), decoded
// once per test binary. Callers must not modify them.
func testPhotos(t testing.TB) []*image.NRGBA {
	t.Helper()
	samplePhotosOnce.Do(func() {
		samplePhotos, samplePhotosErr = decodeSamples(core.IntakeConfig{MaxSide: 128})
	})
	if samplePhotosErr != nil {
		t.Fatal(samplePhotosErr)
	}
	return samplePhotos
}

// decodeSamples decodes every embedded sample photo with cfg.
func decodeSamples(cfg core.IntakeConfig) ([]*image.NRGBA, error) {
	var out []*image.NRGBA
	for _, p := range samples.Photos() {
		img, err := core.Decode(p.Name, p.Data, cfg)
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}

// testRNG returns a rng with a fixed seed.
func testRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x7e57)) }

// smallTrunk returns a small trunk (widths 8, 16, 32) for fast tests.
func smallTrunk(t testing.TB, seed uint64) *core.Trunk {
	t.Helper()
	trunk, err := core.NewTrunk(core.TrunkConfig{Widths: []int{8, 16, 32}}, testRNG(seed))
	if err != nil {
		t.Fatal(err)
	}
	return trunk
}

// trainLosses trains task on trunk for steps steps of batches of batch
// examples drawn from photos (tasks.Batch) and returns each step's loss.
func trainLosses(t testing.TB, trunk *core.Trunk, task Task, photos []*image.NRGBA, cfg core.TrainConfig, steps, batch int, seed uint64) ([]float64, *core.Trainer) {
	t.Helper()
	tr, err := core.NewTrainer(trunk, task, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rng := testRNG(seed)
	var losses []float64
	for range steps {
		b, err := Batch(task, photos, batch, rng)
		if err != nil {
			t.Fatal(err)
		}
		st, err := tr.Step(context.Background(), b)
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, st.Loss)
	}
	return losses, tr
}

// meanOf is the mean of xs.
func meanOf(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// checkLossFalls fails t unless the mean of the last k losses is below
// ratio times the mean of the first k.
func checkLossFalls(t testing.TB, losses []float64, k int, ratio float64) {
	t.Helper()
	first, last := meanOf(losses[:k]), meanOf(losses[len(losses)-k:])
	t.Logf("loss: first %d mean %.4f, last %d mean %.4f (%d steps)", k, first, k, last, len(losses))
	if !(last < ratio*first) {
		t.Errorf("loss did not fall: first %d mean %.4f, last %d mean %.4f, want below %.2f x first", k, first, k, last, ratio)
	}
}

// checkpointRoundTrip saves tr, loads it back with Resolve and checks the
// head kind and the evaluation loss on batch are unchanged.
func checkpointRoundTrip(t testing.TB, tr *core.Trainer, batch []core.Example) *core.Trainer {
	t.Helper()
	want, _, err := tr.Evaluate(batch)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tr.Save(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := core.LoadTrainer(&buf, Resolve)
	if err != nil {
		t.Fatal(err)
	}
	if got.Head.Spec().Kind != tr.Head.Spec().Kind || string(got.Head.Spec().Config) != string(tr.Head.Spec().Config) {
		t.Errorf("loaded head spec %+v, want %+v", got.Head.Spec(), tr.Head.Spec())
	}
	loss, _, err := got.Evaluate(batch)
	if err != nil {
		t.Fatal(err)
	}
	if loss != want {
		t.Errorf("loaded trainer's eval loss %v, want %v", loss, want)
	}
	return got
}

// checkPrediction checks a prediction's images are present and its Probs a
// distribution over classes classes.
func checkPrediction(t testing.TB, p Prediction, classes int) {
	t.Helper()
	if p.Image == nil || p.Image.Bounds().Empty() {
		t.Errorf("prediction has no image")
	}
	if p.Summary == "" {
		t.Errorf("prediction has no summary")
	}
	if len(p.Probs) != classes {
		t.Fatalf("prediction has %d probs, want %d", len(p.Probs), classes)
	}
	var s float64
	for i, v := range p.Probs {
		if !(v >= 0 && v <= 1) {
			t.Errorf("prob %d is %v", i, v)
		}
		s += v
	}
	if d := s - 1; d > 1e-9 || d < -1e-9 {
		t.Errorf("probs sum to %v, want 1", s)
	}
}

// planarEqual reports whether a and b have the same geometry and values.
func planarEqual(a, b core.Planar) bool {
	if a.C != b.C || a.H != b.H || a.W != b.W || len(a.Pix) != len(b.Pix) {
		return false
	}
	for i := range a.Pix {
		if a.Pix[i] != b.Pix[i] {
			return false
		}
	}
	return true
}
