package app

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/core/safetensors"
	"github.com/pretextlab/pretext/recipe"
	"github.com/pretextlab/pretext/tasks"
)

// Export writes the model as a checkpoint, the format of pretext train -out:
// with the run's settings and batch generator (recipe.Run.Save), so that
// Import, here or in another page, resumes the run exactly where it was.
func (a *App) Export() ([]byte, error) {
	m := a.current()
	if m == nil {
		return nil, errors.New("no model to export: train or import one first")
	}
	var buf bytes.Buffer
	a.modelMu.Lock()
	defer a.modelMu.Unlock()
	if err := m.run.Save(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ExportSafetensors writes the model in the safetensors layout of the
// PyTorch twin (core.Trainer.ExportSafetensors; pretext export -format
// safetensors writes the same).
func (a *App) ExportSafetensors() ([]byte, error) {
	m := a.current()
	if m == nil {
		return nil, errors.New("no model to export: train or import one first")
	}
	var buf bytes.Buffer
	a.modelMu.Lock()
	defer a.modelMu.Unlock()
	if err := m.run.Trainer.ExportSafetensors(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Import loads a model file as the current model, ready for previews or to
// resume training: a checkpoint (from Export or pretext train -out) or a
// safetensors export (from ExportSafetensors, pretext export or the PyTorch
// twin; its optimizer state starts afresh).
func (a *App) Import(b []byte) (ModelInfo, error) {
	tr, err := loadModel(b)
	if err != nil {
		return ModelInfo{}, err
	}
	run, err := recipe.FromTrainer(tr)
	if errors.Is(err, recipe.ErrNotTask) {
		return ModelInfo{}, fmt.Errorf("the file holds a %s head, not a pretext task", tr.Head.Spec().Kind)
	}
	if err != nil {
		return ModelInfo{}, err
	}
	return a.install(&model{run: run, every: defaultEvery})
}

// loadModel reads a checkpoint or, failing its magic, a safetensors export.
func loadModel(b []byte) (*core.Trainer, error) {
	tr, err := core.LoadTrainer(bytes.NewReader(b), tasks.Resolve)
	if !errors.Is(err, core.ErrNotCheckpoint) {
		return tr, err
	}
	tr, err = core.ImportSafetensors(bytes.NewReader(b), tasks.Resolve)
	if errors.Is(err, safetensors.ErrFormat) {
		return nil, fmt.Errorf("neither a Pretext checkpoint nor a safetensors export: %w", err)
	}
	return tr, err
}

// install makes m the current model, unless a run is training.
func (a *App) install(m *model) (ModelInfo, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.training {
		return ModelInfo{}, ErrBusy
	}
	a.model = m
	tr := m.run.Trainer
	return ModelInfo{Task: m.run.Task.Name(), Step: tr.Steps(), Trunk: tr.Trunk.Config, Train: tr.Config}, nil
}
