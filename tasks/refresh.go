package tasks

import (
	"fmt"
	"image"
	"math/rand/v2"

	"github.com/pretextlab/pretext/core"
)

// Prepare readies task for the 0-based step of a training run on photos:
// a [Refresher] (a clustering task) is refreshed when it says it needs
// to be. It returns the refresh's log line, or "" when nothing ran. Every
// training loop (pretext train, the page, tests) calls it before drawing
// each batch.
func Prepare(task Task, trunk *core.Trunk, photos []*image.NRGBA, step int, rng *rand.Rand) (string, error) {
	r, ok := task.(Refresher)
	if !ok || !r.NeedsRefresh(step) {
		return "", nil
	}
	if len(photos) == 0 {
		return "", fmt.Errorf("tasks: %s has no photos to label", task.Name())
	}
	msg, err := r.Refresh(trunk, photos, rng)
	if err != nil {
		return "", fmt.Errorf("tasks: %s: %w", task.Name(), err)
	}
	return msg, nil
}

// prepareHeldOut labels held-out photos for tasks whose labels come from the
// training photos (an [Assigner]); other Refreshers cannot score
// held-out photos and report so.
func prepareHeldOut(task Task, trunk *core.Trunk, photos []*image.NRGBA) error {
	if _, ok := task.(Refresher); !ok {
		return nil
	}
	a, ok := task.(Assigner)
	if !ok {
		return fmt.Errorf("tasks: %s cannot label held-out photos", task.Name())
	}
	return a.Assign(trunk, photos)
}
