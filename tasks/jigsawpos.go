package tasks

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

// JigsawPos is the jigsaw puzzle (Noroozi & Favaro 2016, "Unsupervised
// Learning of Visual Representations by Solving Jigsaw Puzzles", ECCV)
// with a position per tile instead of a permutation's index from a fixed
// set, as DeepPermNet predicts the permutation matrix (Santa Cruz,
// Fernando, Cherian & Gould 2017, "DeepPermNet: Visual Permutation
// Learning", CVPR; here each row is a softmax, without Sinkhorn
// normalisation): the 3x3 tiles of a crop, cut as jigsaw cuts them (gaps,
// a random place in each cell), are shuffled by a uniformly random
// permutation (any of 9!) and the head predicts, for every tile, which of
// the nine grid positions it came from: nine 9-way softmaxes over the
// concatenated tile features.
//
// Convention: grid positions are numbered row-major, 0 top left to 8 bottom
// right; view i shows the tile of position perm[i], and an example's Class
// is the lexicographic rank of perm among the 9! permutations (permRank),
// so input and labels still come from one call as one int.
//
// The loss is the mean over the batch's tiles of each tile's softmax
// cross-entropy over positions (the head's [N, 81] logits read as [9N, 9]:
// row 9n+i is view i of example n, column p position p), and the accuracy
// the fraction of tiles whose most likely position is right. The guards
// against shortcuts are jigsaw's: tiles normalised on their own unless
// RawTiles, grey examples (GreyProb), one colour channel replaced by noise
// (DropProb).
type JigsawPos struct {
	nn.Module
	// Head is the perceptron 9F -> Hidden -> 81: output 9i+p is the logit
	// of view i at position p.
	Head *core.MLP

	base[JigsawPosConfig]
}

var _ Task = &JigsawPos{}

func init() { gob.Register(&JigsawPos{}) }

// jigsawPosEntry is the task's registry entry.
var jigsawPosEntry = entry{
	new:     fromConfig(NewJigsawPos),
	summary: "put tiles shuffled in any of 9! orders back: each tile's position (after Santa Cruz et al. 2017)",
	// Tiles fed as whole photos are (raw_tiles), without the grey and
	// channel-drop examples, from 24-pixel cells: at 300 steps of 32 with
	// the task's own defaults, held-back photos showed nothing learnt
	// (held-out loss 1.00 of a blind guess on the dev photos); this run
	// ends at 0.93 (docs/RUNS.md, default runs).
	defaults: Defaults{Optimizer: "adam", LR: 0.001, Steps: 350, Batch: 32, Config: json.RawMessage(`{"raw_tiles":true,"grey_prob":-1,"drop_prob":-1,"cell":24,"tile":21}`)},
	captions: []Caption{
		{Image: "original", Text: "original"},
		{Image: "input", Text: "shuffled tiles"},
		{Image: "image", Text: "tiles placed by the prediction"},
	},
}

// JigsawPosConfig sets the jigsaw-positions task. The zero value is the
// default.
type JigsawPosConfig struct {
	// Cell is the side of one grid cell (default 32): the source crop is
	// 3*Cell pixels on a side.
	Cell int `json:"cell,omitempty"`
	// Tile is the side of the tile taken from each cell (default 27), at
	// most Cell.
	Tile int `json:"tile,omitempty"`
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
	// RawTiles feeds the tiles as whole images are fed to the trunk
	// instead of normalising each tile's channels on their own.
	RawTiles bool `json:"raw_tiles,omitempty"`
}

func (c JigsawPosConfig) withDefaults() JigsawPosConfig {
	if c.Cell == 0 {
		c.Cell = 32
	}
	if c.Tile == 0 {
		c.Tile = 27
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

// NewJigsawPos returns the jigsaw-positions task for trunk with a fresh
// head drawn from rng.
func NewJigsawPos(cfg JigsawPosConfig, trunk *core.Trunk, rng *rand.Rand) (*JigsawPos, error) {
	cfg = cfg.withDefaults()
	switch {
	case trunk == nil:
		return nil, fmt.Errorf("tasks: jigsaw-positions needs a trunk")
	case cfg.Cell < 1 || jigsawGrid*cfg.Cell > maxTaskSide:
		return nil, fmt.Errorf("tasks: jigsaw-positions cell %d out of range [1, %d]", cfg.Cell, maxTaskSide/jigsawGrid)
	case cfg.Tile < 1 || cfg.Tile > cfg.Cell:
		return nil, fmt.Errorf("tasks: jigsaw-positions tile %d out of range [1, cell %d]", cfg.Tile, cfg.Cell)
	case cfg.Hidden < 1 || cfg.Hidden > 1<<14:
		return nil, fmt.Errorf("tasks: jigsaw-positions hidden %d out of range [1, %d]", cfg.Hidden, 1<<14)
	case !(cfg.MinScale > 0 && cfg.MinScale <= 1):
		return nil, fmt.Errorf("tasks: jigsaw-positions min_scale %v out of range (0, 1]", cfg.MinScale)
	case math.IsNaN(cfg.GreyProb) || cfg.GreyProb > 1 || math.IsNaN(cfg.DropProb) || cfg.DropProb > 1:
		return nil, fmt.Errorf("tasks: jigsaw-positions grey_prob %v and drop_prob %v, want at most 1", cfg.GreyProb, cfg.DropProb)
	}
	if err := fitsTrunk(trunk, cfg.Tile); err != nil {
		return nil, fmt.Errorf("tasks: jigsaw-positions: %w", err)
	}
	head, err := core.NewMLP(jigsawTiles*trunk.Features(), cfg.Hidden, jigsawTiles*jigsawTiles, rng)
	if err != nil {
		return nil, fmt.Errorf("tasks: jigsaw-positions head: %w", err)
	}
	return &JigsawPos{Head: head, base: newBase("jigsaw-positions", cfg, trunk)}, nil
}

// InputSize implements Task: the side of one tile.
func (j *JigsawPos) InputSize() int { return j.cfg.Tile }

// Needs implements Task: photos at least one cell on a side, as for
// jigsaw.
func (j *JigsawPos) Needs() Needs { return Needs{MinSide: j.cfg.Cell} }

func (j *JigsawPos) checkPhoto(img *image.NRGBA) error {
	if err := needPhoto(img); err != nil {
		return err
	}
	if b := img.Bounds(); min(b.Dx(), b.Dy()) < j.cfg.Cell {
		return fmt.Errorf("tasks: jigsaw-positions needs photos at least %d pixels on a side, got %dx%d", j.cfg.Cell, b.Dx(), b.Dy())
	}
	return nil
}

// permCount is 9!, the number of orders of the tiles.
const permCount = 362880

// permRank is the lexicographic rank of perm (a permutation of 0..8) among
// all 9! permutations, by its Lehmer code.
func permRank(perm [jigsawTiles]int) int {
	rank := 0
	for i, v := range perm {
		smaller := 0
		for _, w := range perm[i+1:] {
			if w < v {
				smaller++
			}
		}
		rank = rank*(jigsawTiles-i) + smaller
	}
	return rank
}

// permUnrank is the permutation of lexicographic rank r in [0, 9!).
func permUnrank(r int) [jigsawTiles]int {
	var code [jigsawTiles]int
	for i := jigsawTiles - 1; i >= 0; i-- {
		code[i] = r % (jigsawTiles - i)
		r /= jigsawTiles - i
	}
	var perm [jigsawTiles]int
	var used [jigsawTiles]bool
	for i, c := range code {
		for v := range jigsawTiles {
			if used[v] {
				continue
			}
			if c == 0 {
				perm[i], used[v] = v, true
				break
			}
			c--
		}
	}
	return perm
}

// tilesIn returns the views of perm: view i is tiles[perm[i]].
func tilesIn[T any](tiles [jigsawTiles]T, perm [jigsawTiles]int) [jigsawTiles]T {
	var out [jigsawTiles]T
	for i, p := range perm {
		out[i] = tiles[p]
	}
	return out
}

// Examples implements Task: one puzzle from a random crop of the photo,
// which must be at least Needs().MinSide pixels on a side.
func (j *JigsawPos) Examples(dst []core.Example, img *image.NRGBA, rng *rand.Rand) ([]core.Example, error) {
	if err := j.checkPhoto(img); err != nil {
		return dst, err
	}
	if rng == nil {
		return dst, fmt.Errorf("tasks: jigsaw-positions examples need a rng")
	}
	crop := core.RandomResizedCrop(img, jigsawGrid*j.cfg.Cell, core.CropConfig{MinScale: j.cfg.MinScale}, rng)
	crop = core.RandomFlip(crop, rng)
	grey := rng.Float64() < j.cfg.GreyProb
	if grey {
		crop = imaging.Grayscale(crop)
	}
	var off [jigsawTiles]image.Point
	for p := range off {
		off[p] = image.Pt(rng.IntN(j.cfg.Cell-j.cfg.Tile+1), rng.IntN(j.cfg.Cell-j.cfg.Tile+1))
	}
	var perm [jigsawTiles]int
	copy(perm[:], rng.Perm(jigsawTiles))
	views := tilesIn(cutTiles(crop, j.cfg.Cell, j.cfg.Tile, off), perm)
	drop := -1
	if !grey && j.channels == 3 && rng.Float64() < j.cfg.DropProb {
		drop = rng.IntN(3)
	}
	ex := core.Example{Views: make([]core.Planar, jigsawTiles), Class: permRank(perm)}
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

// Logits runs trunk and head on the batch: [N, 81], column 9i+p the logit
// of view i at position p.
func (j *JigsawPos) Logits(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, error) {
	cat, err := viewFeatures(j.Name(), trunk, batch, jigsawTiles, train)
	if err != nil {
		return nil, err
	}
	return headForward(j.Name(), j.Head, cat)
}

// Loss implements core.Objective: the mean over all 9N tiles of the
// cross-entropy of each tile's position.
func (j *JigsawPos) Loss(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, core.Score, error) {
	labels := make([]int, 0, jigsawTiles*len(batch))
	for n, ex := range batch {
		if ex.Class < 0 || ex.Class >= permCount {
			return nil, core.Score{}, fmt.Errorf("tasks: jigsaw-positions example %d has class %d, want a rank in [0, %d)", n, ex.Class, permCount)
		}
		perm := permUnrank(ex.Class)
		labels = append(labels, perm[:]...)
	}
	logits, err := j.Logits(trunk, batch, train)
	if err != nil {
		return nil, core.Score{}, err
	}
	// [N, 81] row-major is [9N, 9] row-major: row 9n+i holds view i of
	// example n, and its label is perm_n[i].
	tiles, err := reshapeMatrix(logits, jigsawTiles*len(batch), jigsawTiles)
	if err != nil {
		return nil, core.Score{}, err
	}
	loss, acc, err := core.SoftmaxCrossEntropy(tiles, labels, nil)
	if err != nil {
		return nil, core.Score{}, fmt.Errorf("tasks: jigsaw-positions: %w", err)
	}
	return loss, core.Score{Accuracy: acc}, nil
}

// bestAssignment is the permutation a (view i to position a[i]) of largest
// Σ_i log p[i][a[i]], found by trying all 9! (exact, as the Hungarian
// method would be, and a few milliseconds); ties go to the first in
// lexicographic order.
func bestAssignment(p [jigsawTiles][jigsawTiles]float64) [jigsawTiles]int {
	var logp [jigsawTiles][jigsawTiles]float64
	for i := range p {
		for k, v := range p[i] {
			logp[i][k] = math.Log(max(v, 1e-300))
		}
	}
	var best, cur [jigsawTiles]int
	bestScore := math.Inf(-1)
	var used [jigsawTiles]bool
	var walk func(i int, score float64)
	walk = func(i int, score float64) {
		if i == jigsawTiles {
			if score > bestScore {
				best, bestScore = cur, score
			}
			return
		}
		for k := range jigsawTiles {
			if !used[k] {
				used[k], cur[i] = true, k
				walk(i+1, score+logp[i][k])
				used[k] = false
			}
		}
	}
	walk(0, 0)
	return best
}

// Predict implements Task: the photo's centre crop (tiles from the
// middle of their cells) is shuffled by a random permutation drawn from
// rng and shown (Input); the head's nine position distributions are turned
// into the most likely one-to-one placement (bestAssignment, so the board
// is a permutation) and the tiles are laid out by it (Image). Probs holds
// the 81 probabilities, row-major: Probs[9i+p] is view i's probability of
// position p (each row sums to 1).
func (j *JigsawPos) Predict(trunk *core.Trunk, img *image.NRGBA, rng *rand.Rand) (Prediction, error) {
	if err := j.checkPhoto(img); err != nil {
		return Prediction{}, err
	}
	if trunk == nil {
		return Prediction{}, fmt.Errorf("tasks: jigsaw-positions predict needs a trunk")
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
	var perm [jigsawTiles]int
	copy(perm[:], rng.Perm(jigsawTiles))
	views := tilesIn(cutTiles(crop, j.cfg.Cell, j.cfg.Tile, off), perm)
	ex := core.Example{Views: make([]core.Planar, jigsawTiles), Class: permRank(perm)}
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
	z := mat.Data[float32](logits.Value())
	var p [jigsawTiles][jigsawTiles]float64
	probs := make([]float64, 0, jigsawTiles*jigsawTiles)
	for i := range jigsawTiles {
		row := classProbs(z[i*jigsawTiles : (i+1)*jigsawTiles])
		copy(p[i][:], row)
		probs = append(probs, row...)
	}
	placed := bestAssignment(p)
	var shown [jigsawTiles]int
	right := 0
	for i := range jigsawTiles {
		shown[i] = i
		if placed[i] == perm[i] {
			right++
		}
	}
	return Prediction{
		Image:   tileBoard(views, placed, j.cfg.Tile),
		Input:   tileBoard(views, shown, j.cfg.Tile),
		Summary: fmt.Sprintf("%d of %d tiles placed right", right, jigsawTiles),
		Probs:   probs,
	}, nil
}

// BaselineLoss is the loss of guessing: ln 9 for nine equally likely
// positions of each tile.
func (j *JigsawPos) BaselineLoss([]core.Example) float64 { return math.Log(jigsawTiles) }
