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

// SimCLR is the contrastive pretext task of Chen, Kornblith, Norouzi &
// Hinton (2020, "A Simple Framework for Contrastive Learning of Visual
// Representations", ICML): each photo is shown as two independently
// augmented views (random resized crop, left-right flip, strong colour
// jitter with probability 0.8, grey with probability 0.2, optionally
// Gaussian blur), a projection head g (Linear-ReLU-Linear) maps the
// trunk's pooled features to an embedding, and the NT-Xent loss
// (core.NTXent) asks each view to pick out its partner among the other
// 2N-1 views of the batch. The trunk's features (before g) are the
// representation; the head is thrown away after training.
//
// One Examples call makes one example with two views (Class is unused);
// Loss stacks a batch's views example by example, so rows 2i and 2i+1 of
// the embeddings are partners, core.NTXent's convention. Accuracy is the
// fraction of views whose most similar other view is the partner.
//
// Departures from the paper, for small inputs and small batches: blur is
// off by default and the colour jitter has strength 0.5 (both the paper's
// CIFAR-10 settings, for 32-pixel images like the default Size); the
// temperature defaults to 0.5 (its CIFAR-10 experiments, appendix B.9,
// tried 0.1, 0.5 and 1; its ImageNet runs use 0.1 with batches of
// thousands); the colour-jitter operations run in a fixed order
// (brightness, contrast, saturation, hue) rather than a random one; and the
// smallest crop is 0.2 of the photo rather than 0.08 (the photos are
// already downscaled; tinier crops would be mostly interpolation).
//
// The augmentation is ViewConfig's, shared with the methods after SimCLR;
// Predict shows the nearest neighbours of a photo by cosine similarity of
// the trunk's features among the photos of the last Refresh (the training
// set: SimCLR is a Refresher only to keep them), the shared neighbours
// preview's; on held-out photos it also measures view matching, as the
// methods after it do (twoViews).
type SimCLR struct {
	nn.Module
	// Head is the projection F -> Hidden -> Proj.
	Head *core.MLP

	base[SimCLRConfig]
	twoViews
}

var (
	_ Task      = &SimCLR{}
	_ Refresher = &SimCLR{}
	_ Assigner  = &SimCLR{}
	_ Baseliner = &SimCLR{}
	_ Measurer  = &SimCLR{}
)

func init() { gob.Register(&SimCLR{}) }

// simclrEntry is the task's registry entry.
var simclrEntry = entry{
	new:      fromConfig(NewSimCLR),
	summary:  "tell two augmented views of the same photo from all others (Chen et al. 2020)",
	defaults: Defaults{Optimizer: "adam", LR: 0.001, Steps: 300, Batch: 32},
	captions: neighbourCaptions,
}

// SimCLRConfig sets the SimCLR task. The zero value is the default.
type SimCLRConfig struct {
	// ViewConfig is the augmentation (its fields are at the top level of
	// the JSON settings: size, min_scale, jitter, ...).
	ViewConfig
	// Hidden is the width of the projection head's hidden layer (default:
	// the trunk's feature count, as the paper's 2048 for ResNet-50).
	Hidden int `json:"hidden,omitempty"`
	// Proj is the length of the embedding the loss compares (default 64;
	// the paper's 128, halved for the small trunk).
	Proj int `json:"proj,omitempty"`
	// Temperature is NT-Xent's τ (default 0.5).
	Temperature float64 `json:"temperature,omitempty"`
	// Neighbors is the number of nearest photos Predict shows (default 5).
	Neighbors int `json:"neighbors,omitempty"`
}

func (c SimCLRConfig) withDefaults(features int) SimCLRConfig {
	c.ViewConfig = c.ViewConfig.withDefaults()
	if c.Hidden == 0 {
		c.Hidden = features
	}
	if c.Proj == 0 {
		c.Proj = 64
	}
	if c.Temperature == 0 {
		c.Temperature = 0.5
	}
	if c.Neighbors == 0 {
		c.Neighbors = 5
	}
	return c
}

// checkProjection validates a projection's widths and the previews' neighbour
// count, the settings the joint-embedding methods share beside ViewConfig.
func checkProjection(name string, hidden, proj, neighbors int) error {
	switch {
	case hidden < 1 || hidden > 1<<14:
		return fmt.Errorf("tasks: %s hidden %d out of range [1, %d]", name, hidden, 1<<14)
	case proj < 1 || proj > 1<<14:
		return fmt.Errorf("tasks: %s proj %d out of range [1, %d]", name, proj, 1<<14)
	case neighbors < 1 || neighbors > 32:
		return fmt.Errorf("tasks: %s neighbors %d out of range [1, 32]", name, neighbors)
	}
	return nil
}

// NewSimCLR returns the SimCLR task for trunk with a fresh projection head
// drawn from rng, initialised as PyTorch's nn.Linear (uniform in ±1/√in).
func NewSimCLR(cfg SimCLRConfig, trunk *core.Trunk, rng *rand.Rand) (*SimCLR, error) {
	if trunk == nil {
		return nil, fmt.Errorf("tasks: simclr needs a trunk")
	}
	cfg = cfg.withDefaults(trunk.Features())
	if err := cfg.check("simclr", trunk); err != nil {
		return nil, err
	}
	if err := checkProjection("simclr", cfg.Hidden, cfg.Proj, cfg.Neighbors); err != nil {
		return nil, err
	}
	if !(cfg.Temperature > 0 && cfg.Temperature <= 100) {
		return nil, fmt.Errorf("tasks: simclr temperature %v out of range (0, 100]", cfg.Temperature)
	}
	head, err := core.NewMLP(trunk.Features(), cfg.Hidden, cfg.Proj, rng)
	if err != nil {
		return nil, fmt.Errorf("tasks: simclr head: %w", err)
	}
	return &SimCLR{
		Head:     head,
		base:     newBase("simclr", cfg, trunk),
		twoViews: newTwoViews("simclr", cfg.ViewConfig, cfg.Neighbors, trunk),
	}, nil
}

// Embeddings runs trunk and projection head on every view of the batch,
// example by example: [2N, Proj], rows 2i and 2i+1 the views of example i.
func (s *SimCLR) Embeddings(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, error) {
	f, err := pairFeatures("simclr", trunk, batch, 1, train)
	if err != nil {
		return nil, err
	}
	z, err := s.Head.Forward(f)
	if err != nil {
		return nil, fmt.Errorf("tasks: simclr: %w", err)
	}
	return z, nil
}

// Loss implements core.Objective: NT-Xent over the batch's 2N views.
func (s *SimCLR) Loss(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, core.Score, error) {
	z, err := s.Embeddings(trunk, batch, train)
	if err != nil {
		return nil, core.Score{}, err
	}
	loss, acc, err := core.NTXent(z, s.cfg.Temperature)
	if err != nil {
		return nil, core.Score{}, fmt.Errorf("tasks: simclr: %w", err)
	}
	return loss, core.Score{Accuracy: acc}, nil
}

// BaselineLoss is the loss of an embedding that cannot tell views apart
// (all similarities equal): ln(2N-1) for N examples.
func (s *SimCLR) BaselineLoss(batch []core.Example) float64 {
	return math.Log(float64(max(2*len(batch)-1, 1)))
}
