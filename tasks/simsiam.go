package tasks

import (
	"encoding/gob"
	"fmt"
	"math/rand/v2"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/pretextlab/pretext/core"
)

// SimSiam is the Siamese method of Chen & He (2021, "Exploring Simple
// Siamese Representation Learning", CVPR): each photo is shown as two
// augmented views (ViewConfig, SimCLR's pipeline), a projector maps the
// trunk's pooled features to z, a predictor maps z to p, and each view's
// p is asked to match the other view's z in direction (core.CrossCosine,
// eq. 1-3: the negative cosine, symmetrised). The z it is compared with is
// under a stop-gradient: that, and the predictor, are what keep the
// embeddings from collapsing to a constant (section 4.1), without
// negatives, large batches or a momentum network.
//
// One Examples call makes one example with two views; Loss stacks a
// batch's views example by example, core.NTXent's layout, and needs at
// least two examples (the heads' batch-norm). Accuracy is
// core.PairAccuracy of the projections: the fraction of views whose
// nearest other view is their partner, which falls to chance if the
// projections collapse (the loss alone would not show it: a collapsed
// network reaches its minimum, -1). SimSiam has no blind-guess loss, so
// on held-out photos its measure is view matching by the trunk's features
// against a random-init trunk (viewMatching).
//
// Both heads are core.Projector (fc-BN-ReLU-fc), the projector with a
// batch-norm on its output too, as the paper's (section 4.4; without it
// the trunk learns far less here). Departures from the paper, for the
// small trunk: the projector has one hidden layer (its has two) of 4F
// units and 2F outputs (F the trunk's features), the predictor's
// bottleneck is a quarter of that (the paper's 512 of 2048), and the
// optimiser is the registry's Adam rather than SGD with the predictor's
// rate held constant.
type SimSiam struct {
	nn.Module
	// Proj is the projector F -> Hidden -> Proj, Pred the predictor
	// Proj -> PredHidden -> Proj.
	Proj, Pred *core.Projector

	base[SimSiamConfig]
	twoViews
}

var (
	_ Task      = &SimSiam{}
	_ Refresher = &SimSiam{}
	_ Assigner  = &SimSiam{}
	_ Measurer  = &SimSiam{}
)

func init() { gob.Register(&SimSiam{}) }

// simsiamEntry is the task's registry entry.
var simsiamEntry = entry{
	new:      fromConfig(NewSimSiam),
	summary:  "predict one view's projection from the other's, with a stop-gradient instead of negatives (Chen & He 2021)",
	defaults: Defaults{Optimizer: "adam", LR: 0.001, Steps: 300, Batch: 32},
	captions: neighbourCaptions,
}

// SimSiamConfig sets the SimSiam task. The zero value is the default.
type SimSiamConfig struct {
	// ViewConfig is the augmentation (its fields are at the top level of
	// the JSON settings: size, min_scale, jitter, ...).
	ViewConfig
	// ProjConfig is the head (hidden, proj and neighbors at the top level
	// of the JSON settings; default widths 4F and 2F, F the trunk's
	// feature count).
	ProjConfig
	// PredHidden is the predictor's bottleneck (default Proj/4).
	PredHidden int `json:"pred_hidden,omitempty"`
}

func (c SimSiamConfig) withDefaults(features int) SimSiamConfig {
	c.ViewConfig = c.ViewConfig.withDefaults()
	c.ProjConfig = c.ProjConfig.withDefaults(4*features, 2*features)
	if c.PredHidden == 0 {
		c.PredHidden = max(c.Proj/4, 1)
	}
	return c
}

// NewSimSiam returns the SimSiam task for trunk with a fresh projector and
// predictor drawn from rng, in that order.
func NewSimSiam(cfg SimSiamConfig, trunk *core.Trunk, rng *rand.Rand) (*SimSiam, error) {
	if trunk == nil {
		return nil, fmt.Errorf("tasks: simsiam needs a trunk")
	}
	cfg = cfg.withDefaults(trunk.Features())
	if err := cfg.ViewConfig.check("simsiam", trunk); err != nil {
		return nil, err
	}
	if err := cfg.ProjConfig.check("simsiam"); err != nil {
		return nil, err
	}
	if cfg.PredHidden < 1 || cfg.PredHidden > 1<<14 {
		return nil, fmt.Errorf("tasks: simsiam pred_hidden %d out of range [1, %d]", cfg.PredHidden, 1<<14)
	}
	if err := checkHead("simsiam", core.MLPValues(trunk.Features(), cfg.Hidden, cfg.Proj)+core.MLPValues(cfg.Proj, cfg.PredHidden, cfg.Proj)); err != nil {
		return nil, err
	}
	proj, err := core.NewProjector(trunk.Features(), cfg.Hidden, cfg.Proj, true, rng)
	if err != nil {
		return nil, fmt.Errorf("tasks: simsiam projector: %w", err)
	}
	pred, err := core.NewProjector(cfg.Proj, cfg.PredHidden, cfg.Proj, false, rng)
	if err != nil {
		return nil, fmt.Errorf("tasks: simsiam predictor: %w", err)
	}
	return &SimSiam{
		Proj:     proj,
		Pred:     pred,
		base:     newBase("simsiam", cfg, trunk),
		twoViews: newTwoViews("simsiam", cfg.ViewConfig, cfg.Neighbors, trunk),
	}, nil
}

// Embeddings runs trunk, projector and predictor on every view of the
// batch, example by example: the projections z and predictions p, both
// [2N, Proj], rows 2i and 2i+1 the views of example i.
func (s *SimSiam) Embeddings(trunk *core.Trunk, batch []core.Example, train bool) (z, p mat.Tensor, err error) {
	if z, err = projectPairs("simsiam", trunk, s.Proj, batch, train); err != nil {
		return nil, nil, err
	}
	if p, err = s.Pred.Forward(z, train); err != nil {
		return nil, nil, fmt.Errorf("tasks: simsiam: %w", err)
	}
	return z, p, nil
}

// Loss implements core.Objective: core.CrossCosine of the predictions
// against the other views' projections (under the stop-gradient).
func (s *SimSiam) Loss(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, core.Score, error) {
	z, p, err := s.Embeddings(trunk, batch, train)
	if err != nil {
		return nil, core.Score{}, err
	}
	return pairLoss("simsiam", z, func(z mat.Tensor) (mat.Tensor, error) { return core.CrossCosine(p, z) })
}
