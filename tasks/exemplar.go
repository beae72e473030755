package tasks

import (
	"encoding/gob"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"sort"
	"sync"

	"github.com/disintegration/imaging"
	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/pretextlab/pretext/core"
)

// Exemplar is Exemplar-CNN (Dosovitskiy, Fischer, Springenberg, Riedmiller
// & Brox 2016, "Discriminative Unsupervised Feature Learning with Exemplar
// Convolutional Neural Networks", TPAMI): every seed patch is a surrogate
// class of its own, and the network learns to tell which seed a randomly
// transformed view (shifted, scaled, rotated, colour and contrast changed,
// noise added) was made from. The head is a linear classifier over
// Classes classes, fixed at construction.
//
// Seeds are chosen by Refresh, which tasks.Prepare calls before the first
// step (and after a checkpoint is loaded): each photo is scaled so that
// its shorter side is Size/SeedFrac pixels (a seed is SeedFrac of the
// photo's side, as the paper's 32-pixel patches of 96-pixel STL-10
// images), and seeds are the Size x Size squares of most gradient energy
// (the paper samples seeds "from regions containing considerable
// gradients"), greedily, each at least Size/2 pixels from the others.
// With P photos and C classes, class c is seed c/P of photo c mod P when
// P < C (so a photo holds several seeds, a view of it one of them at
// random); when P >= C each photo has one seed and class c gathers the
// seeds of photos c, c+C, c+2C, ... (photos beyond the classes are
// cycled, making classes of several exemplars rather than being left
// out). The choice uses no randomness and no trunk, so a reloaded
// checkpoint refreshed with the same photos gets the same classes; photos
// added afterwards have no class and are refused (NeedsRefresh is true
// only until the first Refresh).
//
// Held-out photos have no surrogate class; Assign gives each the class
// whose seed patch is nearest (cosine) in the trunk's features to the
// photo's own best seed, so the held-out score measures whether the head
// recognises new patches as the exemplars the trunk finds most alike.
type Exemplar struct {
	nn.Module
	// Head is the Classes-way linear classifier with its cross-entropy.
	Head *core.Classifier

	base[ExemplarConfig]

	mu sync.Mutex     // guards st
	st *exemplarState // nil until Refresh
}

var (
	_ Task      = &Exemplar{}
	_ Refresher = &Exemplar{}
	_ Assigner  = &Exemplar{}
)

func init() { gob.Register(&Exemplar{}) }

// exemplarEntry is the task's registry entry.
var exemplarEntry = entry{
	new:      fromConfig(NewExemplar),
	summary:  "tell which seed patch a transformed view was made from, each seed its own class (Dosovitskiy et al. 2016)",
	defaults: Defaults{Optimizer: "adam", LR: 0.001, Steps: 300, Batch: 32},
	captions: []Caption{
		{Image: "original", Text: "original"},
		{Image: "input", Text: "seed patch and transformed views"},
		{Image: "image", Text: "seed and the predicted class's seed"},
	},
}

// ExemplarConfig sets the exemplar task. The zero value is the default.
type ExemplarConfig struct {
	// Classes is the number of surrogate classes (default 64, at most
	// 8000, the paper's largest).
	Classes int `json:"classes,omitempty"`
	// Size is the side of a seed patch and of the trunk's input (default
	// 32, the paper's).
	Size int `json:"size,omitempty"`
	// SeedFrac is a seed's side as a fraction of the photo's shorter side
	// (default 1/3), in (0, 1].
	SeedFrac float64 `json:"seed_frac,omitempty"`
	// Shift is the largest shift of a view along each axis as a fraction
	// of the seed's side (default 0.2, the paper's; negative: none).
	Shift float64 `json:"shift,omitempty"`
	// MinZoom and MaxZoom bound a view's magnification, drawn uniformly on
	// a log scale (default 0.7 and 1.4, the paper's scaling).
	MinZoom float64 `json:"min_zoom,omitempty"`
	MaxZoom float64 `json:"max_zoom,omitempty"`
	// Rotate is the largest rotation of a view in degrees (default 20, the
	// paper's; negative: none).
	Rotate float64 `json:"rotate,omitempty"`
	// Jitter is the colour-jitter strength (brightness, contrast,
	// saturation; default 0.4; negative: none), in place of the paper's
	// PCA and HSV colour and contrast transformations.
	Jitter float64 `json:"jitter,omitempty"`
	// Noise is the standard deviation of the Gaussian noise added to each
	// input value (default 0.05; negative: none).
	Noise float64 `json:"noise,omitempty"`
}

func (c ExemplarConfig) withDefaults() ExemplarConfig {
	if c.Classes == 0 {
		c.Classes = 64
	}
	if c.Size == 0 {
		c.Size = 32
	}
	if c.SeedFrac == 0 {
		c.SeedFrac = 1.0 / 3
	}
	if c.Shift == 0 {
		c.Shift = 0.2
	}
	if c.MinZoom == 0 {
		c.MinZoom = 0.7
	}
	if c.MaxZoom == 0 {
		c.MaxZoom = 1.4
	}
	if c.Rotate == 0 {
		c.Rotate = 20
	}
	if c.Jitter == 0 {
		c.Jitter = 0.4
	}
	if c.Noise == 0 {
		c.Noise = 0.05
	}
	return c
}

// exemplarMaxClasses is the paper's largest number of surrogate classes.
const exemplarMaxClasses = 8000

// NewExemplar returns the exemplar task for trunk with a fresh head drawn
// from rng. It has no classes until Refresh.
func NewExemplar(cfg ExemplarConfig, trunk *core.Trunk, rng *rand.Rand) (*Exemplar, error) {
	cfg = cfg.withDefaults()
	bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
	switch {
	case trunk == nil:
		return nil, fmt.Errorf("tasks: exemplar needs a trunk")
	case cfg.Classes < 2 || cfg.Classes > exemplarMaxClasses:
		return nil, fmt.Errorf("tasks: exemplar classes %d out of range [2, %d]", cfg.Classes, exemplarMaxClasses)
	case cfg.Size < 2 || cfg.Size > maxTaskSide:
		return nil, fmt.Errorf("tasks: exemplar size %d out of range [2, %d]", cfg.Size, maxTaskSide)
	case !(cfg.SeedFrac > 0 && cfg.SeedFrac <= 1) || float64(cfg.Size)/cfg.SeedFrac > 4*maxTaskSide:
		return nil, fmt.Errorf("tasks: exemplar seed_frac %v out of range (0, 1] (and size/seed_frac at most %d)", cfg.SeedFrac, 4*maxTaskSide)
	case bad(cfg.Shift) || cfg.Shift > 1:
		return nil, fmt.Errorf("tasks: exemplar shift %v, want at most 1", cfg.Shift)
	case bad(cfg.MinZoom) || bad(cfg.MaxZoom) || cfg.MinZoom < 0.1 || cfg.MaxZoom > 10 || cfg.MinZoom > cfg.MaxZoom:
		return nil, fmt.Errorf("tasks: exemplar zoom [%v, %v], want 0.1 <= min_zoom <= max_zoom <= 10", cfg.MinZoom, cfg.MaxZoom)
	case bad(cfg.Rotate) || cfg.Rotate > 180:
		return nil, fmt.Errorf("tasks: exemplar rotate %v, want at most 180 degrees", cfg.Rotate)
	case bad(cfg.Jitter) || cfg.Jitter > 1:
		return nil, fmt.Errorf("tasks: exemplar jitter %v, want at most 1", cfg.Jitter)
	case bad(cfg.Noise) || cfg.Noise > 1:
		return nil, fmt.Errorf("tasks: exemplar noise %v, want at most 1", cfg.Noise)
	}
	if err := fitsTrunk(trunk, cfg.Size); err != nil {
		return nil, fmt.Errorf("tasks: exemplar: %w", err)
	}
	head, err := core.NewClassifier(trunk.Features(), cfg.Classes, rng)
	if err != nil {
		return nil, fmt.Errorf("tasks: exemplar head: %w", err)
	}
	return &Exemplar{Head: head, base: newBase("exemplar", cfg, trunk)}, nil
}

// InputSize implements Task.
func (e *Exemplar) InputSize() int { return e.cfg.Size }

// Needs implements Task: photos at least half a seed on a side.
func (e *Exemplar) Needs() Needs { return Needs{MinSide: max(1, e.cfg.Size/2)} }

// Loss implements core.Objective.
func (e *Exemplar) Loss(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, core.Score, error) {
	return e.Head.Loss(trunk, batch, train)
}

// exemplarSeed is one seed patch: its class and its surroundings, ctx,
// a square at the scale where the seed is Size pixels, the seed centred.
type exemplarSeed struct {
	class int
	ctx   *image.NRGBA
}

// exemplarState is what Refresh (and Assign) decided.
type exemplarState struct {
	photos map[*image.NRGBA][]exemplarSeed // the refreshed photos' seeds
	held   map[*image.NRGBA][]exemplarSeed // Assign's photos' seeds
	// patch[c] is class c's first seed patch (nil for a class without
	// seeds: fewer seeds than classes).
	patch  []*image.NRGBA
	active int // classes with a seed
}

// NeedsRefresh implements Refresher: only until the first Refresh.
func (e *Exemplar) NeedsRefresh(int) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.st == nil
}

func (e *Exemplar) checkPhoto(img *image.NRGBA) error {
	if err := needPhoto(img); err != nil {
		return err
	}
	if b := img.Bounds(); min(b.Dx(), b.Dy()) < e.Needs().MinSide {
		return fmt.Errorf("tasks: exemplar needs photos at least %d pixels on a side, got %dx%d", e.Needs().MinSide, b.Dx(), b.Dy())
	}
	return nil
}

// Refresh implements Refresher: it chooses the seeds and their
// classes (see Exemplar); trunk and rng are not used.
func (e *Exemplar) Refresh(_ *core.Trunk, photos []*image.NRGBA, _ *rand.Rand) (string, error) {
	if len(photos) == 0 {
		return "", fmt.Errorf("tasks: exemplar has no photos")
	}
	for i, img := range photos {
		if err := e.checkPhoto(img); err != nil {
			return "", fmt.Errorf("tasks: exemplar photo %d: %w", i, err)
		}
	}
	c, p := e.cfg.Classes, len(photos)
	st := &exemplarState{photos: make(map[*image.NRGBA][]exemplarSeed, p), patch: make([]*image.NRGBA, c)}
	for k, img := range photos {
		var classes []int
		if p >= c {
			classes = []int{k % c}
		} else {
			for cl := k; cl < c; cl += p {
				classes = append(classes, cl)
			}
		}
		ctxs := e.seeds(img, len(classes))
		for i, cl := range classes {
			st.photos[img] = append(st.photos[img], exemplarSeed{class: cl, ctx: ctxs[i]})
			if st.patch[cl] == nil {
				st.patch[cl] = e.seedPatch(ctxs[i])
				st.active++
			}
		}
	}
	e.mu.Lock()
	e.st = st
	e.mu.Unlock()
	return fmt.Sprintf("exemplar: %d surrogate classes from %d photos", st.active, p), nil
}

// state returns the current state, nil before Refresh.
func (e *Exemplar) state() *exemplarState {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.st
}

// contextSide is the side of a seed's surroundings: enough for the
// largest shift, the smallest zoom and the largest rotation, plus a pixel
// for interpolation, with Size's parity so the seed sits on whole pixels.
func (e *Exemplar) contextSide() int {
	r := math.Min(math.Max(0, e.cfg.Rotate), 45) * math.Pi / 180
	half := float64(e.cfg.Size) * (0.5/e.cfg.MinZoom*(math.Cos(r)+math.Sin(r)) + math.Max(0, e.cfg.Shift))
	side := 2*int(math.Ceil(half)) + 2
	if (side-e.cfg.Size)%2 != 0 {
		side++
	}
	return side
}

// scaled returns img resized so its shorter side is Size/SeedFrac.
func (e *Exemplar) scaled(img *image.NRGBA) *image.NRGBA {
	b := img.Bounds()
	short := int(math.Round(float64(e.cfg.Size) / e.cfg.SeedFrac))
	w, h := short, short
	if b.Dx() > b.Dy() {
		w = max(short, int(math.Round(float64(b.Dx())*float64(short)/float64(b.Dy()))))
	} else {
		h = max(short, int(math.Round(float64(b.Dy())*float64(short)/float64(b.Dx()))))
	}
	if w == b.Dx() && h == b.Dy() {
		return imaging.Clone(img)
	}
	return imaging.Resize(img, w, h, imaging.Linear)
}

// seedCorners returns the top-left corners of the n Size x Size squares of
// small with most gradient energy (Σ |∂L/∂x| + |∂L/∂y| of the luminance),
// greedily, each at least Size/2 pixels (Chebyshev) from those before;
// when no such square is left, the best remaining ones follow.
func seedCorners(small *image.NRGBA, size, n int) []image.Point {
	w, h := small.Bounds().Dx(), small.Bounds().Dy()
	lum := make([]float64, w*h)
	for y := range h {
		for x := range w {
			o := y*small.Stride + 4*x
			lum[y*w+x] = 0.299*float64(small.Pix[o]) + 0.587*float64(small.Pix[o+1]) + 0.114*float64(small.Pix[o+2])
		}
	}
	// integral[(y)*(w+1)+x] is the energy of the pixels above and left.
	integral := make([]float64, (w+1)*(h+1))
	for y := range h {
		var row float64
		for x := range w {
			var g float64
			if x+1 < w {
				g += math.Abs(lum[y*w+x+1] - lum[y*w+x])
			}
			if y+1 < h {
				g += math.Abs(lum[(y+1)*w+x] - lum[y*w+x])
			}
			row += g
			integral[(y+1)*(w+1)+x+1] = integral[y*(w+1)+x+1] + row
		}
	}
	type cand struct {
		at     image.Point
		energy float64
	}
	steps := func(limit int) []int {
		var out []int
		step := max(1, size/8)
		for v := 0; v < limit; v += step {
			out = append(out, v)
		}
		return append(out, limit)
	}
	var cands []cand
	for _, y := range steps(max(0, h-size)) {
		for _, x := range steps(max(0, w-size)) {
			x1, y1 := min(w, x+size), min(h, y+size)
			e := integral[y1*(w+1)+x1] - integral[y*(w+1)+x1] - integral[y1*(w+1)+x] + integral[y*(w+1)+x]
			cands = append(cands, cand{image.Pt(x, y), e})
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].energy > cands[j].energy })
	var out []image.Point
	taken := make([]bool, len(cands))
	for i, c := range cands {
		if len(out) == n {
			break
		}
		far := true
		for _, q := range out {
			if d := c.at.Sub(q); max(abs(d.X), abs(d.Y)) < size/2 {
				far = false
				break
			}
		}
		if far {
			out, taken[i] = append(out, c.at), true
		}
	}
	for len(out) < n { // repeat the best squares once all are near others
		for i, c := range cands {
			if len(out) == n {
				break
			}
			if !taken[i] {
				out, taken[i] = append(out, c.at), true
			}
		}
		if len(out) < n {
			clear(taken)
		}
	}
	return out
}

func abs(v int) int { return max(v, -v) }

// seeds returns the surroundings of img's n best seeds, best first.
func (e *Exemplar) seeds(img *image.NRGBA, n int) []*image.NRGBA {
	small := e.scaled(img)
	side := e.contextSide()
	out := make([]*image.NRGBA, n)
	for i, at := range seedCorners(small, e.cfg.Size, n) {
		centre := [2]float64{float64(at.X) + float64(e.cfg.Size)/2, float64(at.Y) + float64(e.cfg.Size)/2}
		out[i] = sampleView(small, centre, side, 1, 0)
	}
	return out
}

// seedPatch is the seed itself, the middle of its surroundings.
func (e *Exemplar) seedPatch(ctx *image.NRGBA) *image.NRGBA {
	o := (ctx.Bounds().Dx() - e.cfg.Size) / 2
	return imaging.Crop(ctx, image.Rect(o, o, o+e.cfg.Size, o+e.cfg.Size))
}

// sampleView samples a side x side image from src: output pixel (x, y)
// shows src at centre + R(angle)·((x+½, y+½) - side/2)/zoom (pixel i's
// centre at i+½), bilinearly interpolated, src's edge pixels repeated
// beyond it.
func sampleView(src *image.NRGBA, centre [2]float64, side int, zoom, angle float64) *image.NRGBA {
	dst := image.NewNRGBA(image.Rect(0, 0, side, side))
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	cos, sin := math.Cos(angle)/zoom, math.Sin(angle)/zoom
	at := func(x, y int) []uint8 {
		x, y = max(0, min(w-1, x)), max(0, min(h-1, y))
		o := src.PixOffset(b.Min.X+x, b.Min.Y+y)
		return src.Pix[o : o+4]
	}
	for y := range side {
		for x := range side {
			u, v := float64(x)+0.5-float64(side)/2, float64(y)+0.5-float64(side)/2
			sx := centre[0] + cos*u - sin*v - 0.5
			sy := centre[1] + sin*u + cos*v - 0.5
			x0, y0 := math.Floor(sx), math.Floor(sy)
			fx, fy := sx-x0, sy-y0
			p00, p10 := at(int(x0), int(y0)), at(int(x0)+1, int(y0))
			p01, p11 := at(int(x0), int(y0)+1), at(int(x0)+1, int(y0)+1)
			o := dst.PixOffset(x, y)
			for c := range 4 {
				top := float64(p00[c])*(1-fx) + float64(p10[c])*fx
				bot := float64(p01[c])*(1-fx) + float64(p11[c])*fx
				dst.Pix[o+c] = clamp8(top*(1-fy) + bot*fy)
			}
		}
	}
	return dst
}

// view makes one randomly transformed view of a seed from its
// surroundings.
func (e *Exemplar) view(ctx *image.NRGBA, channels int, rng *rand.Rand) core.Planar {
	zoom := math.Exp(math.Log(e.cfg.MinZoom) + rng.Float64()*(math.Log(e.cfg.MaxZoom)-math.Log(e.cfg.MinZoom)))
	angle := 0.0
	if e.cfg.Rotate > 0 {
		angle = (2*rng.Float64() - 1) * e.cfg.Rotate * math.Pi / 180
	}
	c := float64(ctx.Bounds().Dx()) / 2
	centre := [2]float64{c, c}
	if e.cfg.Shift > 0 {
		for i := range centre {
			centre[i] += (2*rng.Float64() - 1) * e.cfg.Shift * float64(e.cfg.Size)
		}
	}
	img := sampleView(ctx, centre, e.cfg.Size, zoom, angle)
	img = core.ColorJitter(img, e.cfg.Jitter, rng)
	p := core.TrunkInput(img, channels)
	if e.cfg.Noise > 0 {
		for i := range p.Pix {
			p.Pix[i] += float32(rng.NormFloat64() * e.cfg.Noise)
		}
	}
	return p
}

// Examples implements Task: one transformed view of one of img's
// seeds (drawn with rng), labelled with its class. img must be one of the
// photos of the last Refresh or Assign.
func (e *Exemplar) Examples(dst []core.Example, img *image.NRGBA, rng *rand.Rand) ([]core.Example, error) {
	if err := needPhoto(img); err != nil {
		return dst, err
	}
	if rng == nil {
		return dst, fmt.Errorf("tasks: exemplar examples need a rng")
	}
	st := e.state()
	if st == nil {
		return dst, fmt.Errorf("tasks: exemplar has no surrogate classes yet (tasks.Prepare refreshes it before training)")
	}
	seeds, ok := st.photos[img]
	if !ok {
		seeds, ok = st.held[img]
	}
	if !ok {
		return dst, fmt.Errorf("tasks: exemplar: photo %dx%d was not among the photos its classes were drawn from", img.Bounds().Dx(), img.Bounds().Dy())
	}
	s := seeds[rng.IntN(len(seeds))]
	return append(dst, core.Example{Views: []core.Planar{e.view(s.ctx, e.channels, rng)}, Class: s.class}), nil
}

// embed returns the trunk's features of patches.
func (e *Exemplar) embed(trunk *core.Trunk, patches []*image.NRGBA) ([][]float32, error) {
	views := make([]core.Planar, len(patches))
	for i, p := range patches {
		views[i] = core.TrunkInput(p, trunk.Config.InChannels)
	}
	f, err := embedViews(trunk, views)
	if err != nil {
		return nil, fmt.Errorf("tasks: exemplar: %w", err)
	}
	return f, nil
}

// Assign implements Assigner: each photo's best seed is labelled with
// the class whose seed patch is nearest (cosine, first on ties) in trunk's
// features (evaluation mode). The refreshed photos' classes are not
// changed; the assigned photos replace those of the last Assign.
func (e *Exemplar) Assign(trunk *core.Trunk, photos []*image.NRGBA) error {
	if trunk == nil {
		return fmt.Errorf("tasks: exemplar assign needs a trunk")
	}
	st := e.state()
	if st == nil {
		return fmt.Errorf("tasks: exemplar has no surrogate classes to assign photos to")
	}
	var classes []int
	var patches []*image.NRGBA
	for c, p := range st.patch {
		if p != nil {
			classes, patches = append(classes, c), append(patches, p)
		}
	}
	ctxs := make([]*image.NRGBA, len(photos))
	for i, img := range photos {
		if err := e.checkPhoto(img); err != nil {
			return fmt.Errorf("tasks: exemplar held-out photo %d: %w", i, err)
		}
		ctxs[i] = e.seeds(img, 1)[0]
		patches = append(patches, e.seedPatch(ctxs[i]))
	}
	f, err := e.embed(trunk, patches)
	if err != nil {
		return err
	}
	held := make(map[*image.NRGBA][]exemplarSeed, len(photos))
	for i, img := range photos {
		q := f[len(classes)+i]
		best, bestSim := 0, math.Inf(-1)
		for k := range classes {
			if s := cosine(q, f[k]); s > bestSim {
				best, bestSim = k, s
			}
		}
		held[img] = []exemplarSeed{{class: classes[best], ctx: ctxs[i]}}
	}
	e.mu.Lock()
	next := *e.st
	next.held = held
	e.st = &next
	e.mu.Unlock()
	return nil
}

// Predict implements Task: the photo's seed (its first seed if it is
// one of the refreshed photos, else its best square) is classified.
// Input shows the seed beside three transformed views drawn with rng;
// Image shows the seed beside the seed patch of the predicted class (the
// seed alone when the task has not been refreshed, as after loading a
// checkpoint without its photos). Probs are the classes' probabilities.
func (e *Exemplar) Predict(trunk *core.Trunk, img *image.NRGBA, rng *rand.Rand) (Prediction, error) {
	if err := e.checkPhoto(img); err != nil {
		return Prediction{}, err
	}
	if trunk == nil {
		return Prediction{}, fmt.Errorf("tasks: exemplar predict needs a trunk")
	}
	if rng == nil {
		rng = rand.New(rand.NewPCG(0, 0))
	}
	st := e.state()
	own := -1
	var ctx *image.NRGBA
	if st != nil {
		if s, ok := st.photos[img]; ok {
			own, ctx = s[0].class, s[0].ctx
		}
	}
	if ctx == nil {
		ctx = e.seeds(img, 1)[0]
	}
	seed := e.seedPatch(ctx)
	ex := []core.Example{{Views: []core.Planar{core.TrunkInput(seed, trunk.Config.InChannels)}}}
	logits, err := e.Head.Logits(trunk, ex, false)
	if err != nil {
		return Prediction{}, fmt.Errorf("tasks: exemplar predict: %w", err)
	}
	probs := classProbs(mat.Data[float32](logits.Value()))
	k := topClass(probs)
	shown := []*image.NRGBA{seed}
	for range 3 {
		shown = append(shown, e.view(ctx, 3, rng).Image(core.ImageNetNorm))
	}
	summary := fmt.Sprintf("surrogate class %d (p=%.2f)", k, probs[k])
	out := seed
	switch {
	case st == nil:
		summary += "; the classes' seed patches are not at hand (they come from the training photos)"
	case st.patch[k] != nil:
		out = board([]*image.NRGBA{seed, st.patch[k]}, 2, e.cfg.Size)
		if own == k {
			summary += ": its own seed"
		} else if own >= 0 {
			summary += fmt.Sprintf(": wrong, its own is class %d", own)
		}
	}
	return Prediction{
		Image:   out,
		Input:   board(shown, len(shown), e.cfg.Size),
		Summary: summary,
		Probs:   probs,
	}, nil
}

// BaselineLoss is the loss of guessing: ln of the number of classes with a
// seed (all Classes before Refresh).
func (e *Exemplar) BaselineLoss([]core.Example) float64 {
	if st := e.state(); st != nil && st.active > 1 {
		return math.Log(float64(st.active))
	}
	return math.Log(float64(e.cfg.Classes))
}
