package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/nn"
)

// TrainConfig sets the optimiser and learning-rate schedule. The zero value
// is workload RS's optimiser: SGD, momentum 0.9, learning rate 0.05, weight
// decay 5e-4, constant rate.
type TrainConfig struct {
	// Optimizer is "sgd" (default) or "adam" (AdamW).
	Optimizer string `json:"optimizer"`
	// LR is the peak learning rate: default 0.05 for SGD, 0.001 for Adam.
	LR float64 `json:"lr"`
	// Momentum is SGD's momentum, default 0.9.
	Momentum float64 `json:"momentum"`
	// WeightDecay applies to every parameter, default 5e-4; negative means
	// none.
	WeightDecay float64 `json:"weight_decay"`
	// WarmupSteps ramps the rate linearly from LR/WarmupSteps up to LR over
	// the first steps (default 0: no warm-up).
	WarmupSteps int `json:"warmup_steps"`
	// Steps is the schedule's length: after warm-up the rate follows a
	// cosine from LR down to 0 at step Steps (SGDR without restarts,
	// Loshchilov & Hutter 2017). Zero keeps the rate constant.
	Steps int `json:"steps"`
}

func (c TrainConfig) withDefaults() TrainConfig {
	if c.Optimizer == "" {
		c.Optimizer = "sgd"
	}
	if c.LR == 0 {
		c.LR = 0.05
		if c.Optimizer == "adam" {
			c.LR = 0.001
		}
	}
	if c.Momentum == 0 {
		c.Momentum = 0.9
	}
	switch {
	case c.WeightDecay == 0:
		c.WeightDecay = 5e-4
	case c.WeightDecay < 0:
		c.WeightDecay = 0
	}
	return c
}

func (c TrainConfig) optimizer() (Optimizer, error) {
	switch {
	case c.LR < 0 || math.IsNaN(c.LR) || math.IsInf(c.LR, 0):
		return nil, fmt.Errorf("core: learning rate %v is not a finite positive number", c.LR)
	case c.Momentum < 0 || c.Momentum >= 1:
		return nil, fmt.Errorf("core: momentum %v outside [0, 1)", c.Momentum)
	case c.WarmupSteps < 0 || c.Steps < 0:
		return nil, fmt.Errorf("core: negative schedule length (warm-up %d, steps %d)", c.WarmupSteps, c.Steps)
	}
	switch c.Optimizer {
	case "sgd":
		return &SGD{LR: c.LR, Momentum: c.Momentum, WeightDecay: c.WeightDecay}, nil
	case "adam":
		return &Adam{LR: c.LR, WeightDecay: c.WeightDecay}, nil
	}
	return nil, fmt.Errorf("core: unknown optimizer %q, want sgd or adam", c.Optimizer)
}

// LRAt returns the learning rate of the 0-based step under this schedule.
func (c TrainConfig) LRAt(step int) float64 {
	c = c.withDefaults()
	if step < c.WarmupSteps {
		return c.LR * float64(step+1) / float64(c.WarmupSteps)
	}
	if c.Steps <= c.WarmupSteps {
		return c.LR
	}
	t := float64(step-c.WarmupSteps) / float64(c.Steps-c.WarmupSteps)
	return c.LR * 0.5 * (1 + math.Cos(math.Pi*min(t, 1)))
}

// StepStats is what one training step reports.
type StepStats struct {
	Step      int     `json:"step"` // 1-based number of steps done
	Loss      float64 `json:"loss"`
	Accuracy  float64 `json:"accuracy"`
	LR        float64 `json:"lr"`
	Images    int     `json:"images"` // examples in the batch
	Seconds   float64 `json:"seconds"`
	ImagesSec float64 `json:"images_per_sec"`
	// LRScale is the factor divergence recovery has lowered the schedule
	// by so far (1 until the first recovery); LR includes it.
	LRScale float64 `json:"lr_scale"`
	// Diverged reports a step undone because a value was not finite: the
	// parameters, optimiser state and batch-norm statistics are back as
	// they were before it, Step is unchanged, LR is the lowered rate the
	// step is retried at, Loss and Accuracy are 0 (the loss was not a
	// number to show), and Reason says what was not finite.
	Diverged bool   `json:"diverged,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// DivergenceNote is one line for people about a diverged step, e.g.
// "step 13 diverged (the loss is NaN): back to the state before it, learning
// rate lowered to 0.025 (1/2 of the schedule)".
func (s StepStats) DivergenceNote() string {
	return fmt.Sprintf("step %d diverged (%s): back to the state before it, learning rate lowered to %.3g (1/%.0f of the schedule)",
		s.Step+1, s.Reason, s.LR, 1/s.LRScale)
}

// ErrDiverged is returned by Step after maxRecoveries divergences in a
// row: lowering the rate did not help, and the settings or data need a
// look.
var ErrDiverged = errors.New("core: training diverged")

// maxRecoveries is how many divergences in a row Step recovers from, each
// halving the rate, before it returns ErrDiverged: by then the rate is 1/16
// of the schedule's.
const maxRecoveries = 4

// Trainer trains a trunk and a head together. It is not safe for concurrent
// use.
type Trainer struct {
	Trunk  *Trunk
	Head   Objective
	Config TrainConfig
	// Replica, if set with more than one member, makes the trainer one
	// replica of a data-parallel group: each step's trunk work is shared
	// among the replicas, which must all step with the same batch and the
	// same parameters (see Collective). The losses are those of one trainer
	// on the whole batch, up to the order of floating-point sums.
	Replica Collective
	// RunState is what the program driving the trainer needs to continue
	// its run exactly (package recipe's settings and batch generator).
	// Save writes it when set and LoadTrainer sets it from the file; core
	// does not read it. Package recipe sets it only for the length of a
	// save and takes it over (clearing it) when it makes a run of a loaded
	// trainer, so that it never goes stale.
	RunState json.RawMessage

	opt     Optimizer
	step    int
	gradBuf []float32 // the trunk's gradients, summed across replicas
	arena   stepArena // the buffers of a step's graph, reused step after step

	// lrScale multiplies the schedule (0 means 1); each divergence halves it.
	lrScale float64
	// good is the state every step starts from, all finite: each tensor of
	// tensors() (parameters, batch-norm statistics, optimiser buffers),
	// copied into buffers kept from step to step, and the step number.
	good     [][]float32
	goodStep int
	haveGood bool
	streak   int // divergences since the last completed step
}

// trainerModel joins trunk and head so spago's traversal and NamedParams see
// both.
type trainerModel struct {
	nn.Module
	Trunk *Trunk
	Head  Objective
}

// NewTrainer returns a trainer at step 0.
func NewTrainer(trunk *Trunk, head Objective, cfg TrainConfig) (*Trainer, error) {
	if trunk == nil || head == nil {
		return nil, fmt.Errorf("core: trainer needs a trunk and a head")
	}
	cfg = cfg.withDefaults()
	opt, err := cfg.optimizer()
	if err != nil {
		return nil, err
	}
	return &Trainer{Trunk: trunk, Head: head, Config: cfg, opt: opt}, nil
}

// Steps returns the number of steps taken so far.
func (t *Trainer) Steps() int { return t.step }

// LRScale is the factor divergence recovery has lowered the learning-rate
// schedule by: 1, then 1/2 after the first recovery, and so on. Checkpoints
// keep it, so a resumed run goes on at the lowered rate.
func (t *Trainer) LRScale() float64 {
	if t.lrScale == 0 {
		return 1
	}
	return t.lrScale
}

func (t *Trainer) model() nn.Model { return &trainerModel{Trunk: t.Trunk, Head: t.Head} }

// Step runs one training step on batch: forward, backward, one optimiser
// update at the scheduled learning rate (times LRScale). An error (cancelled
// context, bad batch) leaves the parameters as they were.
//
// A NaN or infinity in the loss, in a gradient (summed across replicas) or
// in the updated parameters undoes the step: the trainer goes back to the
// state the step started from, halves LRScale and returns stats with
// Diverged set, so that the caller can tell the user and take the step
// again with the next batch. After maxRecoveries of those in a row it
// returns ErrDiverged instead, the trainer left in its last good state.
// Every replica of a data-parallel group takes the same decision, since
// they see the same loss and the same summed gradients.
func (t *Trainer) Step(ctx context.Context, batch []Example) (StepStats, error) {
	if err := ctx.Err(); err != nil {
		return StepStats{}, err
	}
	if err := checkBatchFinite(batch); err != nil {
		return StepStats{}, err
	}
	start := time.Now()
	m := t.model()
	if bad := t.keepGood(); bad != "" {
		return t.recover(bad+" is not finite before the step", len(batch), start)
	}
	nn.ZeroGrad(m)
	// The step's activations and gradients come from the trainer's arena
	// and go back to it when the step is over, whatever its outcome.
	t.Trunk.arena = &t.arena
	defer func() {
		t.Trunk.arena = nil
		t.arena.reset()
	}()
	var replica *replicaStep
	if t.Replica != nil && t.Replica.Size() > 1 {
		replica = &replicaStep{comm: t.Replica}
		t.Trunk.replica = replica
		defer func() { t.Trunk.replica = nil }()
	}
	loss, score, err := t.Head.Loss(t.Trunk, batch, true)
	if err != nil {
		return StepStats{}, err
	}
	lossVal := float64(loss.Value().Item().F32())
	if !finite(lossVal) {
		// The forward pass may have put NaNs in batch-norm statistics.
		return t.recover(fmt.Sprintf("the loss is %v", lossVal), len(batch), start)
	}
	if err := ag.Backward(loss); err != nil {
		nn.ZeroGrad(m)
		return StepStats{}, fmt.Errorf("core: backward: %w", err)
	}
	if replica != nil {
		if err := replica.backward(t.Trunk, &t.gradBuf); err != nil {
			nn.ZeroGrad(m)
			return StepStats{}, err
		}
	}
	if bad := firstNonFinite(m, true); bad != "" {
		nn.ZeroGrad(m)
		return t.recover("the gradient of "+bad+" is not finite", len(batch), start)
	}
	lr := t.Config.LRAt(t.step) * t.LRScale()
	t.opt.Prepare(lr, t.step+1)
	var optErr error
	nn.ForEachParam(m, func(p *nn.Param) {
		if optErr == nil && p.RequiresGrad() {
			optErr = t.opt.OptimizeParams(p)
		}
	})
	if optErr != nil {
		return StepStats{}, optErr
	}
	if f, ok := t.Head.(Follower); ok {
		if err := f.Follow(t.step + 1); err != nil {
			if rerr := t.restoreGood(); rerr != nil {
				return StepStats{}, errors.Join(err, rerr)
			}
			return StepStats{}, err
		}
	}
	if bad := firstNonFinite(m, false); bad != "" {
		return t.recover("the step made "+bad+" non-finite", len(batch), start)
	}
	t.step++
	t.streak = 0
	sec := time.Since(start).Seconds()
	return StepStats{
		Step:      t.step,
		Loss:      lossVal,
		Accuracy:  score.Accuracy,
		LR:        lr,
		Images:    len(batch),
		Seconds:   sec,
		ImagesSec: float64(len(batch)) / sec,
		LRScale:   t.LRScale(),
	}, nil
}

// recover undoes a diverged step: back to the last good state, the rate
// halved, or ErrDiverged after maxRecoveries in a row.
func (t *Trainer) recover(reason string, images int, start time.Time) (StepStats, error) {
	nn.ZeroGrad(t.model())
	if !t.haveGood {
		return StepStats{}, fmt.Errorf("%w: %s, and there is no earlier state to go back to", ErrDiverged, reason)
	}
	if err := t.restoreGood(); err != nil {
		return StepStats{}, err
	}
	t.streak++
	if t.streak > maxRecoveries {
		return StepStats{}, fmt.Errorf("%w: %d steps in a row, the last because %s, down to 1/%.0f of the scheduled learning rate; the model is kept as it was after step %d (try a lower learning rate)",
			ErrDiverged, t.streak, reason, 1/t.LRScale(), t.step)
	}
	t.lrScale = t.LRScale() / 2
	sec := time.Since(start).Seconds()
	return StepStats{
		Step:      t.step,
		LR:        t.Config.LRAt(t.step) * t.lrScale,
		Images:    images,
		Seconds:   sec,
		ImagesSec: float64(images) / sec,
		LRScale:   t.lrScale,
		Diverged:  true,
		Reason:    reason,
	}, nil
}

// keepGood copies the state into t.good if every value is finite, and
// otherwise keeps the last good state and names the first tensor that is
// not.
func (t *Trainer) keepGood() string {
	ts := t.tensors()
	for _, nt := range ts {
		if !allFinite(nt.values) {
			return nt.Name
		}
	}
	if len(t.good) != len(ts) {
		t.good = make([][]float32, len(ts))
	}
	for i, nt := range ts {
		t.good[i] = append(t.good[i][:0], nt.values...)
	}
	t.goodStep, t.haveGood = t.step, true
	return ""
}

// restoreGood puts the last good state back.
func (t *Trainer) restoreGood() error {
	ts := t.tensors()
	if len(ts) != len(t.good) {
		return fmt.Errorf("core: the model changed from %d tensors to %d during training", len(t.good), len(ts))
	}
	for i, nt := range ts {
		if len(nt.values) != len(t.good[i]) {
			return fmt.Errorf("core: tensor %s changed size during training", nt.Name)
		}
		copy(nt.values, t.good[i])
	}
	t.step = t.goodStep
	return nil
}

// firstNonFinite names the first parameter of m, batch-norm statistics
// included (the forward pass updates them, and large activations can make
// them overflow while the loss stays finite), or with grads the first
// gradient, holding a NaN or an infinity; or it returns "".
func firstNonFinite(m nn.Model, grads bool) string {
	var bad *nn.Param
	nn.ForEachParam(m, func(p *nn.Param) {
		switch {
		case bad != nil:
		case grads:
			if p.RequiresGrad() && p.HasGrad() && !allFinite(data(p.Grad())) {
				bad = p
			}
		case !allFinite(data(p)):
			bad = p
		}
	})
	if bad == nil {
		return ""
	}
	for _, np := range NamedParams(m) {
		if np.Param == bad {
			return np.Name
		}
	}
	return "a parameter"
}

// checkBatchFinite refuses a batch holding a NaN or an infinity: it would
// not be the rate's fault, and lowering it would not help.
func checkBatchFinite(batch []Example) error {
	for i, ex := range batch {
		for v, p := range ex.Views {
			if !allFinite(p.Pix) {
				return fmt.Errorf("core: example %d, view %d has a pixel that is not a finite number", i, v)
			}
		}
		if !allFinite(ex.Target) {
			return fmt.Errorf("core: example %d has a target that is not a finite number", i)
		}
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// allFinite reports whether xs holds no NaN and no infinity: x-x is 0 for
// every finite x and NaN otherwise.
func allFinite(xs []float32) bool {
	var acc float32
	for _, x := range xs {
		acc += x - x
	}
	return acc == 0
}

// Evaluate returns the loss and score of batch in evaluation mode (running
// batch-norm statistics, no parameter change).
func (t *Trainer) Evaluate(batch []Example) (float64, Score, error) {
	loss, score, err := t.Head.Loss(t.Trunk, batch, false)
	if err != nil {
		return 0, Score{}, err
	}
	return float64(loss.Value().Item().F32()), score, nil
}

// Run takes steps until the trainer has done total steps or ctx is done,
// asking next for each batch and reporting each step to progress (if not
// nil). It returns ctx's error when cancelled.
func (t *Trainer) Run(ctx context.Context, total int, next func(step int) ([]Example, error), progress func(StepStats)) error {
	for t.step < total {
		batch, err := next(t.step)
		if err != nil {
			return err
		}
		st, err := t.Step(ctx, batch)
		if err != nil {
			return err
		}
		if progress != nil {
			progress(st)
		}
	}
	return nil
}
