package core

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Workload is a reference training workload of ../shared/bench/WORKLOAD.md:
// a trainer and a batch maker, for benchmarks.
type Workload struct {
	Name string
	// FLOPsPerImage counts the multiply-adds of forward and backward x 2.
	FLOPsPerImage float64
	Trainer       *Trainer
	// Batch returns the step's batch; speed runs use random data.
	Batch func() []Example
}

// NewWorkload builds workload name ("rs") with batch examples per step, its
// weights and data drawn from rng.
func NewWorkload(name string, batch int, rng *rand.Rand) (*Workload, error) {
	switch name {
	case "rs":
	default:
		return nil, fmt.Errorf("core: unknown workload %q (have: rs)", name)
	}
	if batch < 1 {
		return nil, fmt.Errorf("core: workload batch %d, want at least 1", batch)
	}
	trunk, err := NewTrunk(TrunkConfig{}, rng)
	if err != nil {
		return nil, err
	}
	head, err := NewClassifier(trunk.Features(), 4, rng)
	if err != nil {
		return nil, err
	}
	tr, err := NewTrainer(trunk, head, TrainConfig{})
	if err != nil {
		return nil, err
	}
	// Random normal images and random labels: the figure is speed only.
	examples := make([]Example, batch)
	for i := range examples {
		p := NewPlanar(3, 32, 32)
		for j := range p.Pix {
			p.Pix[j] = float32(rng.NormFloat64())
		}
		examples[i] = Example{Views: []Planar{p}, Class: rng.IntN(4)}
	}
	return &Workload{
		Name: name,
		// WORKLOAD.md: forward 10.3 M multiply-adds per image; forward +
		// backward is about 3x the forward, 2 FLOPs per multiply-add.
		FLOPsPerImage: 62e6,
		Trainer:       tr,
		Batch:         func() []Example { return examples },
	}, nil
}

// MedianStep times training steps as ../shared/bench/WORKLOAD.md
// prescribes: warmup untimed steps, then the median duration in seconds of
// steps timed ones. before, if not nil, is called before step i (0-based,
// warm-up included) outside the timing: to start a profile at i == warmup,
// or to let a browser's event loop run.
func (w *Workload) MedianStep(ctx context.Context, warmup, steps int, before func(i int) error) (float64, error) {
	if steps < 1 || warmup < 0 {
		return 0, fmt.Errorf("core: %d timed and %d warm-up steps; want at least 1 and 0", steps, warmup)
	}
	times := make([]float64, 0, steps)
	for i := range warmup + steps {
		if before != nil {
			if err := before(i); err != nil {
				return 0, err
			}
		}
		start := time.Now()
		if _, err := w.Trainer.Step(ctx, w.Batch()); err != nil {
			return 0, err
		}
		if i >= warmup {
			times = append(times, time.Since(start).Seconds())
		}
	}
	slices.Sort(times)
	n := len(times)
	if n%2 == 0 {
		return (times[n/2-1] + times[n/2]) / 2, nil
	}
	return times[n/2], nil
}
