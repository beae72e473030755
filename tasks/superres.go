package tasks

import (
	"encoding/gob"
	"fmt"
	"image"
	"math"
	"math/rand/v2"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/pretextlab/pretext/core"
)

// SuperResolution is single-image super-resolution as a pretext task, in
// the form of SRCNN (Dong, Loy, He & Tang 2014, "Learning a Deep
// Convolutional Network for Image Super-Resolution", ECCV) with VDSR's
// residual learning (Kim, Lee & Lee 2016, "Accurate Image Super-Resolution
// Using Very Deep Convolutional Networks", CVPR): each crop is shrunk by
// Factor (area averaging) and enlarged back by bicubic interpolation; the
// trunk sees that blurred crop at full size, and a [Decoder] from its last
// maps, plus a 3x3 convolution of the input itself (Decoder.Skip, a path
// for detail the pooled maps no longer hold), predicts the residual to the
// original. Predicting nothing is predicting the bicubic upsample, the
// baseline every super-resolution method is measured against.
//
// Feeding the upsampled image (rather than the small one) keeps one trunk
// input size for every task and lets the decoder mirror the trunk's
// pooling, as in SRCNN.
//
// Bicubic is Keys' cubic convolution with a = -0.5 (MATLAB's imresize,
// used by the super-resolution benchmarks) at pixel centres, edges
// replicated. The loss is the mean squared (Loss "l2") or absolute ("l1")
// error over every value; Example.Target holds the original crop,
// normalised as the view is (C planes of H x W). Class is unused.
//
// Score.Accuracy is the fraction of the bicubic upsample's squared error
// that the prediction removes, 1 - SE(prediction)/SE(bicubic), clamped to
// [0, 1].
type SuperResolution struct {
	nn.Module
	// Decoder turns the trunk's maps and the input into the residual.
	Decoder *Decoder

	base[SuperResolutionConfig]
}

var _ Task = &SuperResolution{}

func init() { gob.Register(&SuperResolution{}) }

// superResolutionEntry is the task's registry entry.
var superResolutionEntry = entry{
	new:      fromConfig(NewSuperResolution),
	summary:  "restore the detail of a photo shrunk by half (SRCNN, Dong et al. 2014)",
	defaults: Defaults{Optimizer: "adam", LR: 0.001, Steps: 300, Batch: 32},
	captions: []Caption{
		{Image: "original", Text: "original"},
		{Image: "input", Text: "low-resolution input (pixel-doubled)"},
		{Image: "image", Text: "super-resolved"},
	},
}

// SuperResolutionConfig sets the super-resolution task. The zero value is
// the default.
type SuperResolutionConfig struct {
	// Size is the side of the square high-resolution crop (default 32); it
	// must be a multiple of Factor and come back from the trunk's maps by
	// doubling (a multiple of 4 for the default trunk).
	Size int `json:"size,omitempty"`
	// Factor is the downscaling factor (default 2), in [2, 8].
	Factor int `json:"factor,omitempty"`
	// MinScale is the smallest crop area as a fraction of the photo's
	// (default 0.25), at most 1.
	MinScale float64 `json:"min_scale,omitempty"`
	// Loss is "l2" (default) or "l1".
	Loss string `json:"loss,omitempty"`
	// Hidden is the decoder's first stage width, halved at each further
	// stage (default 32).
	Hidden int `json:"hidden,omitempty"`
	// Upsample is the decoder's upsampling: "deconv" (default), "nearest"
	// or "bilinear" (see Decoder).
	Upsample string `json:"upsample,omitempty"`
}

func (c SuperResolutionConfig) withDefaults() SuperResolutionConfig {
	if c.Size == 0 {
		c.Size = 32
	}
	if c.Factor == 0 {
		c.Factor = 2
	}
	if c.MinScale == 0 {
		c.MinScale = 0.25
	}
	if c.Loss == "" {
		c.Loss = "l2"
	}
	if c.Hidden == 0 {
		c.Hidden = 32
	}
	if c.Upsample == "" {
		c.Upsample = "deconv"
	}
	return c
}

// penalty is the configured loss's core.Penalty.
func (c SuperResolutionConfig) penalty() core.Penalty {
	if c.Loss == "l1" {
		return core.AbsoluteError
	}
	return core.SquaredError
}

// NewSuperResolution returns the super-resolution task for trunk with a
// fresh head drawn from rng.
func NewSuperResolution(cfg SuperResolutionConfig, trunk *core.Trunk, rng *rand.Rand) (*SuperResolution, error) {
	cfg = cfg.withDefaults()
	switch {
	case trunk == nil:
		return nil, fmt.Errorf("tasks: super-resolution needs a trunk")
	case cfg.Factor < 2 || cfg.Factor > 8:
		return nil, fmt.Errorf("tasks: super-resolution factor %d out of range [2, 8]", cfg.Factor)
	case cfg.Size < 2*cfg.Factor || cfg.Size > maxTaskSide || cfg.Size%cfg.Factor != 0:
		return nil, fmt.Errorf("tasks: super-resolution size %d, want a multiple of the factor %d in [%d, %d]", cfg.Size, cfg.Factor, 2*cfg.Factor, maxTaskSide)
	case !(cfg.MinScale > 0 && cfg.MinScale <= 1):
		return nil, fmt.Errorf("tasks: super-resolution min_scale %v out of range (0, 1]", cfg.MinScale)
	case cfg.Loss != "l2" && cfg.Loss != "l1":
		return nil, fmt.Errorf("tasks: super-resolution loss %q, want l2 or l1", cfg.Loss)
	}
	dec, err := newDecoder(trunk, cfg.Size, cfg.Hidden, cfg.Upsample, true, rng)
	if err != nil {
		return nil, fmt.Errorf("tasks: super-resolution: %w", err)
	}
	return &SuperResolution{Decoder: dec, base: newBase("super-resolution", cfg, trunk)}, nil
}

// InputSize implements Task.
func (s *SuperResolution) InputSize() int { return s.cfg.Size }

// Needs implements Task: any photo (crops are resized to the
// input size).
func (s *SuperResolution) Needs() Needs { return Needs{MinSide: 1} }

// boxDown shrinks p by f in each direction, each pixel the mean of an f x f
// block (the sides must be multiples of f).
func boxDown(p core.Planar, f int) core.Planar {
	h, w := p.H/f, p.W/f
	out := core.NewPlanar(p.C, h, w)
	inv := 1 / float32(f*f)
	for c := range p.C {
		src, dst := p.Pix[c*p.H*p.W:], out.Pix[c*h*w:]
		for y := range h {
			for x := range w {
				var s float32
				for dy := range f {
					row := src[(y*f+dy)*p.W+x*f:]
					for dx := range f {
						s += row[dx]
					}
				}
				dst[y*w+x] = s * inv
			}
		}
	}
	return out
}

// keysCubic is Keys' cubic convolution kernel with a = -0.5 (Keys 1981,
// "Cubic Convolution Interpolation for Digital Image Processing").
func keysCubic(x float64) float64 {
	const a = -0.5
	x = math.Abs(x)
	switch {
	case x <= 1:
		return ((a+2)*x-(a+3))*x*x + 1
	case x < 2:
		return ((a*x-5*a)*x+8*a)*x - 4*a
	}
	return 0
}

// cubicTaps returns, for each of dst outputs along an axis of src inputs,
// the first of its four inputs (unclamped) and their weights: output o
// samples at (o+0.5)·src/dst - 0.5.
func cubicTaps(src, dst int) ([]int, [][4]float64) {
	first := make([]int, dst)
	w := make([][4]float64, dst)
	for o := range dst {
		pos := (float64(o)+0.5)*float64(src)/float64(dst) - 0.5
		i0 := int(math.Floor(pos)) - 1
		first[o] = i0
		for k := range 4 {
			w[o][k] = keysCubic(pos - float64(i0+k))
		}
	}
	return first, w
}

// bicubicUp resizes p to h x w by bicubic interpolation (keysCubic),
// replicating edge pixels.
func bicubicUp(p core.Planar, h, w int) core.Planar {
	fy, wy := cubicTaps(p.H, h)
	fx, wx := cubicTaps(p.W, w)
	clampIdx := func(i, n int) int { return max(0, min(n-1, i)) }
	out := core.NewPlanar(p.C, h, w)
	tmp := make([]float64, p.H*w) // rows resized first
	for c := range p.C {
		src := p.Pix[c*p.H*p.W : (c+1)*p.H*p.W]
		for y := range p.H {
			for x := range w {
				var s float64
				for k := range 4 {
					s += wx[x][k] * float64(src[y*p.W+clampIdx(fx[x]+k, p.W)])
				}
				tmp[y*w+x] = s
			}
		}
		dst := out.Pix[c*h*w : (c+1)*h*w]
		for y := range h {
			for x := range w {
				var s float64
				for k := range 4 {
					s += wy[y][k] * tmp[clampIdx(fy[y]+k, p.H)*w+x]
				}
				dst[y*w+x] = float32(s)
			}
		}
	}
	return out
}

// nearestUp enlarges p by f in each direction, each pixel an f x f block.
func nearestUp(p core.Planar, f int) core.Planar {
	out := core.NewPlanar(p.C, p.H*f, p.W*f)
	for c := range p.C {
		for y := range out.H {
			for x := range out.W {
				out.Pix[(c*out.H+y)*out.W+x] = p.Pix[(c*p.H+y/f)*p.W+x/f]
			}
		}
	}
	return out
}

// example returns crop's example and its low-resolution version.
func (s *SuperResolution) example(crop *image.NRGBA) (core.Example, core.Planar) {
	hr := core.TrunkInput(crop, s.channels)
	lr := boxDown(hr, s.cfg.Factor)
	return core.Example{Views: []core.Planar{bicubicUp(lr, hr.H, hr.W)}, Target: hr.Pix}, lr
}

// Examples implements Task: one example, a random crop (and flip) of
// the photo shrunk and enlarged again as the view, the crop as the target.
func (s *SuperResolution) Examples(dst []core.Example, img *image.NRGBA, rng *rand.Rand) ([]core.Example, error) {
	if err := needPhoto(img); err != nil {
		return dst, err
	}
	crop := core.RandomResizedCrop(img, s.cfg.Size, core.CropConfig{MinScale: s.cfg.MinScale}, rng)
	ex, _ := s.example(core.RandomFlip(crop, rng))
	return append(dst, ex), nil
}

// residual runs trunk and decoder on the batch's views and returns the
// predicted residual [C, N*H*W], the wanted one (target - view, same
// layout) and the geometry.
func (s *SuperResolution) residual(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, []float32, core.Shape, error) {
	views := make([]core.Planar, len(batch))
	for i, ex := range batch {
		if len(ex.Views) == 0 {
			return nil, nil, core.Shape{}, fmt.Errorf("tasks: super-resolution example %d has no image", i)
		}
		views[i] = ex.Views[0]
	}
	x, sh, err := core.Stack(views)
	if err != nil {
		return nil, nil, core.Shape{}, fmt.Errorf("tasks: super-resolution: %w", err)
	}
	hw := sh.H * sh.W
	targets := make([][]float32, len(batch))
	for i, ex := range batch {
		if len(ex.Target) != sh.C*hw {
			return nil, nil, core.Shape{}, fmt.Errorf("tasks: super-resolution example %d has %d target values, want %d", i, len(ex.Target), sh.C*hw)
		}
		targets[i] = ex.Target
	}
	want := planesOf(targets, sh.C, hw)
	for i := range want {
		want[i] -= x[i]
	}
	xm := matrix(sh.C, sh.Cols(), x)
	f, fs, err := trunk.Maps(xm, sh, train)
	if err != nil {
		return nil, nil, core.Shape{}, fmt.Errorf("tasks: super-resolution: %w", err)
	}
	r, err := s.Decoder.Forward(f, fs, xm, sh, train)
	if err != nil {
		return nil, nil, core.Shape{}, fmt.Errorf("tasks: super-resolution: %w", err)
	}
	return r, want, sh, nil
}

// Loss implements core.Objective: see the type's doc.
func (s *SuperResolution) Loss(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, core.Score, error) {
	r, want, _, err := s.residual(trunk, batch, train)
	if err != nil {
		return nil, core.Score{}, err
	}
	loss, err := core.PixelLoss(r, want, nil, s.cfg.penalty())
	if err != nil {
		return nil, core.Score{}, fmt.Errorf("tasks: super-resolution: %w", err)
	}
	return loss, core.Score{Accuracy: errorGain(mat.Data[float32](r.Value()), want, nil)}, nil
}

// Measure implements Measurer: PSNR against bicubic upsampling.
func (s *SuperResolution) Measure(trunk *core.Trunk, photos []*image.NRGBA, rng *rand.Rand) (Measure, error) {
	model, bicubic, err := s.PSNR(trunk, photos, rng)
	if err != nil {
		return Measure{}, err
	}
	return Measure{Name: "PSNR", Unit: "dB", Value: model, Baseline: bicubic, BaselineName: "bicubic upsampling"}, nil
}

// PSNR is the mean PSNR in dB (8-bit scale, every channel; see psnr) over
// photos of the model's super-resolved crops and of the bicubic upsamples
// they start from, one random crop per photo drawn from rng, in evaluation
// mode. A crop the model or bicubic reproduces exactly counts as 100 dB.
func (s *SuperResolution) PSNR(trunk *core.Trunk, photos []*image.NRGBA, rng *rand.Rand) (model, bicubic float64, err error) {
	if trunk == nil {
		return 0, 0, fmt.Errorf("tasks: super-resolution PSNR needs a trunk")
	}
	if len(photos) == 0 {
		return 0, 0, fmt.Errorf("tasks: super-resolution PSNR needs photos")
	}
	norm := normFor(s.channels)
	const chunk = 32
	for lo := 0; lo < len(photos); lo += chunk {
		var batch []core.Example
		for _, p := range photos[lo:min(lo+chunk, len(photos))] {
			if batch, err = s.Examples(batch, p, rng); err != nil {
				return 0, 0, err
			}
		}
		r, _, sh, err := s.residual(trunk, batch, false)
		if err != nil {
			return 0, 0, err
		}
		rd := mat.Data[float32](r.Value())
		for n, ex := range batch {
			res := imageAt(rd, sh, n)
			view := ex.Views[0]
			sr := core.NewPlanar(sh.C, sh.H, sh.W)
			for i := range sr.Pix {
				sr.Pix[i] = view.Pix[i] + res.Pix[i]
			}
			orig := core.Planar{C: sh.C, H: sh.H, W: sh.W, Pix: ex.Target}
			model += min(100, psnr(sr, orig, norm))
			bicubic += min(100, psnr(view, orig, norm))
		}
	}
	n := float64(len(photos))
	return model / n, bicubic / n, nil
}

// Predict implements Task: the photo's centre crop is shrunk by Factor
// and super-resolved. Input is the small crop enlarged by pixel repetition
// (nearest neighbour, for display), Image the super-resolved crop, Summary
// its PSNR against the original beside bicubic's.
func (s *SuperResolution) Predict(trunk *core.Trunk, img *image.NRGBA, rng *rand.Rand) (Prediction, error) {
	if err := needPhoto(img); err != nil {
		return Prediction{}, err
	}
	if trunk == nil {
		return Prediction{}, fmt.Errorf("tasks: super-resolution predict needs a trunk")
	}
	if trunk.Config.InChannels != s.channels {
		return Prediction{}, fmt.Errorf("tasks: super-resolution predict: trunk takes %d channels, the task %d", trunk.Config.InChannels, s.channels)
	}
	ex, lr := s.example(core.CenterCrop(img, s.cfg.Size))
	r, _, sh, err := s.residual(trunk, []core.Example{ex}, false)
	if err != nil {
		return Prediction{}, err
	}
	rd := mat.Data[float32](r.Value())
	view := ex.Views[0]
	sr := core.NewPlanar(sh.C, sh.H, sh.W)
	for i := range sr.Pix {
		sr.Pix[i] = view.Pix[i] + rd[i]
	}
	norm := normFor(s.channels)
	orig := core.Planar{C: sh.C, H: sh.H, W: sh.W, Pix: ex.Target}
	return Prediction{
		Image:   sr.Image(norm),
		Input:   nearestUp(lr, s.cfg.Factor).Image(norm),
		Summary: fmt.Sprintf("super-resolved %dx: PSNR %.1f dB (bicubic %.1f dB)", s.cfg.Factor, psnr(sr, orig, norm), psnr(view, orig, norm)),
	}, nil
}

// BaselineLoss is the loss of the bicubic upsample itself (a zero
// residual), computed from the examples alone.
func (s *SuperResolution) BaselineLoss(batch []core.Example) float64 {
	var sum float64
	var n int
	for _, ex := range batch {
		if len(ex.Views) == 0 || len(ex.Views[0].Pix) != len(ex.Target) {
			continue
		}
		for i, v := range ex.Views[0].Pix {
			d := float64(v) - float64(ex.Target[i])
			if s.cfg.Loss == "l1" {
				sum += math.Abs(d)
			} else {
				sum += d * d
			}
		}
		n += len(ex.Target)
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}
