package tasks

import (
	"fmt"
	"image"
	"math/rand/v2"

	"github.com/nlpodyssey/spago/mat"

	"github.com/pretextlab/pretext/core"
)

// MultiCropConfig is the multi-crop augmentation (Caron et al. 2020, SwAV,
// section 3.2; DINO's, Caron et al. 2021, section 3.1): each photo is shown
// as two global views, large crops at the input size, and M local views,
// small crops at a smaller size, every view distorted by the shared
// pipeline of ViewConfig (flip, colour jitter, grey, blur). The zero value
// is the default. Its fields sit at the top level of a method's JSON
// settings.
type MultiCropConfig struct {
	// ViewConfig makes the global views (size, jitter, ...). Its
	// min_scale defaults to 0.4 here, DINO's global crop scale with local
	// crops (0.4 to 1 of the photo's area; the two-view methods' 0.2 is
	// for crops that must cover the photo alone).
	ViewConfig
	// LocalCrops is the number of local views M (default 6, DINO's;
	// negative: none, DINO's two-crop setting).
	LocalCrops int `json:"local_crops,omitempty"`
	// LocalSize is the side of the local views (default Size/2: 16 for
	// 32-pixel globals; DINO's 96 for 224 is 0.43). The trunk is fully
	// convolutional with global pooling, so it takes them as they are.
	LocalSize int `json:"local_size,omitempty"`
	// LocalMinScale and LocalMaxScale bound a local crop's area as a
	// fraction of the photo's (default 0.05 and 0.4, DINO's).
	LocalMinScale float64 `json:"local_min_scale,omitempty"`
	LocalMaxScale float64 `json:"local_max_scale,omitempty"`
}

// Defaults of the multi-crop augmentation (DINO's main_dino.py).
const (
	globalMinScale = 0.4
	localCrops     = 6
	localMinScale  = 0.05
	localMaxScale  = 0.4
)

// maxLocalCrops bounds the local views per photo.
const maxLocalCrops = 16

func (c MultiCropConfig) withDefaults() MultiCropConfig {
	if c.MinScale == 0 {
		c.MinScale = globalMinScale
	}
	c.ViewConfig = c.ViewConfig.withDefaults()
	if c.LocalCrops == 0 {
		c.LocalCrops = localCrops
	}
	if c.LocalSize == 0 {
		c.LocalSize = max(1, c.Size/2)
	}
	if c.LocalMinScale == 0 {
		c.LocalMinScale = localMinScale
	}
	if c.LocalMaxScale == 0 {
		c.LocalMaxScale = localMaxScale
	}
	return c
}

// locals is the number of local views per photo.
func (c MultiCropConfig) locals() int { return max(0, c.LocalCrops) }

// check validates the settings (defaults filled in) for trunk.
func (c MultiCropConfig) check(name string, trunk *core.Trunk) error {
	if err := c.ViewConfig.check(name, trunk); err != nil {
		return err
	}
	if c.locals() == 0 {
		return nil
	}
	switch {
	case c.LocalCrops > maxLocalCrops:
		return fmt.Errorf("tasks: %s local_crops %d out of range [1, %d] (negative: none)", name, c.LocalCrops, maxLocalCrops)
	case c.LocalSize < 1 || c.LocalSize > c.Size:
		return fmt.Errorf("tasks: %s local_size %d out of range [1, %d] (the global size)", name, c.LocalSize, c.Size)
	case !(c.LocalMaxScale > 0 && c.LocalMaxScale <= 1):
		return fmt.Errorf("tasks: %s local_max_scale %v out of range (0, 1]", name, c.LocalMaxScale)
	case !(c.LocalMinScale > 0 && c.LocalMinScale <= c.LocalMaxScale):
		return fmt.Errorf("tasks: %s local_min_scale %v out of range (0, %v] (local_max_scale)", name, c.LocalMinScale, c.LocalMaxScale)
	}
	if err := fitsTrunk(trunk, c.LocalSize); err != nil {
		return fmt.Errorf("tasks: %s local views: %w", name, err)
	}
	return nil
}

// local is one random local view of img: a crop of LocalMinScale to
// LocalMaxScale of its area at LocalSize, then the distortions of
// ViewConfig.distort, drawn in the same order as a global view's.
func (c MultiCropConfig) local(img *image.NRGBA, rng *rand.Rand) *image.NRGBA {
	crop := core.CropConfig{MinScale: c.LocalMinScale, MaxScale: c.LocalMaxScale}
	return c.distort(core.RandomResizedCrop(img, c.LocalSize, crop, rng), rng)
}

// example appends one example of img's views, as trunk inputs of the
// given channels: the two global views, then the local ones, in that
// order (and drawn from rng in that order).
func (c MultiCropConfig) example(name string, dst []core.Example, img *image.NRGBA, channels int, rng *rand.Rand) ([]core.Example, error) {
	if err := needPhoto(img); err != nil {
		return dst, err
	}
	if rng == nil {
		return dst, fmt.Errorf("tasks: %s examples need a rng", name)
	}
	views := make([]core.Planar, 0, 2+c.locals())
	for range 2 {
		views = append(views, core.TrunkInput(c.augment(img, rng), channels))
	}
	for range c.locals() {
		views = append(views, core.TrunkInput(c.local(img, rng), channels))
	}
	return append(dst, core.Example{Views: views}), nil
}

// stackedViews are trunk inputs stacked for one trunk call.
type stackedViews struct {
	x  []float32
	sh core.Shape
}

// matrix is the input as the trunk takes it (a new node each call, so
// that two trunks may read the same values).
func (s stackedViews) matrix() mat.Tensor {
	return mat.NewDense[float32](mat.WithShape(s.sh.C, s.sh.Cols()), mat.WithBacking(s.x))
}

// stack checks that every example of batch holds this config's views and
// stacks them view-major, one stack per crop size: the globals (row
// v·N+i is global view v of example i, [2N] images) and the locals (view
// 2+v of example i at v·N+i, [M·N]; empty without local views), DINO's
// layout, one trunk call each. minPhotos is the fewest examples the
// method's loss accepts.
func (c MultiCropConfig) stack(name string, batch []core.Example, minPhotos int) (globals, locals stackedViews, err error) {
	if len(batch) < minPhotos {
		return globals, locals, fmt.Errorf("tasks: %s batch has %d examples, want at least %d", name, len(batch), minPhotos)
	}
	views := 2 + c.locals()
	for n, ex := range batch {
		if len(ex.Views) != views {
			return globals, locals, fmt.Errorf("tasks: %s example %d has %d views, want %d (2 global, %d local)", name, n, len(ex.Views), views, c.locals())
		}
	}
	byView := func(from, to int) (stackedViews, error) {
		var s []core.Planar
		for v := from; v < to; v++ {
			for _, ex := range batch {
				s = append(s, ex.Views[v])
			}
		}
		x, sh, err := core.Stack(s)
		if err != nil {
			return stackedViews{}, fmt.Errorf("tasks: %s: %w", name, err)
		}
		return stackedViews{x, sh}, nil
	}
	if globals, err = byView(0, 2); err != nil {
		return globals, locals, err
	}
	if c.locals() > 0 {
		if locals, err = byView(2, views); err != nil {
			return globals, locals, err
		}
	}
	return globals, locals, nil
}

// measureViews is the augmentation of the multi-crop methods' held-out
// view matching: the global views', with the two-view methods' crop scale
// (ViewConfig's default min_scale, not the globals' 0.4), so that the
// figure compares with theirs.
func (c MultiCropConfig) measureViews() ViewConfig {
	v := c.ViewConfig
	v.MinScale = ViewConfig{}.withDefaults().MinScale
	return v
}
