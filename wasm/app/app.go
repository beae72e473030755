// Package app is the state behind the browser page: the photos a person
// gave, the model being trained, and every operation of the page's API
// (docs/browser.md). Training is package recipe's, the same code path as
// pretext train. It is plain Go with no syscall/js, so it builds and is
// tested natively and under Node; package main in wasm/ only converts
// values between JavaScript and these types.
//
// Files by concern: wire.go (the types the page is sent and sends),
// photos.go and limits.go (intake), train.go (runs), knn.go (the k-NN
// accuracy on the named photos while a run trains), previews.go
// (predictions and features), model.go (export and import, checkpoints and
// safetensors), session.go (surviving a reload), explore.go (similar photos,
// groups, the map and labels: the page's step 4), bench.go.
package app

import (
	"context"
	"errors"
	"sync"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/recipe"
	"github.com/pretextlab/pretext/tasks"
)

// App holds the page's photos and model. Its methods are safe for
// concurrent use: a training run holds the model only during each step, so
// previews, status and stop are answered while it trains.
type App struct {
	// Yield, if set, is called between training steps. In the browser it
	// lets the event loop run (Go's wasm has one thread), so messages such
	// as stop arrive while training.
	Yield func()

	mu       sync.Mutex // guards the fields below
	intake   core.IntakeConfig
	photos   []photo
	nextID   int
	seen     map[fileKey]bool // files taken (or refused), so none is added twice
	model    *model
	training bool
	cancel   context.CancelFunc

	modelMu sync.Mutex // held while the model's parameters are in use

	exploreMu sync.Mutex    // held while step 4's cache is in use (explore.go)
	explore   *exploreCache // the embeddings of the photos for the model
	embedded  int           // photo embeddings computed, for the page and tests
}

// model is the trained (or training) run and how the page follows it.
type model struct {
	run       *recipe.Run
	every     int // steps between previews
	saveEvery int // steps between sessions (0: none)
}

// New returns an empty app.
func New() *App { return &App{} }

// ErrBusy is returned by operations that need the model while it trains.
var ErrBusy = errors.New("training is running: stop it first")

// errNoModel is returned by operations that need a model before there is one.
var errNoModel = errors.New("no model yet: train or import one first")

// Tasks describes the registered tasks: summary, training defaults, photo
// needs and preview captions.
func (a *App) Tasks() ([]tasks.Info, error) { return tasks.All() }

// current returns the model, or nil.
func (a *App) current() *model {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.model
}

// Status reports the photo count and the model's progress.
func (a *App) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := Status{Photos: len(a.photos), Training: a.training}
	if m := a.model; m != nil {
		s.Task, s.Steps = m.run.Task.Name(), m.run.Settings.Steps
		_, held := a.split(m.run.Settings)
		s.HeldOut = len(held)
		a.modelMu.Lock()
		s.Step = m.run.Step()
		a.modelMu.Unlock()
	}
	return s
}

// Stop asks a running training to stop after its current step.
func (a *App) Stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cancel != nil {
		a.cancel()
	}
}
