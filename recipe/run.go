package recipe

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/tasks"
)

// Run is a training run: the model (trunk, task and trainer), the settings
// it was made with, and the generator that draws its batches. Its methods
// are not safe for concurrent use; a shell that reads the model while it
// trains (previews) serialises through Hooks.Lock.
type Run struct {
	// Settings are the run's, with defaults filled in. Steps is the step
	// the run trains up to; Extend moves it.
	Settings Settings
	Trainer  *core.Trainer
	Task     tasks.Task

	src *rand.PCG  // the batch generator's state, which a session saves
	rng *rand.Rand // draws batches and a clustering task's refreshes
}

// New builds the run of s: the trunk and then the task's head drawn from
// a generator seeded by s.Seed, which goes on to draw the batches.
func New(s Settings) (*Run, error) {
	s, err := s.WithDefaults()
	if err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	tcfg, err := core.NamedTrunk(s.Trunk)
	if err != nil {
		return nil, err
	}
	tcfg.InChannels = s.Channels
	src := rand.NewPCG(s.Seed, 0)
	rng := rand.New(src)
	trunk, err := core.NewTrunk(tcfg, rng)
	if err != nil {
		return nil, err
	}
	task, err := tasks.New(s.Task, s.Config, trunk, rng)
	if err != nil {
		return nil, err
	}
	tr, err := core.NewTrainer(trunk, task, s.trainConfig())
	if err != nil {
		return nil, err
	}
	return &Run{Settings: s, Trainer: tr, Task: task, src: src, rng: rng}, nil
}

// ErrNotTask is returned for a checkpoint whose head is not a pretext task
// (a supervised classifier, say).
var ErrNotTask = errors.New("recipe: the model's head is not a pretext task")

// FromTrainer makes a run of a loaded trainer (a checkpoint, from
// core.LoadTrainer with tasks.Resolve), to predict with or to train on. A
// checkpoint written by Run.Save holds the run's settings and batch
// generator, and the run goes on exactly where it was. Otherwise its
// settings are the task's defaults, with the trainer's optimizer, rate
// and schedule length; its batches are drawn from a generator seeded by
// the seed and the step reached.
func FromTrainer(tr *core.Trainer) (*Run, error) {
	// The run takes the state over: the trainer no longer holds it, so
	// that a later save cannot write it stale.
	if state := tr.RunState; len(state) > 0 {
		tr.RunState = nil
		return resume(state, tr, "checkpoint")
	}
	task, ok := tr.Head.(tasks.Task)
	if !ok {
		return nil, fmt.Errorf("%w (it is %q)", ErrNotTask, tr.Head.Spec().Kind)
	}
	s, err := Settings{Task: task.Name(), Config: task.Spec().Config}.WithDefaults()
	if err != nil {
		return nil, err
	}
	s.Seed = DefaultSeed
	s.Steps = max(tr.Steps(), tr.Config.Steps, 1)
	s.Optimizer, s.LR = tr.Config.Optimizer, tr.Config.LR
	s.Channels = tr.Trunk.Config.InChannels
	if slices.Equal(tr.Trunk.Config.Widths, core.WideTrunk.Widths) && tr.Trunk.Config.Depth == core.WideTrunk.Depth {
		s.Trunk = "wide"
	}
	src := rand.NewPCG(s.Seed, uint64(tr.Steps()))
	return &Run{Settings: s, Trainer: tr, Task: task, src: src, rng: rand.New(src)}, nil
}

// Step is the number of steps the run has taken.
func (r *Run) Step() int { return r.Trainer.Steps() }

// Extend makes the run train up to steps (more than it has taken): the
// learning-rate schedule stretches to the new end.
func (r *Run) Extend(steps int) error {
	if steps <= r.Step() {
		return fmt.Errorf("recipe: the model has done %d steps already; ask for more to resume", r.Step())
	}
	if steps > 1_000_000 {
		return fmt.Errorf("recipe: steps %d out of range [1, 1000000]", steps)
	}
	r.Settings.Steps = steps
	r.Trainer.Config.Steps = steps
	return nil
}
