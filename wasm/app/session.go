package app

import (
	"errors"

	"github.com/pretextlab/pretext/recipe"
)

// SaveSession returns the current model as a session (recipe.Run.Session:
// the checkpoint, the run's settings and its batch generator's state).
// While a run trains, it waits for the step in progress to end.
func (a *App) SaveSession() ([]byte, error) {
	m := a.current()
	if m == nil {
		return nil, errors.New("no model to save: train or import one first")
	}
	a.modelMu.Lock()
	defer a.modelMu.Unlock()
	return m.run.Session()
}

// emitSession reports the model as a saved session, between steps.
func (a *App) emitSession(m *model, progress func(Event)) {
	a.modelMu.Lock()
	b, err := m.run.Session()
	step, steps := m.run.Step(), m.run.Settings.Steps
	a.modelMu.Unlock()
	if err != nil {
		progress(Event{Type: "session", Step: step, Steps: steps, Message: "could not save the session: " + err.Error()})
		return
	}
	progress(Event{Type: "session", Step: step, Steps: steps, Session: b})
}

// RestoreSession makes a saved session the current model: a Train with
// Resume then continues it as if the page had never been reloaded.
func (a *App) RestoreSession(b []byte) (ModelInfo, error) {
	run, err := recipe.FromSession(b)
	if err != nil {
		return ModelInfo{}, err
	}
	return a.install(&model{run: run, every: defaultEvery})
}
