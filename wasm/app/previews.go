package app

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/pretextlab/pretext/core"
)

const (
	maxPreviews = 6 // held-back photos previewed
	predictSeed = 1 // the seed of Predict's random choices, as in pretext predict
)

// previews runs the task on the held-back photos (up to maxPreviews), or on
// training photos when none are held back.
func (a *App) previews(m *model, held, train []photo) ([]Preview, error) {
	list := held
	if len(list) == 0 {
		list = train
	}
	list = list[:min(len(list), maxPreviews)]
	out := make([]Preview, 0, len(list))
	for _, p := range list {
		pv, err := a.predict(m, p)
		if err != nil {
			return nil, err
		}
		out = append(out, pv)
	}
	return out, nil
}

func (a *App) predict(m *model, p photo) (Preview, error) {
	a.modelMu.Lock()
	pred, err := m.run.Task.Predict(m.run.Trainer.Trunk, p.Image, rand.New(rand.NewPCG(predictSeed, 0)))
	a.modelMu.Unlock()
	if err != nil {
		return Preview{}, fmt.Errorf("%s: %w", p.Name, err)
	}
	probs := pred.Probs
	if probs == nil {
		probs = []float64{}
	}
	return Preview{ID: p.id, Name: p.Name, Summary: pred.Summary, Probs: probs,
		Image: toImage(pred.Image, previewSide), Input: toImage(pred.Input, previewSide), Original: toImage(p.Image, previewSide)}, nil
}

// Previews runs the current model on the held-back photos.
func (a *App) Previews() ([]Preview, error) {
	a.mu.Lock()
	m := a.model
	var train, held []photo
	if m != nil {
		train, held = a.split(m.run.Settings)
	}
	a.mu.Unlock()
	if m == nil {
		return nil, errNoModel
	}
	return a.previews(m, held, train)
}

// PredictID runs the current model on the photo with that id.
func (a *App) PredictID(id int) (Preview, error) {
	a.mu.Lock()
	m := a.model
	i := slices.IndexFunc(a.photos, func(p photo) bool { return p.id == id })
	var p photo
	if i >= 0 {
		p = a.photos[i]
	}
	a.mu.Unlock()
	if m == nil {
		return Preview{}, errNoModel
	}
	if i < 0 {
		return Preview{}, fmt.Errorf("no photo with id %d", id)
	}
	return a.predict(m, p)
}

// PredictFile runs the current model on a photo file that is not added.
func (a *App) PredictFile(f File) (Preview, error) {
	m := a.current()
	if m == nil {
		return Preview{}, errNoModel
	}
	img, err := core.Decode(f.Name, f.Bytes, a.intakeConfig())
	if err != nil {
		return Preview{}, err
	}
	var p photo
	p.Name, p.Image = f.Name, img
	return a.predict(m, p)
}

// Features returns the frozen trunk's pooled features of a photo file: the
// centre crop at the task's input size, made into the trunk's input by
// its own rule (core.TrunkInput: colour or grey), in evaluation mode.
func (a *App) Features(f File) ([]float32, error) {
	m := a.current()
	if m == nil {
		return nil, errNoModel
	}
	img, err := core.Decode(f.Name, f.Bytes, a.intakeConfig())
	if err != nil {
		return nil, err
	}
	crop := core.CenterCrop(img, m.run.Task.InputSize())
	a.modelMu.Lock()
	defer a.modelMu.Unlock()
	trunk := m.run.Trainer.Trunk
	v, err := trunk.Embed([]core.Planar{core.TrunkInput(crop, trunk.Config.InChannels)})
	if err != nil {
		return nil, err
	}
	if len(v) != 1 {
		return nil, errors.New("features: the trunk gave no vector")
	}
	return v[0], nil
}

// intakeConfig is the photo limits set last.
func (a *App) intakeConfig() core.IntakeConfig {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.intake
}
