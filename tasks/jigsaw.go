package tasks

//go:generate go run gen_perms.go

import (
	"encoding/gob"
	"encoding/json"
	"fmt"
	"image"
	"math"
	"math/rand/v2"

	"github.com/disintegration/imaging"
	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/pretextlab/pretext/core"
)

// Jigsaw is the jigsaw-puzzle pretext task (Noroozi & Favaro 2016,
// "Unsupervised Learning of Visual Representations by Solving Jigsaw
// Puzzles", ECCV): a crop of 3*Cell pixels is cut into a 3x3 grid of cells,
// a Tile x Tile square is taken from each cell at a random place (the gap
// keeps edges from giving the answer away), and the nine tiles are shuffled
// by one of P permutations chosen for large Hamming distance (perms.go); the
// head predicts which.
//
// Convention: grid positions are numbered row-major, 0 top left to 8 bottom
// right. An example of class c shows in its view i the tile cut from grid
// position jigsawPerms[c][i]; to solve it, put view i back at position
// jigsawPerms[c][i].
//
// Against low-level shortcuts each tile is normalised on its own (zero mean,
// unit standard deviation per channel), and against chromatic aberration an
// example's tiles are made grey (GreyProb) or have one colour channel
// replaced by noise (DropProb).
//
// The head is the paper's context-free network in small: the trunk runs on
// all 9N tiles in one pass (tile i of example n in row n*9+i), each
// example's nine feature vectors are concatenated in view order, and a
// two-layer perceptron (9F -> Hidden, ReLU, Hidden -> P) gives the logits.
type Jigsaw struct {
	nn.Module
	// Head is the perceptron 9F -> Hidden -> P.
	Head *core.MLP

	base[JigsawConfig]
}

var _ Task = &Jigsaw{}

func init() { gob.Register(&Jigsaw{}) }

// jigsawEntry is the task's registry entry.
var jigsawEntry = entry{
	new:     fromConfig(NewJigsaw),
	summary: "put 3x3 shuffled tiles back in order (Noroozi & Favaro 2016)",
	// 24 permutations rather than the paper's 100, and tiles fed as whole
	// photos are (raw_tiles): at 300 steps of 32 puzzles the paper's
	// setting learnt nothing that held-back photos show (held-out loss
	// 0.99 of a blind guess on the dev photos, 1.00 on a second set),
	// this one 0.74 and 0.81 (docs/RUNS.md, default runs).
	defaults: Defaults{Optimizer: "adam", LR: 0.001, Steps: 300, Batch: 32, Config: json.RawMessage(`{"perms":24,"raw_tiles":true}`)},
	captions: []Caption{
		{Image: "original", Text: "original"},
		{Image: "input", Text: "shuffled tiles"},
		{Image: "image", Text: "solved"},
	},
}

// JigsawConfig sets the jigsaw task. The zero value is the default.
type JigsawConfig struct {
	// Grid is the number of cells on a side (default 3; only 3 is
	// supported).
	Grid int `json:"grid,omitempty"`
	// Cell is the side of one grid cell (default 32): the source crop is
	// Grid*Cell pixels on a side.
	Cell int `json:"cell,omitempty"`
	// Tile is the side of the tile taken from each cell (default 27), at
	// most Cell.
	Tile int `json:"tile,omitempty"`
	// Perms is the number of permutations, the classes (default 100, at
	// most 1000).
	Perms int `json:"perms,omitempty"`
	// Hidden is the width of the head's hidden layer (default 512).
	Hidden int `json:"hidden,omitempty"`
	// MinScale is the smallest crop area as a fraction of the photo's
	// (default 0.5), at most 1.
	MinScale float64 `json:"min_scale,omitempty"`
	// GreyProb is the probability that an example's tiles are grey
	// (default 0.3; negative: never).
	GreyProb float64 `json:"grey_prob,omitempty"`
	// DropProb is the probability that one colour channel of an example's
	// tiles (the same for all nine) is replaced by Gaussian noise (default
	// 0.3; negative: never). Not applied to grey examples.
	DropProb float64 `json:"drop_prob,omitempty"`
	// RawTiles feeds the tiles to the trunk as whole images are fed to it
	// (core.TrunkInput's fixed normalisation) instead of normalising each
	// tile's channels on their own (the paper's default, against
	// shortcuts): the trunk then sees, in training, inputs like those it
	// is evaluated and used on.
	RawTiles bool `json:"raw_tiles,omitempty"`
}

func (c JigsawConfig) withDefaults() JigsawConfig {
	if c.Grid == 0 {
		c.Grid = jigsawGrid
	}
	if c.Cell == 0 {
		c.Cell = 32
	}
	if c.Tile == 0 {
		c.Tile = 27
	}
	if c.Perms == 0 {
		c.Perms = 100
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

// NewJigsaw returns the jigsaw task for trunk with a fresh head drawn from
// rng, initialised as PyTorch's nn.Linear (uniform in ±1/√in).
func NewJigsaw(cfg JigsawConfig, trunk *core.Trunk, rng *rand.Rand) (*Jigsaw, error) {
	cfg = cfg.withDefaults()
	switch {
	case trunk == nil:
		return nil, fmt.Errorf("tasks: jigsaw needs a trunk")
	case cfg.Grid != jigsawGrid:
		return nil, fmt.Errorf("tasks: jigsaw grid %d, only %d is supported", cfg.Grid, jigsawGrid)
	case cfg.Cell < 1 || cfg.Grid*cfg.Cell > maxTaskSide:
		return nil, fmt.Errorf("tasks: jigsaw cell %d out of range [1, %d]", cfg.Cell, maxTaskSide/cfg.Grid)
	case cfg.Tile < 1 || cfg.Tile > cfg.Cell:
		return nil, fmt.Errorf("tasks: jigsaw tile %d out of range [1, cell %d]", cfg.Tile, cfg.Cell)
	case cfg.Perms < 2 || cfg.Perms > len(jigsawPerms):
		return nil, fmt.Errorf("tasks: jigsaw perms %d out of range [2, %d]", cfg.Perms, len(jigsawPerms))
	case cfg.Hidden < 1 || cfg.Hidden > 1<<14:
		return nil, fmt.Errorf("tasks: jigsaw hidden %d out of range [1, %d]", cfg.Hidden, 1<<14)
	case !(cfg.MinScale > 0 && cfg.MinScale <= 1):
		return nil, fmt.Errorf("tasks: jigsaw min_scale %v out of range (0, 1]", cfg.MinScale)
	case math.IsNaN(cfg.GreyProb) || cfg.GreyProb > 1 || math.IsNaN(cfg.DropProb) || cfg.DropProb > 1:
		return nil, fmt.Errorf("tasks: jigsaw grey_prob %v and drop_prob %v, want at most 1", cfg.GreyProb, cfg.DropProb)
	}
	if err := fitsTrunk(trunk, cfg.Tile); err != nil {
		return nil, fmt.Errorf("tasks: jigsaw: %w", err)
	}
	head, err := core.NewMLP(jigsawTiles*trunk.Features(), cfg.Hidden, cfg.Perms, rng)
	if err != nil {
		return nil, fmt.Errorf("tasks: jigsaw head: %w", err)
	}
	return &Jigsaw{Head: head, base: newBase("jigsaw", cfg, trunk)}, nil
}

// InputSize implements Task: the side of one tile.
func (j *Jigsaw) InputSize() int { return j.cfg.Tile }

// Needs implements Task: photos at least one cell on a side (32 by
// default, Decode's default minimum). Smaller photos would be mostly
// interpolation once upscaled to the 3x3 grid.
func (j *Jigsaw) Needs() Needs { return Needs{MinSide: j.cfg.Cell} }

// Perm returns the permutation of class c: view i shows the tile of grid
// position Perm(c)[i].
func (j *Jigsaw) Perm(c int) [jigsawTiles]uint8 { return jigsawPerms[c] }

func (j *Jigsaw) checkPhoto(img *image.NRGBA) error {
	if err := needPhoto(img); err != nil {
		return err
	}
	if b := img.Bounds(); min(b.Dx(), b.Dy()) < j.cfg.Cell {
		return fmt.Errorf("tasks: jigsaw needs photos at least %d pixels on a side, got %dx%d", j.cfg.Cell, b.Dx(), b.Dy())
	}
	return nil
}

// Examples implements Task: one puzzle from a random crop of the photo,
// which must be at least Needs().MinSide pixels on a side.
func (j *Jigsaw) Examples(dst []core.Example, img *image.NRGBA, rng *rand.Rand) ([]core.Example, error) {
	if err := j.checkPhoto(img); err != nil {
		return dst, err
	}
	if rng == nil {
		return dst, fmt.Errorf("tasks: jigsaw examples need a rng")
	}
	side := jigsawGrid * j.cfg.Cell
	crop := core.RandomResizedCrop(img, side, core.CropConfig{MinScale: j.cfg.MinScale}, rng)
	crop = core.RandomFlip(crop, rng)
	grey := rng.Float64() < j.cfg.GreyProb
	if grey {
		crop = imaging.Grayscale(crop)
	}
	var off [jigsawTiles]image.Point
	for p := range off {
		off[p] = image.Pt(rng.IntN(j.cfg.Cell-j.cfg.Tile+1), rng.IntN(j.cfg.Cell-j.cfg.Tile+1))
	}
	c := rng.IntN(j.cfg.Perms)
	views := shuffleTiles(cutTiles(crop, j.cfg.Cell, j.cfg.Tile, off), c)
	drop := -1
	if !grey && j.channels == 3 && rng.Float64() < j.cfg.DropProb {
		drop = rng.IntN(3)
	}
	ex := core.Example{Views: make([]core.Planar, jigsawTiles), Class: c}
	for i, t := range views {
		p := core.TrunkInput(t, j.channels)
		if !j.cfg.RawTiles {
			normalizeTile(p)
		}
		if drop >= 0 {
			plane := p.H * p.W
			for k := range plane {
				p.Pix[drop*plane+k] = float32(rng.NormFloat64())
			}
		}
		ex.Views[i] = p
	}
	return append(dst, ex), nil
}

// Logits runs trunk and head on the batch: [N, P].
func (j *Jigsaw) Logits(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, error) {
	cat, err := viewFeatures(j.Name(), trunk, batch, jigsawTiles, train)
	if err != nil {
		return nil, err
	}
	return headForward(j.Name(), j.Head, cat)
}

// Loss implements core.Objective.
func (j *Jigsaw) Loss(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, core.Score, error) {
	logits, err := j.Logits(trunk, batch, train)
	if err != nil {
		return nil, core.Score{}, err
	}
	labels := make([]int, len(batch))
	for i, ex := range batch {
		labels[i] = ex.Class
	}
	loss, acc, err := core.SoftmaxCrossEntropy(logits, labels, nil)
	if err != nil {
		return nil, core.Score{}, fmt.Errorf("tasks: jigsaw: %w", err)
	}
	return loss, core.Score{Accuracy: acc}, nil
}

// Predict implements Task: the photo's centre crop is shuffled by a
// random permutation, the head predicts which, and the tiles are put back by
// the prediction.
func (j *Jigsaw) Predict(trunk *core.Trunk, img *image.NRGBA, rng *rand.Rand) (Prediction, error) {
	if err := j.checkPhoto(img); err != nil {
		return Prediction{}, err
	}
	if rng == nil {
		rng = rand.New(rand.NewPCG(0, 0))
	}
	crop := core.CenterCrop(img, jigsawGrid*j.cfg.Cell)
	var off [jigsawTiles]image.Point
	mid := (j.cfg.Cell - j.cfg.Tile) / 2
	for p := range off {
		off[p] = image.Pt(mid, mid)
	}
	c := rng.IntN(j.cfg.Perms)
	views := shuffleTiles(cutTiles(crop, j.cfg.Cell, j.cfg.Tile, off), c)
	ex := core.Example{Views: make([]core.Planar, jigsawTiles), Class: c}
	for i, t := range views {
		ex.Views[i] = core.TrunkInput(t, trunk.Config.InChannels)
		if !j.cfg.RawTiles {
			normalizeTile(ex.Views[i])
		}
	}
	logits, err := j.Logits(trunk, []core.Example{ex}, false)
	if err != nil {
		return Prediction{}, err
	}
	probs := classProbs(mat.Data[float32](logits.Value()))
	k := topClass(probs)
	var shown, solved [jigsawTiles]int
	for i := range jigsawTiles {
		shown[i] = i
		solved[i] = int(jigsawPerms[k][i])
	}
	verdict := "correct"
	if k != c {
		verdict = fmt.Sprintf("wrong: shuffled with %d", c)
	}
	return Prediction{
		Image:   tileBoard(views, solved, j.cfg.Tile),
		Input:   tileBoard(views, shown, j.cfg.Tile),
		Summary: fmt.Sprintf("permutation %d of %d (p=%.2f): %s", k, j.cfg.Perms, probs[k], verdict),
		Probs:   probs,
	}, nil
}

// BaselineLoss is the loss of guessing: ln P for P equally likely
// permutations.
func (j *Jigsaw) BaselineLoss([]core.Example) float64 { return math.Log(float64(j.cfg.Perms)) }
