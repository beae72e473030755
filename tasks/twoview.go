package tasks

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/disintegration/imaging"
	"github.com/nlpodyssey/spago/mat"

	"github.com/pretextlab/pretext/core"
)

// The joint-embedding methods' shared parts (simclr and the methods after
// it; dino and swav add multicrop.go's views): the two-view augmentation of
// SimCLR's appendix A, the batch's forward pass over every view, the
// nearest-neighbour preview and the view-matching measure they share.

// ViewConfig is the augmentation that makes a photo's views: a random
// resized crop, a left-right flip, colour jitter, grey and blur, in that
// order (Chen et al. 2020, appendix A; the same pipeline, with these
// defaults, serves the methods after SimCLR, as solo-learn's does). The
// zero value is the default. Its fields sit at the top level of a method's
// JSON settings.
type ViewConfig struct {
	// Size is the side of the square views the trunk sees (default 32).
	Size int `json:"size,omitempty"`
	// MinScale is the smallest crop area as a fraction of the photo's
	// (default 0.2), at most 1.
	MinScale float64 `json:"min_scale,omitempty"`
	// Jitter is the colour-jitter strength s of SimCLR's appendix A:
	// brightness, contrast and saturation change by up to ±80s percent
	// each (core.ColorJitter at strength 0.8s: imaging's adjustments, an
	// additive brightness shift and imaging's contrast and saturation
	// curves, not torchvision's multiplicative factors) and the hue turns
	// by up to ±0.2s of the colour circle (default 0.5, the paper's
	// setting for CIFAR-10's 32-pixel images; its ImageNet one is 1; at
	// most 1.25; negative: none).
	Jitter float64 `json:"jitter,omitempty"`
	// JitterProb is the probability that a view is colour-jittered
	// (default 0.8, the paper's; negative: never).
	JitterProb float64 `json:"jitter_prob,omitempty"`
	// GreyProb is the probability that a view is made grey (default 0.2,
	// the paper's; negative: never).
	GreyProb float64 `json:"grey_prob,omitempty"`
	// BlurProb is the probability that a view is blurred by a Gaussian of
	// standard deviation uniform in [0.1, 2] pixels of a 224-pixel image,
	// scaled to Size (default 0: never, as SimCLR on CIFAR-10; it used
	// 0.5 on ImageNet).
	BlurProb float64 `json:"blur_prob,omitempty"`
}

func (c ViewConfig) withDefaults() ViewConfig {
	if c.Size == 0 {
		c.Size = 32
	}
	if c.MinScale == 0 {
		c.MinScale = 0.2
	}
	if c.Jitter == 0 {
		c.Jitter = 0.5
	}
	if c.JitterProb == 0 {
		c.JitterProb = 0.8
	}
	if c.GreyProb == 0 {
		c.GreyProb = 0.2
	}
	return c
}

// check validates the settings (defaults filled in) for trunk.
func (c ViewConfig) check(name string, trunk *core.Trunk) error {
	switch {
	case c.Size < 1 || c.Size > maxTaskSide:
		return fmt.Errorf("tasks: %s size %d out of range [1, %d]", name, c.Size, maxTaskSide)
	case !(c.MinScale > 0 && c.MinScale <= 1):
		return fmt.Errorf("tasks: %s min_scale %v out of range (0, 1]", name, c.MinScale)
	case math.IsNaN(c.Jitter) || c.Jitter > 1.25:
		return fmt.Errorf("tasks: %s jitter %v, want at most 1.25", name, c.Jitter)
	case badProb(c.JitterProb) || badProb(c.GreyProb) || badProb(c.BlurProb):
		return fmt.Errorf("tasks: %s jitter_prob %v, grey_prob %v and blur_prob %v, want at most 1", name, c.JitterProb, c.GreyProb, c.BlurProb)
	}
	if err := fitsTrunk(trunk, c.Size); err != nil {
		return fmt.Errorf("tasks: %s: %w", name, err)
	}
	return nil
}

// badProb reports whether p is not a usable probability setting (negative
// means never).
func badProb(p float64) bool { return math.IsNaN(p) || p > 1 }

// augment is one random view of img.
func (c ViewConfig) augment(img *image.NRGBA, rng *rand.Rand) *image.NRGBA {
	return c.distort(core.RandomResizedCrop(img, c.Size, core.CropConfig{MinScale: c.MinScale}, rng), rng)
}

// distort applies the pipeline's steps after the crop to v: flip, colour
// jitter, grey, blur (its σ scaled to Size, so a smaller crop, such as a
// multi-crop local view, is blurred by the same σ in pixels).
func (c ViewConfig) distort(v *image.NRGBA, rng *rand.Rand) *image.NRGBA {
	v = core.RandomFlip(v, rng)
	if c.Jitter > 0 && rng.Float64() < c.JitterProb {
		// torchvision's ColorJitter(0.8s, 0.8s, 0.8s, 0.2s), the paper's.
		v = core.ColorJitter(v, 0.8*c.Jitter, rng)
		v = shiftHue(v, (2*rng.Float64()-1)*0.2*c.Jitter)
	}
	if rng.Float64() < c.GreyProb {
		v = imaging.Grayscale(v)
	}
	if rng.Float64() < c.BlurProb {
		sigma := (0.1 + 1.9*rng.Float64()) * float64(c.Size) / 224
		v = imaging.Blur(v, sigma)
	}
	return v
}

// pairExample appends one example of two independently augmented views of
// img, as trunk inputs of the given channels.
func (c ViewConfig) pairExample(name string, dst []core.Example, img *image.NRGBA, channels int, rng *rand.Rand) ([]core.Example, error) {
	if err := needPhoto(img); err != nil {
		return dst, err
	}
	if rng == nil {
		return dst, fmt.Errorf("tasks: %s examples need a rng", name)
	}
	a, b := c.augment(img, rng), c.augment(img, rng)
	return append(dst, core.Example{Views: []core.Planar{
		core.TrunkInput(a, channels),
		core.TrunkInput(b, channels),
	}}), nil
}

// pairFeatures runs trunk once over every view of batch, example by
// example: [2N, F], rows 2i and 2i+1 the views of example i (core.NTXent's
// layout). Each example must hold exactly two views; minPairs is the
// fewest examples the method's loss accepts.
func pairFeatures(name string, trunk *core.Trunk, batch []core.Example, minPairs int, train bool) (mat.Tensor, error) {
	if trunk == nil {
		return nil, fmt.Errorf("tasks: %s needs a trunk", name)
	}
	if len(batch) < minPairs {
		return nil, fmt.Errorf("tasks: %s batch has %d examples, want at least %d", name, len(batch), minPairs)
	}
	views := make([]core.Planar, 0, 2*len(batch))
	for n, ex := range batch {
		if len(ex.Views) != 2 {
			return nil, fmt.Errorf("tasks: %s example %d has %d views, want 2", name, n, len(ex.Views))
		}
		views = append(views, ex.Views...)
	}
	x, sh, err := core.Stack(views)
	if err != nil {
		return nil, fmt.Errorf("tasks: %s: %w", name, err)
	}
	f, err := trunk.Forward(mat.NewDense[float32](mat.WithShape(sh.C, sh.Cols()), mat.WithBacking(x)), sh, train)
	if err != nil {
		return nil, fmt.Errorf("tasks: %s: %w", name, err)
	}
	return f, nil
}

// twoViews is embedded in the joint-embedding methods: it gives them the
// Task methods InputSize, Needs and Examples (two views by ViewConfig),
// the view-matching Measurer and, through neighbours, the preview and the
// Refresher and Assigner. The multi-crop methods (dino, swav) make their
// own Examples and take the rest.
type twoViews struct {
	neighbours
	views         ViewConfig
	trunkChannels int // the trunk's input channels
}

// newTwoViews returns the shared parts of the method name for trunk, its
// views made by views and its preview showing neighbors photos.
func newTwoViews(name string, views ViewConfig, neighbors int, trunk *core.Trunk) twoViews {
	return twoViews{
		neighbours:    neighbours{name: name, size: views.Size, neighbors: neighbors},
		views:         views,
		trunkChannels: trunk.Config.InChannels,
	}
}

// InputSize implements Task.
func (t *twoViews) InputSize() int { return t.views.Size }

// Needs implements Task: any photo (crops are resized to the input size).
func (t *twoViews) Needs() Needs { return Needs{MinSide: 1} }

// Examples implements Task: one example, two independently augmented
// views of the photo.
func (t *twoViews) Examples(dst []core.Example, img *image.NRGBA, rng *rand.Rand) ([]core.Example, error) {
	return t.views.pairExample(t.name, dst, img, t.trunkChannels, rng)
}

// Measure implements Measurer: view matching by the trunk's features
// against a random-init trunk (viewMatching).
func (t *twoViews) Measure(trunk *core.Trunk, photos []*image.NRGBA, rng *rand.Rand) (Measure, error) {
	return viewMatching(t.name, t.views, trunk, photos, rng)
}

// ProjConfig are the head settings the joint-embedding methods share; its
// fields sit at the top level of a method's JSON settings.
type ProjConfig struct {
	// Hidden and Proj are the projector's hidden and output widths
	// (defaults: each method's, in units of the trunk's feature count).
	Hidden int `json:"hidden,omitempty"`
	Proj   int `json:"proj,omitempty"`
	// Neighbors is the number of nearest photos Predict shows (default 5).
	Neighbors int `json:"neighbors,omitempty"`
}

// withDefaults fills in the method's default widths and 5 neighbours.
func (c ProjConfig) withDefaults(hidden, proj int) ProjConfig {
	if c.Hidden == 0 {
		c.Hidden = hidden
	}
	if c.Proj == 0 {
		c.Proj = proj
	}
	if c.Neighbors == 0 {
		c.Neighbors = 5
	}
	return c
}

// check validates the settings (defaults filled in).
func (c ProjConfig) check(name string) error {
	return checkProjection(name, c.Hidden, c.Proj, c.Neighbors)
}

// projectPairs runs trunk over every view of batch (pairFeatures' layout,
// at least two examples), then head: [2N, head.Out()].
func projectPairs(name string, trunk *core.Trunk, head *core.Projector, batch []core.Example, train bool) (mat.Tensor, error) {
	f, err := pairFeatures(name, trunk, batch, 2, train)
	if err != nil {
		return nil, err
	}
	z, err := head.Forward(f, train)
	if err != nil {
		return nil, fmt.Errorf("tasks: %s: %w", name, err)
	}
	return z, nil
}

// maxGallery bounds the photos a neighbours preview searches: each prediction embeds
// them all with the current trunk.
const maxGallery = 256

// thumbSide is the side of each photo on a neighbours preview's montage.
const thumbSide = 64

// neighbours is the joint-embedding methods' preview: it keeps the photos of
// the last Refresh and shows a photo's nearest neighbours among them by
// the trunk's features. Embedded in a task, it makes the task a Refresher
// (only to keep the photos: the examples need no labels) and an Assigner
// (a no-op). Fields are set by the task's constructor.
type neighbours struct {
	name      string
	size      int // the side of the centre crops compared
	neighbors int // how many neighbours Predict shows
	// photos are those of the last Refresh (at most maxGallery, by
	// pointer); nil before the first.
	photos []*image.NRGBA
}

// NeedsRefresh implements Refresher: before the first step of a run, and
// after a checkpoint is loaded, when no photos are kept.
func (g *neighbours) NeedsRefresh(step int) bool { return step == 0 || g.photos == nil }

// Refresh implements Refresher: it keeps photos (the first maxGallery; by
// pointer, not copied) for Predict's search. Examples accepts any photo
// afterwards.
func (g *neighbours) Refresh(_ *core.Trunk, photos []*image.NRGBA, _ *rand.Rand) (string, error) {
	if len(photos) == 0 {
		return "", fmt.Errorf("tasks: %s has no photos to keep", g.name)
	}
	g.photos = slices.Clone(photos[:min(len(photos), maxGallery)])
	return fmt.Sprintf("kept %d photos for the nearest-neighbour previews", len(g.photos)), nil
}

// Assign implements Assigner as a no-op: the examples carry no labels
// that depend on the photo set, so held-out photos need none for
// tasks.HeldOutScore (which asks Refreshers to label them first).
func (g *neighbours) Assign(*core.Trunk, []*image.NRGBA) error { return nil }

// Predict implements Task: the photo's nearest neighbours among the photos
// of the last Refresh, by cosine similarity of the trunk's pooled features
// (evaluation mode) of centre crops at the task's size. Image is a montage,
// the photo first and then its neighbours, most similar first; Input is
// the centre crop the trunk saw. The summary names the neighbours by their
// 0-based index in the refreshed photo set. Before any Refresh (a
// checkpoint just loaded) the montage holds the photo alone.
func (g *neighbours) Predict(trunk *core.Trunk, img *image.NRGBA, _ *rand.Rand) (Prediction, error) {
	if err := needPhoto(img); err != nil {
		return Prediction{}, err
	}
	if trunk == nil {
		return Prediction{}, fmt.Errorf("tasks: %s predict needs a trunk", g.name)
	}
	crop := core.CenterCrop(img, g.size)
	// The photo itself, if it is in the set, is not its own neighbour.
	var cand []int
	for i, p := range g.photos {
		if p != img {
			cand = append(cand, i)
		}
	}
	if len(cand) == 0 {
		return Prediction{
			Image:   montage([]*image.NRGBA{img}),
			Input:   crop,
			Summary: "no photos to search yet: neighbours come from the training photos",
		}, nil
	}
	views := []core.Planar{core.TrunkInput(crop, trunk.Config.InChannels)}
	for _, i := range cand {
		views = append(views, core.TrunkInput(core.CenterCrop(g.photos[i], g.size), trunk.Config.InChannels))
	}
	feats, err := embedViews(trunk, views)
	if err != nil {
		return Prediction{}, fmt.Errorf("tasks: %s predict: %w", g.name, err)
	}
	sim := make([]float64, len(cand))
	for k := range cand {
		sim[k] = cosine(feats[0], feats[k+1])
	}
	order := make([]int, len(cand))
	for k := range order {
		order[k] = k
	}
	// Most similar first; ties by index, so the order is deterministic.
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case sim[a] > sim[b]:
			return -1
		case sim[a] < sim[b]:
			return 1
		}
		return 0
	})
	order = order[:min(g.neighbors, len(order))]
	shown := []*image.NRGBA{img}
	names := make([]string, len(order))
	sims := make([]string, len(order))
	for k, o := range order {
		shown = append(shown, g.photos[cand[o]])
		names[k] = fmt.Sprintf("#%d", cand[o])
		sims[k] = fmt.Sprintf("%.2f", sim[o])
	}
	return Prediction{
		Image:   montage(shown),
		Input:   crop,
		Summary: fmt.Sprintf("nearest: photos %s (cosine %s)", strings.Join(names, ", "), strings.Join(sims, ", ")),
	}, nil
}

// neighbourCaptions are the preview captions of a task whose Predict is its
// neighbours'.
var neighbourCaptions = []Caption{
	{Image: "input", Text: "query (the centre crop the trunk sees)"},
	{Image: "image", Text: "the photo, then its nearest photos"},
}

// montage lays out the centre crops of photos in a row, thumbSide pixels
// each, the query first.
func montage(photos []*image.NRGBA) *image.NRGBA {
	crops := make([]*image.NRGBA, len(photos))
	for i, p := range photos {
		crops[i] = core.CenterCrop(p, thumbSide)
	}
	return board(crops, len(crops), thumbSide)
}

// shiftHue turns the hue of every pixel of img by turns of the colour
// circle (HSV's hue, as torchvision's adjust_hue), keeping saturation and
// value; alpha is kept.
func shiftHue(img *image.NRGBA, turns float64) *image.NRGBA {
	out := imaging.Clone(img)
	if turns == 0 {
		return out
	}
	for i := 0; i+3 < len(out.Pix); i += 4 {
		r, g, b := float64(out.Pix[i])/255, float64(out.Pix[i+1])/255, float64(out.Pix[i+2])/255
		hi, lo := max(r, g, b), min(r, g, b)
		if hi == lo {
			continue // grey: no hue
		}
		c := hi - lo
		var h float64 // in sixths of a turn
		switch hi {
		case r:
			h = (g - b) / c
		case g:
			h = (b-r)/c + 2
		default:
			h = (r-g)/c + 4
		}
		h = math.Mod(h/6+turns, 1)
		if h < 0 {
			h++
		}
		out.Pix[i], out.Pix[i+1], out.Pix[i+2] = hsvToRGB(h, c/hi, hi)
	}
	return out
}

// hsvToRGB converts hue (in turns, [0, 1)), saturation and value (in
// [0, 1]) to 8-bit RGB.
func hsvToRGB(h, s, v float64) (r, g, b uint8) {
	h6 := h * 6
	k := math.Floor(h6)
	f := h6 - k
	p, q, t := v*(1-s), v*(1-s*f), v*(1-s*(1-f))
	var rf, gf, bf float64
	switch int(k) % 6 {
	case 0:
		rf, gf, bf = v, t, p
	case 1:
		rf, gf, bf = q, v, p
	case 2:
		rf, gf, bf = p, v, t
	case 3:
		rf, gf, bf = p, q, v
	case 4:
		rf, gf, bf = t, p, v
	default:
		rf, gf, bf = v, p, q
	}
	u8 := func(x float64) uint8 { return uint8(max(0, min(255, math.Round(x*255)))) }
	return u8(rf), u8(gf), u8(bf)
}

// viewMatchSeed seeds the random-init trunk viewMatching compares with.
const viewMatchSeed = 0x5ee

// maxViewMatch bounds the photos viewMatching measures on.
const maxViewMatch = 1000

// viewMatching is the joint-embedding methods' held-out measure (their
// Measurer): each photo is shown as two views augmented by cfg (drawn from
// rng), and a view counts when its nearest other view among all the
// photos' views, by cosine similarity of the trunk's pooled features
// (evaluation mode), is the same photo's other view. It is measured on the
// trunk, not the head (the trunk's features are the representation kept),
// and its baseline is a randomly initialised trunk of the same
// architecture, which the trained one must beat. It needs two photos, and
// uses the first maxViewMatch (the search is quadratic in the views:
// Fashion-MNIST's 10,000 test images would take minutes).
func viewMatching(name string, cfg ViewConfig, trunk *core.Trunk, photos []*image.NRGBA, rng *rand.Rand) (Measure, error) {
	photos = photos[:min(len(photos), maxViewMatch)]
	if trunk == nil {
		return Measure{}, fmt.Errorf("tasks: %s view matching needs a trunk", name)
	}
	if len(photos) < 2 {
		return Measure{}, fmt.Errorf("tasks: %s view matching needs at least 2 photos, have %d", name, len(photos))
	}
	channels := trunk.Config.InChannels
	var exs []core.Example
	for i, p := range photos {
		var err error
		if exs, err = cfg.pairExample(name, exs, p, channels, rng); err != nil {
			return Measure{}, fmt.Errorf("tasks: %s view matching, photo %d: %w", name, i, err)
		}
	}
	views := make([]core.Planar, 0, 2*len(exs))
	for _, ex := range exs {
		views = append(views, ex.Views...)
	}
	random, err := core.NewTrunk(trunk.Config, rand.New(rand.NewPCG(viewMatchSeed, 0)))
	if err != nil {
		return Measure{}, err
	}
	m := Measure{Name: "view matching", Unit: "%", BaselineName: "a random-init trunk"}
	for k, t := range []*core.Trunk{trunk, random} {
		f, err := embedViews(t, views)
		if err != nil {
			return Measure{}, fmt.Errorf("tasks: %s view matching: %w", name, err)
		}
		acc, err := core.PairAccuracy(rowMatrix(f))
		if err != nil {
			return Measure{}, fmt.Errorf("tasks: %s view matching: %w", name, err)
		}
		if k == 0 {
			m.Value = 100 * acc
		} else {
			m.Baseline = 100 * acc
		}
	}
	return m, nil
}

// rowMatrix stacks equal-length rows into a matrix.
func rowMatrix(rows [][]float32) mat.Tensor {
	flat := make([]float32, 0, len(rows)*len(rows[0]))
	for _, r := range rows {
		flat = append(flat, r...)
	}
	return mat.NewDense[float32](mat.WithShape(len(rows), len(rows[0])), mat.WithBacking(flat))
}
