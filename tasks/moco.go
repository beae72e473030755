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

// MoCo is Momentum Contrast v2 (He, Fan, Wu, Xie & Girshick 2020,
// "Momentum Contrast for Unsupervised Visual Representation Learning",
// CVPR; Chen, Fan, Girshick & He 2020, "Improved Baselines with Momentum
// Contrastive Learning": the MLP head, the stronger augmentation and
// τ = 0.2): each photo is shown as two augmented views (ViewConfig,
// SimCLR's pipeline); the online network (the trunk and a projector)
// encodes each view as a query, a momentum copy of it (Target and
// TargetProj, followed after every update, eq. 2: θk ← mθk + (1-m)θq)
// encodes each view as a key, and the InfoNCE loss (core.InfoNCE, eq. 1,
// symmetrised) asks each query to pick out its other view's key among the
// keys of earlier batches, a queue of K (the dictionary), which makes many
// negatives without large batches.
//
// One Examples call makes one example with two views; Loss stacks a
// batch's views example by example, core.NTXent's layout, and needs at
// least two examples (the projector's batch-norm). After a training step
// the batch's keys replace the oldest in the queue (Follow). Accuracy is
// InfoNCE's: the fraction of queries whose positive key scores above every
// queued one. The baseline loss is ln(K+1), all keys alike. On held-out
// photos the task also measures view matching by the trunk's features
// against a random-init trunk (viewMatching).
//
// The queue (Queue, [K, Proj], and QueuePos, the next slot) and the
// momentum network are the head's parameters without gradients:
// checkpoints, sessions and exact resume keep them, and data-parallel
// replicas, which compute the same keys and take identical updates, keep
// identical queues. They cost one more copy of the trunk and projector
// and K·Proj values (2048 x 256 floats, 2 MB, by default), and a forward
// pass of the target trunk over the batch's views each step.
//
// Departures from the papers, for the small trunk, short runs and one
// machine: the momentum network runs in evaluation mode (its batch-norm
// uses running statistics, themselves followed from the online
// network's), which stops the query batch's statistics from telling the
// positive key from the queued ones, the leak MoCo's shuffled batch-norm
// closes across GPUs; the projector is core.Projector (fc-BN-ReLU-fc, 4F
// hidden, 2F out, F the trunk's features; MoCo v2's is fc-ReLU-fc, 2048
// and 128); m defaults to 0.99 (solo-learn's CIFAR setting; the paper's
// 0.999 is for runs of hundreds of epochs), K to 2048, and the optimiser
// is the registry's Adam rather than SGD.
type MoCo struct {
	nn.Module
	// Proj is the online projector F -> Hidden -> Proj.
	Proj *core.Projector
	// Target and TargetProj are the momentum network (no gradients).
	Target     *core.Trunk
	TargetProj *core.Projector
	// Queue holds the last Queue keys as unit rows, [K, Proj]; QueuePos
	// (1x1) is the row the next key goes to. Neither takes gradients.
	Queue, QueuePos *nn.Param

	base[MoCoConfig]
	twoViews
	// online is the trunk Target follows (the one the task was built for).
	online *core.Trunk
	// pending are the unit keys of the last training batch, which Follow
	// puts in the queue.
	pending []float32
}

var (
	_ Task          = &MoCo{}
	_ Refresher     = &MoCo{}
	_ Assigner      = &MoCo{}
	_ Baseliner     = &MoCo{}
	_ Measurer      = &MoCo{}
	_ core.Follower = &MoCo{}
)

func init() { gob.Register(&MoCo{}) }

// mocoEntry is the task's registry entry.
var mocoEntry = entry{
	new:      fromConfig(NewMoCo),
	summary:  "tell a view's key, from a slowly moving copy of the network, from a queue of earlier photos' keys (He et al. 2020)",
	defaults: Defaults{Optimizer: "adam", LR: 0.001, Steps: 300, Batch: 32},
	captions: neighbourCaptions,
}

// MoCoConfig sets the MoCo task. The zero value is the default.
type MoCoConfig struct {
	// ViewConfig is the augmentation (its fields are at the top level of
	// the JSON settings: size, min_scale, jitter, ...).
	ViewConfig
	// ProjConfig is the head (hidden, proj and neighbors at the top level
	// of the JSON settings; default widths 4F and 2F, F the trunk's
	// feature count).
	ProjConfig
	// Queue is the number of keys kept as negatives, K (default 2048).
	Queue int `json:"queue,omitempty"`
	// Temperature is InfoNCE's τ (default 0.2, MoCo v2's).
	Temperature float64 `json:"temperature,omitempty"`
	// Momentum is the momentum network's m (default 0.99), in [0, 1).
	Momentum float64 `json:"momentum,omitempty"`
}

func (c MoCoConfig) withDefaults(features int) MoCoConfig {
	c.ViewConfig = c.ViewConfig.withDefaults()
	c.ProjConfig = c.ProjConfig.withDefaults(4*features, 2*features)
	if c.Queue == 0 {
		c.Queue = 2048
	}
	if c.Temperature == 0 {
		c.Temperature = 0.2
	}
	if c.Momentum == 0 {
		c.Momentum = 0.99
	}
	return c
}

// NewMoCo returns the MoCo task for trunk with a fresh projector drawn from
// rng, a momentum network that starts as a copy of trunk and projector,
// and a queue of random unit keys (drawn from rng after the projector).
func NewMoCo(cfg MoCoConfig, trunk *core.Trunk, rng *rand.Rand) (*MoCo, error) {
	if trunk == nil {
		return nil, fmt.Errorf("tasks: moco needs a trunk")
	}
	cfg = cfg.withDefaults(trunk.Features())
	if err := cfg.ViewConfig.check("moco", trunk); err != nil {
		return nil, err
	}
	if err := cfg.ProjConfig.check("moco"); err != nil {
		return nil, err
	}
	switch {
	case cfg.Queue < 1 || cfg.Queue > 1<<16:
		return nil, fmt.Errorf("tasks: moco queue %d out of range [1, %d]", cfg.Queue, 1<<16)
	case !(cfg.Temperature > 0 && cfg.Temperature <= 100):
		return nil, fmt.Errorf("tasks: moco temperature %v out of range (0, 100]", cfg.Temperature)
	case !(cfg.Momentum >= 0 && cfg.Momentum < 1):
		return nil, fmt.Errorf("tasks: moco momentum %v out of range [0, 1)", cfg.Momentum)
	}
	if err := checkHead("moco", 2*core.MLPValues(trunk.Features(), cfg.Hidden, cfg.Proj)+cfg.Queue*cfg.Proj); err != nil {
		return nil, err
	}
	proj, err := core.NewProjector(trunk.Features(), cfg.Hidden, cfg.Proj, false, rng)
	if err != nil {
		return nil, fmt.Errorf("tasks: moco projector: %w", err)
	}
	// MoCo's initial queue: normal draws, each row made unit length.
	queue := make([]float32, cfg.Queue*cfg.Proj)
	for r := range cfg.Queue {
		row := queue[r*cfg.Proj : (r+1)*cfg.Proj]
		var ss float64
		for j := range row {
			v := rng.NormFloat64()
			row[j] = float32(v)
			ss += v * v
		}
		for j := range row {
			row[j] = float32(float64(row[j]) / math.Sqrt(ss))
		}
	}
	return &MoCo{
		Proj:       proj,
		Target:     trunk.Frozen(),
		TargetProj: proj.Frozen(),
		Queue:      nn.NewParam(mat.NewDense[float32](mat.WithShape(cfg.Queue, cfg.Proj), mat.WithBacking(queue))).WithGrad(false),
		QueuePos:   nn.NewParam(mat.NewDense[float32](mat.WithShape(1, 1), mat.WithBacking([]float32{0}))).WithGrad(false),
		base:       newBase("moco", cfg, trunk),
		twoViews:   newTwoViews("moco", cfg.ViewConfig, cfg.Neighbors, trunk),
		online:     trunk,
	}, nil
}

// Loss implements core.Objective: core.InfoNCE of the online queries
// against the momentum network's keys and the queue. In training it keeps
// the batch's keys for Follow to enqueue.
func (c *MoCo) Loss(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, core.Score, error) {
	q, err := projectPairs("moco", trunk, c.Proj, batch, train)
	if err != nil {
		return nil, core.Score{}, err
	}
	// The momentum network in evaluation mode: see the type's doc.
	k, err := projectPairs("moco", c.Target, c.TargetProj, batch, false)
	if err != nil {
		return nil, core.Score{}, err
	}
	loss, acc, err := core.InfoNCE(q, k, c.Queue, c.cfg.Temperature)
	if err != nil {
		return nil, core.Score{}, fmt.Errorf("tasks: moco: %w", err)
	}
	if train {
		c.pending = unitRowsF32(k.Value().Data().F32(), c.cfg.Proj)
	}
	return loss, core.Score{Accuracy: acc}, nil
}

// unitRowsF32 returns a copy of the rows of x (d values each) made unit
// length (a zero row stays zero).
func unitRowsF32(x []float32, d int) []float32 {
	out := make([]float32, len(x))
	for r := 0; r+d <= len(x); r += d {
		var ss float64
		for _, v := range x[r : r+d] {
			ss += float64(v) * float64(v)
		}
		if ss == 0 {
			continue
		}
		n := math.Sqrt(ss)
		for j, v := range x[r : r+d] {
			out[r+j] = float32(float64(v) / n)
		}
	}
	return out
}

// Follow implements core.Follower: the last training batch's keys replace
// the oldest in the queue (wrapping around), then the momentum network
// follows the online one.
func (c *MoCo) Follow(int) error {
	queue, pos := c.Queue.Value().Data().F32(), c.QueuePos.Value().Data().F32()
	d, k := c.cfg.Proj, c.cfg.Queue
	at := int(pos[0])
	if at < 0 || at >= k {
		at = 0
	}
	for r := 0; r+d <= len(c.pending); r += d {
		copy(queue[at*d:(at+1)*d], c.pending[r:r+d])
		at = (at + 1) % k
	}
	pos[0] = float32(at)
	c.pending = nil
	if err := core.MomentumUpdate(c.Target, c.online, c.cfg.Momentum); err != nil {
		return fmt.Errorf("tasks: moco: %w", err)
	}
	if err := core.MomentumUpdate(c.TargetProj, c.Proj, c.cfg.Momentum); err != nil {
		return fmt.Errorf("tasks: moco: %w", err)
	}
	return nil
}

// BaselineLoss is the loss when every key scores alike: ln(K+1).
func (c *MoCo) BaselineLoss([]core.Example) float64 {
	return math.Log(float64(c.cfg.Queue + 1))
}
