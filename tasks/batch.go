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
func Batch(task core.Task, photos []*image.NRGBA, n int, rng *rand.Rand) ([]core.Example, error) {
	if len(photos) == 0 {
		return nil, fmt.Errorf("tasks: no photos to train on")
	}
	if n < 1 {
		return nil, fmt.Errorf("tasks: batch of %d examples, want at least 1", n)
	}
	out := make([]core.Example, 0, n+8)
	for len(out) < n {
		i := rng.IntN(len(photos))
		var err error
		if out, err = task.Examples(out, photos[i], rng); err != nil {
			return nil, fmt.Errorf("tasks: photo %d: %w", i, err)
		}
	}
	return out[:n], nil
}

// HeldOutScore measures the task on photos it never trained on: rounds
// passes over the photos, examples drawn with a rng seeded by seed (so the
// figure is reproducible), evaluated in batches of at most batch in
// evaluation mode. It returns the mean loss and accuracy over all examples.
func HeldOutScore(tr *core.Trainer, task core.Task, photos []*image.NRGBA, rounds, batch int, seed uint64) (loss, acc float64, err error) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	var pending []core.Example
	var total float64
	var count int
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		l, s, err := tr.Evaluate(pending)
		if err != nil {
			return err
		}
		loss += l * float64(len(pending))
		total += s.Accuracy * float64(len(pending))
		count += len(pending)
		pending = pending[:0]
		return nil
	}
	for range rounds {
		for _, p := range photos {
			if pending, err = task.Examples(pending, p, rng); err != nil {
				return 0, 0, err
			}
			if len(pending) >= batch {
				if err := flush(); err != nil {
					return 0, 0, err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return 0, 0, err
	}
	if count == 0 {
		return 0, 0, fmt.Errorf("tasks: no held-out examples")
	}
	return loss / float64(count), total / float64(count), nil
}
