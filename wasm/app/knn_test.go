package app

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/recipe"
)

// kindLabels names every photo of a by its kind ("red" or "blue", from
// kindFiles' names).
func kindLabels(a *App) []Named {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []Named
	for _, p := range a.photos {
		kind, _, _ := strings.Cut(p.Name, "-")
		out = append(out, Named{ID: p.id, Label: kind})
	}
	return out
}

// TestTrainKNN trains on twenty named photos of two kinds, measured every
// four steps: "knn" events come after the step events of steps 4 and 8
// and after the last (10), on all twenty photos, leaving one out; the
// losses are those of the same run without labels, bit for bit.
func TestTrainKNN(t *testing.T) {
	t.Parallel()
	train := func(labels bool) (losses []float64, knn []Event) {
		a := New()
		a.AddImages(kindFiles(t, 10, 1))
		s := quick("rotation", 10)
		if labels {
			s.Labels = kindLabels(a)
			s.Labels = append(s.Labels, Named{ID: 999, Label: "gone"}) // a photo no longer held
			s.KNNEvery = 4
		}
		_, err := a.Train(context.Background(), s, func(e Event) {
			switch e.Type {
			case "step":
				losses = append(losses, e.Loss)
			case "knn":
				knn = append(knn, e)
				if len(losses) != e.Step {
					t.Errorf("knn event of step %d after %d steps", e.Step, len(losses))
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		return losses, knn
	}
	plain, none := train(false)
	if len(none) != 0 {
		t.Fatalf("knn events without labels: %+v", none)
	}
	losses, knn := train(true)
	if !slices.Equal(losses, plain) {
		t.Errorf("losses with k-NN evaluation %v, without %v", losses, plain)
	}
	var steps []int
	for _, e := range knn {
		steps = append(steps, e.Step)
		// Even an untrained trunk tells stripes from rings
		// (internal/testphotos); a chance vote scores about half.
		if e.Message != "" || e.Images != 20 || e.K != 19 || e.Steps != 10 || !(e.Accuracy >= 0.9 && e.Accuracy <= 1) || !(e.Seconds > 0) {
			t.Errorf("knn event %+v", e)
		}
	}
	if !slices.Equal(steps, []int{4, 8, 10}) {
		t.Errorf("knn events at steps %v, want 4, 8 and 10", steps)
	}
}

// TestTrainKNNTooFewLabels: named photos that leaving one out cannot
// measure (one photo of a label) are one "knn" event with a message
// before the first step, and nothing after; KNNEvery < 0 measures
// nothing at all.
func TestTrainKNNTooFewLabels(t *testing.T) {
	t.Parallel()
	a := New()
	a.AddImages(kindFiles(t, 3, 1))
	labels := kindLabels(a)
	s := quick("rotation", 2)
	s.Labels = []Named{labels[0], labels[1], labels[3]} // red, red, blue
	var knn []Event
	if _, err := a.Train(context.Background(), s, func(e Event) {
		if e.Type == "knn" {
			knn = append(knn, e)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if len(knn) != 1 || knn[0].Step != 0 || knn[0].Images != 0 || !strings.Contains(knn[0].Message, "3 named photos with 2 labels") {
		t.Errorf("knn events %+v", knn)
	}
	s.Labels, s.KNNEvery, knn = labels, -1, nil
	if _, err := a.Train(context.Background(), s, func(e Event) {
		if e.Type == "knn" {
			knn = append(knn, e)
		}
	}); err != nil || len(knn) != 0 {
		t.Errorf("knn events with KNNEvery -1: %+v, %v", knn, err)
	}
}

func TestKNNPhotos(t *testing.T) {
	t.Parallel()
	a := New()
	a.AddImages(kindFiles(t, 5, 1))
	labels := kindLabels(a)
	a.mu.Lock()
	train, held := a.split(recipe.Settings{})
	a.mu.Unlock()
	e, why := knnPhotos(labels, train, held)
	if e == nil || why != "" || len(e.photos) != 10 {
		t.Fatalf("ten named photos: %v, %q", e, why)
	}
	if e.photos[0] != held[0].Image {
		t.Error("the held-back photos do not come first")
	}
	if e, why := knnPhotos(nil, train, held); e != nil || why != "" {
		t.Errorf("no labels: %v, %q", e, why)
	}
	if e, why := knnPhotos(labels[:6], train, held); e != nil || !strings.Contains(why, "6 named photos with 2 labels") {
		t.Errorf("five red and one blue: %v, %q", e, why)
	}
}

func TestKNNEvery(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name                           string
		steps, batch, side, n, workers int
		want                           int
	}{
		{"a tenth of a long run", 1000, 64, 64, 200, 1, 100},
		{"a tenth of a short run", 50, 64, 64, 20, 1, 5},
		{"a tenth, rounded up", 25, 32, 64, 4, 1, 3},
		{"rotation's run on 200 photos", 300, 64, 32, 200, 1, 125}, // 1.0·200·4/64 = 12.5 steps an evaluation
		{"a small batch", 300, 16, 64, 200, 1, 125},
		{"shared by four workers", 1000, 64, 32, 200, 4, 500},
		{"one step", 1, 64, 64, 4, 1, 1},
	} {
		if got := knnEvery(c.steps, c.batch, c.side, c.n, c.workers); got != c.want {
			t.Errorf("%s: knnEvery(%d, %d, %d, %d, %d) = %d, want %d", c.name, c.steps, c.batch, c.side, c.n, c.workers, got, c.want)
		}
	}
}

// BenchmarkKNNCost measures knnCost: an evaluation on 200 named photos
// against training steps of rotation at its default batch (64, side 32)
// on the same photos, reported as the training examples of side 64 one
// photo's evaluation costs (cost/photo, knnCost's unit) and as the
// evaluations' share of a 300-step run's time at the default interval.
func BenchmarkKNNCost(b *testing.B) {
	a := New()
	a.AddImages(kindFiles(b, 100, 1))
	const steps = 20
	s := Settings{Settings: recipe.Settings{Task: "rotation", Steps: steps, Batch: 64}, KNNEvery: -1}
	var stepTime, evalTime time.Duration
	var side int
	for range b.N {
		start := time.Now()
		if _, err := a.Train(context.Background(), s, nil); err != nil {
			b.Fatal(err)
		}
		stepTime += time.Since(start) / steps
		m := a.current()
		side = m.run.Task.InputSize()
		a.mu.Lock()
		train, held := a.split(m.run.Settings)
		a.mu.Unlock()
		e, _ := knnPhotos(kindLabels(a), train, held)
		var ev Event
		start = time.Now()
		e.hook(a, 1, func() *core.Trunk { return m.run.Trainer.Trunk }, 1, func(x Event) { ev = x }).Fn(1)
		evalTime += time.Since(start)
		if ev.Images != knnMaxPhotos {
			b.Fatalf("evaluated %+v", ev)
		}
	}
	ratio := float64(evalTime) / float64(stepTime) // steps an evaluation costs
	every := knnEvery(300, 64, side, knnMaxPhotos, 1)
	b.ReportMetric(ratio*64/knnMaxPhotos*float64(side*side)/(64*64), "cost/photo")
	b.ReportMetric(float64(evalTime)/float64(b.N)/1e9, "s/eval")
	b.ReportMetric(float64(stepTime)/float64(b.N)/1e9, "s/step")
	b.ReportMetric(float64(every), "every")
	b.ReportMetric(100*ratio/(ratio+float64(every)), "%time@default")
}
