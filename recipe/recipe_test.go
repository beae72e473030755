package recipe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/tasks"
	"github.com/pretextlab/pretext/tasks/samples"
)

var (
	photosOnce sync.Once
	photosAll  []Photo
)

// samplePhotos returns the embedded samples, decoded small for speed.
func samplePhotos(t testing.TB) []Photo {
	t.Helper()
	photosOnce.Do(func() {
		for _, p := range samples.Photos() {
			img, err := core.Decode(p.Name, p.Data, core.IntakeConfig{MaxSide: 96})
			if err != nil {
				t.Fatal(err)
			}
			photosAll = append(photosAll, Photo{Name: p.Name, Image: img})
		}
	})
	return photosAll
}

func TestSettingsDefaults(t *testing.T) {
	t.Parallel()
	s, err := Settings{Task: "jigsaw"}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	info, _ := tasks.Lookup("jigsaw")
	d := info.Defaults
	if s.Optimizer != d.Optimizer || s.LR != d.LR || s.Steps != d.Steps || s.Batch != d.Batch || s.Trunk != "rs" || s.Channels != 3 || *s.Holdout != DefaultHoldout || s.Seed != 0 {
		t.Errorf("defaults %+v, want the task's %+v", s, d)
	}
	// Another optimizer than the task's: its own rate (core.TrainConfig's).
	other := map[string]string{"sgd": "adam", "adam": "sgd"}[d.Optimizer]
	if s, _ := (Settings{Task: "jigsaw", Optimizer: other}).WithDefaults(); s.LR != 0 {
		t.Errorf("with %s the rate is %v, want 0 (the optimizer's own)", other, s.LR)
	}
	if s, _ := (Settings{}).WithDefaults(); s.Task != "rotation" {
		t.Errorf("default task %q", s.Task)
	}
	if _, err := (Settings{Task: "sudoku"}).WithDefaults(); err == nil {
		t.Error("an unknown task took defaults")
	}
}

func TestSettingsRefused(t *testing.T) {
	t.Parallel()
	neg := -0.5
	cases := map[string]struct {
		s    Settings
		want string
	}{
		"no steps":           {Settings{Steps: -1}, "steps"},
		"a huge batch":       {Settings{Batch: 1 << 20}, "batch"},
		"a negative rate":    {Settings{LR: -1}, "learning rate"},
		"an optimizer":       {Settings{Optimizer: "lbfgs"}, "optimizer"},
		"a negative holdout": {Settings{Holdout: &neg}, "held-back"},
		"two channels":       {Settings{Channels: 2}, "channels"},
		"a huge trunk":       {Settings{Trunk: "huge"}, "trunk"},
		"a bad config":       {Settings{Config: json.RawMessage(`{"size":"big"}`)}, "config"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := New(tc.s); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one about %q", err, tc.want)
			}
		})
	}
}

// TestSplit: the split depends on the photos' names, not their order, and
// holds back the fraction asked.
func TestSplit(t *testing.T) {
	t.Parallel()
	photos := samplePhotos(t)
	train, held := Split(photos, 0.25, 7)
	if len(held) != 4 || len(train)+len(held) != len(photos) {
		t.Fatalf("split %d + %d of %d", len(train), len(held), len(photos))
	}
	rev := slices.Clone(photos)
	slices.Reverse(rev)
	train2, held2 := Split(rev, 0.25, 7)
	if !slices.EqualFunc(held, held2, func(a, b Photo) bool { return a.Name == b.Name }) ||
		!slices.EqualFunc(train, train2, func(a, b Photo) bool { return a.Name == b.Name }) {
		t.Error("the split depends on the photos' order")
	}
	if _, held3 := Split(photos, 0.25, 8); slices.EqualFunc(held, held3, func(a, b Photo) bool { return a.Name == b.Name }) {
		t.Error("another seed held back the same photos")
	}
}

// quick is a short seeded run of task.
func quick(t testing.TB, task string, steps int) *Run {
	t.Helper()
	r, err := New(Settings{Task: task, Steps: steps, Batch: 8, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func lossesOf(t testing.TB, r *Run, photos []Photo, h Hooks) ([]float64, Outcome) {
	t.Helper()
	var losses []float64
	progress := h.Progress
	h.Progress = func(st core.StepStats) {
		losses = append(losses, st.Loss)
		if progress != nil {
			progress(st)
		}
	}
	out, err := r.Train(context.Background(), photos, h)
	if err != nil {
		t.Fatal(err)
	}
	return losses, out
}

// TestTrainHooks: the same settings give the same losses; the hooks come
// at their steps; stopping keeps the step reached; a session taken then
// resumes to the uninterrupted run's losses.
func TestTrainHooks(t *testing.T) {
	t.Parallel()
	photos, _ := Split(samplePhotos(t), DefaultHoldout, 3)
	want, out := lossesOf(t, quick(t, "rotation", 6), photos, Hooks{})
	if len(want) != 6 || out.Step != 6 || out.Stopped || !(out.ImagesPerSec > 0) || out.Loss != want[5] {
		t.Fatalf("losses %v, outcome %+v", want, out)
	}
	r := quick(t, "rotation", 6)
	var previews, saves []int
	var yields int
	ctx, cancel := context.WithCancel(context.Background())
	var session []byte
	out, err := r.Train(ctx, photos, Hooks{
		Preview:  Every{N: 2, Fn: func(step int) { previews = append(previews, step) }},
		Autosave: Every{N: 3, Fn: func(step int) { saves = append(saves, step) }},
		Yield:    func() { yields++ },
		Progress: func(st core.StepStats) {
			if st.Step == 4 {
				cancel()
				b, err := r.Session()
				if err != nil {
					t.Fatal(err)
				}
				session = b
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !out.Stopped || out.Step != 4 {
		t.Fatalf("stopped run: %+v", out)
	}
	// Previews at 2 and 4 (before the last step), autosaves at 3 and at
	// the end (stopped at 4).
	if !slices.Equal(previews, []int{2, 4}) || !slices.Equal(saves, []int{3, 4}) || yields != 4 {
		t.Errorf("previews at %v, autosaves at %v, %d yields", previews, saves, yields)
	}
	resumed, err := FromSession(session)
	if err != nil {
		t.Fatal(err)
	}
	rest, _ := lossesOf(t, resumed, photos, Hooks{})
	if got := rest; len(got) != 2 || got[0] != want[4] || got[1] != want[5] {
		t.Errorf("resumed losses %v, the uninterrupted run's %v", got, want[4:])
	}
}

// TestTrainEvalHook: an evaluation comes every N steps and after the
// last step (once when the last is a multiple of N), never once a stop is
// asked for.
func TestTrainEvalHook(t *testing.T) {
	t.Parallel()
	photos, _ := Split(samplePhotos(t), DefaultHoldout, 3)
	for name, c := range map[string]struct {
		steps, every, stopAt int
		want                 []int
	}{
		"5 steps, every 2":         {5, 2, 0, []int{2, 4, 5}},
		"6 steps, every 3":         {6, 3, 0, []int{3, 6}},
		"6 steps, every 2, stop 4": {6, 2, 4, []int{2}},
		"3 steps, never":           {3, 0, 0, nil},
	} {
		r := quick(t, "rotation", c.steps)
		ctx, cancel := context.WithCancel(context.Background())
		var evals []int
		_, err := r.Train(ctx, photos, Hooks{
			Eval: Every{N: c.every, Fn: func(step int) {
				if step != r.Step() {
					t.Errorf("%s: evaluation of step %d called at step %d", name, step, r.Step())
				}
				evals = append(evals, step)
			}},
			Progress: func(st core.StepStats) {
				if st.Step == c.stopAt {
					cancel()
				}
			},
		})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(evals, c.want) {
			t.Errorf("%s: evaluations at %v, want %v", name, evals, c.want)
		}
	}
}

// TestTrainLeavesOutSmallPhotos: photos smaller than the task needs are
// named in a warning and left out; with none left, Train refuses.
func TestTrainLeavesOutSmallPhotos(t *testing.T) {
	t.Parallel()
	photos := slices.Clone(samplePhotos(t)[:6])
	tiny := image.NewNRGBA(image.Rect(0, 0, 20, 40))
	photos = append(photos, Photo{Name: "tiny.png", Image: tiny})
	r, err := New(Settings{Task: "jigsaw", Steps: 1, Batch: 2})
	if err != nil {
		t.Fatal(err)
	}
	var warnings []string
	out, err := r.Train(context.Background(), photos, Hooks{Warning: func(m string) { warnings = append(warnings, m) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "tiny.png") || !slices.Equal(out.Warnings, warnings) {
		t.Errorf("warnings %q, outcome's %q: want one naming tiny.png", warnings, out.Warnings)
	}
	r, _ = New(Settings{Task: "jigsaw", Steps: 1, Batch: 2})
	if _, err := r.Train(context.Background(), []Photo{{Name: "tiny.png", Image: tiny}}, Hooks{}); err == nil {
		t.Error("trained on no usable photo")
	}
}

// TestReplicasTrainAsOne: two replicas of a run take the steps the run
// takes alone; only rank 0 previews.
func TestReplicasTrainAsOne(t *testing.T) {
	t.Parallel()
	photos, _ := Split(samplePhotos(t), DefaultHoldout, 3)
	want, _ := lossesOf(t, quick(t, "rotation", 3), photos, Hooks{})
	group := core.LocalGroup(2)
	losses := make([][]float64, 2)
	previews := make([]int, 2)
	var wg sync.WaitGroup
	for rank := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := quick(t, "rotation", 3)
			out, err := r.Train(context.Background(), photos, Hooks{
				Replica:  group[rank],
				Progress: func(st core.StepStats) { losses[rank] = append(losses[rank], st.Loss) },
				Preview:  Every{N: 1, Fn: func(int) { previews[rank]++ }},
			})
			if err != nil || out.Step != 3 {
				t.Errorf("replica %d: %+v, %v", rank, out, err)
			}
		}()
	}
	wg.Wait()
	for rank := range 2 {
		if len(losses[rank]) != len(want) {
			t.Fatalf("replica %d: %d losses", rank, len(losses[rank]))
		}
		for i := range want {
			if d := losses[rank][i] - want[i]; d > 1e-5 || d < -1e-5 {
				t.Errorf("replica %d step %d: loss %v, alone %v", rank, i+1, losses[rank][i], want[i])
			}
		}
	}
	if previews[0] != 2 || previews[1] != 0 {
		t.Errorf("previews by rank: %v, want [2 0]", previews)
	}
}

// TestFromTrainer: a checkpoint's run has the trainer's settings and
// scores held-out photos with its task's baseline.
func TestFromTrainer(t *testing.T) {
	t.Parallel()
	photos := samplePhotos(t)
	train, held := Split(photos, 0.25, 3)
	r := quick(t, "super-resolution", 2)
	if _, err := r.Train(context.Background(), train, Hooks{}); err != nil {
		t.Fatal(err)
	}
	back, err := FromTrainer(r.Trainer)
	if err != nil {
		t.Fatal(err)
	}
	if back.Settings.Task != "super-resolution" || back.Settings.Optimizer != r.Settings.Optimizer || back.Step() != 2 {
		t.Errorf("run from trainer: %+v at step %d", back.Settings, back.Step())
	}
	h, err := back.HeldOut(held, 1)
	if err != nil {
		t.Fatal(err)
	}
	if h.Measure == nil || h.Measure.Name != "PSNR" || !(h.Measure.Baseline > 10) || !(h.BaselineLoss > 0) {
		t.Errorf("held-out score %+v, measure %+v", h, h.Measure)
	}
	head, err := core.NewClassifier(r.Trainer.Trunk.Features(), 3, rand.New(rand.NewPCG(1, 0)))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := core.NewTrainer(r.Trainer.Trunk, head, core.TrainConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FromTrainer(tr); !errors.Is(err, ErrNotTask) {
		t.Errorf("a classifier's trainer: %v, want ErrNotTask", err)
	}
}

// TestCheckpointResume: a run saved by Run.Save mid-way and read back by
// core.LoadTrainer and FromTrainer goes on with the uninterrupted run's
// losses, bit for bit, and Extend trains it past its first end.
func TestCheckpointResume(t *testing.T) {
	t.Parallel()
	photos, _ := Split(samplePhotos(t), DefaultHoldout, 3)
	want, _ := lossesOf(t, quick(t, "rotation", 6), photos, Hooks{})
	r := quick(t, "rotation", 6)
	ctx, cancel := context.WithCancel(context.Background())
	var saved bytes.Buffer
	if _, err := r.Train(ctx, photos, Hooks{Progress: func(st core.StepStats) {
		if st.Step == 3 {
			cancel()
			if err := r.Save(&saved); err != nil {
				t.Fatal(err)
			}
		}
	}}); err != nil {
		t.Fatal(err)
	}
	tr, err := core.LoadTrainer(bytes.NewReader(saved.Bytes()), tasks.Resolve)
	if err != nil {
		t.Fatal(err)
	}
	if r.Trainer.RunState != nil {
		t.Error("the run's state stayed on the trainer after Save")
	}
	if tr.RunState == nil {
		t.Fatal("the checkpoint holds no run state")
	}
	resumed, err := FromTrainer(tr)
	if err != nil {
		t.Fatal(err)
	}
	if tr.RunState != nil {
		t.Error("the trainer still holds the run state FromTrainer took over")
	}
	if resumed.Step() != 3 || resumed.Settings.Steps != 6 || resumed.Settings.Seed != r.Settings.Seed {
		t.Fatalf("resumed at step %d of %d (seed %d)", resumed.Step(), resumed.Settings.Steps, resumed.Settings.Seed)
	}
	rest, _ := lossesOf(t, resumed, photos, Hooks{})
	if !slices.Equal(rest, want[3:]) {
		t.Errorf("resumed losses %v, the uninterrupted run's %v", rest, want[3:])
	}
	if err := resumed.Extend(8); err != nil {
		t.Fatal(err)
	}
	if more, _ := lossesOf(t, resumed, photos, Hooks{}); len(more) != 2 {
		t.Errorf("extended to 8 steps: %d more losses, want 2", len(more))
	}
	// A checkpoint without the run's state still makes a run (from the
	// task's defaults), as before.
	if _, err := FromTrainer(tr); err != nil {
		t.Fatal(err)
	}
}
