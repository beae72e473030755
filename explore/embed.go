package explore

import (
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"

	"github.com/pretextlab/pretext/core"
)

// EmbedConfig sets how photos become embeddings. The zero value is the
// default, the choice tuned on the dev photos (docs/RUNS.md, "Using the
// representation").
type EmbedConfig struct {
	// Side is the side of the square each photo is filled to (its largest
	// centred square, resized) before the trunk sees it (default 64, the
	// evaluation's input for photos).
	Side int
	// Block is the trunk stage (1-based) whose output is pooled; 0 is the
	// default, DefaultBlock, or the last stage of a shorter trunk.
	Block int
	// Grid pools the block's maps over a Grid x Grid partition (default
	// DefaultGrid; 1 is global average pooling).
	Grid int
	// KeepBN keeps the trunk's batch-norm running statistics. By default
	// they are recomputed on the photos the Embedder is made with, as the
	// evaluation does: the statistics of the pretext (rotated crops,
	// tiles) are not those of whole photos.
	KeepBN bool
	// Batch is the photos per forward pass (default 64).
	Batch int
	// Centre takes the mean feature of the photos the Embedder is made
	// with off every feature before scaling it to unit length. (On the dev
	// photos it made k-NN labels and precision@5 worse: the default
	// leaves the features as they are.)
	Centre bool
}

// Defaults of EmbedConfig, chosen by few-shot accuracy and precision@5 on
// the dev photos (docs/RUNS.md).
const (
	DefaultSide  = 64
	DefaultBlock = 1
	DefaultGrid  = 4
	DefaultBatch = 64
)

func (c EmbedConfig) withDefaults(trunk *core.Trunk) (EmbedConfig, error) {
	if c.Side == 0 {
		c.Side = DefaultSide
	}
	if c.Grid == 0 {
		c.Grid = DefaultGrid
	}
	if c.Batch == 0 {
		c.Batch = DefaultBatch
	}
	stages := len(trunk.Config.Widths)
	if c.Block == 0 {
		c.Block = min(DefaultBlock, stages)
	}
	switch {
	case c.Side < 8 || c.Side > 1024:
		return c, fmt.Errorf("explore: side %d, want 8 to 1024", c.Side)
	case c.Block < 1 || c.Block > stages:
		return c, fmt.Errorf("explore: block %d, the trunk has blocks 1 to %d", c.Block, stages)
	case c.Grid < 1:
		return c, fmt.Errorf("explore: grid %d, want at least 1", c.Grid)
	case c.Batch < 1:
		return c, fmt.Errorf("explore: batch %d, want at least 1", c.Batch)
	}
	return c, nil
}

// Embedder turns photos into embeddings: the frozen trunk's features after
// one block, average-pooled (by default the first block's maps over a 4x4
// grid, 512 values for the RS trunk) and scaled to unit length, so that the dot product of two
// embeddings is their cosine similarity. It holds its own copy of the
// trunk. An Embedder is not safe for concurrent use.
type Embedder struct {
	trunk *core.Trunk
	cfg   EmbedConfig
	pool  core.Pooling
	dim   int       // the block's width times Grid²
	mean  []float64 // the calibration photos' mean feature (Centre), or nil
}

// ErrNoPhotos is returned when there are no photos to work with.
var ErrNoPhotos = errors.New("explore: no photos")

// NewEmbedder returns an Embedder over a copy of trunk (which is not
// changed). Unless cfg.KeepBN, the copy's batch-norm statistics are
// recomputed on photos; with cfg.Centre, the mean feature of photos is the
// centre every embedding is taken from. Photos added later are embedded with these
// statistics and this centre, so their embeddings do not depend on what
// else was added.
func NewEmbedder(trunk *core.Trunk, photos []*image.NRGBA, cfg EmbedConfig) (*Embedder, error) {
	if trunk == nil {
		return nil, errors.New("explore: no trunk")
	}
	if len(photos) == 0 {
		return nil, ErrNoPhotos
	}
	cfg, err := cfg.withDefaults(trunk)
	if err != nil {
		return nil, err
	}
	e := &Embedder{trunk: trunk.Clone(), cfg: cfg}
	e.pool = core.Pooling{Layer: cfg.Block*trunk.Config.Depth - 1, Grid: cfg.Grid}
	if s, err := e.trunk.OutShape(core.Shape{N: 1, C: trunk.Config.InChannels, H: cfg.Side, W: cfg.Side}); err != nil || s.H < 1 {
		return nil, fmt.Errorf("explore: the trunk does not take %dx%d photos: %v", cfg.Side, cfg.Side, err)
	}
	if !cfg.KeepBN {
		n := (len(photos) + cfg.Batch - 1) / cfg.Batch
		if err := e.trunk.RecomputeBNTo(e.pool.Layer, n, func(i int) ([]core.Planar, error) {
			return e.inputs(photos[i*cfg.Batch : min((i+1)*cfg.Batch, len(photos))]), nil
		}); err != nil {
			return nil, err
		}
	}
	e.dim = trunk.Config.Widths[cfg.Block-1] * cfg.Grid * cfg.Grid
	if !cfg.Centre {
		return e, nil
	}
	raw, err := e.features(photos)
	if err != nil {
		return nil, err
	}
	dim := e.dim
	e.mean = make([]float64, dim)
	for i := range len(photos) {
		for j, v := range raw[i*dim : (i+1)*dim] {
			e.mean[j] += float64(v)
		}
	}
	for j := range e.mean {
		e.mean[j] /= float64(len(photos))
	}
	return e, nil
}

// NewRandomEmbedder is NewEmbedder over a randomly initialised trunk of
// the same configuration as trunk, drawn from a generator seeded with
// seed: the baseline that shows what training gained.
func NewRandomEmbedder(trunk *core.Trunk, photos []*image.NRGBA, cfg EmbedConfig, seed uint64) (*Embedder, error) {
	if trunk == nil {
		return nil, errors.New("explore: no trunk")
	}
	r, err := core.NewTrunk(trunk.Config, rand.New(rand.NewPCG(seed, 0x5eed)))
	if err != nil {
		return nil, err
	}
	return NewEmbedder(r, photos, cfg)
}

// Config returns the embedder's settings, defaults filled in.
func (e *Embedder) Config() EmbedConfig { return e.cfg }

// Dim is the length of an embedding.
func (e *Embedder) Dim() int { return e.dim }

// Input returns the square a photo is embedded from: its largest centred
// square resized to the configured side.
func (e *Embedder) Input(photo *image.NRGBA) *image.NRGBA {
	return core.CenterCrop(photo, e.cfg.Side)
}

// inputs are the trunk's inputs for photos, by the trunk's own input rule
// (core.TrunkInput: colour or grey).
func (e *Embedder) inputs(photos []*image.NRGBA) []core.Planar {
	in := make([]core.Planar, len(photos))
	for i, p := range photos {
		in[i] = core.TrunkInput(e.Input(p), e.trunk.Config.InChannels)
	}
	return in
}

// features returns the pooled features of photos, row-major, a batch per
// forward pass.
func (e *Embedder) features(photos []*image.NRGBA) ([]float32, error) {
	out := make([]float32, 0, len(photos)*e.dim)
	for i := 0; i < len(photos); i += e.cfg.Batch {
		v, err := e.trunk.EmbedLayers(e.inputs(photos[i:min(i+e.cfg.Batch, len(photos))]), []core.Pooling{e.pool})
		if err != nil {
			return nil, err
		}
		for _, row := range v[0] {
			out = append(out, row...)
		}
	}
	return out, nil
}

// Embed returns the embeddings of photos, row-major (photo i in
// [i*Dim, (i+1)*Dim)), each of unit length: the features (less the
// calibration mean, with Centre) normalised. A zero vector stays zero.
func (e *Embedder) Embed(photos []*image.NRGBA) ([]float32, error) {
	raw, err := e.features(photos)
	if err != nil {
		return nil, err
	}
	d := e.dim
	centre := func(j int, v float32) float64 {
		if e.mean == nil {
			return float64(v)
		}
		return float64(v) - e.mean[j]
	}
	for i := range len(photos) {
		row := raw[i*d : (i+1)*d]
		var norm float64
		for j, v := range row {
			c := centre(j, v)
			norm += c * c
		}
		inv := 0.0
		if norm > 0 {
			inv = 1 / math.Sqrt(norm)
		}
		for j, v := range row {
			row[j] = float32(centre(j, v) * inv)
		}
	}
	return raw, nil
}
