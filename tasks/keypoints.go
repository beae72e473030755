package tasks

import (
	"encoding/gob"
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"

	"github.com/disintegration/imaging"
	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/internal/kmeans"
)

// KeypointClusters is the pretext task of Christlein, Gropp, Fiel & Maier
// 2017, "Unsupervised Feature Learning for Writer Identification and Writer
// Retrieval" (ICDAR): patches around keypoints are labelled by the k-means
// cluster of their hand-made descriptors, and the network learns to predict
// a patch's cluster. The paper used SIFT keypoints and descriptors; here the
// keypoints are Harris corners (harris) and the descriptor SIFT's 4x4 cells
// of 8 orientation bins without SIFT's scale and orientation normalisation
// (describe), computed on the Patch x Patch window the trunk is shown
// (resized to Size). As the descriptors do not depend on the trunk, the
// task refreshes once.
type KeypointClusters struct {
	nn.Module
	// Head is the linear classifier over the K descriptor clusters.
	Head *core.Classifier

	base[KeypointConfig]

	sched     schedule
	centroids [][]float64
	points    map[*image.NRGBA][]labelledPoint // refreshed photos
	held      map[*image.NRGBA][]labelledPoint // photos labelled by Assign
	// examples holds up to GalleryMax training patches of each cluster.
	examples [][]*image.NRGBA
}

// labelledPoint is a keypoint with its descriptor's cluster.
type labelledPoint struct {
	X, Y    int
	Cluster int
}

var (
	_ Task     = &KeypointClusters{}
	_ Assigner = &KeypointClusters{}
)

func init() { gob.Register(&KeypointClusters{}) }

// keypointsEntry is the task's registry entry.
var keypointsEntry = entry{
	new:      fromConfig(NewKeypointClusters),
	summary:  "predict the k-means cluster of the orientation histogram of a patch around a Harris corner (Christlein et al. 2017)",
	defaults: Defaults{Optimizer: "adam", LR: 0.001, Steps: 300, Batch: 32},
	captions: []Caption{
		{Image: "input", Text: "keypoints (red: predicted)"},
		{Image: "image", Text: "patches in its cluster"},
	},
}

// KeypointConfig sets the keypoint-clusters task. The zero value is the
// default.
type KeypointConfig struct {
	// Size is the side of the square input the trunk sees (default 32).
	Size int `json:"size,omitempty"`
	// Patch is the side of the window around a keypoint, in photo pixels,
	// that is described and shown to the trunk (default 24; a multiple of
	// 4, the descriptor's cells).
	Patch int `json:"patch,omitempty"`
	// K is the number of descriptor clusters (default 32; the paper's 5000
	// are for millions of patches), at most the number of keypoints.
	K int `json:"k,omitempty"`
	// PerPhoto is the most keypoints taken from a photo, strongest first
	// (default 16).
	PerPhoto int `json:"per_photo,omitempty"`
	// Shift is the largest random shift of a training patch off its
	// keypoint, in photo pixels (default 2; negative: none).
	Shift int `json:"shift,omitempty"`
	// Restarts is the number of k-means runs, the best kept (default 1).
	Restarts int `json:"restarts,omitempty"`
}

func (c KeypointConfig) withDefaults() KeypointConfig {
	if c.Size == 0 {
		c.Size = 32
	}
	if c.Patch == 0 {
		c.Patch = 24
	}
	if c.K == 0 {
		c.K = 32
	}
	if c.PerPhoto == 0 {
		c.PerPhoto = 16
	}
	if c.Shift == 0 {
		c.Shift = 2
	}
	if c.Restarts == 0 {
		c.Restarts = 1
	}
	return c
}

// maxPerPhoto bounds the keypoints taken from one photo.
const maxPerPhoto = 256

// NewKeypointClusters returns the keypoint-clusters task for trunk with a
// fresh head drawn from rng; its labels come with the first Refresh.
func NewKeypointClusters(cfg KeypointConfig, trunk *core.Trunk, rng *rand.Rand) (*KeypointClusters, error) {
	cfg = cfg.withDefaults()
	if err := checkAugment("keypoint-clusters", cfg.Size, 0, 1, trunk); err != nil {
		return nil, err
	}
	switch {
	case cfg.Patch < descCells || cfg.Patch > maxTaskSide || cfg.Patch%descCells != 0:
		return nil, fmt.Errorf("tasks: keypoint-clusters patch %d, want a multiple of %d in [%d, %d]", cfg.Patch, descCells, descCells, maxTaskSide)
	case cfg.K < 2 || cfg.K > maxClusters:
		return nil, fmt.Errorf("tasks: keypoint-clusters k %d out of range [2, %d]", cfg.K, maxClusters)
	case cfg.PerPhoto < 1 || cfg.PerPhoto > maxPerPhoto:
		return nil, fmt.Errorf("tasks: keypoint-clusters per_photo %d out of range [1, %d]", cfg.PerPhoto, maxPerPhoto)
	case cfg.shift() > cfg.Patch:
		return nil, fmt.Errorf("tasks: keypoint-clusters shift %d exceeds the patch %d", cfg.Shift, cfg.Patch)
	case cfg.Restarts < 1 || cfg.Restarts > maxRestarts:
		return nil, fmt.Errorf("tasks: keypoint-clusters restarts %d out of range [1, %d]", cfg.Restarts, maxRestarts)
	}
	head, err := core.NewClassifier(trunk.Features(), cfg.K, rng)
	if err != nil {
		return nil, fmt.Errorf("tasks: keypoint-clusters head: %w", err)
	}
	return &KeypointClusters{Head: head, base: newBase("keypoint-clusters", cfg, trunk)}, nil
}

// InputSize implements Task.
func (k *KeypointClusters) InputSize() int { return k.cfg.Size }

// NeedsRefresh implements Refresher: once, before the first batch.
func (k *KeypointClusters) NeedsRefresh(step int) bool { return k.sched.needs(step) }

// margin is the distance keypoints keep from the border so a shifted patch
// stays inside the photo.
func (k *KeypointClusters) margin() int { return k.cfg.Patch/2 + k.cfg.shift() }

// shift is the largest shift in pixels (Shift, or 0 when negative).
func (c KeypointConfig) shift() int { return max(c.Shift, 0) }

// Needs implements Task: photos in which a keypoint's patch, shifted,
// fits.
func (k *KeypointClusters) Needs() Needs { return Needs{MinSide: 2*k.margin() + 1} }

func (k *KeypointClusters) checkPhoto(img *image.NRGBA) error {
	if err := needPhoto(img); err != nil {
		return err
	}
	if b := img.Bounds(); min(b.Dx(), b.Dy()) < k.Needs().MinSide {
		return fmt.Errorf("tasks: photo is %dx%d, keypoint-clusters needs sides of at least %d", b.Dx(), b.Dy(), k.Needs().MinSide)
	}
	return nil
}

// detect returns img's keypoints and their descriptors.
func (k *KeypointClusters) detect(img *image.NRGBA) ([]keypoint, [][]float64) {
	g, w, h := greyPlane(img)
	kps := harris(g, w, h, harrisConfig{N: k.cfg.PerPhoto, Margin: k.margin()})
	gx, gy := sobel(g, w, h)
	desc := make([][]float64, len(kps))
	for i, p := range kps {
		desc[i] = describe(gx, gy, w, p.X-k.cfg.Patch/2, p.Y-k.cfg.Patch/2, k.cfg.Patch)
	}
	return kps, desc
}

// patch is the Size x Size view of the Patch x Patch window whose centre is
// (x, y) (between pixels: the window's top-left pixel is (x, y) - Patch/2).
func (k *KeypointClusters) patch(img *image.NRGBA, x, y int) *image.NRGBA {
	b := img.Bounds()
	r := image.Rect(x-k.cfg.Patch/2, y-k.cfg.Patch/2, x+k.cfg.Patch/2, y+k.cfg.Patch/2).Add(b.Min)
	c := imaging.Crop(img, r)
	if k.cfg.Patch == k.cfg.Size {
		return c
	}
	return imaging.Resize(c, k.cfg.Size, k.cfg.Size, imaging.Linear)
}

// Refresh implements Refresher: keypoints of every photo, k-means of
// all their descriptors.
func (k *KeypointClusters) Refresh(trunk *core.Trunk, photos []*image.NRGBA, rng *rand.Rand) (string, error) {
	if len(photos) == 0 {
		return "", fmt.Errorf("tasks: keypoint-clusters has no photos")
	}
	var all [][]float64
	kps := make([][]keypoint, len(photos))
	for i, p := range photos {
		if err := k.checkPhoto(p); err != nil {
			return "", fmt.Errorf("tasks: photo %d: %w", i, err)
		}
		var desc [][]float64
		kps[i], desc = k.detect(p)
		all = append(all, desc...)
	}
	nk := min(k.cfg.K, len(all))
	res, err := kmeans.Run(all, kmeans.Config{K: nk, Restarts: k.cfg.Restarts}, rng)
	if err != nil {
		return "", err
	}
	k.points = make(map[*image.NRGBA][]labelledPoint, len(photos))
	k.examples = make([][]*image.NRGBA, k.cfg.K)
	n := 0
	for i, p := range photos {
		pts := make([]labelledPoint, len(kps[i]))
		for j, kp := range kps[i] {
			c := res.Labels[n]
			n++
			pts[j] = labelledPoint{X: kp.X, Y: kp.Y, Cluster: c}
			if len(k.examples[c]) < GalleryMax {
				k.examples[c] = append(k.examples[c], k.patch(p, kp.X, kp.Y))
			}
		}
		k.points[p] = pts
	}
	k.centroids = res.Centroids
	k.held = nil
	k.sched.refreshed()
	used := 0
	for _, e := range k.examples {
		if len(e) > 0 {
			used++
		}
	}
	return fmt.Sprintf("keypoint clusters: %d keypoints of %d photos in %d clusters (%d used), %d empty clusters split",
		len(all), len(photos), nk, used, res.EmptyFixed), nil
}

// Assign implements Assigner: the keypoints of each photo labelled with
// their descriptors' nearest centroids.
func (k *KeypointClusters) Assign(trunk *core.Trunk, photos []*image.NRGBA) error {
	if k.centroids == nil {
		return fmt.Errorf("tasks: keypoint-clusters has no clusters yet to assign keypoints to")
	}
	held := make(map[*image.NRGBA][]labelledPoint, len(photos))
	for i, p := range photos {
		if err := k.checkPhoto(p); err != nil {
			return fmt.Errorf("tasks: photo %d: %w", i, err)
		}
		kps, desc := k.detect(p)
		pts := make([]labelledPoint, len(kps))
		for j, kp := range kps {
			c, _ := kmeans.Nearest(desc[j], k.centroids)
			pts[j] = labelledPoint{X: kp.X, Y: kp.Y, Cluster: c}
		}
		held[p] = pts
	}
	k.held = held
	return nil
}

// Examples implements Task: the patch around one of the photo's
// keypoints, picked at random and shifted by up to Shift pixels, labelled
// with the keypoint's cluster.
func (k *KeypointClusters) Examples(dst []core.Example, img *image.NRGBA, rng *rand.Rand) ([]core.Example, error) {
	if err := k.checkPhoto(img); err != nil {
		return dst, err
	}
	pts, ok := k.points[img]
	if !ok {
		pts, ok = k.held[img]
	}
	if !ok {
		if k.points == nil {
			return dst, fmt.Errorf("tasks: no keypoints clustered yet (tasks.Prepare refreshes the labels before training)")
		}
		return dst, fmt.Errorf("tasks: photo was not among the photos whose keypoints were clustered")
	}
	p := pts[rng.IntN(len(pts))]
	s := k.cfg.shift()
	dx, dy := rng.IntN(2*s+1)-s, rng.IntN(2*s+1)-s
	return append(dst, core.Example{
		Views: []core.Planar{core.TrunkInput(k.patch(img, p.X+dx, p.Y+dy), k.channels)},
		Class: p.Cluster,
	}), nil
}

// Loss implements core.Objective.
func (k *KeypointClusters) Loss(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, core.Score, error) {
	return k.Head.Loss(trunk, batch, train)
}

// Predict implements Task: the photo's strongest keypoint is shown to
// the trunk and head; Input is the photo with its keypoints marked (the
// predicted one in red, the others in yellow, as squares of the patch
// size) and Image a gallery of training patches of the predicted cluster.
func (k *KeypointClusters) Predict(trunk *core.Trunk, img *image.NRGBA, rng *rand.Rand) (Prediction, error) {
	if err := k.checkPhoto(img); err != nil {
		return Prediction{}, err
	}
	if trunk == nil {
		return Prediction{}, fmt.Errorf("tasks: keypoint-clusters predict needs a trunk")
	}
	kps, _ := k.detect(img)
	top := kps[0]
	ex := []core.Example{{Views: []core.Planar{core.TrunkInput(k.patch(img, top.X, top.Y), trunk.Config.InChannels)}}}
	logits, err := k.Head.Logits(trunk, ex, false)
	if err != nil {
		return Prediction{}, fmt.Errorf("tasks: keypoint-clusters predict: %w", err)
	}
	probs := classProbs(mat.Data[float32](logits.Value()))
	c := topClass(probs)
	marked := imaging.Clone(img)
	for i := len(kps) - 1; i >= 0; i-- { // the strongest drawn last, on top
		col := color.NRGBA{255, 220, 0, 255}
		if i == 0 {
			col = color.NRGBA{255, 0, 0, 255}
		}
		markSquare(marked, kps[i].X, kps[i].Y, k.cfg.Patch/2, col)
	}
	summary := fmt.Sprintf("keypoint at (%d, %d) of %d: cluster %d of %d (p=%.2f)", top.X, top.Y, len(kps), c, k.cfg.K, probs[c])
	var members []*image.NRGBA
	switch {
	case k.examples == nil:
		summary += ": no keypoints clustered yet"
		members = []*image.NRGBA{k.patch(img, top.X, top.Y)}
	case len(k.examples[c]) == 0:
		summary += ": no training patch in it"
		members = []*image.NRGBA{k.patch(img, top.X, top.Y)}
	default:
		members = k.examples[c]
		summary += fmt.Sprintf(", %d training patches shown", len(members))
	}
	return Prediction{
		Image:   gallery(members, gallerySide),
		Input:   marked,
		Summary: summary,
		Probs:   probs,
	}, nil
}

// markSquare draws the outline of the square of half-side r centred on
// (x, y) into img, clipped to it.
func markSquare(img *image.NRGBA, x, y, r int, c color.NRGBA) {
	b := img.Bounds()
	set := func(px, py int) {
		if image.Pt(px, py).In(b) {
			img.SetNRGBA(px, py, c)
		}
	}
	for i := -r; i <= r; i++ {
		set(b.Min.X+x+i, b.Min.Y+y-r)
		set(b.Min.X+x+i, b.Min.Y+y+r)
		set(b.Min.X+x-r, b.Min.Y+y+i)
		set(b.Min.X+x+r, b.Min.Y+y+i)
	}
}

// BaselineLoss is the loss of guessing: ln K for K equally likely clusters.
func (k *KeypointClusters) BaselineLoss([]core.Example) float64 { return math.Log(float64(k.cfg.K)) }
