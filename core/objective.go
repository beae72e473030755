package core

import (
	"encoding/json"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"
)

// Example is one training input together with its label, made by one call
// so the two can never disagree.
type Example struct {
	// Views are the images the example shows the trunk: one for most tasks,
	// several for tasks such as jigsaw (one per tile).
	Views []Planar
	// Class is the class label of classification objectives.
	Class int
	// Target is a dense target (colour bins, missing pixels) for objectives
	// that regress one; nil otherwise.
	Target []float32
	// Head is the index of the sub-task the example belongs to in a
	// multi-task objective; 0 otherwise.
	Head int
}

// Score is what an objective reports about a batch besides its loss.
type Score struct {
	// Accuracy is the fraction of the batch the head predicted correctly,
	// in [0, 1] (or the objective's closest analogue).
	Accuracy float64
}

// HeadSpec names an objective and holds the configuration it is rebuilt
// from when a checkpoint is loaded.
type HeadSpec struct {
	Kind   string          `json:"kind"`
	Config json.RawMessage `json:"config,omitempty"`
}

// Objective is a head on the trunk with its loss: given a batch of examples
// it runs trunk and head and returns the scalar loss node. It is an
// nn.Model, so the trainer finds its parameters and checkpoints save them.
type Objective interface {
	nn.Model
	// Spec returns the head's kind and configuration for checkpoints.
	Spec() HeadSpec
	// Loss runs trunk and head over batch; train selects training mode
	// (batch statistics in batch-norm).
	Loss(trunk *Trunk, batch []Example, train bool) (mat.Tensor, Score, error)
}

// HeadResolver rebuilds the objective a checkpoint names, for a trunk.
type HeadResolver func(spec HeadSpec, trunk *Trunk) (Objective, error)
