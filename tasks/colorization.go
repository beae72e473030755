package tasks

import (
	"encoding/gob"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"sync"

	"github.com/disintegration/imaging"
	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/pretextlab/pretext/core"
)

// Colorization is the colourisation pretext task of Zhang, Isola & Efros
// (2016, "Colorful Image Colorization", ECCV): the trunk sees only a photo's
// lightness (CIE L*, shown as a grey RGB image so the same 3-channel trunk
// serves every task) and a per-position head classifies the colour (the
// a*b* chroma) of each cell of the trunk's last feature maps into the
// paper's Q = 313 in-gamut ab bins of grid size 10.
//
// As in the paper the targets are soft-encoded (each ab value spread over
// its 5 nearest bin centres with Gaussian weights, sigma 5), the
// cross-entropy is rebalanced towards rare colours (weights
// ((1-λ)·p̃ + λ/Q)^-1 normalised so that Σ p̃·w = 1, λ = 0.5, applied per
// position by the target's nearest bin) and predictions are decoded by the
// annealed mean (softmax at temperature T = 0.38, mean of the bin
// centres). The colour prior p̃ is not ImageNet's: it is estimated from the
// photos the task is given — Examples accumulates their soft-encoded bin
// counts in Prior, a non-trainable parameter saved in checkpoints — and
// smoothed with a Gaussian of width sigma in the ab plane. Before any
// photo it is uniform (all weights 1).
//
// Example.Target holds the ab values the loss soft-encodes: 2·h·w float32
// values, the a plane then the b plane, each h x w row-major, at the
// resolution of the trunk's last maps (h x w = trunk.OutShape of the input,
// 16x16 for 64x64 inputs and the default trunk), each the area average of
// the crop's ab over the input pixels under the cell. Class is unused.
type Colorization struct {
	nn.Module
	// W1 is the hidden 1x1 convolution, [Hidden, C] for the trunk's C
	// output channels; Gamma, Beta, RunMean and RunVar its batch-norm
	// ([Hidden, 1]), followed by a ReLU.
	W1                           *nn.Param
	Gamma, Beta, RunMean, RunVar *nn.Param
	// W2 is the per-position classifier, a 1x1 convolution [Q, Hidden].
	W2 *nn.Param
	// Prior holds the accumulated soft-encoded bin counts of the photos
	// Examples has seen, [Q, 1]; it takes no gradient.
	Prior *nn.Param

	base[ColorizationConfig]
	out     core.Shape // the trunk's output geometry for one input
	priorMu sync.Mutex // guards Prior's values
}

var _ Task = &Colorization{}

func init() { gob.Register(&Colorization{}) }

// colorizationEntry is the task's registry entry.
var colorizationEntry = entry{
	new:      fromConfig(NewColorization),
	summary:  "restore the colours of a grey photo (Zhang, Isola & Efros 2016)",
	defaults: Defaults{Optimizer: "adam", LR: 0.001, Steps: 200, Batch: 16},
	captions: []Caption{
		{Image: "input", Text: "grey input"},
		{Image: "image", Text: "colourised"},
		{Image: "original", Text: "original"},
	},
}

// ColorizationConfig sets the colourisation task. The zero value is the
// default; there is no colour jitter (the colours are the labels), only
// random resized crops and flips.
type ColorizationConfig struct {
	// Size is the side of the square crop the trunk sees (default 64).
	Size int `json:"size,omitempty"`
	// MinScale is the smallest crop area as a fraction of the photo's
	// (default 0.25), at most 1.
	MinScale float64 `json:"min_scale,omitempty"`
	// Hidden is the number of channels of the head's hidden 1x1
	// conv-BN-ReLU layer (default 64).
	Hidden int `json:"hidden,omitempty"`
	// Temperature is the annealed mean's softmax temperature (default
	// 0.38, the paper's); 1 is the plain mean, towards 0 the mode.
	Temperature float64 `json:"temperature,omitempty"`
	// Lambda mixes the colour prior with the uniform distribution in the
	// rebalancing weights (default 0.5, the paper's), in (0, 1].
	Lambda float64 `json:"lambda,omitempty"`
	// Sigma is the width, in ab units, of the Gaussians of the soft
	// encoding and of the prior's smoothing (default 5, the paper's).
	Sigma float64 `json:"sigma,omitempty"`
}

func (c ColorizationConfig) withDefaults() ColorizationConfig {
	if c.Size == 0 {
		c.Size = 64
	}
	if c.MinScale == 0 {
		c.MinScale = 0.25
	}
	if c.Hidden == 0 {
		c.Hidden = 64
	}
	if c.Temperature == 0 {
		c.Temperature = 0.38
	}
	if c.Lambda == 0 {
		c.Lambda = 0.5
	}
	if c.Sigma == 0 {
		c.Sigma = 5
	}
	return c
}

// colorSoftK is the number of nearest bins a target is spread over.
const colorSoftK = 5

// NewColorization returns the colourisation task for trunk with a fresh head
// drawn from rng (He-normal hidden layer, classifier uniform in
// ±1/√Hidden) and a uniform prior.
func NewColorization(cfg ColorizationConfig, trunk *core.Trunk, rng *rand.Rand) (*Colorization, error) {
	cfg = cfg.withDefaults()
	switch {
	case trunk == nil:
		return nil, fmt.Errorf("tasks: colorization needs a trunk")
	case cfg.Size < 1 || cfg.Size > maxTaskSide:
		return nil, fmt.Errorf("tasks: colorization size %d out of range [1, %d]", cfg.Size, maxTaskSide)
	case !(cfg.MinScale > 0 && cfg.MinScale <= 1):
		return nil, fmt.Errorf("tasks: colorization min_scale %v out of range (0, 1]", cfg.MinScale)
	case cfg.Hidden < 1 || cfg.Hidden > 4096:
		return nil, fmt.Errorf("tasks: colorization hidden %d out of range [1, 4096]", cfg.Hidden)
	case !(cfg.Temperature > 0 && cfg.Temperature <= 10):
		return nil, fmt.Errorf("tasks: colorization temperature %v out of range (0, 10]", cfg.Temperature)
	case !(cfg.Lambda > 0 && cfg.Lambda <= 1):
		return nil, fmt.Errorf("tasks: colorization lambda %v out of range (0, 1]", cfg.Lambda)
	case !(cfg.Sigma > 0 && cfg.Sigma <= 100):
		return nil, fmt.Errorf("tasks: colorization sigma %v out of range (0, 100]", cfg.Sigma)
	}
	out, err := trunk.OutShape(core.Shape{N: 1, C: trunk.Config.InChannels, H: cfg.Size, W: cfg.Size})
	if err != nil {
		return nil, fmt.Errorf("tasks: colorization: %w", err)
	}
	c, hid, q := out.C, cfg.Hidden, len(abBins)
	if err := checkHead("colorization", (c+4)*hid+(hid+1)*q); err != nil {
		return nil, err
	}
	w1 := core.HeNormal(hid, c, c, rng)
	w2 := core.UniformFanIn(q, hid, hid, rng)
	ones := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = 1
		}
		return v
	}
	return &Colorization{
		W1:      nn.NewParam(w1),
		Gamma:   nn.NewParam(matrix(hid, 1, ones(hid))),
		Beta:    nn.NewParam(matrix(hid, 1, make([]float32, hid))),
		RunMean: nn.NewParam(matrix(hid, 1, make([]float32, hid))).WithGrad(false),
		RunVar:  nn.NewParam(matrix(hid, 1, ones(hid))).WithGrad(false),
		W2:      nn.NewParam(w2),
		Prior:   nn.NewParam(matrix(q, 1, make([]float32, q))).WithGrad(false),
		base:    newBase("colorization", cfg, trunk),
		out:     out,
	}, nil
}

// InputSize implements Task.
func (c *Colorization) InputSize() int { return c.cfg.Size }

// Needs implements Task: colour photos (it predicts colour from grey, so
// grey ones teach it nothing) of any size (crops are resized to the input
// size).
func (c *Colorization) Needs() Needs { return Needs{Colour: true, MinSide: 1} }

// TargetSize returns the h x w grid of the targets: the trunk's output maps
// for one input.
func (c *Colorization) TargetSize() (h, w int) { return c.out.H, c.out.W }

// labPlanes converts img to L*a*b*: three w*h row-major planes.
func labPlanes(img *image.NRGBA) (l, a, b []float64) {
	bd := img.Bounds()
	w, h := bd.Dx(), bd.Dy()
	l, a, b = make([]float64, w*h), make([]float64, w*h), make([]float64, w*h)
	for y := range h {
		row := img.Pix[(y)*img.Stride:]
		for x := range w {
			l[y*w+x], a[y*w+x], b[y*w+x] = rgbToLab(row[4*x], row[4*x+1], row[4*x+2])
		}
	}
	return l, a, b
}

// greyImage returns the neutral grey image of lightness plane l (w x h).
func greyImage(l []float64, w, h int) *image.NRGBA {
	// 8-bit greys by L*, from a table of the lightness of every grey level.
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i, v := range l {
		g := greyFromL(v)
		out.Pix[4*i], out.Pix[4*i+1], out.Pix[4*i+2], out.Pix[4*i+3] = g, g, g, 255
	}
	return out
}

// greyL is the L* of each 8-bit grey level (increasing).
var greyL = func() (t [256]float64) {
	for i := range t {
		t[i], _, _ = rgbToLab(uint8(i), uint8(i), uint8(i))
	}
	return t
}()

// greyFromL returns the 8-bit grey level whose L* is nearest l.
func greyFromL(l float64) uint8 {
	lo, hi := 0, 255
	for lo < hi { // first level with L* >= l
		mid := (lo + hi) / 2
		if greyL[mid] < l {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo > 0 && l-greyL[lo-1] < greyL[lo]-l {
		lo--
	}
	return uint8(lo)
}

// areaMean averages plane (w x h) over the cells of an oh x ow grid, cell
// (i, j) covering rows [i*h/oh, (i+1)*h/oh) and columns likewise (at least
// one pixel), into dst.
func areaMean(dst []float32, plane []float64, w, h, oh, ow int) {
	for i := range oh {
		y0, y1 := i*h/oh, max((i+1)*h/oh, i*h/oh+1)
		for j := range ow {
			x0, x1 := j*w/ow, max((j+1)*w/ow, j*w/ow+1)
			var s float64
			for y := y0; y < y1; y++ {
				for x := x0; x < x1; x++ {
					s += plane[y*w+x]
				}
			}
			dst[i*ow+j] = float32(s / float64((y1-y0)*(x1-x0)))
		}
	}
}

// Examples implements Task: one example, a random crop (and flip) of
// the photo as its grey lightness, with the crop's ab at the trunk's output
// resolution as target. (Training steps add the targets to Prior, in Loss.)
func (c *Colorization) Examples(dst []core.Example, img *image.NRGBA, rng *rand.Rand) ([]core.Example, error) {
	if err := needPhoto(img); err != nil {
		return dst, err
	}
	s := c.cfg.Size
	crop := core.RandomResizedCrop(img, s, core.CropConfig{MinScale: c.cfg.MinScale}, rng)
	crop = core.RandomFlip(crop, rng)
	l, a, b := labPlanes(crop)
	oh, ow := c.out.H, c.out.W
	target := make([]float32, 2*oh*ow)
	areaMean(target[:oh*ow], a, s, s, oh, ow)
	areaMean(target[oh*ow:], b, s, s, oh, ow)
	return append(dst, core.Example{
		Views:  []core.Planar{core.TrunkInput(greyImage(l, s, s), c.channels)},
		Target: target,
	}), nil
}

// priorLimit bounds Prior's total: past it the counts are halved, which
// keeps float32 increments exact enough and lets recent photos weigh more.
const priorLimit = 1 << 20

// addToPrior adds the soft encoding of every position of target (a plane,
// b plane) to Prior, one unit of mass per example.
func (c *Colorization) addToPrior(target []float32) {
	n := len(target) / 2
	q := len(abBins)
	counts := make([]float64, q)
	for i := range n {
		idx, w := softEncode(float64(target[i]), float64(target[n+i]), c.cfg.Sigma)
		for k := range idx {
			counts[idx[k]] += float64(w[k]) / float64(n)
		}
	}
	c.priorMu.Lock()
	defer c.priorMu.Unlock()
	p := mat.Data[float32](c.Prior.Value())
	var total float64
	for k, v := range counts {
		p[k] += float32(v)
		total += float64(p[k])
	}
	if total > priorLimit {
		for k := range p {
			p[k] /= 2
		}
	}
}

// priorCounts returns a copy of Prior's counts.
func (c *Colorization) priorCounts() []float64 {
	c.priorMu.Lock()
	defer c.priorMu.Unlock()
	p := mat.Data[float32](c.Prior.Value())
	out := make([]float64, len(p))
	for i, v := range p {
		out[i] = float64(v)
	}
	return out
}

// softEncode returns ab's colorSoftK nearest bins (nearest first) and their
// Gaussian weights exp(-d²/2σ²), normalised to sum to 1.
func softEncode(a, b, sigma float64) (idx [colorSoftK]int, w [colorSoftK]float32) {
	var d2 [colorSoftK]float64
	for k := range d2 {
		d2[k] = math.Inf(1)
	}
	for q, c := range abBins {
		da, db := a-float64(c[0]), b-float64(c[1])
		d := da*da + db*db
		if d >= d2[colorSoftK-1] {
			continue
		}
		k := colorSoftK - 1
		for k > 0 && d2[k-1] > d {
			d2[k], idx[k] = d2[k-1], idx[k-1]
			k--
		}
		d2[k], idx[k] = d, q
	}
	var g [colorSoftK]float64
	var s float64
	for k := range g {
		// Relative to the nearest bin, so far-off colours do not underflow.
		g[k] = math.Exp(-(d2[k] - d2[0]) / (2 * sigma * sigma))
		s += g[k]
	}
	for k := range w {
		w[k] = float32(g[k] / s)
	}
	return idx, w
}

// smoothPrior returns the empirical bin distribution of counts (uniform if
// empty) convolved with a Gaussian of width sigma over the bin centres and
// renormalised (mass smoothed out of the gamut is dropped): the paper's p̃.
func smoothPrior(counts []float64, sigma float64) []float64 {
	q := len(counts)
	var total float64
	for _, v := range counts {
		total += v
	}
	p := make([]float64, q)
	if !(total > 0) {
		for i := range p {
			p[i] = 1 / float64(q)
		}
		return p
	}
	var s float64
	for i, ci := range abBins {
		var v float64
		for j, cj := range abBins {
			da, db := float64(ci[0]-cj[0]), float64(ci[1]-cj[1])
			v += math.Exp(-(da*da+db*db)/(2*sigma*sigma)) * counts[j] / total
		}
		p[i] = v
		s += v
	}
	for i := range p {
		p[i] /= s
	}
	return p
}

// rebalanceWeights returns the paper's class-rebalancing weights for the
// smoothed prior p: w ∝ ((1-λ)·p + λ/Q)^-1 with Σ p·w = 1.
func rebalanceWeights(p []float64, lambda float64) []float64 {
	q := float64(len(p))
	w := make([]float64, len(p))
	var s float64
	for i, v := range p {
		w[i] = 1 / ((1-lambda)*v + lambda/q)
		s += v * w[i]
	}
	for i := range w {
		w[i] /= s
	}
	return w
}

// logits runs trunk and head on the batch's first views: [Q, N*h*w] and
// the trunk's output geometry.
func (c *Colorization) logits(trunk *core.Trunk, views []core.Planar, train bool) (mat.Tensor, core.Shape, error) {
	x, s, err := core.Stack(views)
	if err != nil {
		return nil, core.Shape{}, err
	}
	f, fs, err := trunk.Maps(matrix(s.C, s.Cols(), x), s, train)
	if err != nil {
		return nil, core.Shape{}, err
	}
	pw := core.ConvSpec{KH: 1, KW: 1}
	h, hs, err := core.Conv2D(f, fs, c.W1, pw)
	if err != nil {
		return nil, core.Shape{}, err
	}
	stats := core.BNStats{Mean: mat.Data[float32](c.RunMean.Value()), Var: mat.Data[float32](c.RunVar.Value())}
	if h, err = core.BatchNorm2D(h, hs, c.Gamma, c.Beta, stats, core.BNOptions{Train: train, ReLU: true}); err != nil {
		return nil, core.Shape{}, err
	}
	z, _, err := core.Conv2D(h, hs, c.W2, pw)
	if err != nil {
		return nil, core.Shape{}, err
	}
	return z, fs, nil
}

// Loss implements core.Objective: the rebalanced soft cross-entropy of the
// per-position bin logits (core.SoftCrossEntropyColumns, the weighted mean
// over positions); accuracy is the fraction of positions whose most likely
// bin is the target's nearest.
func (c *Colorization) Loss(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, core.Score, error) {
	views := make([]core.Planar, len(batch))
	for i, ex := range batch {
		if len(ex.Views) == 0 {
			return nil, core.Score{}, fmt.Errorf("tasks: colorization example %d has no image", i)
		}
		views[i] = ex.Views[0]
	}
	z, s, err := c.logits(trunk, views, train)
	if err != nil {
		return nil, core.Score{}, fmt.Errorf("tasks: colorization: %w", err)
	}
	hw := s.H * s.W
	for i, ex := range batch {
		if len(ex.Target) != 2*hw {
			return nil, core.Score{}, fmt.Errorf("tasks: colorization example %d has %d target values, want %d (ab at %dx%d)", i, len(ex.Target), 2*hw, s.H, s.W)
		}
	}
	if train {
		// The prior is estimated from what the task trains on; evaluation
		// (held-out photos) must not change the model.
		for _, ex := range batch {
			c.addToPrior(ex.Target)
		}
	}
	targets, weights := c.encodeBatch(batch, hw)
	loss, acc, err := core.SoftCrossEntropyColumns(z, targets, weights)
	if err != nil {
		return nil, core.Score{}, fmt.Errorf("tasks: colorization: %w", err)
	}
	return loss, core.Score{Accuracy: acc}, nil
}

// encodeBatch soft-encodes the batch's targets into the [Q, N*hw] layout of
// the logits and returns each position's rebalancing weight (its nearest
// bin's).
func (c *Colorization) encodeBatch(batch []core.Example, hw int) (targets, weights []float32) {
	rw := rebalanceWeights(smoothPrior(c.priorCounts(), c.cfg.Sigma), c.cfg.Lambda)
	cols := len(batch) * hw
	targets = make([]float32, len(abBins)*cols)
	weights = make([]float32, cols)
	for n, ex := range batch {
		for i := range hw {
			col := n*hw + i
			idx, w := softEncode(float64(ex.Target[i]), float64(ex.Target[hw+i]), c.cfg.Sigma)
			for k := range idx {
				targets[idx[k]*cols+col] = w[k]
			}
			weights[col] = float32(rw[idx[0]])
		}
	}
	return targets, weights
}

// annealedMean decodes logits z ([Q, P]) into ab per position: the mean of
// the bin centres under softmax(z/T), the paper's p^(1/T) renormalised.
func annealedMean(z []float32, p int, temp float64) (a, b []float64) {
	a, b = make([]float64, p), make([]float64, p)
	q := len(abBins)
	e := make([]float64, q)
	for col := range p {
		zmax := math.Inf(-1)
		for k := range q {
			zmax = max(zmax, float64(z[k*p+col]))
		}
		var s, sa, sb float64
		for k := range q {
			e[k] = math.Exp((float64(z[k*p+col]) - zmax) / temp)
			s += e[k]
			sa += e[k] * float64(abBins[k][0])
			sb += e[k] * float64(abBins[k][1])
		}
		a[col], b[col] = sa/s, sb/s
	}
	return a, b
}

// Predict implements Task: the photo, scaled so its shorter side is
// Size (its longer at most 4·Size), is shown to the trunk as grey; the
// annealed-mean ab at the trunk's output resolution is upsampled
// (bilinear) to the photo's size and joined to the photo's own L*.
// Image is the colourised photo, Input the grey photo, and Summary the mean
// colour error (CIE76 ΔE) against the original, beside the grey photo's.
func (c *Colorization) Predict(trunk *core.Trunk, img *image.NRGBA, rng *rand.Rand) (Prediction, error) {
	if err := needPhoto(img); err != nil {
		return Prediction{}, err
	}
	if trunk == nil {
		return Prediction{}, fmt.Errorf("tasks: colorization predict needs a trunk")
	}
	src := imaging.Clone(img) // Min at (0, 0)
	w, h := src.Rect.Dx(), src.Rect.Dy()
	s := c.cfg.Size
	iw, ih := s, s
	if w > h {
		iw = min(4*s, max(s, int(math.Round(float64(w)*float64(s)/float64(h)))))
	} else if h > w {
		ih = min(4*s, max(s, int(math.Round(float64(h)*float64(s)/float64(w)))))
	}
	small := imaging.Resize(src, iw, ih, imaging.Linear)
	sl, _, _ := labPlanes(small)
	z, zs, err := c.logits(trunk, []core.Planar{core.TrunkInput(greyImage(sl, iw, ih), trunk.Config.InChannels)}, false)
	if err != nil {
		return Prediction{}, fmt.Errorf("tasks: colorization predict: %w", err)
	}
	pa, pb := annealedMean(mat.Data[float32](z.Value()), zs.H*zs.W, c.cfg.Temperature)
	ua, ub := bilinear(pa, zs.W, zs.H, w, h), bilinear(pb, zs.W, zs.H, w, h)
	l, a, b := labPlanes(src)
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	var errColour, errGrey float64
	for i := range l {
		r, g, bb := labToRGB(l[i], ua[i], ub[i])
		out.Pix[4*i], out.Pix[4*i+1], out.Pix[4*i+2], out.Pix[4*i+3] = r, g, bb, 255
		ol, oa, ob := rgbToLab(r, g, bb)
		errColour += math.Sqrt((ol-l[i])*(ol-l[i]) + (oa-a[i])*(oa-a[i]) + (ob-b[i])*(ob-b[i]))
		errGrey += math.Hypot(a[i], b[i])
	}
	n := float64(len(l))
	return Prediction{
		Image:   out,
		Input:   greyImage(l, w, h),
		Summary: fmt.Sprintf("colourised: mean ΔE %.1f from the original (grey: %.1f)", errColour/n, errGrey/n),
	}, nil
}

// BaselineLoss is the loss of predicting the smoothed prior p̃ at every
// position of batch (with the task's rebalancing weights), computed
// independently of the head: the trained head must beat it.
func (c *Colorization) BaselineLoss(batch []core.Example) float64 {
	p := smoothPrior(c.priorCounts(), c.cfg.Sigma)
	w := rebalanceWeights(p, c.cfg.Lambda)
	var num, den float64
	for _, ex := range batch {
		n := len(ex.Target) / 2
		for i := range n {
			idx, sw := softEncode(float64(ex.Target[i]), float64(ex.Target[n+i]), c.cfg.Sigma)
			var ce float64
			for k := range idx {
				ce -= float64(sw[k]) * math.Log(p[idx[k]])
			}
			num += w[idx[0]] * ce
			den += w[idx[0]]
		}
	}
	return num / den
}
