package tasks

import (
	"encoding/gob"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/disintegration/imaging"
	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/pretextlab/pretext/core"
)

// SimCLR is the contrastive pretext task of Chen, Kornblith, Norouzi &
// Hinton (2020, "A Simple Framework for Contrastive Learning of Visual
// Representations", ICML): each photo is shown as two independently
// augmented views (random resized crop, left-right flip, strong colour
// jitter with probability 0.8, grey with probability 0.2, optionally
// Gaussian blur), a projection head g (Linear-ReLU-Linear) maps the
// trunk's pooled features to an embedding, and the NT-Xent loss
// (core.NTXent) asks each view to pick out its partner among the other
// 2N-1 views of the batch. The trunk's features (before g) are the
// representation; the head is thrown away after training.
//
// One Examples call makes one example with two views (Class is unused);
// Loss stacks a batch's views example by example, so rows 2i and 2i+1 of
// the embeddings are partners, core.NTXent's convention. Accuracy is the
// fraction of views whose most similar other view is the partner.
//
// Departures from the paper, for small inputs and small batches: blur is
// off by default and the colour jitter has strength 0.5 (both the paper's
// CIFAR-10 settings, for 32-pixel images like the default Size); the
// temperature defaults to 0.5 (its CIFAR-10 experiments, appendix B.9,
// tried 0.1, 0.5 and 1; its ImageNet runs use 0.1 with batches of
// thousands); the colour-jitter operations run in a fixed order
// (brightness, contrast, saturation, hue) rather than a random one; and the
// smallest crop is 0.2 of the photo rather than 0.08 (the photos are
// already downscaled; tinier crops would be mostly interpolation).
//
// Predict shows the nearest neighbours of a photo by cosine similarity of
// the trunk's features among the photos of the last Refresh (the training
// set: SimCLR is a Refresher only to keep them).
type SimCLR struct {
	nn.Module
	// Head is the projection F -> Hidden -> Proj.
	Head *core.MLP

	base[SimCLRConfig]
	// gallery holds the photos of the last Refresh (at most maxGallery)
	// that Predict searches; nil before the first.
	gallery []*image.NRGBA
}

var (
	_ Task      = &SimCLR{}
	_ Refresher = &SimCLR{}
	_ Assigner  = &SimCLR{}
	_ Baseliner = &SimCLR{}
)

func init() { gob.Register(&SimCLR{}) }

// simclrEntry is the task's registry entry.
var simclrEntry = entry{
	new:      fromConfig(NewSimCLR),
	summary:  "tell two augmented views of the same photo from all others (Chen et al. 2020)",
	defaults: Defaults{Optimizer: "adam", LR: 0.001, Steps: 300, Batch: 32},
	captions: []Caption{
		{Image: "input", Text: "query (the centre crop the trunk sees)"},
		{Image: "image", Text: "the photo, then its nearest photos"},
	},
}

// SimCLRConfig sets the SimCLR task. The zero value is the default.
type SimCLRConfig struct {
	// Size is the side of the square views the trunk sees (default 32).
	Size int `json:"size,omitempty"`
	// MinScale is the smallest crop area as a fraction of the photo's
	// (default 0.2), at most 1.
	MinScale float64 `json:"min_scale,omitempty"`
	// Jitter is the colour-jitter strength s of the paper's appendix A:
	// brightness, contrast and saturation change by up to ±0.8s (as
	// fractions) and the hue turns by up to ±0.2s of the colour circle
	// (default 0.5, the paper's setting for CIFAR-10's 32-pixel images;
	// its ImageNet one is 1; at most 1.25; negative: none).
	Jitter float64 `json:"jitter,omitempty"`
	// JitterProb is the probability that a view is colour-jittered
	// (default 0.8, the paper's; negative: never).
	JitterProb float64 `json:"jitter_prob,omitempty"`
	// GreyProb is the probability that a view is made grey (default 0.2,
	// the paper's; negative: never).
	GreyProb float64 `json:"grey_prob,omitempty"`
	// BlurProb is the probability that a view is blurred by a Gaussian of
	// standard deviation uniform in [0.1, 2] pixels of a 224-pixel image,
	// scaled to Size (default 0: never, as the paper on CIFAR-10; it used
	// 0.5 on ImageNet).
	BlurProb float64 `json:"blur_prob,omitempty"`
	// Hidden is the width of the projection head's hidden layer (default:
	// the trunk's feature count, as the paper's 2048 for ResNet-50).
	Hidden int `json:"hidden,omitempty"`
	// Proj is the length of the embedding the loss compares (default 64;
	// the paper's 128, halved for the small trunk).
	Proj int `json:"proj,omitempty"`
	// Temperature is NT-Xent's τ (default 0.5).
	Temperature float64 `json:"temperature,omitempty"`
	// Neighbors is the number of nearest photos Predict shows (default 5).
	Neighbors int `json:"neighbors,omitempty"`
}

func (c SimCLRConfig) withDefaults(features int) SimCLRConfig {
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
	if c.Hidden == 0 {
		c.Hidden = features
	}
	if c.Proj == 0 {
		c.Proj = 64
	}
	if c.Temperature == 0 {
		c.Temperature = 0.5
	}
	if c.Neighbors == 0 {
		c.Neighbors = 5
	}
	return c
}

// maxGallery bounds the photos Predict searches: each prediction embeds
// them all with the current trunk.
const maxGallery = 256

// badProb reports whether p is not a usable probability setting (negative
// means never).
func badProb(p float64) bool { return math.IsNaN(p) || p > 1 }

// NewSimCLR returns the SimCLR task for trunk with a fresh projection head
// drawn from rng, initialised as PyTorch's nn.Linear (uniform in ±1/√in).
func NewSimCLR(cfg SimCLRConfig, trunk *core.Trunk, rng *rand.Rand) (*SimCLR, error) {
	if trunk == nil {
		return nil, fmt.Errorf("tasks: simclr needs a trunk")
	}
	cfg = cfg.withDefaults(trunk.Features())
	switch {
	case cfg.Size < 1 || cfg.Size > maxTaskSide:
		return nil, fmt.Errorf("tasks: simclr size %d out of range [1, %d]", cfg.Size, maxTaskSide)
	case !(cfg.MinScale > 0 && cfg.MinScale <= 1):
		return nil, fmt.Errorf("tasks: simclr min_scale %v out of range (0, 1]", cfg.MinScale)
	case math.IsNaN(cfg.Jitter) || cfg.Jitter > 1.25:
		return nil, fmt.Errorf("tasks: simclr jitter %v, want at most 1.25", cfg.Jitter)
	case badProb(cfg.JitterProb) || badProb(cfg.GreyProb) || badProb(cfg.BlurProb):
		return nil, fmt.Errorf("tasks: simclr jitter_prob %v, grey_prob %v and blur_prob %v, want at most 1", cfg.JitterProb, cfg.GreyProb, cfg.BlurProb)
	case cfg.Hidden < 1 || cfg.Hidden > 1<<14:
		return nil, fmt.Errorf("tasks: simclr hidden %d out of range [1, %d]", cfg.Hidden, 1<<14)
	case cfg.Proj < 1 || cfg.Proj > 1<<14:
		return nil, fmt.Errorf("tasks: simclr proj %d out of range [1, %d]", cfg.Proj, 1<<14)
	case !(cfg.Temperature > 0 && cfg.Temperature <= 100):
		return nil, fmt.Errorf("tasks: simclr temperature %v out of range (0, 100]", cfg.Temperature)
	case cfg.Neighbors < 1 || cfg.Neighbors > 32:
		return nil, fmt.Errorf("tasks: simclr neighbors %d out of range [1, 32]", cfg.Neighbors)
	}
	if err := fitsTrunk(trunk, cfg.Size); err != nil {
		return nil, fmt.Errorf("tasks: simclr: %w", err)
	}
	head, err := core.NewMLP(trunk.Features(), cfg.Hidden, cfg.Proj, rng)
	if err != nil {
		return nil, fmt.Errorf("tasks: simclr head: %w", err)
	}
	return &SimCLR{Head: head, base: newBase("simclr", cfg, trunk)}, nil
}

// InputSize implements Task.
func (s *SimCLR) InputSize() int { return s.cfg.Size }

// Needs implements Task: any photo (crops are resized to the
// input size).
func (s *SimCLR) Needs() Needs { return Needs{MinSide: 1} }

// augment is one random view of img: the paper's augmentation pipeline
// (appendix A) in the order crop, flip, colour jitter, grey, blur.
func (s *SimCLR) augment(img *image.NRGBA, rng *rand.Rand) *image.NRGBA {
	v := core.RandomResizedCrop(img, s.cfg.Size, core.CropConfig{MinScale: s.cfg.MinScale}, rng)
	v = core.RandomFlip(v, rng)
	if s.cfg.Jitter > 0 && rng.Float64() < s.cfg.JitterProb {
		// torchvision's ColorJitter(0.8s, 0.8s, 0.8s, 0.2s), the paper's.
		v = core.ColorJitter(v, 0.8*s.cfg.Jitter, rng)
		v = shiftHue(v, (2*rng.Float64()-1)*0.2*s.cfg.Jitter)
	}
	if rng.Float64() < s.cfg.GreyProb {
		v = imaging.Grayscale(v)
	}
	if rng.Float64() < s.cfg.BlurProb {
		sigma := (0.1 + 1.9*rng.Float64()) * float64(s.cfg.Size) / 224
		v = imaging.Blur(v, sigma)
	}
	return v
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

// Examples implements Task: one example, two independently augmented
// views of the photo.
func (s *SimCLR) Examples(dst []core.Example, img *image.NRGBA, rng *rand.Rand) ([]core.Example, error) {
	if err := needPhoto(img); err != nil {
		return dst, err
	}
	if rng == nil {
		return dst, fmt.Errorf("tasks: simclr examples need a rng")
	}
	a, b := s.augment(img, rng), s.augment(img, rng)
	return append(dst, core.Example{Views: []core.Planar{
		core.TrunkInput(a, s.channels),
		core.TrunkInput(b, s.channels),
	}}), nil
}

// Embeddings runs trunk and projection head on every view of the batch,
// example by example: [2N, Proj], rows 2i and 2i+1 the views of example i.
func (s *SimCLR) Embeddings(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, error) {
	if trunk == nil {
		return nil, fmt.Errorf("tasks: simclr needs a trunk")
	}
	if len(batch) == 0 {
		return nil, fmt.Errorf("tasks: simclr batch is empty")
	}
	views := make([]core.Planar, 0, 2*len(batch))
	for n, ex := range batch {
		if len(ex.Views) != 2 {
			return nil, fmt.Errorf("tasks: simclr example %d has %d views, want 2", n, len(ex.Views))
		}
		views = append(views, ex.Views...)
	}
	x, sh, err := core.Stack(views)
	if err != nil {
		return nil, fmt.Errorf("tasks: simclr: %w", err)
	}
	f, err := trunk.Forward(mat.NewDense[float32](mat.WithShape(sh.C, sh.Cols()), mat.WithBacking(x)), sh, train)
	if err != nil {
		return nil, fmt.Errorf("tasks: simclr: %w", err)
	}
	z, err := s.Head.Forward(f)
	if err != nil {
		return nil, fmt.Errorf("tasks: simclr: %w", err)
	}
	return z, nil
}

// Loss implements core.Objective: NT-Xent over the batch's 2N views.
func (s *SimCLR) Loss(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, core.Score, error) {
	z, err := s.Embeddings(trunk, batch, train)
	if err != nil {
		return nil, core.Score{}, err
	}
	loss, acc, err := core.NTXent(z, s.cfg.Temperature)
	if err != nil {
		return nil, core.Score{}, fmt.Errorf("tasks: simclr: %w", err)
	}
	return loss, core.Score{Accuracy: acc}, nil
}

// BaselineLoss is the loss of an embedding that cannot tell views apart
// (all similarities equal): ln(2N-1) for N examples.
func (s *SimCLR) BaselineLoss(batch []core.Example) float64 {
	return math.Log(float64(max(2*len(batch)-1, 1)))
}

// NeedsRefresh implements Refresher: SimCLR's examples need no labels,
// so it only keeps the photo set, before the first step of a run (and
// after a checkpoint is loaded, when it has none).
func (s *SimCLR) NeedsRefresh(step int) bool { return step == 0 || s.gallery == nil }

// Refresh implements Refresher: it keeps photos (the first maxGallery;
// by pointer, not copied) for Predict's nearest-neighbour search. Unlike a
// clustering task's, Examples accepts any photo afterwards.
func (s *SimCLR) Refresh(_ *core.Trunk, photos []*image.NRGBA, _ *rand.Rand) (string, error) {
	if len(photos) == 0 {
		return "", fmt.Errorf("tasks: simclr has no photos to keep")
	}
	s.gallery = slices.Clone(photos[:min(len(photos), maxGallery)])
	return fmt.Sprintf("kept %d photos for the nearest-neighbour previews", len(s.gallery)), nil
}

// Assign implements Assigner as a no-op: SimCLR's examples carry no
// labels that depend on the photo set, so held-out photos need none for
// tasks.HeldOutScore (which asks Refreshers to label them first).
func (s *SimCLR) Assign(*core.Trunk, []*image.NRGBA) error { return nil }

// thumbSide is the side of each photo on Predict's montage.
const thumbSide = 64

// Predict implements Task: the photo's nearest neighbours among the
// photos of the last Refresh, by cosine similarity of the trunk's pooled
// features (evaluation mode) of centre crops at Size. Image is a montage,
// the photo first and then its neighbours, most similar first; Input is the
// centre crop the trunk saw. The summary names the neighbours by their
// 0-based index in the refreshed photo set. Before any Refresh (a
// checkpoint just loaded) the montage holds the photo alone.
func (s *SimCLR) Predict(trunk *core.Trunk, img *image.NRGBA, rng *rand.Rand) (Prediction, error) {
	if err := needPhoto(img); err != nil {
		return Prediction{}, err
	}
	if trunk == nil {
		return Prediction{}, fmt.Errorf("tasks: simclr predict needs a trunk")
	}
	crop := core.CenterCrop(img, s.cfg.Size)
	// The photo itself, if it is in the set, is not its own neighbour.
	var cand []int
	for i, p := range s.gallery {
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
		views = append(views, core.TrunkInput(core.CenterCrop(s.gallery[i], s.cfg.Size), trunk.Config.InChannels))
	}
	feats, err := embedViews(trunk, views)
	if err != nil {
		return Prediction{}, fmt.Errorf("tasks: simclr predict: %w", err)
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
	order = order[:min(s.cfg.Neighbors, len(order))]
	shown := []*image.NRGBA{img}
	names := make([]string, len(order))
	sims := make([]string, len(order))
	for k, o := range order {
		shown = append(shown, s.gallery[cand[o]])
		names[k] = fmt.Sprintf("#%d", cand[o])
		sims[k] = fmt.Sprintf("%.2f", sim[o])
	}
	return Prediction{
		Image:   montage(shown),
		Input:   crop,
		Summary: fmt.Sprintf("nearest: photos %s (cosine %s)", strings.Join(names, ", "), strings.Join(sims, ", ")),
	}, nil
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
