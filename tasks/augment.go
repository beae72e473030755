package tasks

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"

	"github.com/pretextlab/pretext/core"
)

// The augmented crop of the tasks that train on whole-photo crops
// (rotation, the clustering tasks), and the check of its settings.

// augmentedCrop is the training view of rotation and the clustering tasks:
// a random resized crop, a random flip and colour jitter.
func augmentedCrop(img *image.NRGBA, size int, minScale, jitter float64, rng *rand.Rand) *image.NRGBA {
	crop := core.RandomResizedCrop(img, size, core.CropConfig{MinScale: minScale}, rng)
	crop = core.RandomFlip(crop, rng)
	return core.ColorJitter(crop, jitter, rng)
}

// checkAugment validates the crop settings the clustering tasks share.
func checkAugment(name string, size int, jitter, minScale float64, trunk *core.Trunk) error {
	switch {
	case trunk == nil:
		return fmt.Errorf("tasks: %s needs a trunk", name)
	case size < 1 || size > maxTaskSide:
		return fmt.Errorf("tasks: %s size %d out of range [1, %d]", name, size, maxTaskSide)
	case math.IsNaN(jitter) || jitter > 1:
		return fmt.Errorf("tasks: %s jitter %v, want at most 1", name, jitter)
	case !(minScale > 0 && minScale <= 1):
		return fmt.Errorf("tasks: %s min_scale %v out of range (0, 1]", name, minScale)
	}
	if err := fitsTrunk(trunk, size); err != nil {
		return fmt.Errorf("tasks: %s: %w", name, err)
	}
	return nil
}
