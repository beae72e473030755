package tasks

import (
	"encoding/gob"
	"fmt"
	"math/rand/v2"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/pretextlab/pretext/core"
)

// BYOL is Bootstrap Your Own Latent (Grill et al. 2020, "Bootstrap Your
// Own Latent: A New Approach to Self-Supervised Learning", NeurIPS): each
// photo is shown as two augmented views (ViewConfig, SimCLR's pipeline);
// the online network (the trunk, a projector and a predictor) predicts,
// from one view, the target network's projection of the other view
// (core.CrossCosine, eq. 2 symmetrised as eq. 4: BYOL's 2 - 2·cos is
// 2 + 2·CrossCosine). The target network (a copy of the trunk and the
// projector) is not trained by gradients: after every update it moves
// towards the online network, ξ ← τξ + (1-τ)θ (eq. 1, core.MomentumUpdate),
// which, with the predictor, keeps the representation from collapsing
// without negatives.
//
// One Examples call makes one example with two views; Loss stacks a
// batch's views example by example, core.NTXent's layout, and needs at
// least two examples (the heads' batch-norm). The target runs in the same
// mode as the online network (batch statistics in training). Accuracy is
// core.PairAccuracy of the online projections. BYOL has no blind-guess
// loss (a collapsed network reaches the minimum), so on held-out photos
// its measure is view matching by the trunk's features against a
// random-init trunk (viewMatching).
//
// The target's trunk and projector are the head's Target and TargetProj:
// checkpoints and sessions keep them, export writes them (head.Target.*),
// and data-parallel replicas, which take identical updates, follow
// identically. They cost one more copy of the trunk's and the projector's
// parameters, and a forward pass of the target trunk over the batch's
// views each step (about a third more compute than SimSiam).
//
// Departures from the paper, for the small trunk and short runs: the heads
// are core.Projector (one hidden layer of 4F units, 2F outputs, F the
// trunk's features; the paper's 4096 and 256 on ResNet-50), τ is constant
// (default 0.99, solo-learn's starting value on CIFAR; the paper raises
// 0.996 to 1 over training) and the optimiser is the registry's Adam
// rather than LARS.
type BYOL struct {
	nn.Module
	// Proj is the online projector F -> Hidden -> Proj, Pred the predictor
	// Proj -> PredHidden -> Proj.
	Proj, Pred *core.Projector
	// Target and TargetProj are the target network: momentum copies of
	// the trunk and Proj (no gradients).
	Target     *core.Trunk
	TargetProj *core.Projector

	base[BYOLConfig]
	twoViews
	// online is the trunk Target follows (the one the task was built
	// for): Follow has no other way to reach it.
	online *core.Trunk
}

var (
	_ Task          = &BYOL{}
	_ Refresher     = &BYOL{}
	_ Assigner      = &BYOL{}
	_ Measurer      = &BYOL{}
	_ core.Follower = &BYOL{}
)

func init() { gob.Register(&BYOL{}) }

// byolEntry is the task's registry entry.
var byolEntry = entry{
	new:      fromConfig(NewBYOL),
	summary:  "predict a slowly moving copy of the network's view of a photo from another view (Grill et al. 2020)",
	defaults: Defaults{Optimizer: "adam", LR: 0.001, Steps: 300, Batch: 32},
	captions: neighbourCaptions,
}

// BYOLConfig sets the BYOL task. The zero value is the default.
type BYOLConfig struct {
	// ViewConfig is the augmentation (its fields are at the top level of
	// the JSON settings: size, min_scale, jitter, ...).
	ViewConfig
	// ProjConfig is the head (hidden, proj and neighbors at the top level
	// of the JSON settings; default widths 4F and 2F, F the trunk's
	// feature count).
	ProjConfig
	// PredHidden is the predictor's hidden width (default Hidden, as the
	// paper's).
	PredHidden int `json:"pred_hidden,omitempty"`
	// Momentum is the target's τ (default 0.99), in [0, 1).
	Momentum float64 `json:"momentum,omitempty"`
}

func (c BYOLConfig) withDefaults(features int) BYOLConfig {
	c.ViewConfig = c.ViewConfig.withDefaults()
	c.ProjConfig = c.ProjConfig.withDefaults(4*features, 2*features)
	if c.PredHidden == 0 {
		c.PredHidden = c.Hidden
	}
	if c.Momentum == 0 {
		c.Momentum = 0.99
	}
	return c
}

// NewBYOL returns the BYOL task for trunk with a fresh projector and
// predictor drawn from rng, in that order, and a target network that
// starts as a copy of trunk and the projector.
func NewBYOL(cfg BYOLConfig, trunk *core.Trunk, rng *rand.Rand) (*BYOL, error) {
	if trunk == nil {
		return nil, fmt.Errorf("tasks: byol needs a trunk")
	}
	cfg = cfg.withDefaults(trunk.Features())
	if err := cfg.ViewConfig.check("byol", trunk); err != nil {
		return nil, err
	}
	if err := cfg.ProjConfig.check("byol"); err != nil {
		return nil, err
	}
	switch {
	case cfg.PredHidden < 1 || cfg.PredHidden > 1<<14:
		return nil, fmt.Errorf("tasks: byol pred_hidden %d out of range [1, %d]", cfg.PredHidden, 1<<14)
	case !(cfg.Momentum >= 0 && cfg.Momentum < 1):
		return nil, fmt.Errorf("tasks: byol momentum %v out of range [0, 1)", cfg.Momentum)
	}
	if err := checkHead("byol", 2*core.MLPValues(trunk.Features(), cfg.Hidden, cfg.Proj)+core.MLPValues(cfg.Proj, cfg.PredHidden, cfg.Proj)); err != nil {
		return nil, err
	}
	proj, err := core.NewProjector(trunk.Features(), cfg.Hidden, cfg.Proj, false, rng)
	if err != nil {
		return nil, fmt.Errorf("tasks: byol projector: %w", err)
	}
	pred, err := core.NewProjector(cfg.Proj, cfg.PredHidden, cfg.Proj, false, rng)
	if err != nil {
		return nil, fmt.Errorf("tasks: byol predictor: %w", err)
	}
	return &BYOL{
		Proj:       proj,
		Pred:       pred,
		Target:     trunk.Frozen(),
		TargetProj: proj.Frozen(),
		base:       newBase("byol", cfg, trunk),
		twoViews:   newTwoViews("byol", cfg.ViewConfig, cfg.Neighbors, trunk),
		online:     trunk,
	}, nil
}

// Loss implements core.Objective: core.CrossCosine of the online
// predictions against the target's projections of the other views.
func (b *BYOL) Loss(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, core.Score, error) {
	z, err := projectPairs("byol", trunk, b.Proj, batch, train)
	if err != nil {
		return nil, core.Score{}, err
	}
	p, err := b.Pred.Forward(z, train)
	if err != nil {
		return nil, core.Score{}, fmt.Errorf("tasks: byol: %w", err)
	}
	zt, err := projectPairs("byol", b.Target, b.TargetProj, batch, train)
	if err != nil {
		return nil, core.Score{}, err
	}
	acc, err := core.PairAccuracy(z)
	if err != nil {
		return nil, core.Score{}, fmt.Errorf("tasks: byol: %w", err)
	}
	loss, err := core.CrossCosine(p, zt)
	if err != nil {
		return nil, core.Score{}, fmt.Errorf("tasks: byol: %w", err)
	}
	return loss, core.Score{Accuracy: acc}, nil
}

// Follow implements core.Follower: the target network's momentum update
// towards the trunk the task was built for and the online projector.
func (b *BYOL) Follow(int) error {
	if err := core.MomentumUpdate(b.Target, b.online, b.cfg.Momentum); err != nil {
		return fmt.Errorf("tasks: byol: %w", err)
	}
	if err := core.MomentumUpdate(b.TargetProj, b.Proj, b.cfg.Momentum); err != nil {
		return fmt.Errorf("tasks: byol: %w", err)
	}
	return nil
}
