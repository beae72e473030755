package tasks

import (
	"encoding/gob"
	"fmt"
	"image"
	"math"
	"math/rand/v2"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/pretextlab/pretext/core"
)

// SwAV is swapping assignments between views (Caron, Misra, Mairal, Goyal,
// Bojanowski & Joulin 2020, "Unsupervised Learning of Visual Features by
// Contrasting Cluster Assignments", NeurIPS): each photo is shown as two
// global and M local views (MultiCropConfig, the paper's multi-crop,
// section 3.2); the trunk and a projector give each view a unit feature
// z, scored against K trainable unit prototypes c_k. For each global view
// the batch's scores are turned into codes q by the online equipartition
// (section 3.1, "Computing codes online"):
// Q* = Diag(u)·exp(CᵀZ/ε)·Diag(v) by Sinkhorn-Knopp for 3 iterations with
// ε = 0.05 (swavCodes, SeLa's scaling, sinkhorn.go), so that the batch's
// photos spread evenly over the prototypes, which rules out the collapse
// of every photo onto one. Every other view of the
// photo, global or local, then predicts those codes, the swapped
// prediction (section 3.1, eq. 1-2, over the multi-crop pairs of section
// 3.2; Algorithm 1):
//
//	L = 1/(N·2(V-1)) Σ_i Σ_{t<2} Σ_{s≠t} -Σ_k q_t,i,k log p_s,i,k,
//	p_s = softmax(z_s·C/τ), τ = 0.1
//
// The codes are constants (computed without gradient, Algorithm 1's
// torch.no_grad); the gradient flows to z (projector and trunk) and to
// the prototypes. The loss is DINO's cross-entropy of the same pairs
// (core.DINOLoss) with the codes as the teacher's distribution: a teacher
// of log q at temperature 1 and a zero centre gives softmax(log q) = q,
// since each code sums to 1, so no operator of SwAV's own is needed.
//
// The prototypes are made unit rows after every update (Follow, which the
// trainer calls after each step: the paper's code normalises them at the
// start of each iteration, the same thing) and at construction, so that
// z·c_k is a cosine; their gradient is the plain one of the linear map.
//
// One Examples call makes one example, its views in MultiCropConfig's
// order; Loss runs the trunk once over the batch's global views and once
// over its local ones (view-major), and the projector once over all their
// features (its batch-norm sees them all); it needs at least two examples.
// Accuracy is core.PairAccuracy of the two global views' z. The baseline
// loss is ln K: a prediction uniform over the prototypes scores
// -Σ_k q_k log(1/K) = ln K against any code. On held-out photos the task
// measures view matching by the trunk's features against a random-init
// trunk (viewMatching), on views of the two-view methods' crop scale
// (MultiCropConfig.measureViews). Prototypes are the task's parameters:
// checkpoints and sessions keep them; data-parallel replicas, which run
// everything after the trunk on the whole batch, compute the same codes
// and take identical updates.
//
// Departures from the paper, for the small convolutional trunk, short
// runs and batches of 32 photos: the projector is core.Projector
// (fc-BN-ReLU-fc, 4F hidden, 2F out, F the trunk's features; the paper's
// is 2048 hidden, 128 out); K defaults to 128, not ImageNet's 3000: the
// codes of a view are computed over the batch alone, so each prototype
// receives B/K of a photo's mass, and with B = 32 a few thousand
// prototypes would leave each with a hundredth of a photo, while the
// paper finds that the number of prototypes matters little as long as
// there are enough of them (its appendix); 128 is four times the batch,
// below the dev set's photos, and costs 128·2F values.
// There is no queue of earlier features (section 4.3, for batches of 256
// and below): at a few hundred steps over a few hundred photos a queue of
// earlier batches would hold features of a trunk that has since moved,
// and the paper's code starts it only after 15 epochs; the prototypes are not
// frozen in the first epoch; the crops are the shared multi-crop
// pipeline's (DINO's scales, global 0.4-1 and local 0.05-0.4, 6 local
// views at half the size; the paper's are 0.14-1 and 0.05-0.14 at 224 and
// 96); and the optimiser is the registry's Adam rather than LARS.
type SwAV struct {
	nn.Module
	// Proj is the projector F -> Hidden -> Proj.
	Proj *core.Projector
	// Prototypes are C, [K, Proj], unit rows.
	Prototypes *nn.Param

	base[SwAVConfig]
	twoViews
}

var (
	_ Task          = &SwAV{}
	_ Refresher     = &SwAV{}
	_ Assigner      = &SwAV{}
	_ Measurer      = &SwAV{}
	_ Baseliner     = &SwAV{}
	_ core.Follower = &SwAV{}
)

func init() { gob.Register(&SwAV{}) }

// swavEntry is the task's registry entry.
var swavEntry = entry{
	new:      fromConfig(NewSwAV),
	summary:  "predict, from every crop of a photo, the prototype codes of its large crops, spread evenly over the batch (Caron et al. 2020)",
	defaults: Defaults{Optimizer: "adam", LR: 0.001, Steps: 300, Batch: 32},
	captions: neighbourCaptions,
}

// SwAVConfig sets the SwAV task. The zero value is the default.
type SwAVConfig struct {
	// MultiCropConfig is the augmentation (its fields are at the top level
	// of the JSON settings: size, min_scale, local_crops, local_size, ...).
	MultiCropConfig
	// ProjConfig is the head (hidden, proj and neighbors at the top level
	// of the JSON settings; default widths 4F and 2F, F the trunk's
	// feature count).
	ProjConfig
	// Prototypes is the number of prototypes K (default 128; see SwAV).
	Prototypes int `json:"prototypes,omitempty"`
	// Temperature is τ of the predictions (default 0.1, the paper's).
	Temperature float64 `json:"temperature,omitempty"`
	// Epsilon is ε of the codes' equipartition (default 0.05, the
	// paper's).
	Epsilon float64 `json:"epsilon,omitempty"`
	// SinkhornIters is the number of Sinkhorn-Knopp iterations of the
	// codes (default 3, the paper's).
	SinkhornIters int `json:"sinkhorn_iters,omitempty"`
}

func (c SwAVConfig) withDefaults(features int) SwAVConfig {
	c.MultiCropConfig = c.MultiCropConfig.withDefaults()
	c.ProjConfig = c.ProjConfig.withDefaults(4*features, 2*features)
	if c.Prototypes == 0 {
		c.Prototypes = 128
	}
	if c.Temperature == 0 {
		c.Temperature = 0.1
	}
	if c.Epsilon == 0 {
		c.Epsilon = 0.05
	}
	if c.SinkhornIters == 0 {
		c.SinkhornIters = 3
	}
	return c
}

// maxSinkhornIters bounds SwAV's Sinkhorn-Knopp iterations.
const maxSinkhornIters = 100

// NewSwAV returns the SwAV task for trunk with a fresh head drawn from
// rng: the projector, then the prototypes, uniform in ±1/√Proj (PyTorch's
// nn.Linear) and made unit rows.
func NewSwAV(cfg SwAVConfig, trunk *core.Trunk, rng *rand.Rand) (*SwAV, error) {
	if trunk == nil {
		return nil, fmt.Errorf("tasks: swav needs a trunk")
	}
	cfg = cfg.withDefaults(trunk.Features())
	if err := cfg.MultiCropConfig.check("swav", trunk); err != nil {
		return nil, err
	}
	if err := cfg.ProjConfig.check("swav"); err != nil {
		return nil, err
	}
	switch {
	case cfg.Prototypes < 1 || cfg.Prototypes > maxPrototypes:
		return nil, fmt.Errorf("tasks: swav prototypes %d out of range [1, %d]", cfg.Prototypes, maxPrototypes)
	case !(cfg.Temperature > 0 && cfg.Temperature <= 100):
		return nil, fmt.Errorf("tasks: swav temperature %v out of range (0, 100]", cfg.Temperature)
	case !(cfg.Epsilon > 0 && cfg.Epsilon <= 100):
		return nil, fmt.Errorf("tasks: swav epsilon %v out of range (0, 100]", cfg.Epsilon)
	case cfg.SinkhornIters < 1 || cfg.SinkhornIters > maxSinkhornIters:
		return nil, fmt.Errorf("tasks: swav sinkhorn_iters %d out of range [1, %d]", cfg.SinkhornIters, maxSinkhornIters)
	}
	if err := checkHead("swav", core.MLPValues(trunk.Features(), cfg.Hidden, cfg.Proj)+cfg.Prototypes*cfg.Proj); err != nil {
		return nil, err
	}
	proj, err := core.NewProjector(trunk.Features(), cfg.Hidden, cfg.Proj, false, rng)
	if err != nil {
		return nil, fmt.Errorf("tasks: swav projector: %w", err)
	}
	s := &SwAV{
		Proj:       proj,
		Prototypes: nn.NewParam(core.UniformFanIn(cfg.Prototypes, cfg.Proj, cfg.Proj, rng)),
		base:       newBase("swav", cfg, trunk),
		twoViews:   newTwoViews("swav", cfg.measureViews(), cfg.Neighbors, trunk),
	}
	s.normalizePrototypes()
	return s, nil
}

// Examples implements Task: one example, the photo's two global views and
// its local ones (MultiCropConfig.example).
func (s *SwAV) Examples(dst []core.Example, img *image.NRGBA, rng *rand.Rand) ([]core.Example, error) {
	return s.cfg.example("swav", dst, img, s.channels, rng)
}

// Loss implements core.Objective: the swapped prediction (eq. 1-2) of every
// view's scores against the codes of the photo's global views, as
// core.DINOLoss of the scores against log q at temperature 1 with a zero
// centre (see SwAV).
func (s *SwAV) Loss(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, core.Score, error) {
	if trunk == nil {
		return nil, core.Score{}, fmt.Errorf("tasks: swav needs a trunk")
	}
	globals, locals, err := s.cfg.stack("swav", batch, 2)
	if err != nil {
		return nil, core.Score{}, err
	}
	fail := func(err error) (mat.Tensor, core.Score, error) {
		return nil, core.Score{}, fmt.Errorf("tasks: swav: %w", err)
	}
	// One trunk call per crop size, in this order (the data-parallel
	// replicas propagate their gradients in call order).
	f, err := trunk.Forward(globals.matrix(), globals.sh, train)
	if err != nil {
		return fail(err)
	}
	if s.cfg.locals() > 0 {
		fl, err := trunk.Forward(locals.matrix(), locals.sh, train)
		if err != nil {
			return fail(err)
		}
		if f, err = core.ConcatRows(f, fl); err != nil {
			return fail(err)
		}
	}
	scores, unit, err := s.scores(f, train)
	if err != nil {
		return fail(err)
	}
	n, k := len(batch), s.cfg.Prototypes
	// The codes of the two global views (rows 0..2N of the scores), each
	// over the batch: constants.
	sc := scores.Value().Data().F32()
	logq := make([]float32, 2*n*k)
	for v := range 2 {
		lq := swavCodes(sc[v*n*k:(v+1)*n*k], n, k, s.cfg.Epsilon, s.cfg.SinkhornIters)
		for j, x := range lq {
			logq[v*n*k+j] = float32(x)
		}
	}
	codes := mat.NewDense[float32](mat.WithShape(2*n, k), mat.WithBacking(logq))
	centre := mat.NewDense[float32](mat.WithShape(1, k))
	loss, err := core.DINOLoss(scores, codes, centre, s.cfg.Temperature, 1)
	if err != nil {
		return fail(err)
	}
	acc, err := core.PairAccuracy(interleaveGlobals(unit, n))
	if err != nil {
		return fail(err)
	}
	return loss, core.Score{Accuracy: acc}, nil
}

// scores applies the head to f, [V·N, F] features: the scores z·C, [V·N,
// K], and the unit features z, [V·N, Proj].
func (s *SwAV) scores(f mat.Tensor, train bool) (scores, unit mat.Tensor, err error) {
	z, err := s.Proj.Forward(f, train)
	if err != nil {
		return nil, nil, err
	}
	if unit, err = core.NormalizeRows(z); err != nil {
		return nil, nil, err
	}
	if scores, err = core.Linear(unit, s.Prototypes, nil); err != nil {
		return nil, nil, err
	}
	return scores, unit, nil
}

// swavCodes returns log q, [n, k] row-major, the codes of one view's
// scores z·C of a batch of n ([n, k] row-major): section 3.1's
// Q* = Diag(u)·exp(CᵀZ/ε)·Diag(v), [k, n], by sinkhornScale's iterations
// on the transposed scores, the prototypes' sums scaled towards 1/k and
// then the photos' to exactly 1/n (Algorithm 1's order, the paper's
// distributed_sinkhorn), times n so that each photo's code sums to 1. In
// the log domain, so that a small ε does not overflow exp.
func swavCodes(scores []float32, n, k int, eps float64, iters int) []float64 {
	l := make([]float64, k*n) // Cᵀz/ε, [k, n]
	for i := range n {
		for j := range k {
			l[j*n+i] = float64(scores[i*k+j]) / eps
		}
	}
	logu, logv, _ := sinkhornScale(l, k, n, iters, 0)
	logN := math.Log(float64(n))
	out := make([]float64, n*k)
	for i := range n {
		for j := range k {
			out[i*k+j] = logN + l[j*n+i] + logu[j] + logv[i]
		}
	}
	return out
}

// normalizePrototypes makes the prototypes unit rows (a zero row stays
// zero), in place.
func (s *SwAV) normalizePrototypes() {
	c := s.Prototypes.Value().Data().F32()
	copy(c, unitRowsF32(c, s.cfg.Proj))
}

// Follow implements core.Follower: the prototypes, just updated by their
// gradient, are made unit rows again (the paper's code normalises them
// before each forward pass: the same, as the trainer calls Follow after
// every update).
func (s *SwAV) Follow(int) error {
	s.normalizePrototypes()
	return nil
}

// BaselineLoss is the loss of a prediction uniform over the prototypes:
// ln K, whatever the codes.
func (s *SwAV) BaselineLoss([]core.Example) float64 { return math.Log(float64(s.cfg.Prototypes)) }
