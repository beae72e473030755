package tasks

import (
	"image"
	"math/rand/v2"

	"github.com/pretextlab/pretext/core"
)

// Task is a pretext task: it invents labels from unlabelled photos and owns
// the head that predicts them. Implementations live in package tasks, one
// file each.
type Task interface {
	core.Objective
	// Name is the task's registry key, e.g. "rotation".
	Name() string
	// InputSize is the side of the square inputs the trunk sees.
	InputSize() int
	// Needs says what the task, with its settings, asks of its photos.
	Needs() Needs
	// Examples appends the examples made from one photo (decoded, upright,
	// downscaled by [core.Decode]); input and label come from this one call.
	// All randomness comes from rng. A photo that cannot serve the task (too
	// small) is an error, not a panic.
	Examples(dst []core.Example, img *image.NRGBA, rng *rand.Rand) ([]core.Example, error)
	// Predict runs the trained trunk and head (evaluation mode) on one photo
	// and returns the task's visual output.
	Predict(trunk *core.Trunk, img *image.NRGBA, rng *rand.Rand) (Prediction, error)
}

// Prediction is a task's visual output for one photo.
type Prediction struct {
	// Image shows the result: the photo turned upright, the solved puzzle,
	// the colourised photo.
	Image *image.NRGBA
	// Input, when set, shows what the network was given (the rotated crop,
	// the shuffled tiles, the grey photo).
	Input *image.NRGBA
	// Summary is one line for people, e.g. "rotated 90°: p=0.93".
	Summary string
	// Probs are the class probabilities behind Summary, if any.
	Probs []float64
}

// Refresher is a task whose labels depend on the whole photo set and the
// current trunk, as the clustering tasks' pseudo-labels do (DeepCluster
// re-clusters the trunk's features every epoch). Training loops call
// tasks.Prepare before every step, which calls Refresh when NeedsRefresh
// says so; a task's Examples then labels the photos Refresh was given (by
// pointer) and refuses others.
type Refresher interface {
	// NeedsRefresh reports whether Refresh must run before the 0-based
	// step: always before the task's first batch (also after a checkpoint
	// is loaded), then on the task's own schedule.
	NeedsRefresh(step int) bool
	// Refresh recomputes the labels of photos with trunk (in evaluation
	// mode; trunk is not changed) and returns one line for the log, e.g.
	// "k-means: 3 empty clusters, NMI 0.71 with the last round".
	Refresh(trunk *core.Trunk, photos []*image.NRGBA, rng *rand.Rand) (string, error)
}

// Assigner is a Refresher that can label photos outside the refreshed set
// without changing its labels (the nearest centroid, for held-out photos).
type Assigner interface {
	Assign(trunk *core.Trunk, photos []*image.NRGBA) error
}
