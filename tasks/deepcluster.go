package tasks

import (
	"encoding/gob"
	"encoding/json"
	"fmt"
	"image"
	"math"
	"math/rand/v2"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/internal/kmeans"
)

// DeepCluster is the pretext task of Caron, Bojanowski, Joulin & Douze
// 2018, "Deep Clustering for Unsupervised Learning of Visual Features"
// (ECCV): the labels are clusters of the trunk's own features. Each round
// (Refresh) embeds every photo's centre crop with the frozen trunk, reduces
// the features by PCA with whitening and L2 normalisation, clusters them by
// k-means and takes the clusters as classes; the linear head is drawn
// afresh, since the cluster numbering of one round means nothing in the
// next. Between rounds the trunk and head learn to predict a photo's cluster
// from augmented crops of it.
//
// Against the trivial solution of a few huge clusters the paper samples
// images uniformly over the clusters; here the photos are drawn by
// tasks.Batch, so the loss is instead weighted by the inverse size of each
// example's cluster (normalised so the weights average 1 over the photos),
// which gives each cluster the same total weight. The weights are kept in a
// parameter that takes no gradient, so checkpoints keep them. The paper's
// Sobel filtering of the input is left out.
type DeepCluster struct {
	nn.Module
	// Head is the linear classifier over the K clusters, redrawn each round.
	Head *core.Classifier
	// Weights are the loss weights of the clusters, [K, 1]; not trained.
	Weights *nn.Param

	base[DeepClusterConfig]

	sched     schedule
	labels    photoLabels
	white     whitening
	centroids [][]float64
	rounds    int
}

var (
	_ Task     = &DeepCluster{}
	_ Assigner = &DeepCluster{}
)

func init() { gob.Register(&DeepCluster{}) }

// deepClusterEntry is the task's registry entry.
var deepClusterEntry = entry{
	new:     fromConfig(NewDeepCluster),
	summary: "predict the k-means cluster of the trunk's own features, re-clustered every few steps (Caron et al. 2018)",
	// Re-clustering draws a new head, so the last round needs steps of its
	// own: every 100 steps over 400 (the last head trains 100 steps)
	// learnt on both photo sets with both seeds tried, every 50 over 300
	// only with one of them (docs/RUNS.md, default runs).
	defaults: Defaults{Optimizer: "adam", LR: 0.001, Steps: 400, Batch: 32, Config: json.RawMessage(`{"every":100}`)},
	captions: []Caption{
		{Image: "input", Text: "photo"},
		{Image: "image", Text: "photos in its cluster"},
	},
}

// DeepClusterConfig sets the deepcluster task. The zero value is the
// default.
type DeepClusterConfig struct {
	// Size is the side of the square crop the trunk sees (default 32).
	Size int `json:"size,omitempty"`
	// K is the number of clusters (default 16), at most the number of
	// photos in a round: with fewer photos the round uses one cluster per
	// photo and the head's other classes go unused.
	K int `json:"k,omitempty"`
	// Every is the number of training steps between rounds (default 50; a
	// few hundred photos at a batch of 64 take about that long to be seen a
	// few times). Negative: once per epoch, taken as ⌈photos/64⌉ steps (64 is
	// pretext train's default batch).
	Every int `json:"every,omitempty"`
	// PCA is the number of whitened dimensions the features are reduced to
	// before k-means (default 32, a quarter of the RS trunk's 128 features,
	// about the paper's 256 of 4096), and to one per 4 photos.
	PCA int `json:"pca,omitempty"`
	// Restarts is the number of k-means runs per round, the best kept
	// (default 1, as the paper).
	Restarts int `json:"restarts,omitempty"`
	// Unweighted turns off the inverse-cluster-size loss weights (default
	// false: weighted).
	Unweighted bool `json:"unweighted,omitempty"`
	// Jitter is the colour-jitter strength (default 0.4; negative: none).
	Jitter float64 `json:"jitter,omitempty"`
	// MinScale is the smallest crop area as a fraction of the photo's
	// (default 0.25), at most 1.
	MinScale float64 `json:"min_scale,omitempty"`
}

func (c DeepClusterConfig) withDefaults() DeepClusterConfig {
	if c.Size == 0 {
		c.Size = 32
	}
	if c.K == 0 {
		c.K = 16
	}
	if c.Every == 0 {
		c.Every = 50
	}
	if c.PCA == 0 {
		c.PCA = 32
	}
	if c.Restarts == 0 {
		c.Restarts = 1
	}
	if c.Jitter == 0 {
		c.Jitter = 0.4
	}
	if c.MinScale == 0 {
		c.MinScale = 0.25
	}
	return c
}

// Limits on the clustering settings: they bound a refresh's work.
const (
	maxClusters = 4096
	maxRestarts = 100
)

// epochBatch is the batch an epoch of steps is reckoned in (Every < 0):
// pretext train's default.
const epochBatch = 64

// NewDeepCluster returns the deepcluster task for trunk with a fresh head
// drawn from rng; its labels come with the first Refresh.
func NewDeepCluster(cfg DeepClusterConfig, trunk *core.Trunk, rng *rand.Rand) (*DeepCluster, error) {
	cfg = cfg.withDefaults()
	if err := checkAugment("deepcluster", cfg.Size, cfg.Jitter, cfg.MinScale, trunk); err != nil {
		return nil, err
	}
	switch {
	case cfg.K < 2 || cfg.K > maxClusters:
		return nil, fmt.Errorf("tasks: deepcluster k %d out of range [2, %d]", cfg.K, maxClusters)
	case cfg.PCA < 1 || cfg.PCA > maxClusters:
		return nil, fmt.Errorf("tasks: deepcluster pca %d out of range [1, %d]", cfg.PCA, maxClusters)
	case cfg.Restarts < 1 || cfg.Restarts > maxRestarts:
		return nil, fmt.Errorf("tasks: deepcluster restarts %d out of range [1, %d]", cfg.Restarts, maxRestarts)
	}
	head, err := core.NewClassifier(trunk.Features(), cfg.K, rng)
	if err != nil {
		return nil, fmt.Errorf("tasks: deepcluster head: %w", err)
	}
	ones := make([]float32, cfg.K)
	for i := range ones {
		ones[i] = 1
	}
	return &DeepCluster{
		Head:    head,
		Weights: nn.NewParam(mat.NewDense[float32](mat.WithShape(cfg.K, 1), mat.WithBacking(ones))).WithGrad(false),
		base:    newBase("deepcluster", cfg, trunk),
	}, nil
}

// InputSize implements Task.
func (d *DeepCluster) InputSize() int { return d.cfg.Size }

// Needs implements Task: any photo (crops are resized to the
// input size).
func (d *DeepCluster) Needs() Needs { return Needs{MinSide: 1} }

// NeedsRefresh implements Refresher: before the first batch, then every
// Config().Every steps.
func (d *DeepCluster) NeedsRefresh(step int) bool { return d.sched.needs(step) }

// features returns the photos' whitening inputs: the frozen trunk's pooled
// features of their centre crops.
func (d *DeepCluster) features(trunk *core.Trunk, photos []*image.NRGBA) ([][]float64, error) {
	return embedPhotos(trunk, photos, d.cfg.Size)
}

// Refresh implements Refresher: one DeepCluster round.
func (d *DeepCluster) Refresh(trunk *core.Trunk, photos []*image.NRGBA, rng *rand.Rand) (string, error) {
	if len(photos) == 0 {
		return "", fmt.Errorf("tasks: deepcluster has no photos to cluster")
	}
	feats, err := d.features(trunk, photos)
	if err != nil {
		return "", err
	}
	white, err := fitWhitening(feats, pcaDims(d.cfg.PCA, len(photos)))
	if err != nil {
		return "", err
	}
	x := make([][]float64, len(feats))
	for i, f := range feats {
		x[i] = white.apply(f)
	}
	k := min(d.cfg.K, len(photos))
	res, err := kmeans.Run(x, kmeans.Config{K: k, Restarts: d.cfg.Restarts}, rng)
	if err != nil {
		return "", err
	}
	// NMI with the last round, when it clustered the same photos.
	change := "first round"
	if d.rounds > 0 && samePhotos(d.labels.photos, photos) {
		prev := make([]int, len(photos))
		for i := range photos {
			prev[i] = d.labels.labels[i][0]
		}
		v, err := nmi(prev, res.Labels)
		if err != nil {
			return "", err
		}
		change = fmt.Sprintf("NMI %.2f with the last round", v)
	}
	labels := make([][]int, len(photos))
	for i, l := range res.Labels {
		labels[i] = []int{l}
	}
	d.labels.set(photos, labels)
	d.labels.held = nil
	d.white, d.centroids = white, res.Centroids
	resetLinear(d.Head, rng)
	d.setWeights(clusterSizes(res.Labels, d.cfg.K), len(photos))
	d.rounds++
	d.sched.period = epochPeriod(d.cfg.Every, len(photos))
	d.sched.refreshed()
	empty := 0
	for _, s := range clusterSizes(res.Labels, k) {
		if s == 0 {
			empty++
		}
	}
	return fmt.Sprintf("k-means round %d: %d photos in %d clusters, %d empty clusters split, %d left empty, %s",
		d.rounds, len(photos), k, res.EmptyFixed, empty, change), nil
}

// pcaDims is the number of whitened dimensions for n photos: at most one per
// photosPerDim photos. Whitened to n-1 dimensions, n points lie on a regular
// simplex, all equally far apart, and k-means has nothing to go by; a few
// photos per dimension keep the distances meaningful.
func pcaDims(dims, n int) int { return max(1, min(dims, n/photosPerDim)) }

// photosPerDim is the fewest photos per whitened dimension (see pcaDims).
const photosPerDim = 4

// setWeights sets the loss weight of each non-empty cluster to
// n/(clusters·size), so the weights average 1 over the n photos and every
// cluster weighs the same in total; empty clusters get 1 (no photo has
// their label). Unweighted leaves every weight at 1.
func (d *DeepCluster) setWeights(size []int, n int) {
	w := mat.Data[float32](d.Weights.Value())
	nonEmpty := 0
	for _, s := range size {
		if s > 0 {
			nonEmpty++
		}
	}
	for c, s := range size {
		w[c] = 1
		if s > 0 && !d.cfg.Unweighted {
			w[c] = float32(float64(n) / float64(nonEmpty*s))
		}
	}
}

// Assign implements Assigner: each photo's nearest centroid in the
// last round's whitened feature space.
func (d *DeepCluster) Assign(trunk *core.Trunk, photos []*image.NRGBA) error {
	if d.centroids == nil {
		return fmt.Errorf("tasks: deepcluster has no clusters yet to assign photos to")
	}
	feats, err := d.features(trunk, photos)
	if err != nil {
		return err
	}
	labels := make([][]int, len(photos))
	for i, f := range feats {
		c, _ := kmeans.Nearest(d.white.apply(f), d.centroids)
		labels[i] = []int{c}
	}
	d.labels.assign(photos, labels)
	return nil
}

// Examples implements Task: one augmented crop of the photo labelled
// with its cluster.
func (d *DeepCluster) Examples(dst []core.Example, img *image.NRGBA, rng *rand.Rand) ([]core.Example, error) {
	if err := needPhoto(img); err != nil {
		return dst, err
	}
	l, err := d.labels.of(img)
	if err != nil {
		return dst, err
	}
	return append(dst, core.Example{
		Views: []core.Planar{core.TrunkInput(augmentedCrop(img, d.cfg.Size, d.cfg.MinScale, d.cfg.Jitter, rng), d.channels)},
		Class: l[0],
	}), nil
}

// Loss implements core.Objective: cross-entropy against the clusters,
// weighted by the inverse cluster sizes.
func (d *DeepCluster) Loss(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, core.Score, error) {
	logits, err := d.Head.Logits(trunk, batch, train)
	if err != nil {
		return nil, core.Score{}, err
	}
	labels := make([]int, len(batch))
	for i, ex := range batch {
		labels[i] = ex.Class
	}
	loss, acc, err := core.SoftmaxCrossEntropy(logits, labels, mat.Data[float32](d.Weights.Value()))
	if err != nil {
		return nil, core.Score{}, fmt.Errorf("tasks: deepcluster: %w", err)
	}
	return loss, core.Score{Accuracy: acc}, nil
}

// Predict implements Task: the head's cluster for the photo's centre
// crop, shown as a gallery of the clustered photos in it; Input is the
// photo.
func (d *DeepCluster) Predict(trunk *core.Trunk, img *image.NRGBA, rng *rand.Rand) (Prediction, error) {
	return predictCluster(trunk, d.Head, &d.labels, d.cfg.Size, img)
}

// BaselineLoss is the loss of guessing: ln K for K equally likely clusters
// (the weights average out).
func (d *DeepCluster) BaselineLoss([]core.Example) float64 { return math.Log(float64(d.cfg.K)) }
