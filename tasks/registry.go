package tasks

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/pretextlab/pretext/core"
)

// entry builds a task from its JSON config (nil or empty: defaults) for a
// trunk, drawing the head's initial weights from rng.
type entry struct {
	new     func(config json.RawMessage, trunk *core.Trunk, rng *rand.Rand) (Task, error)
	summary string
}

// registry is the one list of tasks (solo-learn's METHODS).
var registry = map[string]entry{
	"rotation":          {fromConfig("rotation", NewRotation), "predict the rotation of the photo: 0, 90, 180 or 270 degrees (Gidaris et al. 2018)"},
	"jigsaw":            {fromConfig("jigsaw", NewJigsaw), "put 3x3 shuffled tiles back in order (Noroozi & Favaro 2016)"},
	"colorization":      {fromConfig("colorization", NewColorization), "restore the colours of a grey photo (Zhang, Isola & Efros 2016)"},
	"relative-position": {fromConfig("relative-position", NewRelPos), "where does a patch lie around the centre patch: one of 8 places (Doersch, Gupta & Efros 2015)"},
	"jigsaw-positions":  {fromConfig("jigsaw-positions", NewJigsawPos), "put tiles shuffled in any of 9! orders back: each tile's position (after Santa Cruz et al. 2017)"},
	"exemplar":          {fromConfig("exemplar", NewExemplar), "tell which seed patch a transformed view was made from, each seed its own class (Dosovitskiy et al. 2016)"},
	"simclr":            {fromConfig("simclr", NewSimCLR), "tell two augmented views of the same photo from all others (Chen et al. 2020)"},
	"multi-task":        {fromConfig("multi-task", NewMultiTask), "train several of these tasks together on one trunk, a weighted sum of their losses (Doersch & Zisserman 2017)"},
	"inpainting":        {fromConfig("inpainting", NewInpainting), "paint back the missing centre of a photo from its context (Pathak et al. 2016)"},
	"super-resolution":  {fromConfig("super-resolution", NewSuperResolution), "restore the detail of a photo shrunk by half (SRCNN, Dong et al. 2014)"},
	"deepcluster":       {fromConfig("deepcluster", NewDeepCluster), "predict the k-means cluster of the trunk's own features, re-clustered every few steps (Caron et al. 2018)"},
	"sela":              {fromConfig("sela", NewSeLa), "predict balanced pseudo-labels made from the head's own predictions by Sinkhorn-Knopp (Asano et al. 2020)"},
	"keypoint-clusters": {fromConfig("keypoint-clusters", NewKeypointClusters), "predict the k-means cluster of the orientation histogram of a patch around a Harris corner (Christlein et al. 2017)"},
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

// Summary is a one-line description of the named task.
func Summary(name string) string { return registry[name].summary }

// New builds the named task with its default settings, or with config (the
// task's JSON settings) when given.
func New(name string, config json.RawMessage, trunk *core.Trunk, rng *rand.Rand) (Task, error) {
	e, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("tasks: unknown task %q (have %s)", name, strings.Join(Names(), ", "))
	}
	if trunk == nil {
		return nil, fmt.Errorf("tasks: %s needs a trunk", name)
	}
	return e.new(config, trunk, rng)
}

// Resolve rebuilds the task a checkpoint names; pass it to core.LoadTrainer.
func Resolve(spec core.HeadSpec, trunk *core.Trunk) (core.Objective, error) {
	return New(spec.Kind, spec.Config, trunk, rand.New(rand.NewPCG(0, 0)))
}

// fromConfig adapts a task's typed constructor to the registry: it decodes
// the task's JSON config (strictly; empty means the defaults) and builds.
func fromConfig[C any, T Task](name string, build func(C, *core.Trunk, *rand.Rand) (T, error)) func(json.RawMessage, *core.Trunk, *rand.Rand) (Task, error) {
	return func(config json.RawMessage, trunk *core.Trunk, rng *rand.Rand) (Task, error) {
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
