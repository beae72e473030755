package core

import (
	"context"
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
}

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

	opt     Optimizer
	step    int
	gradBuf []float32 // the trunk's gradients, summed across replicas
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

func (t *Trainer) model() nn.Model { return &trainerModel{Trunk: t.Trunk, Head: t.Head} }

// Step runs one training step on batch: forward, backward, one optimiser
// update at the scheduled learning rate. An error (cancelled context, bad
// batch) leaves the parameters as they were.
func (t *Trainer) Step(ctx context.Context, batch []Example) (StepStats, error) {
	if err := ctx.Err(); err != nil {
		return StepStats{}, err
	}
	start := time.Now()
	m := t.model()
	nn.ZeroGrad(m)
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
	lr := t.Config.LRAt(t.step)
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
	t.step++
	sec := time.Since(start).Seconds()
	return StepStats{
		Step:      t.step,
		Loss:      float64(loss.Value().Item().F32()),
		Accuracy:  score.Accuracy,
		LR:        lr,
		Images:    len(batch),
		Seconds:   sec,
		ImagesSec: float64(len(batch)) / sec,
	}, nil
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
