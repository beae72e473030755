package core

import (
	"image"
	"math/rand/v2"
)

// Task is a pretext task: it invents labels from unlabelled photos and owns
// the head that predicts them. Implementations live in package tasks, one
// file each.
type Task interface {
	Objective
	// Name is the task's registry key, e.g. "rotation".
	Name() string
	// InputSize is the side of the square inputs the trunk sees.
	InputSize() int
	// Examples appends the examples made from one photo (decoded, upright,
	// downscaled by [Decode]); input and label come from this one call.
	// All randomness comes from rng. A photo that cannot serve the task (too
	// small) is an error, not a panic.
	Examples(dst []Example, img *image.NRGBA, rng *rand.Rand) ([]Example, error)
	// Predict runs the trained trunk and head (evaluation mode) on one photo
	// and returns the task's visual output.
	Predict(trunk *Trunk, img *image.NRGBA, rng *rand.Rand) (Prediction, error)
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
