package tasks

import (
	"encoding/json"

	"github.com/pretextlab/pretext/core"
)

// base is embedded in every task: its registry name, its settings (with
// defaults filled in) and the trunk's input channels. It gives every task
// its Name, Config and Spec, so that no task repeats them.
type base[C any] struct {
	name     string
	cfg      C
	channels int // the trunk's input channels
}

func newBase[C any](name string, cfg C, trunk *core.Trunk) base[C] {
	return base[C]{name: name, cfg: cfg, channels: trunk.Config.InChannels}
}

// Name is the task's registry key (implements Task).
func (b *base[C]) Name() string { return b.name }

// Config returns the task's settings with defaults filled in.
func (b *base[C]) Config() C { return b.cfg }

// Spec names the task and holds its settings, which a checkpoint rebuilds
// it from (implements core.Objective).
func (b *base[C]) Spec() core.HeadSpec {
	cfg, _ := json.Marshal(b.cfg) // settings are plain values: Marshal cannot fail
	return core.HeadSpec{Kind: b.name, Config: cfg}
}
