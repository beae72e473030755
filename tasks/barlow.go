package tasks

import (
	"encoding/gob"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/pretextlab/pretext/core"
)

// BarlowTwins is the redundancy-reduction method of Zbontar, Jing, Misra,
// LeCun & Deny (2021, "Barlow Twins: Self-Supervised Learning via
// Redundancy Reduction", ICML): each photo is shown as two augmented views
// (ViewConfig, SimCLR's pipeline), a projector (core.Projector,
// fc-BN-ReLU-fc) maps the trunk's pooled features to embeddings, and the
// loss (core.BarlowTwins, eq. 1-2) drives the cross-correlation matrix of
// the two views' standardised embeddings, over the batch, to the
// identity: each dimension the same for both views (the diagonal at 1),
// and different dimensions uncorrelated (the off-diagonal at 0, weighed by
// lambda). No negatives, no second network, no stop-gradient.
//
// One Examples call makes one example with two views; Loss stacks a
// batch's views example by example, core.NTXent's layout, and needs at
// least two examples (the statistics are over the batch). Accuracy is
// core.PairAccuracy of the embeddings: the fraction of views whose nearest
// other view is their partner. The baseline loss is that of the collapsed
// embedding, Proj (every diagonal term 1); on held-out photos the task
// also measures
// view matching by the trunk's features against a random-init trunk
// (viewMatching).
//
// Departures from the paper, for the small trunk and small batches: the
// projector has one hidden layer of 4F units and 4F outputs (F the trunk's
// features; the paper's is three layers of 8192 on ResNet-50's 2048), and
// the optimiser is the registry's Adam rather than LARS.
type BarlowTwins struct {
	nn.Module
	// Head is the projector F -> Hidden -> Proj.
	Head *core.Projector

	base[BarlowConfig]
	twoViews
}

var (
	_ Task      = &BarlowTwins{}
	_ Refresher = &BarlowTwins{}
	_ Assigner  = &BarlowTwins{}
	_ Baseliner = &BarlowTwins{}
	_ Measurer  = &BarlowTwins{}
)

func init() { gob.Register(&BarlowTwins{}) }

// barlowEntry is the task's registry entry.
var barlowEntry = entry{
	new:      fromConfig(NewBarlowTwins),
	summary:  "make the cross-correlation of two views' embeddings the identity (Zbontar et al. 2021)",
	defaults: Defaults{Optimizer: "adam", LR: 0.001, Steps: 300, Batch: 32},
	captions: neighbourCaptions,
}

// BarlowConfig sets the Barlow Twins task. The zero value is the default.
type BarlowConfig struct {
	// ViewConfig is the augmentation (its fields are at the top level of
	// the JSON settings: size, min_scale, jitter, ...).
	ViewConfig
	// ProjConfig is the head (hidden, proj and neighbors at the top level
	// of the JSON settings; default widths 4F and 4F, F the trunk's
	// feature count).
	ProjConfig
	// Lambda weighs the off-diagonal terms (default 0.005, the paper's;
	// negative: none).
	Lambda float64 `json:"lambda,omitempty"`
}

func (c BarlowConfig) withDefaults(features int) BarlowConfig {
	c.ViewConfig = c.ViewConfig.withDefaults()
	c.ProjConfig = c.ProjConfig.withDefaults(4*features, 4*features)
	if c.Lambda == 0 {
		c.Lambda = 0.005
	}
	return c
}

// NewBarlowTwins returns the Barlow Twins task for trunk with a fresh
// projector drawn from rng.
func NewBarlowTwins(cfg BarlowConfig, trunk *core.Trunk, rng *rand.Rand) (*BarlowTwins, error) {
	if trunk == nil {
		return nil, fmt.Errorf("tasks: barlow-twins needs a trunk")
	}
	cfg = cfg.withDefaults(trunk.Features())
	if err := cfg.ViewConfig.check("barlow-twins", trunk); err != nil {
		return nil, err
	}
	if err := cfg.ProjConfig.check("barlow-twins"); err != nil {
		return nil, err
	}
	if math.IsNaN(cfg.Lambda) || cfg.Lambda > 1e4 {
		return nil, fmt.Errorf("tasks: barlow-twins lambda %v, want at most 10000", cfg.Lambda)
	}
	head, err := core.NewProjector(trunk.Features(), cfg.Hidden, cfg.Proj, false, rng)
	if err != nil {
		return nil, fmt.Errorf("tasks: barlow-twins projector: %w", err)
	}
	return &BarlowTwins{
		Head:     head,
		base:     newBase("barlow-twins", cfg, trunk),
		twoViews: newTwoViews("barlow-twins", cfg.ViewConfig, cfg.Neighbors, trunk),
	}, nil
}

// Embeddings runs trunk and projector on every view of the batch, example
// by example: [2N, Proj], rows 2i and 2i+1 the views of example i.
func (b *BarlowTwins) Embeddings(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, error) {
	return projectPairs("barlow-twins", trunk, b.Head, batch, train)
}

// Loss implements core.Objective: core.BarlowTwins over the batch's view
// pairs.
func (b *BarlowTwins) Loss(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, core.Score, error) {
	z, err := b.Embeddings(trunk, batch, train)
	if err != nil {
		return nil, core.Score{}, err
	}
	return pairLoss("barlow-twins", z, func(z mat.Tensor) (mat.Tensor, error) { return core.BarlowTwins(z, max(b.cfg.Lambda, 0)) })
}

// BaselineLoss is the loss of the collapsed embedding (every view the
// same vector): its standardised embeddings are zero, so is the
// cross-correlation, and each of the Proj diagonal terms costs 1.
func (b *BarlowTwins) BaselineLoss([]core.Example) float64 {
	return float64(b.cfg.Proj)
}
