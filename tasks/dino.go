package tasks

import (
	"encoding/gob"
	"fmt"
	"image"
	"math/rand/v2"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/pretextlab/pretext/core"
)

// DINO is self-distillation with no labels (Caron, Touvron, Misra, Jégou,
// Mairal, Bojanowski & Joulin 2021, "Emerging Properties in
// Self-Supervised Vision Transformers", ICCV): each photo is shown as two
// global and M local views (MultiCropConfig); the student (the trunk and a
// DINOHead) outputs, for every view, a distribution over K prototypes,
// trained to match the teacher's for the photo's other global views
// (core.DINOLoss, eq. 1 and 3). The teacher, a momentum copy of the
// trunk and head (Target and TargetHead, followed after every update,
// θt ← λθt + (1-λ)θs, eq. 2 and section 3.1), sees only the global views,
// its outputs centred and sharpened: P_t = softmax((g_t - C)/τt), with τt
// below the student's τs, and C an exponential moving average of the
// teacher's batch means, C ← mC + (1-m)·mean(g_t) (eq. 4). Centring keeps
// one prototype from dominating, sharpening keeps the outputs from
// going uniform: together they avoid collapse without negatives or a
// predictor (section 5.3).
//
// One Examples call makes one example, its views in MultiCropConfig's
// order; Loss runs the trunk once over the batch's global views and once
// over its local ones (view-major, the loss's layout), and the head once
// over all their features; it needs at least two examples. The teacher
// runs in the same mode as the student (batch statistics in training).
// After a training step the centre takes the step's teacher outputs
// (Follow). Accuracy is core.PairAccuracy of the student's normalised
// bottleneck features of the two global views: how well they tell a
// photo's other global view from the batch's other photos (the argmax
// agreement of student and teacher would rise with a collapse, which this
// does not reward). DINO has no blind-guess loss: a student that ignores
// its input scores the entropy of the teacher's mean distribution, which
// the teacher sets. On held-out photos the task measures view matching by
// the trunk's features against a random-init trunk (viewMatching), on
// views of the two-view methods' crop scale (MultiCropConfig.measureViews).
//
// The teacher and the centre (Center, [1, K]) are the head's parameters
// without gradients: checkpoints, sessions and exact resume keep them,
// and data-parallel replicas, which compute the same teacher outputs and
// take identical updates, keep identical ones. They cost one more copy of
// the trunk and head and a forward pass of the teacher trunk over the
// global views each step; the M local views cost the student a forward and
// backward pass over M·(LocalSize/Size)² global views' worth of pixels
// more per photo (1.5 by default).
//
// Departures from the paper, for the small convolutional trunk and short
// runs: the head is a core.Projector (fc-BN-ReLU-fc, 4F hidden, 2F
// bottleneck, F the trunk's features; the paper's is a 3-layer GELU MLP of
// 2048 hidden units and a 256 bottleneck, without batch-norm), then the
// paper's L2 normalisation and weight-normalised last layer with its norm
// fixed at 1 (norm_last_layer), to K = 1024 prototypes (the paper's
// 65536); τt is constant at 0.04 (the paper warms it up from 0.04 to 0.07
// over 30 epochs, and reports that 0.04 throughout also trains); λ is
// constant at 0.99 (the paper raises 0.996 to 1 over training, too slow a
// teacher for a few hundred steps: BYOL and MoCo here use 0.99 too); the
// last layer is not frozen in the first epoch; every view takes the
// shared augmentation pipeline (SimCLR's CIFAR-10 settings, no
// solarisation, no blur by default); and the optimiser is the registry's
// Adam rather than AdamW with a weight-decay schedule.
type DINO struct {
	nn.Module
	// Head is the student's head.
	Head *DINOHead
	// Target and TargetHead are the teacher: momentum copies of the
	// trunk and Head (no gradients).
	Target     *core.Trunk
	TargetHead *DINOHead
	// Center is C, [1, K] (no gradient).
	Center *nn.Param

	base[DINOConfig]
	twoViews
	// online is the trunk Target follows (the one the task was built for).
	online *core.Trunk
	// pending is the mean of the last training batch's teacher outputs,
	// which Follow moves the centre towards.
	pending []float64
}

// DINOHead is DINO's projection head (section 3.1): a projector to a
// bottleneck whose output is L2-normalised, then a weight-normalised
// linear layer without bias whose rows, the prototypes, are made unit
// length too (their norm fixed at 1): the K outputs are the cosines of the
// bottleneck feature with the prototypes. Prototypes is [K, bottleneck].
type DINOHead struct {
	nn.Module
	Proj       *core.Projector
	Prototypes *nn.Param
}

var (
	_ Task          = &DINO{}
	_ Refresher     = &DINO{}
	_ Assigner      = &DINO{}
	_ Measurer      = &DINO{}
	_ core.Follower = &DINO{}
	_ nn.Model      = &DINOHead{}
)

func init() {
	gob.Register(&DINO{})
	gob.Register(&DINOHead{})
}

// dinoEntry is the task's registry entry.
var dinoEntry = entry{
	new:      fromConfig(NewDINO),
	summary:  "match, from every crop of a photo, a slowly moving teacher's sharpened distribution for its large crops (Caron et al. 2021)",
	defaults: Defaults{Optimizer: "adam", LR: 0.001, Steps: 300, Batch: 32},
	captions: neighbourCaptions,
}

// DINOConfig sets the DINO task. The zero value is the default.
type DINOConfig struct {
	// MultiCropConfig is the augmentation (its fields are at the top level
	// of the JSON settings: size, min_scale, local_crops, local_size, ...).
	MultiCropConfig
	// Hidden and Bottleneck are the projector's hidden and output widths
	// (default 4F and 2F, F the trunk's feature count).
	Hidden     int `json:"hidden,omitempty"`
	Bottleneck int `json:"bottleneck,omitempty"`
	// Prototypes is the number of outputs K (default 1024).
	Prototypes int `json:"prototypes,omitempty"`
	// StudentTemp and TeacherTemp are τs and τt (default 0.1 and 0.04,
	// the paper's).
	StudentTemp float64 `json:"student_temp,omitempty"`
	TeacherTemp float64 `json:"teacher_temp,omitempty"`
	// CenterMomentum is the centre's rate m (default 0.9, the paper's),
	// in [0, 1).
	CenterMomentum float64 `json:"center_momentum,omitempty"`
	// Momentum is the teacher's λ (default 0.99), in [0, 1).
	Momentum float64 `json:"momentum,omitempty"`
	// Neighbors is the number of nearest photos Predict shows (default 5).
	Neighbors int `json:"neighbors,omitempty"`
}

func (c DINOConfig) withDefaults(features int) DINOConfig {
	c.MultiCropConfig = c.MultiCropConfig.withDefaults()
	if c.Hidden == 0 {
		c.Hidden = 4 * features
	}
	if c.Bottleneck == 0 {
		c.Bottleneck = 2 * features
	}
	if c.Prototypes == 0 {
		c.Prototypes = 1024
	}
	if c.StudentTemp == 0 {
		c.StudentTemp = 0.1
	}
	if c.TeacherTemp == 0 {
		c.TeacherTemp = 0.04
	}
	if c.CenterMomentum == 0 {
		c.CenterMomentum = 0.9
	}
	if c.Momentum == 0 {
		c.Momentum = 0.99
	}
	if c.Neighbors == 0 {
		c.Neighbors = 5
	}
	return c
}

// maxPrototypes bounds K.
const maxPrototypes = 1 << 16

// NewDINO returns the DINO task for trunk with a fresh head drawn from rng
// (the projector, then the prototypes, uniform in ±1/√bottleneck), a
// teacher that starts as a copy of trunk and head, and a zero centre.
func NewDINO(cfg DINOConfig, trunk *core.Trunk, rng *rand.Rand) (*DINO, error) {
	if trunk == nil {
		return nil, fmt.Errorf("tasks: dino needs a trunk")
	}
	cfg = cfg.withDefaults(trunk.Features())
	if err := cfg.check("dino", trunk); err != nil {
		return nil, err
	}
	// The bottleneck first: checkProjection would call it proj.
	if cfg.Bottleneck < 1 || cfg.Bottleneck > 1<<14 {
		return nil, fmt.Errorf("tasks: dino bottleneck %d out of range [1, %d]", cfg.Bottleneck, 1<<14)
	}
	if err := checkProjection("dino", cfg.Hidden, cfg.Bottleneck, cfg.Neighbors); err != nil {
		return nil, err
	}
	switch {
	case cfg.Prototypes < 1 || cfg.Prototypes > maxPrototypes:
		return nil, fmt.Errorf("tasks: dino prototypes %d out of range [1, %d]", cfg.Prototypes, maxPrototypes)
	case !(cfg.StudentTemp > 0 && cfg.StudentTemp <= 100):
		return nil, fmt.Errorf("tasks: dino student_temp %v out of range (0, 100]", cfg.StudentTemp)
	case !(cfg.TeacherTemp > 0 && cfg.TeacherTemp <= 100):
		return nil, fmt.Errorf("tasks: dino teacher_temp %v out of range (0, 100]", cfg.TeacherTemp)
	case !(cfg.CenterMomentum >= 0 && cfg.CenterMomentum < 1):
		return nil, fmt.Errorf("tasks: dino center_momentum %v out of range [0, 1)", cfg.CenterMomentum)
	case !(cfg.Momentum >= 0 && cfg.Momentum < 1):
		return nil, fmt.Errorf("tasks: dino momentum %v out of range [0, 1)", cfg.Momentum)
	}
	head := core.MLPValues(trunk.Features(), cfg.Hidden, cfg.Bottleneck) + cfg.Prototypes*cfg.Bottleneck
	if err := checkHead("dino", 2*head+cfg.Prototypes); err != nil {
		return nil, err
	}
	proj, err := core.NewProjector(trunk.Features(), cfg.Hidden, cfg.Bottleneck, false, rng)
	if err != nil {
		return nil, fmt.Errorf("tasks: dino projector: %w", err)
	}
	student := &DINOHead{
		Proj:       proj,
		Prototypes: nn.NewParam(core.UniformFanIn(cfg.Prototypes, cfg.Bottleneck, cfg.Bottleneck, rng)),
	}
	return &DINO{
		Head:       student,
		Target:     trunk.Frozen(),
		TargetHead: student.frozen(),
		Center:     nn.NewParam(mat.NewDense[float32](mat.WithShape(1, cfg.Prototypes))).WithGrad(false),
		base:       newBase("dino", cfg, trunk),
		twoViews:   newTwoViews("dino", cfg.measureViews(), cfg.Neighbors, trunk),
		online:     trunk,
	}, nil
}

// frozen returns a deep copy of h whose parameters require no gradient.
func (h *DINOHead) frozen() *DINOHead {
	sh := h.Prototypes.Shape()
	w := append([]float32(nil), h.Prototypes.Value().Data().F32()...)
	return &DINOHead{
		Proj:       h.Proj.Frozen(),
		Prototypes: nn.NewParam(mat.NewDense[float32](mat.WithShape(sh[0], sh[1]), mat.WithBacking(w))).WithGrad(false),
	}
}

// Forward applies the head to f, [N, F] features: the logits, [N, K]
// cosines, and the normalised bottleneck features, [N, bottleneck].
func (h *DINOHead) Forward(f mat.Tensor, train bool) (logits, unit mat.Tensor, err error) {
	z, err := h.Proj.Forward(f, train)
	if err != nil {
		return nil, nil, err
	}
	if unit, err = core.NormalizeRows(z); err != nil {
		return nil, nil, err
	}
	w, err := core.NormalizeRows(h.Prototypes)
	if err != nil {
		return nil, nil, err
	}
	if logits, err = core.Linear(unit, w, nil); err != nil {
		return nil, nil, err
	}
	return logits, unit, nil
}

// Examples implements Task: one example, the photo's two global views and
// its local ones (MultiCropConfig.example).
func (d *DINO) Examples(dst []core.Example, img *image.NRGBA, rng *rand.Rand) ([]core.Example, error) {
	return d.cfg.example("dino", dst, img, d.channels, rng)
}

// Loss implements core.Objective: core.DINOLoss of the student's outputs
// for every view against the teacher's for the global views. In training
// it keeps the mean of the teacher's outputs for Follow's centre update.
func (d *DINO) Loss(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, core.Score, error) {
	if trunk == nil {
		return nil, core.Score{}, fmt.Errorf("tasks: dino needs a trunk")
	}
	globals, locals, err := d.cfg.stack("dino", batch, 2)
	if err != nil {
		return nil, core.Score{}, err
	}
	fail := func(err error) (mat.Tensor, core.Score, error) {
		return nil, core.Score{}, fmt.Errorf("tasks: dino: %w", err)
	}
	// The student: one trunk call per crop size, in this order (the
	// data-parallel replicas propagate their gradients in call order).
	f, err := trunk.Forward(globals.matrix(), globals.sh, train)
	if err != nil {
		return fail(err)
	}
	if d.cfg.locals() > 0 {
		fl, err := trunk.Forward(locals.matrix(), locals.sh, train)
		if err != nil {
			return fail(err)
		}
		if f, err = core.ConcatRows(f, fl); err != nil {
			return fail(err)
		}
	}
	s, unit, err := d.Head.Forward(f, train)
	if err != nil {
		return fail(err)
	}
	// The teacher, on the global views.
	ft, err := d.Target.Forward(globals.matrix(), globals.sh, train)
	if err != nil {
		return fail(fmt.Errorf("teacher: %w", err))
	}
	t, _, err := d.TargetHead.Forward(ft, train)
	if err != nil {
		return fail(fmt.Errorf("teacher: %w", err))
	}
	loss, err := core.DINOLoss(s, t, d.Center, d.cfg.StudentTemp, d.cfg.TeacherTemp)
	if err != nil {
		return fail(err)
	}
	acc, err := core.PairAccuracy(interleaveGlobals(unit, len(batch)))
	if err != nil {
		return fail(err)
	}
	if train {
		d.pending = columnMeans(t.Value().Data().F32(), d.cfg.Prototypes)
	}
	return loss, core.Score{Accuracy: acc}, nil
}

// interleaveGlobals copies the first 2N rows of x (view-major: global view
// v of photo i at row v·N+i) into core.NTXent's layout, photo i's views
// at rows 2i and 2i+1 (values only: for scores).
func interleaveGlobals(x mat.Tensor, n int) mat.Tensor {
	d := x.Shape()[1]
	src := x.Value().Data().F32()
	out := make([]float32, 2*n*d)
	for i := range n {
		for v := range 2 {
			copy(out[(2*i+v)*d:(2*i+v+1)*d], src[(v*n+i)*d:(v*n+i+1)*d])
		}
	}
	return mat.NewDense[float32](mat.WithShape(2*n, d), mat.WithBacking(out))
}

// columnMeans is the mean of the rows of x (k values each), in float64.
func columnMeans(x []float32, k int) []float64 {
	out := make([]float64, k)
	rows := len(x) / k
	for r := range rows {
		for j, v := range x[r*k : (r+1)*k] {
			out[j] += float64(v)
		}
	}
	for j := range out {
		out[j] /= float64(rows)
	}
	return out
}

// Follow implements core.Follower: the centre moves towards the last
// training batch's mean teacher output (eq. 4), then the teacher follows
// the student (Algorithm 1's order: the loss used the centre before the
// update).
func (d *DINO) Follow(int) error {
	if d.pending != nil {
		c, m := d.Center.Value().Data().F32(), d.cfg.CenterMomentum
		for j, v := range d.pending {
			c[j] = float32(m*float64(c[j]) + (1-m)*v)
		}
		d.pending = nil
	}
	if err := core.MomentumUpdate(d.Target, d.online, d.cfg.Momentum); err != nil {
		return fmt.Errorf("tasks: dino: %w", err)
	}
	if err := core.MomentumUpdate(d.TargetHead, d.Head, d.cfg.Momentum); err != nil {
		return fmt.Errorf("tasks: dino: %w", err)
	}
	return nil
}
