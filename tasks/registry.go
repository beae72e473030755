package tasks

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/pretextlab/pretext/core"
)

// entry is a task's registry entry: how to build it and everything the
// shells need to offer it. Each task's file declares its entry beside the
// task (rotationEntry in rotation.go, ...); the registry below lists them.
type entry struct {
	// new builds the task from its JSON config (nil or empty: defaults)
	// for a trunk, drawing the head's initial weights from rng; name is
	// its registry key, for messages.
	new func(name string, config json.RawMessage, trunk *core.Trunk, rng *rand.Rand) (Task, error)
	// summary is one line for people, citing the paper.
	summary string
	// defaults are the training settings of a run that names only the
	// task: the page's form and pretext train both start from them.
	defaults Defaults
	// captions name the images of the task's Prediction, in the order the
	// page shows them.
	captions []Caption
}

// registry is the one list of tasks (solo-learn's METHODS). A task's name
// is its key here; its constructor gives its instances the same name
// (TestRegistryNames checks).
var registry = map[string]entry{
	"rotation":          rotationEntry,
	"jigsaw":            jigsawEntry,
	"colorization":      colorizationEntry,
	"relative-position": relPosEntry,
	"jigsaw-positions":  jigsawPosEntry,
	"exemplar":          exemplarEntry,
	"simclr":            simclrEntry,
	"multi-task":        multiTaskEntry,
	"inpainting":        inpaintingEntry,
	"super-resolution":  superResolutionEntry,
	"deepcluster":       deepClusterEntry,
	"sela":              selaEntry,
	"keypoint-clusters": keypointsEntry,
	"vicreg":            vicregEntry,
	"barlow-twins":      barlowEntry,
	"simsiam":           simsiamEntry,
	"byol":              byolEntry,
	"moco":              mocoEntry,
	"dino":              dinoEntry,
	"swav":              swavEntry,
}

// Defaults are the training settings a task is trained with unless told
// otherwise: chosen so that a run of them, on photos of one's own, learns
// something the held-back photos show (docs/RUNS.md has the runs).
type Defaults struct {
	// Optimizer is "sgd" (momentum 0.9) or "adam".
	Optimizer string `json:"optimizer"`
	// LR is the peak learning rate (after warm-up, before the cosine decay).
	LR float64 `json:"lr"`
	// Steps is the number of training steps.
	Steps int `json:"steps"`
	// Batch is the number of examples per step (rotation makes four per
	// photo, so 64 examples are 16 photos).
	Batch int `json:"batch"`
	// Config is the task's JSON settings of a default run, where they
	// differ from its config's own defaults (jigsaw: fewer permutations);
	// a run that gives a config of its own replaces it. Empty: none.
	Config json.RawMessage `json:"config,omitempty"`
}

// Needs is what a task asks of its photos.
type Needs struct {
	// Colour: the task learns from colour (it predicts it from grey), so
	// grey photos teach it nothing.
	Colour bool `json:"colour"`
	// MinSide is the shortest photo side, in pixels, the task can use;
	// smaller photos are refused by its Examples.
	MinSide int `json:"minSide"`
}

// Caption says what one image of a task's preview shows.
type Caption struct {
	// Image is which image: "original" (the photo itself), "input"
	// (Prediction.Input) or "image" (Prediction.Image).
	Image string `json:"image"`
	// Text is the caption for people.
	Text string `json:"text"`
}

// Info describes a registered task for the shells: the page's task list,
// pretext tasks and pretext train all read it.
type Info struct {
	Name     string    `json:"name"`
	Summary  string    `json:"summary"`
	Defaults Defaults  `json:"defaults"`
	Captions []Caption `json:"captions"`
	// InputSize and Needs are those of the task's default run (its
	// Defaults.Config) on the default (RS) trunk.
	InputSize int   `json:"inputSize"`
	Needs     Needs `json:"needs"`
}

// Names lists the registered tasks, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Lookup describes the named task.
func Lookup(name string) (Info, error) {
	e, ok := registry[name]
	if !ok {
		return Info{}, unknown(name)
	}
	info := Info{Name: name, Summary: e.summary, Defaults: e.defaults, Captions: slices.Clone(e.captions)}
	// The default run's task on the default trunk, for its input size and
	// needs; the weights drawn are thrown away.
	rng := rand.New(rand.NewPCG(0, 0))
	trunk, err := core.NewTrunk(core.TrunkConfig{}, rng)
	if err != nil {
		return Info{}, err
	}
	t, err := e.new(name, e.defaults.Config, trunk, rng)
	if err != nil {
		return Info{}, err
	}
	info.InputSize, info.Needs = t.InputSize(), t.Needs()
	return info, nil
}

// All describes every registered task, in name order.
func All() ([]Info, error) {
	var out []Info
	for _, n := range Names() {
		info, err := Lookup(n)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

func unknown(name string) error {
	return fmt.Errorf("tasks: unknown task %q (have %s)", name, strings.Join(Names(), ", "))
}

// New builds the named task with its default settings, or with config (the
// task's JSON settings) when given.
func New(name string, config json.RawMessage, trunk *core.Trunk, rng *rand.Rand) (Task, error) {
	e, ok := registry[name]
	if !ok {
		return nil, unknown(name)
	}
	if trunk == nil {
		return nil, fmt.Errorf("tasks: %s needs a trunk", name)
	}
	return e.new(name, config, trunk, rng)
}

// Resolve rebuilds the task a checkpoint names; pass it to core.LoadTrainer.
func Resolve(spec core.HeadSpec, trunk *core.Trunk) (core.Objective, error) {
	return New(spec.Kind, spec.Config, trunk, rand.New(rand.NewPCG(0, 0)))
}

// fromConfig adapts a task's typed constructor to the registry: it decodes
// the task's JSON config (strictly; empty means the defaults) and builds.
func fromConfig[C any, T Task](build func(C, *core.Trunk, *rand.Rand) (T, error)) func(string, json.RawMessage, *core.Trunk, *rand.Rand) (Task, error) {
	return func(name string, config json.RawMessage, trunk *core.Trunk, rng *rand.Rand) (Task, error) {
		var cfg C
		if err := decodeConfig(name, config, &cfg); err != nil {
			return nil, err
		}
		t, err := build(cfg, trunk, rng)
		if err != nil {
			return nil, err // not a typed nil inside the interface
		}
		return t, nil
	}
}

// decodeConfig reads a task's JSON config into cfg, leaving the defaults
// where config is empty.
func decodeConfig(name string, config json.RawMessage, cfg any) error {
	if len(config) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(config)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cfg); err != nil {
		return fmt.Errorf("tasks: %s config: %w", name, err)
	}
	return nil
}
