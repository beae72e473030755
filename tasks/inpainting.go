package tasks

import (
	"encoding/gob"
	"fmt"
	"image"
	"math"
	"math/rand/v2"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/pretextlab/pretext/core"
)

// Inpainting is the context encoder of Pathak, Krähenbühl, Donahue, Darrell
// & Efros (2016, "Context Encoders: Feature Learning by Inpainting", CVPR):
// a region of each crop is removed (filled with the mean colour) and the
// network paints it back from the context around it. The trunk encodes the
// masked crop and a [Decoder] (transposed convolutions, as the paper's
// DCGAN-style decoder, or resampling + conv) brings its last maps back to
// the crop's resolution; its output is a residual added to the masked crop,
// so predicting nothing is predicting the mean in the hole.
//
// The hole is the central square of half the crop's side (mask "center",
// the paper's default: 64 of 128 pixels) or random squares of a quarter of
// the side placed until they cover at least a quarter of the crop (mask
// "blocks", the paper's random-block masks).
//
// Loss: the squared error (the paper's L2), averaged over the hole, with
// context pixels weighing ContextWeight each relative to a hole pixel. (The
// paper's decoder outputs only the hole, and a 4-pixel band of context
// around it weighs 10x in its loss so the fill meets its border; this
// decoder outputs the whole crop, and the small context weight plays that
// role.) The step's loss value is this reconstruction loss, with or
// without the adversary.
//
// Adversarial loss (AdvWeight > 0; the paper's λ_adv = 0.001 against
// λ_rec = 0.999): a small convolutional discriminator, part of this head,
// tells the original crops from the inpainted ones (the prediction pasted
// into the hole). Both players are trained by the one optimiser step: the
// inpainted crop reaches the discriminator through a gradient reversal
// layer (core.ReverseGradient, Ganin & Lempitsky 2015) of scale AdvWeight,
// and the discriminator's cross-entropy L_D enters the loss as
// L_D - stop(L_D), which adds 0 to the value but all of L_D's gradient. So
// the discriminator descends L_D at full rate while the decoder and trunk
// ascend it, scaled by AdvWeight (the minimax GAN objective of Goodfellow et
// al. 2014, one simultaneous gradient step per batch for both players).
//
// Example.Target holds the original crop (normalised as the view is, C
// planes of H x W) followed by one H x W plane of the hole mask (1 in the
// hole, 0 in the context). Class is unused.
//
// Score.Accuracy is the fraction of the mean fill's squared error in the
// hole that the prediction removes, 1 - SE(prediction)/SE(mean), clamped to
// [0, 1] (0: no better than the mean; 1: perfect).
type Inpainting struct {
	nn.Module
	// Decoder turns the trunk's maps into the residual image.
	Decoder *Decoder
	// Disc is the discriminator of the adversarial loss; nil when
	// AdvWeight is 0.
	Disc *Discriminator

	base[InpaintingConfig]
}

// Discriminator is the inpainting adversary: two 4x4 convolutions of stride
// 2 (padding 1, each followed by ReLU), global average pooling and a
// linear layer to two logits (inpainted, original).
type Discriminator struct {
	nn.Module
	// W1 is [16, C*16], W2 [32, 16*16] (Conv2D's layout).
	W1, W2 *nn.Param
	// W [2, 32] and B [2, 1] are the linear classifier.
	W, B *nn.Param
}

var (
	_ Task     = &Inpainting{}
	_ nn.Model = &Discriminator{}
)

func init() {
	gob.Register(&Inpainting{})
	gob.Register(&Discriminator{})
}

// inpaintingEntry is the task's registry entry.
var inpaintingEntry = entry{
	new:      fromConfig(NewInpainting),
	summary:  "paint back the missing centre of a photo from its context (Pathak et al. 2016)",
	defaults: Defaults{Optimizer: "adam", LR: 0.001, Steps: 300, Batch: 32},
	captions: []Caption{
		{Image: "original", Text: "original"},
		{Image: "input", Text: "masked input"},
		{Image: "image", Text: "inpainted"},
	},
}

// InpaintingConfig sets the inpainting task. The zero value is the
// default.
type InpaintingConfig struct {
	// Size is the side of the square crop (default 32, small enough to
	// train in a browser); it must come back from the trunk's maps by
	// doubling (a multiple of 4 for the default trunk).
	Size int `json:"size,omitempty"`
	// MinScale is the smallest crop area as a fraction of the photo's
	// (default 0.25), at most 1.
	MinScale float64 `json:"min_scale,omitempty"`
	// Mask is "center" (default) or "blocks".
	Mask string `json:"mask,omitempty"`
	// ContextWeight is a context pixel's weight in the loss relative to a
	// hole pixel's (default 0.01; negative: 0, the hole only), at most 1.
	ContextWeight float64 `json:"context_weight,omitempty"`
	// AdvWeight scales the adversarial gradient the decoder and trunk
	// receive (default 0: no adversary; the paper's 0.001), at most 1.
	AdvWeight float64 `json:"adv_weight,omitempty"`
	// Hidden is the decoder's first stage width, halved at each further
	// stage (default 32).
	Hidden int `json:"hidden,omitempty"`
	// Upsample is the decoder's upsampling: "deconv" (default), "nearest"
	// or "bilinear" (see Decoder).
	Upsample string `json:"upsample,omitempty"`
}

func (c InpaintingConfig) withDefaults() InpaintingConfig {
	if c.Size == 0 {
		c.Size = 32
	}
	if c.MinScale == 0 {
		c.MinScale = 0.25
	}
	if c.Mask == "" {
		c.Mask = "center"
	}
	if c.ContextWeight == 0 {
		c.ContextWeight = 0.01
	}
	if c.Hidden == 0 {
		c.Hidden = 32
	}
	if c.Upsample == "" {
		c.Upsample = "deconv"
	}
	return c
}

// contextWeight is the loss weight of a context pixel.
func (c InpaintingConfig) contextWeight() float32 { return float32(max(0, c.ContextWeight)) }

// greyMeanFill is the hole's fill for 1-channel trunks: the luminance
// (BT.601 weights, as core.TrunkInput) of ImageNet's mean colour
// (core.ImageNetNorm.Mean), the grey counterpart of the 0 that fills
// colour holes after ImageNet normalisation.
const greyMeanFill = 0.299*0.485 + 0.587*0.456 + 0.114*0.406

// discSpec is the discriminator's downsampling convolution.
var discSpec = core.ConvSpec{KH: 4, KW: 4, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}

// NewInpainting returns the inpainting task for trunk with a fresh head
// drawn from rng.
func NewInpainting(cfg InpaintingConfig, trunk *core.Trunk, rng *rand.Rand) (*Inpainting, error) {
	cfg = cfg.withDefaults()
	switch {
	case trunk == nil:
		return nil, fmt.Errorf("tasks: inpainting needs a trunk")
	case cfg.Size < 4 || cfg.Size > maxTaskSide:
		return nil, fmt.Errorf("tasks: inpainting size %d out of range [4, %d]", cfg.Size, maxTaskSide)
	case !(cfg.MinScale > 0 && cfg.MinScale <= 1):
		return nil, fmt.Errorf("tasks: inpainting min_scale %v out of range (0, 1]", cfg.MinScale)
	case cfg.Mask != "center" && cfg.Mask != "blocks":
		return nil, fmt.Errorf("tasks: inpainting mask %q, want center or blocks", cfg.Mask)
	case math.IsNaN(cfg.ContextWeight) || cfg.ContextWeight > 1:
		return nil, fmt.Errorf("tasks: inpainting context_weight %v, want at most 1", cfg.ContextWeight)
	case !(cfg.AdvWeight >= 0 && cfg.AdvWeight <= 1):
		return nil, fmt.Errorf("tasks: inpainting adv_weight %v out of range [0, 1]", cfg.AdvWeight)
	}
	dec, err := newDecoder(trunk, cfg.Size, cfg.Hidden, cfg.Upsample, false, rng)
	if err != nil {
		return nil, fmt.Errorf("tasks: inpainting: %w", err)
	}
	t := &Inpainting{Decoder: dec, base: newBase("inpainting", cfg, trunk)}
	if cfg.AdvWeight > 0 {
		c := t.channels
		s := core.Shape{N: 1, C: c, H: cfg.Size, W: cfg.Size}
		if s, err = discSpec.Out(s, 16); err == nil {
			_, err = discSpec.Out(s, 32)
		}
		if err != nil {
			return nil, fmt.Errorf("tasks: inpainting discriminator: %w", err)
		}
		t.Disc = &Discriminator{
			W1: nn.NewParam(core.HeNormal(16, c*16, c*16, rng)),
			W2: nn.NewParam(core.HeNormal(32, 16*16, 16*16, rng)),
			W:  nn.NewParam(core.UniformFanIn(2, 32, 32, rng)),
			B:  nn.NewParam(core.UniformFanIn(2, 1, 32, rng)),
		}
	}
	return t, nil
}

// InputSize implements Task.
func (t *Inpainting) InputSize() int { return t.cfg.Size }

// Needs implements Task: any photo (crops are resized to the
// input size).
func (t *Inpainting) Needs() Needs { return Needs{MinSide: 1} }

// holeMask returns the size x size hole mask (true in the hole) of the
// configured kind; "blocks" draws the blocks from rng.
func (t *Inpainting) holeMask(rng *rand.Rand) []bool {
	s := t.cfg.Size
	m := make([]bool, s*s)
	fill := func(x0, y0, side int) int {
		added := 0
		for y := y0; y < y0+side; y++ {
			for x := x0; x < x0+side; x++ {
				if !m[y*s+x] {
					m[y*s+x] = true
					added++
				}
			}
		}
		return added
	}
	if t.cfg.Mask == "center" {
		side := s / 2
		fill((s-side)/2, (s-side)/2, side)
		return m
	}
	// Blocks of a quarter of the side until they cover a quarter of the
	// crop, as much hole as the central square leaves.
	side := max(1, s/4)
	for covered := 0; 4*covered < s*s; {
		covered += fill(rng.IntN(s-side+1), rng.IntN(s-side+1), side)
	}
	return m
}

// fillValue is the mean a hole is filled with, per channel of the view.
func (t *Inpainting) fillValue() float32 {
	if t.channels == 1 {
		return greyMeanFill
	}
	return 0 // ImageNet's mean colour after normalisation
}

// example returns the masked view and the target (original planes, then
// the mask plane) of crop with hole mask m.
func (t *Inpainting) example(crop *image.NRGBA, m []bool) core.Example {
	orig := core.TrunkInput(crop, t.channels)
	hw := orig.H * orig.W
	view := core.NewPlanar(orig.C, orig.H, orig.W)
	copy(view.Pix, orig.Pix)
	target := make([]float32, (orig.C+1)*hw)
	copy(target, orig.Pix)
	fill := t.fillValue()
	for i, hole := range m {
		if !hole {
			continue
		}
		target[orig.C*hw+i] = 1
		for c := range orig.C {
			view.Pix[c*hw+i] = fill
		}
	}
	return core.Example{Views: []core.Planar{view}, Target: target}
}

// Examples implements Task: one example, a random crop (and flip) of
// the photo with its hole filled by the mean.
func (t *Inpainting) Examples(dst []core.Example, img *image.NRGBA, rng *rand.Rand) ([]core.Example, error) {
	if err := needPhoto(img); err != nil {
		return dst, err
	}
	crop := core.RandomResizedCrop(img, t.cfg.Size, core.CropConfig{MinScale: t.cfg.MinScale}, rng)
	crop = core.RandomFlip(crop, rng)
	return append(dst, t.example(crop, t.holeMask(rng))), nil
}

// inpaintBatch is a batch in the batch layout: the masked views x, the
// originals and the per-position hole mask.
type inpaintBatch struct {
	x      []float32 // [C, N*H*W] masked views
	orig   []float32 // [C, N*H*W] originals
	hole   []float32 // [N*H*W] 1 in the hole, 0 in the context
	s      core.Shape
	weight []float32 // [N*H*W] loss weights
}

// stack checks batch and lays it out.
func (t *Inpainting) stack(batch []core.Example) (inpaintBatch, error) {
	views := make([]core.Planar, len(batch))
	for i, ex := range batch {
		if len(ex.Views) == 0 {
			return inpaintBatch{}, fmt.Errorf("tasks: inpainting example %d has no image", i)
		}
		views[i] = ex.Views[0]
	}
	x, s, err := core.Stack(views)
	if err != nil {
		return inpaintBatch{}, fmt.Errorf("tasks: inpainting: %w", err)
	}
	hw := s.H * s.W
	origs, holes := make([][]float32, len(batch)), make([][]float32, len(batch))
	for i, ex := range batch {
		if len(ex.Target) != (s.C+1)*hw {
			return inpaintBatch{}, fmt.Errorf("tasks: inpainting example %d has %d target values, want %d (%d planes of %dx%d and the mask)", i, len(ex.Target), (s.C+1)*hw, s.C, s.H, s.W)
		}
		origs[i], holes[i] = ex.Target[:s.C*hw], ex.Target[s.C*hw:]
	}
	b := inpaintBatch{x: x, orig: planesOf(origs, s.C, hw), hole: planesOf(holes, 1, hw), s: s}
	b.weight = make([]float32, len(b.hole))
	cw := t.cfg.contextWeight()
	holePixels := 0
	for i, h := range b.hole {
		b.weight[i] = cw
		if h != 0 {
			b.weight[i] = 1
			holePixels++
		}
	}
	if holePixels == 0 {
		return inpaintBatch{}, fmt.Errorf("tasks: inpainting batch has no hole")
	}
	return b, nil
}

// residual runs trunk and decoder on the masked views: the residual to add
// to them, [C, N*H*W].
func (t *Inpainting) residual(trunk *core.Trunk, b inpaintBatch, train bool) (mat.Tensor, mat.Tensor, error) {
	x := matrix(b.s.C, b.s.Cols(), b.x)
	f, fs, err := trunk.Maps(x, b.s, train)
	if err != nil {
		return nil, nil, err
	}
	r, err := t.Decoder.Forward(f, fs, x, b.s, train)
	return r, x, err
}

// Loss implements core.Objective: see the type's doc.
func (t *Inpainting) Loss(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, core.Score, error) {
	b, err := t.stack(batch)
	if err != nil {
		return nil, core.Score{}, err
	}
	r, x, err := t.residual(trunk, b, train)
	if err != nil {
		return nil, core.Score{}, fmt.Errorf("tasks: inpainting: %w", err)
	}
	want := make([]float32, len(b.x))
	for i := range want {
		want[i] = b.orig[i] - b.x[i]
	}
	loss, err := core.PixelLoss(r, want, b.weight, core.SquaredError)
	if err != nil {
		return nil, core.Score{}, fmt.Errorf("tasks: inpainting: %w", err)
	}
	score := core.Score{Accuracy: errorGain(mat.Data[float32](r.Value()), want, b.hole)}
	if train && t.Disc != nil {
		ld, err := t.adversarial(r, x, b)
		if err != nil {
			return nil, core.Score{}, fmt.Errorf("tasks: inpainting adversary: %w", err)
		}
		// L_D - stop(L_D) is exactly 0 but carries L_D's gradient.
		loss = ag.Add(loss, ag.Sub(ld, ag.StopGrad(ld)))
	}
	return loss, score, nil
}

// adversarial returns the discriminator's mean cross-entropy on the
// batch's originals (class 1) and inpainted crops (class 0); the inpainted
// crops x + hole⊙r reach it through a gradient reversal of scale AdvWeight.
func (t *Inpainting) adversarial(r, x mat.Tensor, b inpaintBatch) (mat.Tensor, error) {
	rev, err := core.ReverseGradient(r, float32(t.cfg.AdvWeight))
	if err != nil {
		return nil, err
	}
	holes := make([]float32, len(b.x))
	p := len(b.hole)
	for i := range holes {
		holes[i] = b.hole[i%p]
	}
	fake := ag.Add(ag.Prod(rev, matrix(b.s.C, p, holes)), x)
	real := matrix(b.s.C, p, b.orig)
	lr, err := t.Disc.loss(real, b.s, 1)
	if err != nil {
		return nil, err
	}
	lf, err := t.Disc.loss(fake, b.s, 0)
	if err != nil {
		return nil, err
	}
	return ag.ProdScalar(ag.Add(lr, lf), mat.Scalar[float32](0.5)), nil
}

// logits returns the discriminator's [N, 2] logits for images x.
func (d *Discriminator) logits(x mat.Tensor, s core.Shape) (mat.Tensor, error) {
	h, hs, err := core.Conv2D(x, s, d.W1, discSpec)
	if err != nil {
		return nil, err
	}
	if h, err = core.ReLU(h); err != nil {
		return nil, err
	}
	if h, hs, err = core.Conv2D(h, hs, d.W2, discSpec); err != nil {
		return nil, err
	}
	if h, err = core.ReLU(h); err != nil {
		return nil, err
	}
	if h, err = core.GlobalAvgPool(h, hs); err != nil {
		return nil, err
	}
	return core.Linear(h, d.W, d.B)
}

// loss is the discriminator's cross-entropy on images x, all of class.
func (d *Discriminator) loss(x mat.Tensor, s core.Shape, class int) (mat.Tensor, error) {
	z, err := d.logits(x, s)
	if err != nil {
		return nil, err
	}
	labels := make([]int, s.N)
	for i := range labels {
		labels[i] = class
	}
	l, _, err := core.SoftmaxCrossEntropy(z, labels, nil)
	return l, err
}

// Predict implements Task: the photo's centre crop with a hole (the
// central square, or blocks drawn from rng) is inpainted. Input is the
// masked crop, Image the crop with the prediction pasted into the hole, and
// Summary the hole's PSNR against the original beside the mean fill's.
func (t *Inpainting) Predict(trunk *core.Trunk, img *image.NRGBA, rng *rand.Rand) (Prediction, error) {
	if err := needPhoto(img); err != nil {
		return Prediction{}, err
	}
	if trunk == nil {
		return Prediction{}, fmt.Errorf("tasks: inpainting predict needs a trunk")
	}
	if trunk.Config.InChannels != t.channels {
		return Prediction{}, fmt.Errorf("tasks: inpainting predict: trunk takes %d channels, the task %d", trunk.Config.InChannels, t.channels)
	}
	if rng == nil {
		rng = rand.New(rand.NewPCG(0, 0))
	}
	ex := t.example(core.CenterCrop(img, t.cfg.Size), t.holeMask(rng))
	b, err := t.stack([]core.Example{ex})
	if err != nil {
		return Prediction{}, err
	}
	r, _, err := t.residual(trunk, b, false)
	if err != nil {
		return Prediction{}, fmt.Errorf("tasks: inpainting predict: %w", err)
	}
	rd := mat.Data[float32](r.Value())
	view := ex.Views[0]
	out := core.NewPlanar(view.C, view.H, view.W)
	hw := view.H * view.W
	var holeOut, holeFill, holeOrig []float32
	for i, v := range view.Pix {
		out.Pix[i] = b.orig[i]
		if b.hole[i%hw] != 0 {
			out.Pix[i] = v + rd[i]
			holeOut, holeFill, holeOrig = append(holeOut, out.Pix[i]), append(holeFill, v), append(holeOrig, b.orig[i])
		}
	}
	norm := normFor(t.channels)
	// PSNR over the hole only: channel c's hole values are contiguous.
	asPlanar := func(v []float32) core.Planar { return core.Planar{C: view.C, H: 1, W: len(v) / view.C, Pix: v} }
	pOut, pFill := psnr(asPlanar(holeOut), asPlanar(holeOrig), norm), psnr(asPlanar(holeFill), asPlanar(holeOrig), norm)
	return Prediction{
		Image:   out.Image(norm),
		Input:   view.Image(norm),
		Summary: fmt.Sprintf("inpainted: hole PSNR %.1f dB (mean fill %.1f dB)", pOut, pFill),
	}, nil
}

// BaselineLoss is the loss of predicting the mean in the hole (a zero
// residual: the masked view itself), computed from the examples alone.
func (t *Inpainting) BaselineLoss(batch []core.Example) float64 {
	var num, den float64
	cw := float64(t.cfg.contextWeight())
	for _, ex := range batch {
		if len(ex.Views) == 0 {
			continue
		}
		v := ex.Views[0]
		hw := v.H * v.W
		if len(ex.Target) != (v.C+1)*hw {
			continue
		}
		for i := range hw {
			w := cw
			if ex.Target[v.C*hw+i] != 0 {
				w = 1
			}
			den += w * float64(v.C)
			for c := range v.C {
				d := float64(v.Pix[c*hw+i]) - float64(ex.Target[c*hw+i])
				num += w * d * d
			}
		}
	}
	if den == 0 {
		return 0
	}
	return num / den
}
