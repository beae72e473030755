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

// VICReg is Variance-Invariance-Covariance Regularization (Bardes, Ponce &
// LeCun 2022, "VICReg: Variance-Invariance-Covariance Regularization for
// Self-Supervised Learning", ICLR): each photo is shown as two augmented
// views (ViewConfig, SimCLR's pipeline), an expander (core.Projector,
// fc-BN-ReLU-fc) maps the trunk's pooled features to embeddings, and the
// loss (core.VICReg, eq. 1-6) pulls a photo's two embeddings together
// (invariance) while keeping every embedding dimension's standard
// deviation over the batch at 1 or above (variance) and the dimensions
// decorrelated (covariance). No negatives, no second network: the
// variance term is what stops the embeddings collapsing to a constant.
//
// One Examples call makes one example with two views; Loss stacks a
// batch's views example by example, core.NTXent's layout, and needs at
// least two examples (the statistics are over the batch). Accuracy is
// core.PairAccuracy of the embeddings: the fraction of views whose nearest
// other view is their partner. The baseline loss is that of the collapsed
// embedding, Std·(1 - √eps); on held-out photos the task also measures
// view matching by the trunk's features against a random-init trunk
// (viewMatching).
//
// Departures from the paper, for the small trunk and small batches: the
// expander has one hidden layer of 4F units and 4F outputs (F the trunk's
// features; the paper's is three layers of 8192 on ResNet-50's 2048), and
// the optimiser is the registry's Adam rather than LARS.
type VICReg struct {
	nn.Module
	// Head is the expander F -> Hidden -> Proj.
	Head *core.Projector

	base[VICRegConfig]
	twoViews
}

var (
	_ Task      = &VICReg{}
	_ Refresher = &VICReg{}
	_ Assigner  = &VICReg{}
	_ Baseliner = &VICReg{}
	_ Measurer  = &VICReg{}
)

func init() { gob.Register(&VICReg{}) }

// vicregEntry is the task's registry entry.
var vicregEntry = entry{
	new:      fromConfig(NewVICReg),
	summary:  "make two views of a photo agree while keeping the batch's embeddings varied and decorrelated (Bardes et al. 2022)",
	defaults: Defaults{Optimizer: "adam", LR: 0.001, Steps: 300, Batch: 32},
	captions: neighbourCaptions,
}

// VICRegConfig sets the VICReg task. The zero value is the default.
type VICRegConfig struct {
	// ViewConfig is the augmentation (its fields are at the top level of
	// the JSON settings: size, min_scale, jitter, ...).
	ViewConfig
	// ProjConfig is the head (hidden, proj and neighbors at the top level
	// of the JSON settings; default widths 4F and 4F, F the trunk's
	// feature count).
	ProjConfig
	// Sim, Std and Cov weigh the invariance, variance and covariance
	// terms (the paper's λ, μ, ν: default 25, 25, 1).
	Sim float64 `json:"sim,omitempty"`
	Std float64 `json:"std,omitempty"`
	Cov float64 `json:"cov,omitempty"`
}

func (c VICRegConfig) withDefaults(features int) VICRegConfig {
	c.ViewConfig = c.ViewConfig.withDefaults()
	c.ProjConfig = c.ProjConfig.withDefaults(4*features, 4*features)
	if c.Sim == 0 {
		c.Sim = 25
	}
	if c.Std == 0 {
		c.Std = 25
	}
	if c.Cov == 0 {
		c.Cov = 1
	}
	return c
}

// loss is the core.VICReg weighting of the settings.
func (c VICRegConfig) loss() core.VICRegConfig {
	return core.VICRegConfig{Sim: c.Sim, Std: c.Std, Cov: c.Cov}
}

// NewVICReg returns the VICReg task for trunk with a fresh expander drawn
// from rng.
func NewVICReg(cfg VICRegConfig, trunk *core.Trunk, rng *rand.Rand) (*VICReg, error) {
	if trunk == nil {
		return nil, fmt.Errorf("tasks: vicreg needs a trunk")
	}
	cfg = cfg.withDefaults(trunk.Features())
	if err := cfg.ViewConfig.check("vicreg", trunk); err != nil {
		return nil, err
	}
	if err := cfg.ProjConfig.check("vicreg"); err != nil {
		return nil, err
	}
	for _, w := range []float64{cfg.Sim, cfg.Std, cfg.Cov} {
		if !(w >= 0 && w <= 1e4) {
			return nil, fmt.Errorf("tasks: vicreg weights sim %v, std %v, cov %v, want each in [0, 10000]", cfg.Sim, cfg.Std, cfg.Cov)
		}
	}
	head, err := core.NewProjector(trunk.Features(), cfg.Hidden, cfg.Proj, false, rng)
	if err != nil {
		return nil, fmt.Errorf("tasks: vicreg expander: %w", err)
	}
	return &VICReg{
		Head:     head,
		base:     newBase("vicreg", cfg, trunk),
		twoViews: newTwoViews("vicreg", cfg.ViewConfig, cfg.Neighbors, trunk),
	}, nil
}

// Embeddings runs trunk and expander on every view of the batch, example
// by example: [2N, Proj], rows 2i and 2i+1 the views of example i.
func (v *VICReg) Embeddings(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, error) {
	return projectPairs("vicreg", trunk, v.Head, batch, train)
}

// Loss implements core.Objective: core.VICReg over the batch's view pairs.
func (v *VICReg) Loss(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, core.Score, error) {
	z, err := v.Embeddings(trunk, batch, train)
	if err != nil {
		return nil, core.Score{}, err
	}
	return pairLoss("vicreg", z, func(z mat.Tensor) (mat.Tensor, error) { return core.VICReg(z, v.cfg.loss()) })
}

// pairLoss applies a joint-embedding loss to z and scores the batch by
// core.PairAccuracy.
func pairLoss(name string, z mat.Tensor, loss func(mat.Tensor) (mat.Tensor, error)) (mat.Tensor, core.Score, error) {
	acc, err := core.PairAccuracy(z)
	if err != nil {
		return nil, core.Score{}, fmt.Errorf("tasks: %s: %w", name, err)
	}
	l, err := loss(z)
	if err != nil {
		return nil, core.Score{}, fmt.Errorf("tasks: %s: %w", name, err)
	}
	return l, core.Score{Accuracy: acc}, nil
}

// BaselineLoss is the loss of the collapsed embedding (every view the
// same vector): no invariance or covariance cost, and every dimension's
// standard deviation 0, so Std·(1 - √eps) with core.VICReg's eps.
func (v *VICReg) BaselineLoss([]core.Example) float64 {
	return v.cfg.Std * (1 - math.Sqrt(1e-4))
}
