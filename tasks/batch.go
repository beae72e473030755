package tasks

import (
	"fmt"
	"image"
	"math/rand/v2"

	"github.com/pretextlab/pretext/core"
)

// Batch draws photos at random (with replacement) and collects the examples
// task makes from them until there are n; a task that makes several
// examples per photo (rotation: 4) keeps them together, except that the
// last photo's are cut at n.
func Batch(task Task, photos []*image.NRGBA, n int, rng *rand.Rand) ([]core.Example, error) {
	if len(photos) == 0 {
		return nil, fmt.Errorf("tasks: no photos to train on")
	}
	if n < 1 {
		return nil, fmt.Errorf("tasks: batch of %d examples, want at least 1", n)
	}
	out := make([]core.Example, 0, n+8)
	for len(out) < n {
		i := rng.IntN(len(photos))
		before := len(out)
		var err error
		if out, err = task.Examples(out, photos[i], rng); err != nil {
			return nil, fmt.Errorf("tasks: photo %d: %w", i, err)
		}
		if len(out) == before {
			return nil, fmt.Errorf("tasks: %s made no example from photo %d", task.Name(), i)
		}
	}
	return out[:n], nil
}

// Baseliner is a task with a trivial predictor to beat: guessing uniformly
// for the classification tasks, predicting the colour prior everywhere for
// colorization.
type Baseliner interface {
	// BaselineLoss is that predictor's loss on batch.
	BaselineLoss(batch []core.Example) float64
}

// Measurer is a task with a measure of its own on photos it never trained
// on, beside its loss, and a baseline to beat: super-resolution's PSNR
// against bicubic upsampling.
type Measurer interface {
	// Measure measures the trained trunk and head (evaluation mode) on
	// photos, with the random choices (crops) drawn from rng.
	Measure(trunk *core.Trunk, photos []*image.NRGBA, rng *rand.Rand) (Measure, error)
}

// Measure is a Measurer's result: Value beats Baseline when it is larger.
type Measure struct {
	// Name and Unit say what is measured, e.g. "PSNR" in "dB".
	Name string `json:"name"`
	Unit string `json:"unit"`
	// Value is the model's, Baseline the baseline's, named BaselineName
	// (e.g. "bicubic upsampling").
	Value        float64 `json:"value"`
	Baseline     float64 `json:"baseline"`
	BaselineName string  `json:"baselineName"`
}

// HeldOut is a task's score on photos it never trained on.
type HeldOut struct {
	Loss, Accuracy float64
	// BaselineLoss is the trivial predictor's loss on the same examples
	// (see Baseliner).
	BaselineLoss float64
	Examples     int
	// Measure is a Measurer's measure, the mean over the rounds; nil for
	// other tasks.
	Measure *Measure
}

// HeldOutScore measures the task on photos it never trained on: rounds
// passes over the photos, examples drawn with a rng seeded by seed (so the
// figure is reproducible), evaluated in batches of at most batch in
// evaluation mode. Loss and accuracy are means over all examples.
func HeldOutScore(tr *core.Trainer, task Task, photos []*image.NRGBA, rounds, batch int, seed uint64) (HeldOut, error) {
	if err := prepareHeldOut(task, tr.Trunk, photos); err != nil {
		return HeldOut{}, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	var pending []core.Example
	var h HeldOut
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		l, s, err := tr.Evaluate(pending)
		if err != nil {
			return err
		}
		n := float64(len(pending))
		h.Loss += l * n
		h.Accuracy += s.Accuracy * n
		if b, ok := task.(Baseliner); ok {
			h.BaselineLoss += b.BaselineLoss(pending) * n
		}
		h.Examples += len(pending)
		pending = pending[:0]
		return nil
	}
	for range rounds {
		for _, p := range photos {
			var err error
			if pending, err = task.Examples(pending, p, rng); err != nil {
				return HeldOut{}, err
			}
			if len(pending) >= batch {
				if err := flush(); err != nil {
					return HeldOut{}, err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return HeldOut{}, err
	}
	if h.Examples == 0 {
		return HeldOut{}, fmt.Errorf("tasks: no held-out examples")
	}
	n := float64(h.Examples)
	h.Loss, h.Accuracy, h.BaselineLoss = h.Loss/n, h.Accuracy/n, h.BaselineLoss/n
	if m, ok := task.(Measurer); ok {
		// Each round's random choices from a seed of its own.
		var mean Measure
		for r := range uint64(rounds) {
			mr, err := m.Measure(tr.Trunk, photos, rand.New(rand.NewPCG(seed, 0x9a5+r)))
			if err != nil {
				return HeldOut{}, err
			}
			mean.Name, mean.Unit, mean.BaselineName = mr.Name, mr.Unit, mr.BaselineName
			mean.Value += mr.Value / float64(rounds)
			mean.Baseline += mr.Baseline / float64(rounds)
		}
		h.Measure = &mean
	}
	return h, nil
}
