package tasks

import (
	"encoding/gob"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"math/rand/v2"

	"github.com/disintegration/imaging"
	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/pretextlab/pretext/core"
)

// RelPos is the context-prediction pretext task of Doersch, Gupta & Efros
// (2015, "Unsupervised Visual Representation Learning by Context
// Prediction", ICCV): a 3x3 grid of Patch x Patch patches is laid over a
// random crop with Gap pixels between cells and each patch moved by up to
// Jitter pixels (so lines and textures do not continue across the gap), and
// the network is shown the centre patch and one of its eight neighbours and
// predicts which.
//
// Convention: class k is the neighbour's place around the centre, numbered
// row-major without the centre: 0 top-left, 1 top, 2 top-right, 3 left, 4
// right, 5 bottom-left, 6 bottom, 7 bottom-right (grid position k, or k+1
// from 4 on). An example's view 0 is the centre patch, view 1 the
// neighbour.
//
// Against the paper's trivial shortcut, chromatic aberration (the lens
// shifts green against magenta, so colour fringes tell where in the frame
// a patch lies), an example is made grey with probability GreyProb, and
// otherwise each patch keeps one random colour channel with probability
// DropProb, the others replaced by faint Gaussian noise (the paper's colour
// dropping, on by default). The paper's other remedy, projecting out the
// green-magenta axis, is the Project option, off by default: dropping also
// hides a photo's colour cast, which projection leaves, and photos the
// page is given have usually been downscaled enough to blur the fringes.
// Each patch's channels are normalised on their own as jigsaw's tiles are
// (RawPatches turns it off).
//
// The head is the paper's late-fusion network in small: the trunk runs on
// all 2N patches in one pass (patch i of example n in row 2n+i), the two
// feature vectors of an example are concatenated, centre first, and a
// two-layer perceptron (2F -> Hidden, ReLU, Hidden -> 8) gives the logits.
type RelPos struct {
	nn.Module
	// Head is the perceptron 2F -> Hidden -> 8.
	Head *core.MLP

	base[RelPosConfig]
}

var _ Task = &RelPos{}

func init() { gob.Register(&RelPos{}) }

// relPosEntry is the task's registry entry.
var relPosEntry = entry{
	new:     fromConfig(NewRelPos),
	summary: "where does a patch lie around the centre patch: one of 8 places (Doersch, Gupta & Efros 2015)",
	// Patches side by side, without the paper's gap (the jitter stays):
	// with the gap, 300 steps of 32 ended at a held-out loss of 0.95 and
	// 0.96 of a blind guess on the dev photos and a second set, too close
	// to chance to show on the page; without it, 0.93 and 0.92
	// (docs/RUNS.md, default runs).
	defaults: Defaults{Optimizer: "adam", LR: 0.001, Steps: 300, Batch: 32, Config: json.RawMessage(`{"gap":-1}`)},
	captions: []Caption{
		{Image: "original", Text: "original"},
		{Image: "input", Text: "centre and neighbour patch"},
		{Image: "image", Text: "neighbour placed where predicted"},
	},
}

// relPosClasses is the number of neighbours of the centre patch.
const relPosClasses = 8

// relPosNames names the classes for people.
var relPosNames = [relPosClasses]string{"top-left", "top", "top-right", "left", "right", "bottom-left", "bottom", "bottom-right"}

// RelPosConfig sets the relative-position task. The zero value is the
// default.
type RelPosConfig struct {
	// Patch is the side of each patch, the trunk's input (default 32).
	Patch int `json:"patch,omitempty"`
	// Gap is the space between grid cells in pixels (default Patch/2, the
	// paper's 48 for 96-pixel patches; negative: none).
	Gap int `json:"gap,omitempty"`
	// Jitter is the most a patch is moved from its cell's place along
	// each axis (default Patch/14, the paper's 7 for 96-pixel patches,
	// at least 1; negative: none).
	Jitter int `json:"jitter,omitempty"`
	// Hidden is the width of the head's hidden layer (default 512).
	Hidden int `json:"hidden,omitempty"`
	// MinScale is the smallest crop area as a fraction of the photo's
	// (default 0.5), at most 1.
	MinScale float64 `json:"min_scale,omitempty"`
	// GreyProb is the probability that an example's patches are grey
	// (default 0.3; negative: never).
	GreyProb float64 `json:"grey_prob,omitempty"`
	// DropProb is the probability that a patch of a colour example keeps
	// only one random colour channel, the others replaced by noise
	// (default 0.3; negative: never); each patch draws on its own.
	DropProb float64 `json:"drop_prob,omitempty"`
	// Project removes every patch's green-magenta colour component (the
	// paper's projection against chromatic aberration).
	Project bool `json:"project,omitempty"`
	// RawPatches feeds the patches as whole images are fed to the trunk
	// (core.TrunkInput's fixed normalisation) instead of normalising each
	// patch's channels on their own.
	RawPatches bool `json:"raw_patches,omitempty"`
}

func (c RelPosConfig) withDefaults() RelPosConfig {
	if c.Patch == 0 {
		c.Patch = 32
	}
	if c.Gap == 0 {
		c.Gap = c.Patch / 2
	}
	if c.Jitter == 0 {
		c.Jitter = max(1, c.Patch/14)
	}
	if c.Hidden == 0 {
		c.Hidden = 512
	}
	if c.MinScale == 0 {
		c.MinScale = 0.5
	}
	if c.GreyProb == 0 {
		c.GreyProb = 0.3
	}
	if c.DropProb == 0 {
		c.DropProb = 0.3
	}
	return c
}

// gap and jitter are the configured gap and jitter, negative meaning none.
func (c RelPosConfig) gap() int    { return max(0, c.Gap) }
func (c RelPosConfig) jitter() int { return max(0, c.Jitter) }

// side is the side of the crop the grid is laid over.
func (c RelPosConfig) side() int { return 3*c.Patch + 2*c.gap() + 2*c.jitter() }

// NewRelPos returns the relative-position task for trunk with a fresh head
// drawn from rng.
func NewRelPos(cfg RelPosConfig, trunk *core.Trunk, rng *rand.Rand) (*RelPos, error) {
	cfg = cfg.withDefaults()
	switch {
	case trunk == nil:
		return nil, fmt.Errorf("tasks: relative-position needs a trunk")
	case cfg.Patch < 1 || cfg.Patch > maxTaskSide/3:
		return nil, fmt.Errorf("tasks: relative-position patch %d out of range [1, %d]", cfg.Patch, maxTaskSide/3)
	case cfg.Gap > cfg.Patch || cfg.Jitter > cfg.Patch:
		return nil, fmt.Errorf("tasks: relative-position gap %d and jitter %d, want at most the patch side %d", cfg.Gap, cfg.Jitter, cfg.Patch)
	case cfg.Hidden < 1 || cfg.Hidden > 1<<14:
		return nil, fmt.Errorf("tasks: relative-position hidden %d out of range [1, %d]", cfg.Hidden, 1<<14)
	case !(cfg.MinScale > 0 && cfg.MinScale <= 1):
		return nil, fmt.Errorf("tasks: relative-position min_scale %v out of range (0, 1]", cfg.MinScale)
	case math.IsNaN(cfg.GreyProb) || cfg.GreyProb > 1 || math.IsNaN(cfg.DropProb) || cfg.DropProb > 1:
		return nil, fmt.Errorf("tasks: relative-position grey_prob %v and drop_prob %v, want at most 1", cfg.GreyProb, cfg.DropProb)
	}
	if err := fitsTrunk(trunk, cfg.Patch); err != nil {
		return nil, fmt.Errorf("tasks: relative-position: %w", err)
	}
	head, err := core.NewMLP(2*trunk.Features(), cfg.Hidden, relPosClasses, rng)
	if err != nil {
		return nil, fmt.Errorf("tasks: relative-position head: %w", err)
	}
	return &RelPos{Head: head, base: newBase("relative-position", cfg, trunk)}, nil
}

// InputSize implements Task: the side of one patch.
func (r *RelPos) InputSize() int { return r.cfg.Patch }

// Needs implements Task: photos at least one patch on a side. Smaller
// photos would be mostly interpolation once upscaled.
func (r *RelPos) Needs() Needs { return Needs{MinSide: r.cfg.Patch} }

func (r *RelPos) checkPhoto(img *image.NRGBA) error {
	if err := needPhoto(img); err != nil {
		return err
	}
	if b := img.Bounds(); min(b.Dx(), b.Dy()) < r.cfg.Patch {
		return fmt.Errorf("tasks: relative-position needs photos at least %d pixels on a side, got %dx%d", r.cfg.Patch, b.Dx(), b.Dy())
	}
	return nil
}

// relPosCell is the grid position (row-major, 4 the centre) of class k.
func relPosCell(k int) int {
	if k >= 4 {
		return k + 1
	}
	return k
}

// relPosPatches cuts the centre patch and the patch of class k from crop
// (cfg.side() on a side): grid position p's patch starts at (Jitter +
// col*(Patch+Gap), Jitter + row*(Patch+Gap)) moved by jit[0] (centre) or
// jit[1] (neighbour), each coordinate in [-Jitter, Jitter].
func relPosPatches(crop *image.NRGBA, cfg RelPosConfig, k int, jit [2]image.Point) (centre, neighbour *image.NRGBA) {
	cut := func(p int, d image.Point) *image.NRGBA {
		step := cfg.Patch + cfg.gap()
		at := crop.Bounds().Min.Add(image.Pt(cfg.jitter()+p%3*step, cfg.jitter()+p/3*step)).Add(d)
		return imaging.Crop(crop, image.Rectangle{Min: at, Max: at.Add(image.Pt(cfg.Patch, cfg.Patch))})
	}
	return cut(4, jit[0]), cut(relPosCell(k), jit[1])
}

// projectGreenMagenta removes the component of every pixel's colour along
// the green-magenta axis (-1, 2, -1)/√6, keeping the other two (Doersch et
// al.'s projection; the axis sums to zero, so grey is unchanged).
func projectGreenMagenta(img *image.NRGBA) *image.NRGBA {
	out := imaging.Clone(img)
	for i := 0; i+3 < len(out.Pix); i += 4 {
		r, g, b := float64(out.Pix[i]), float64(out.Pix[i+1]), float64(out.Pix[i+2])
		d := (2*g - r - b) / 6 // (v·a)/|a|² with a = (-1, 2, -1)
		out.Pix[i] = clamp8(r + d)
		out.Pix[i+1] = clamp8(g - 2*d)
		out.Pix[i+2] = clamp8(b + d)
	}
	return out
}

// view turns a patch into the trunk's input, normalised unless RawPatches.
func (r *RelPos) view(patch *image.NRGBA, channels int) core.Planar {
	if r.cfg.Project && channels == 3 {
		patch = projectGreenMagenta(patch)
	}
	p := core.TrunkInput(patch, channels)
	if !r.cfg.RawPatches {
		normalizeTile(p)
	}
	return p
}

// Examples implements Task: one centre-neighbour pair from a random
// crop of the photo, which must be at least Needs().MinSide pixels on a side.
func (r *RelPos) Examples(dst []core.Example, img *image.NRGBA, rng *rand.Rand) ([]core.Example, error) {
	if err := r.checkPhoto(img); err != nil {
		return dst, err
	}
	if rng == nil {
		return dst, fmt.Errorf("tasks: relative-position examples need a rng")
	}
	crop := core.RandomResizedCrop(img, r.cfg.side(), core.CropConfig{MinScale: r.cfg.MinScale}, rng)
	crop = core.RandomFlip(crop, rng)
	grey := rng.Float64() < r.cfg.GreyProb
	if grey {
		crop = imaging.Grayscale(crop)
	}
	k := rng.IntN(relPosClasses)
	j := r.cfg.jitter()
	var jit [2]image.Point
	for i := range jit {
		jit[i] = image.Pt(rng.IntN(2*j+1)-j, rng.IntN(2*j+1)-j)
	}
	centre, neighbour := relPosPatches(crop, r.cfg, k, jit)
	ex := core.Example{Views: make([]core.Planar, 2), Class: k}
	for i, patch := range []*image.NRGBA{centre, neighbour} {
		p := r.view(patch, r.channels)
		if !grey && r.channels == 3 && rng.Float64() < r.cfg.DropProb {
			dropChannels(p, rng.IntN(3), rng)
		}
		ex.Views[i] = p
	}
	return append(dst, ex), nil
}

// Logits runs trunk and head on the batch: [N, 8].
func (r *RelPos) Logits(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, error) {
	cat, err := viewFeatures(r.Name(), trunk, batch, 2, train)
	if err != nil {
		return nil, err
	}
	return headForward(r.Name(), r.Head, cat)
}

// Loss implements core.Objective.
func (r *RelPos) Loss(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, core.Score, error) {
	logits, err := r.Logits(trunk, batch, train)
	if err != nil {
		return nil, core.Score{}, err
	}
	labels := make([]int, len(batch))
	for i, ex := range batch {
		labels[i] = ex.Class
	}
	loss, acc, err := core.SoftmaxCrossEntropy(logits, labels, nil)
	if err != nil {
		return nil, core.Score{}, fmt.Errorf("tasks: relative-position: %w", err)
	}
	return loss, core.Score{Accuracy: acc}, nil
}

// Predict implements Task: the centre patch of the photo's centre crop
// and a neighbour chosen with rng (no jitter, colour kept) are shown side by
// side (Input); Image is a 3x3 board with the centre patch in the middle
// and the neighbour where the head places it, the true cell outlined in red
// when that is wrong. Probs are the eight classes' probabilities.
func (r *RelPos) Predict(trunk *core.Trunk, img *image.NRGBA, rng *rand.Rand) (Prediction, error) {
	if err := r.checkPhoto(img); err != nil {
		return Prediction{}, err
	}
	if trunk == nil {
		return Prediction{}, fmt.Errorf("tasks: relative-position predict needs a trunk")
	}
	if rng == nil {
		rng = rand.New(rand.NewPCG(0, 0))
	}
	crop := core.CenterCrop(img, r.cfg.side())
	truth := rng.IntN(relPosClasses)
	centre, neighbour := relPosPatches(crop, r.cfg, truth, [2]image.Point{})
	ex := core.Example{Views: []core.Planar{r.view(centre, trunk.Config.InChannels), r.view(neighbour, trunk.Config.InChannels)}}
	logits, err := r.Logits(trunk, []core.Example{ex}, false)
	if err != nil {
		return Prediction{}, err
	}
	probs := classProbs(mat.Data[float32](logits.Value()))
	k := topClass(probs)
	verdict := "correct"
	if k != truth {
		verdict = "wrong: it is " + relPosNames[truth]
	}
	return Prediction{
		Image:   relPosBoard(centre, neighbour, k, truth, r.cfg.Patch),
		Input:   board([]*image.NRGBA{centre, neighbour}, 2, r.cfg.Patch),
		Summary: fmt.Sprintf("%s (p=%.2f): %s", relPosNames[k], probs[k], verdict),
		Probs:   probs,
	}, nil
}

// boardGrey is the colour of a board's empty cells.
var boardGrey = color.NRGBA{R: 224, G: 224, B: 224, A: 255}

// relPosBoard lays the centre patch in the middle of a 3x3 board and the
// neighbour at class k's cell; the other cells are grey, and when k is not
// truth, truth's cell is outlined in red.
func relPosBoard(centre, neighbour *image.NRGBA, k, truth, patch int) *image.NRGBA {
	side := 3*patch + 4*tileGap
	board := image.NewNRGBA(image.Rect(0, 0, side, side))
	draw.Draw(board, board.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	cell := func(p int) image.Rectangle {
		at := image.Pt(tileGap+p%3*(patch+tileGap), tileGap+p/3*(patch+tileGap))
		return image.Rectangle{Min: at, Max: at.Add(image.Pt(patch, patch))}
	}
	for p := range 9 {
		draw.Draw(board, cell(p), image.NewUniform(boardGrey), image.Point{}, draw.Src)
	}
	if k != truth {
		red := image.NewUniform(color.NRGBA{R: 220, A: 255})
		draw.Draw(board, cell(relPosCell(truth)).Inset(-tileGap/2), red, image.Point{}, draw.Src)
		draw.Draw(board, cell(relPosCell(truth)), image.NewUniform(boardGrey), image.Point{}, draw.Src)
	}
	draw.Draw(board, cell(4), centre, centre.Bounds().Min, draw.Src)
	draw.Draw(board, cell(relPosCell(k)), neighbour, neighbour.Bounds().Min, draw.Src)
	return board
}

// BaselineLoss is the loss of guessing: ln 8 for eight equally likely
// places.
func (r *RelPos) BaselineLoss([]core.Example) float64 { return math.Log(relPosClasses) }
