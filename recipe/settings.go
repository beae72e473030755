package recipe

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/tasks"
)

// Settings define a training run. The zero value of a field means its
// default: the task's own training defaults (tasks.Defaults) for the
// optimizer, learning rate, steps and batch, and the defaults below for
// the rest. The JSON names are the page's.
type Settings struct {
	// Task is the registered task (default "rotation").
	Task string `json:"task"`
	// Config is the task's JSON settings (default: those of the task's
	// default run, tasks.Defaults.Config). Given, it replaces them whole:
	// "{}" is the task's config with every field at its own default.
	Config json.RawMessage `json:"config,omitempty"`
	// Steps is the number of training steps (default: the task's).
	Steps int `json:"steps"`
	// Batch is the number of examples per step (default: the task's).
	Batch int `json:"batch"`
	// LR is the peak learning rate (default: the task's when Optimizer is
	// the task's, else that optimizer's own, core.TrainConfig).
	LR float64 `json:"lr"`
	// Optimizer is "sgd" or "adam" (default: the task's).
	Optimizer string `json:"optimizer"`
	// Seed seeds the weights, the batches and the split. Unlike the other
	// fields, zero is a seed like any other (the report's rows use it);
	// the shells start from DefaultSeed.
	Seed uint64 `json:"seed"`
	// Trunk is "rs" (workload RS, the default) or "wide".
	Trunk string `json:"width"`
	// Channels is the trunk's input: 3 for colour (default), 1 for grey
	// images such as Fashion-MNIST.
	Channels int `json:"channels,omitempty"`
	// Holdout is the fraction of the photos held back to measure the task
	// on photos it never trained on (default 0.1; 0 holds none back).
	Holdout *float64 `json:"holdout,omitempty"`
}

// DefaultHoldout is the fraction of photos a run holds back by default.
const DefaultHoldout = 0.1

// DefaultSeed is the seed the page's form and pretext train start from.
const DefaultSeed = 1

// WithDefaults returns s with every zero field set to its default. An
// unknown task is an error.
func (s Settings) WithDefaults() (Settings, error) {
	if s.Task == "" {
		s.Task = "rotation"
	}
	info, err := tasks.Lookup(s.Task)
	if err != nil {
		return s, err
	}
	d := info.Defaults
	if len(s.Config) == 0 {
		s.Config = d.Config
	}
	if s.Steps == 0 {
		s.Steps = d.Steps
	}
	if s.Batch == 0 {
		s.Batch = d.Batch
	}
	if s.Optimizer == "" {
		s.Optimizer = d.Optimizer
	}
	// The task's rate is tuned for its optimizer; with another optimizer
	// a zero rate is that optimizer's default (core.TrainConfig).
	if s.LR == 0 && s.Optimizer == d.Optimizer {
		s.LR = d.LR
	}
	if s.Trunk == "" {
		s.Trunk = "rs"
	}
	if s.Channels == 0 {
		s.Channels = 3
	}
	if s.Holdout == nil {
		h := DefaultHoldout
		s.Holdout = &h
	}
	return s, nil
}

// Validate checks settings with their defaults filled in.
func (s Settings) Validate() error {
	switch {
	case s.Steps < 1 || s.Steps > 1_000_000:
		return fmt.Errorf("recipe: steps %d out of range [1, 1000000]", s.Steps)
	case s.Batch < 1 || s.Batch > 4096:
		return fmt.Errorf("recipe: batch %d out of range [1, 4096]", s.Batch)
	case s.LR < 0 || math.IsNaN(s.LR) || math.IsInf(s.LR, 0):
		return fmt.Errorf("recipe: learning rate %v is not a finite positive number", s.LR)
	case s.Optimizer != "sgd" && s.Optimizer != "adam":
		return fmt.Errorf("recipe: optimizer %q, want sgd or adam", s.Optimizer)
	case s.Holdout == nil || *s.Holdout < 0 || *s.Holdout >= 1 || math.IsNaN(*s.Holdout):
		return fmt.Errorf("recipe: held-back fraction outside [0, 1)")
	case s.Channels != 1 && s.Channels != 3:
		return fmt.Errorf("recipe: %d input channels, want 1 or 3", s.Channels)
	}
	if _, err := core.NamedTrunk(s.Trunk); err != nil {
		return err
	}
	return nil
}

// trainConfig is the trainer's configuration for s: a linear warm-up over
// the first twentieth of the steps, then a cosine to zero.
func (s Settings) trainConfig() core.TrainConfig {
	return core.TrainConfig{Optimizer: s.Optimizer, LR: s.LR, WarmupSteps: max(1, s.Steps/20), Steps: s.Steps}
}
