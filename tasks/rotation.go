package tasks

import (
	"encoding/gob"
	"fmt"
	"image"
	"math"
	"math/rand/v2"

	"github.com/disintegration/imaging"
	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/pretextlab/pretext/core"
)

// Rotation is RotNet's pretext task (Gidaris, Singh & Komodakis 2018,
// "Unsupervised Representation Learning by Predicting Image Rotations",
// ICLR): each photo is shown turned by 0, 90, 180 and 270 degrees
// counter-clockwise and a 4-way linear head on the trunk's features predicts
// which. Class k means the input was turned k*90 degrees counter-clockwise
// (imaging.Rotate90 applied k times); all four rotations of one crop are
// made by one Examples call, so they land in the same batch as in the paper.
type Rotation struct {
	nn.Module
	// Head is the 4-way linear classifier with its cross-entropy loss.
	Head *core.Classifier

	base[RotationConfig]
}

var _ Task = &Rotation{}

func init() { gob.Register(&Rotation{}) }

// rotationEntry is the task's registry entry.
var rotationEntry = entry{
	new:      fromConfig(NewRotation),
	summary:  "predict the rotation of the photo: 0, 90, 180 or 270 degrees (Gidaris et al. 2018)",
	defaults: Defaults{Optimizer: "sgd", LR: 0.05, Steps: 300, Batch: 64},
	captions: []Caption{
		{Image: "original", Text: "original"},
		{Image: "input", Text: "what the network saw"},
		{Image: "image", Text: "turned upright by the network"},
	},
}

// RotationConfig sets the rotation task. The zero value is the default.
type RotationConfig struct {
	// Size is the side of the square crop the trunk sees (default 32).
	Size int `json:"size,omitempty"`
	// Jitter is the colour-jitter strength (default 0.4; negative: none).
	Jitter float64 `json:"jitter,omitempty"`
	// MinScale is the smallest crop area as a fraction of the photo's
	// (default 0.25), at most 1.
	MinScale float64 `json:"min_scale,omitempty"`
}

func (c RotationConfig) withDefaults() RotationConfig {
	if c.Size == 0 {
		c.Size = 32
	}
	if c.Jitter == 0 {
		c.Jitter = 0.4
	}
	if c.MinScale == 0 {
		c.MinScale = 0.25
	}
	return c
}

// NewRotation returns the rotation task for trunk with a fresh head drawn
// from rng.
func NewRotation(cfg RotationConfig, trunk *core.Trunk, rng *rand.Rand) (*Rotation, error) {
	cfg = cfg.withDefaults()
	switch {
	case trunk == nil:
		return nil, fmt.Errorf("tasks: rotation needs a trunk")
	case cfg.Size < 1 || cfg.Size > maxTaskSide:
		return nil, fmt.Errorf("tasks: rotation size %d out of range [1, %d]", cfg.Size, maxTaskSide)
	case math.IsNaN(cfg.Jitter) || cfg.Jitter > 1:
		return nil, fmt.Errorf("tasks: rotation jitter %v, want at most 1", cfg.Jitter)
	case !(cfg.MinScale > 0 && cfg.MinScale <= 1):
		return nil, fmt.Errorf("tasks: rotation min_scale %v out of range (0, 1]", cfg.MinScale)
	}
	if err := fitsTrunk(trunk, cfg.Size); err != nil {
		return nil, fmt.Errorf("tasks: rotation: %w", err)
	}
	head, err := core.NewClassifier(trunk.Features(), 4, rng)
	if err != nil {
		return nil, fmt.Errorf("tasks: rotation head: %w", err)
	}
	return &Rotation{Head: head, base: newBase("rotation", cfg, trunk)}, nil
}

// InputSize implements Task.
func (r *Rotation) InputSize() int { return r.cfg.Size }

// Needs implements Task: any photo (crops are resized to the
// input size).
func (r *Rotation) Needs() Needs { return Needs{MinSide: 1} }

// Loss implements core.Objective.
func (r *Rotation) Loss(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, core.Score, error) {
	return r.Head.Loss(trunk, batch, train)
}

// rotateCCW turns img k*90 degrees counter-clockwise (k taken mod 4).
func rotateCCW(img *image.NRGBA, k int) *image.NRGBA {
	switch (k%4 + 4) % 4 {
	case 1:
		return imaging.Rotate90(img)
	case 2:
		return imaging.Rotate180(img)
	case 3:
		return imaging.Rotate270(img)
	}
	return img
}

// rotationCrop is the augmented crop the four rotations of one Examples
// call are made of.
func (r *Rotation) rotationCrop(img *image.NRGBA, rng *rand.Rand) *image.NRGBA {
	return augmentedCrop(img, r.cfg.Size, r.cfg.MinScale, r.cfg.Jitter, rng)
}

// rotationExamples appends crop in its four rotations, class k turned k*90
// degrees counter-clockwise.
func rotationExamples(dst []core.Example, crop *image.NRGBA, channels int) []core.Example {
	for k := range 4 {
		dst = append(dst, core.Example{
			Views: []core.Planar{core.TrunkInput(rotateCCW(crop, k), channels)},
			Class: k,
		})
	}
	return dst
}

// Examples implements Task: four examples, one random crop in its four
// rotations.
func (r *Rotation) Examples(dst []core.Example, img *image.NRGBA, rng *rand.Rand) ([]core.Example, error) {
	if err := needPhoto(img); err != nil {
		return dst, err
	}
	return rotationExamples(dst, r.rotationCrop(img, rng), r.channels), nil
}

// Predict implements Task: the centre crop's rotation is predicted and
// undone on the whole photo.
func (r *Rotation) Predict(trunk *core.Trunk, img *image.NRGBA, rng *rand.Rand) (Prediction, error) {
	if err := needPhoto(img); err != nil {
		return Prediction{}, err
	}
	if trunk == nil {
		return Prediction{}, fmt.Errorf("tasks: rotation predict needs a trunk")
	}
	crop := core.CenterCrop(img, r.cfg.Size)
	ex := []core.Example{{Views: []core.Planar{core.TrunkInput(crop, trunk.Config.InChannels)}}}
	logits, err := r.Head.Logits(trunk, ex, false)
	if err != nil {
		return Prediction{}, fmt.Errorf("tasks: rotation predict: %w", err)
	}
	probs := classProbs(mat.Data[float32](logits.Value()))
	k := topClass(probs)
	summary := fmt.Sprintf("upright (p=%.2f)", probs[k])
	if k > 0 {
		summary = fmt.Sprintf("rotated %d° counter-clockwise (p=%.2f)", 90*k, probs[k])
	}
	return Prediction{
		Image:   rotateCCW(imaging.Clone(img), 4-k),
		Input:   crop,
		Summary: summary,
		Probs:   probs,
	}, nil
}

// BaselineLoss is the loss of guessing: ln 4 for four equally likely
// rotations.
func (r *Rotation) BaselineLoss([]core.Example) float64 { return math.Log(4) }
