package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/recipe"
)

// Train trains the task of s on the photos, reporting to progress, until
// s.Steps steps are done or Stop is called. With s.Resume it continues the
// current model (the one trained, stopped, imported or restored last) up
// to s.Steps; otherwise it starts a new one (recipe.New: the same run as
// pretext train with the same settings and photos).
func (a *App) Train(ctx context.Context, s Settings, progress func(Event)) (Result, error) {
	if progress == nil {
		progress = func(Event) {}
	}
	a.mu.Lock()
	if a.training {
		a.mu.Unlock()
		return Result{}, ErrBusy
	}
	m, err := a.prepare(s)
	if err != nil {
		a.mu.Unlock()
		return Result{}, err
	}
	train, held := a.split(m.run.Settings)
	if len(train) == 0 {
		a.mu.Unlock()
		return Result{}, errors.New("no photos to train on: add some photos first")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a.model, a.training, a.cancel = m, true, cancel
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.training, a.cancel = false, nil
		a.mu.Unlock()
	}()
	return a.run(ctx, m, train, held, s, progress)
}

// prepare returns the model a run continues (s.Resume) or starts. Callers
// hold a.mu.
func (a *App) prepare(s Settings) (*model, error) {
	if s.Every < 0 {
		return nil, fmt.Errorf("preview interval %d, want at least 1", s.Every)
	}
	if s.Resume {
		m := a.model
		if m == nil {
			return nil, errors.New("nothing to resume: train or import a model first")
		}
		a.modelMu.Lock()
		err := m.run.Extend(s.Steps)
		a.modelMu.Unlock()
		if err != nil {
			return nil, err
		}
		if s.Batch > 0 {
			m.run.Settings.Batch = s.Batch
		}
		if s.Every > 0 {
			m.every = s.Every
		}
		m.saveEvery = s.SaveEvery
		return m, nil
	}
	if s.Seed == 0 { // the page's form always sends one; 0 means its default
		s.Seed = recipe.DefaultSeed
	}
	run, err := recipe.New(s.Settings)
	if err != nil {
		return nil, err
	}
	every := s.Every
	if every == 0 {
		every = defaultEvery
	}
	return &model{run: run, every: every, saveEvery: s.SaveEvery}, nil
}

// run trains m on the training photos through the recipe, turning its
// hooks into the page's events, measuring the photos s.Labels names
// (knn.go), then scores the held-back photos and previews them.
func (a *App) run(ctx context.Context, m *model, train, held []photo, s Settings, progress func(Event)) (Result, error) {
	r, replica := m.run, s.Replica
	steps := r.Settings.Steps
	res := Result{Task: r.Task.Name(), Steps: steps}
	start, first := time.Now(), r.Step()
	var eval recipe.Every
	if s.KNNEvery >= 0 && (replica == nil || replica.Rank() == 0) {
		knn, why := knnPhotos(s.Labels, train, held)
		if why != "" {
			progress(Event{Type: "knn", Step: first, Steps: steps, Message: why})
		}
		if knn != nil {
			every := s.KNNEvery
			if every == 0 {
				workers := 1
				if replica != nil {
					workers = replica.Size()
				}
				every = knnEvery(steps-first, r.Settings.Batch, r.Task.InputSize(), len(knn.photos), workers)
			}
			eval = knn.hook(a, every, func() *core.Trunk { return r.Trainer.Trunk }, steps, progress)
		}
	}
	preview := func(step int) {
		if items, err := a.previews(m, held, train); err == nil {
			progress(Event{Type: "preview", Step: step, Steps: steps, Items: items})
		}
	}
	out, err := r.Train(ctx, recipePhotos(train), recipe.Hooks{
		Progress: func(st core.StepStats) {
			if st.Diverged {
				progress(Event{Type: "diverged", Step: st.Step, Steps: steps, LR: st.LR, Message: st.DivergenceNote()})
				return
			}
			elapsed := time.Since(start).Seconds()
			progress(Event{Type: "step", Step: st.Step, Steps: steps, Loss: st.Loss, Accuracy: st.Accuracy, LR: st.LR,
				ImagesPerSec: st.ImagesSec, Elapsed: elapsed, ETA: elapsed / float64(st.Step-first) * float64(steps-st.Step)})
		},
		Refresh: func(step int, msg string) {
			progress(Event{Type: "refresh", Step: step, Steps: steps, Message: msg})
		},
		Warning: func(msg string) {
			progress(Event{Type: "warning", Step: r.Step(), Steps: steps, Message: msg})
		},
		Preview:  recipe.Every{N: m.every, Fn: preview},
		Autosave: recipe.Every{N: m.saveEvery, Fn: func(int) { a.emitSession(m, progress) }},
		Eval:     eval,
		Yield:    a.Yield,
		Lock:     &a.modelMu,
		Replica:  replica,
	})
	res.Step, res.Stopped, res.Loss, res.Accuracy = out.Step, out.Stopped, out.Loss, out.Accuracy
	res.ImagesPerSec, res.Warnings = out.ImagesPerSec, out.Warnings
	if err != nil {
		return res, err
	}
	if replica != nil && replica.Rank() != 0 {
		return res, nil // rank 0 scores and previews for the group
	}
	if len(held) > 0 {
		a.modelMu.Lock()
		h, err := r.HeldOut(recipePhotos(held), recipe.Rounds)
		a.modelMu.Unlock()
		if err != nil {
			return res, err
		}
		res.HeldOut = HeldOutScore{Loss: h.Loss, Accuracy: h.Accuracy, BaselineLoss: h.BaselineLoss, Photos: len(held), Measure: h.Measure}
	}
	preview(res.Step)
	return res, nil
}
