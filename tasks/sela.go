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

// SeLa is the self-labelling task of Asano, Rupprecht & Vedaldi 2020,
// "Self-labelling via simultaneous clustering and representation learning"
// (ICLR): the pseudo-labels are the head's own predictions, made an
// equipartition. Each round (Refresh) runs trunk and head (evaluation mode)
// on every photo's centre crop and turns the predicted probabilities P into
// labels by Sinkhorn-Knopp: the assignment Q ∝ P^λ with every cluster
// holding the same share of the photos (see sinkhorn), which rules out the
// degenerate solution of one cluster for all. Between rounds trunk and head
// learn to predict the labels from augmented crops. Unlike DeepCluster the
// head is kept from round to round: its predictions are what is clustered.
//
// Several heads (the paper's multi-head variant, SeLa [3x10]) each get
// their own labels from their own predictions; the loss is their mean. An
// example's Class is the first head's label and its Target holds every
// head's label, in head order.
type SeLa struct {
	nn.Module
	// Heads are the linear classifiers over K clusters, one per labelling.
	Heads []*core.Classifier

	base[SeLaConfig]

	sched  schedule
	labels photoLabels
	rounds int
}

var (
	_ Task     = &SeLa{}
	_ Assigner = &SeLa{}
)

func init() { gob.Register(&SeLa{}) }

// selaEntry is the task's registry entry.
var selaEntry = entry{
	new:      fromConfig(NewSeLa),
	summary:  "predict balanced pseudo-labels made from the head's own predictions by Sinkhorn-Knopp (Asano et al. 2020)",
	defaults: Defaults{Optimizer: "adam", LR: 0.001, Steps: 300, Batch: 32},
	captions: []Caption{
		{Image: "input", Text: "photo"},
		{Image: "image", Text: "photos in its cluster"},
	},
}

// SeLaConfig sets the sela task. The zero value is the default.
type SeLaConfig struct {
	// Size is the side of the square crop the trunk sees (default 32).
	Size int `json:"size,omitempty"`
	// K is the number of clusters of each head (default 16). With fewer
	// photos than clusters, each photo is a cluster of its own and the rest
	// stay empty.
	K int `json:"k,omitempty"`
	// Heads is the number of heads, each with its own labels (default 1).
	Heads int `json:"heads,omitempty"`
	// Lambda is the inverse temperature of the label assignment, P^λ
	// (default 25, the paper's).
	Lambda float64 `json:"lambda,omitempty"`
	// Every is the number of training steps between rounds (default 50).
	// Negative: once per epoch, taken as ⌈photos/64⌉ steps.
	Every int `json:"every,omitempty"`
	// Jitter is the colour-jitter strength (default 0.4; negative: none).
	Jitter float64 `json:"jitter,omitempty"`
	// MinScale is the smallest crop area as a fraction of the photo's
	// (default 0.25), at most 1.
	MinScale float64 `json:"min_scale,omitempty"`
}

func (c SeLaConfig) withDefaults() SeLaConfig {
	if c.Size == 0 {
		c.Size = 32
	}
	if c.K == 0 {
		c.K = 16
	}
	if c.Heads == 0 {
		c.Heads = 1
	}
	if c.Lambda == 0 {
		c.Lambda = 25
	}
	if c.Every == 0 {
		c.Every = 50
	}
	if c.Jitter == 0 {
		c.Jitter = 0.4
	}
	if c.MinScale == 0 {
		c.MinScale = 0.25
	}
	return c
}

// maxHeads bounds SeLa's heads.
const maxHeads = 16

// NewSeLa returns the sela task for trunk with fresh heads drawn from rng;
// its labels come with the first Refresh.
func NewSeLa(cfg SeLaConfig, trunk *core.Trunk, rng *rand.Rand) (*SeLa, error) {
	cfg = cfg.withDefaults()
	if err := checkAugment("sela", cfg.Size, cfg.Jitter, cfg.MinScale, trunk); err != nil {
		return nil, err
	}
	switch {
	case cfg.K < 2 || cfg.K > maxClusters:
		return nil, fmt.Errorf("tasks: sela k %d out of range [2, %d]", cfg.K, maxClusters)
	case cfg.Heads < 1 || cfg.Heads > maxHeads:
		return nil, fmt.Errorf("tasks: sela heads %d out of range [1, %d]", cfg.Heads, maxHeads)
	case !(cfg.Lambda > 0) || cfg.Lambda > 1e4:
		return nil, fmt.Errorf("tasks: sela lambda %v out of range (0, 10000]", cfg.Lambda)
	}
	if err := checkHead("sela", cfg.Heads*(trunk.Features()+1)*cfg.K); err != nil {
		return nil, err
	}
	s := &SeLa{base: newBase("sela", cfg, trunk)}
	for h := range cfg.Heads {
		head, err := core.NewClassifier(trunk.Features(), cfg.K, rng)
		if err != nil {
			return nil, fmt.Errorf("tasks: sela head %d: %w", h, err)
		}
		s.Heads = append(s.Heads, head)
	}
	return s, nil
}

// InputSize implements Task.
func (s *SeLa) InputSize() int { return s.cfg.Size }

// Needs implements Task: any photo (crops are resized to the
// input size).
func (s *SeLa) Needs() Needs { return Needs{MinSide: 1} }

// NeedsRefresh implements Refresher: before the first batch, then every
// Config().Every steps.
func (s *SeLa) NeedsRefresh(step int) bool { return s.sched.needs(step) }

// logProbs returns each head's log-softmax over the clusters for each
// photo's centre crop, [head][photo][cluster], in evaluation mode.
func (s *SeLa) logProbs(trunk *core.Trunk, photos []*image.NRGBA) ([][][]float64, error) {
	feats, err := embedPhotos(trunk, photos, s.cfg.Size)
	if err != nil {
		return nil, err
	}
	out := make([][][]float64, len(s.Heads))
	for h, head := range s.Heads {
		w, b := mat.Data[float32](head.W.Value()), mat.Data[float32](head.B.Value())
		nf := head.W.Shape()[1]
		if nf != trunk.Features() {
			return nil, fmt.Errorf("tasks: sela head takes %d features, the trunk gives %d", nf, trunk.Features())
		}
		out[h] = make([][]float64, len(feats))
		for i, f := range feats {
			z := make([]float64, s.cfg.K)
			for c := range z {
				v := float64(b[c])
				for j, x := range f {
					v += float64(w[c*nf+j]) * x
				}
				z[c] = v
			}
			lse := logSumExpPlus(z, make([]float64, len(z)))
			for c := range z {
				z[c] -= lse
			}
			out[h][i] = z
		}
	}
	return out, nil
}

// Refresh implements Refresher: one round of self-labelling.
func (s *SeLa) Refresh(trunk *core.Trunk, photos []*image.NRGBA, rng *rand.Rand) (string, error) {
	if len(photos) == 0 {
		return "", fmt.Errorf("tasks: sela has no photos to label")
	}
	lp, err := s.logProbs(trunk, photos)
	if err != nil {
		return "", err
	}
	labels := make([][]int, len(photos))
	for i := range labels {
		labels[i] = make([]int, len(s.Heads))
	}
	var iters int
	var agree float64
	used := 0 // clusters the first head's own argmax uses
	for h := range s.Heads {
		res, err := sinkhorn(lp[h], sinkhornConfig{Lambda: s.cfg.Lambda})
		if err != nil {
			return "", err
		}
		for i, l := range res.Labels {
			labels[i][h] = l
		}
		iters += res.Iters
		agree += res.Agree
		if h == 0 {
			arg := make([]int, len(photos))
			for i, r := range lp[0] {
				arg[i] = topClass(r)
			}
			for _, n := range clusterSizes(arg, s.cfg.K) {
				if n > 0 {
					used++
				}
			}
		}
	}
	change := "first round"
	if s.rounds > 0 && samePhotos(s.labels.photos, photos) {
		prev, cur := make([]int, len(photos)), make([]int, len(photos))
		for i := range photos {
			prev[i], cur[i] = s.labels.labels[i][0], labels[i][0]
		}
		v, err := nmi(prev, cur)
		if err != nil {
			return "", err
		}
		change = fmt.Sprintf("NMI %.2f with the last round", v)
	}
	s.labels.set(photos, labels)
	s.labels.held = nil
	s.rounds++
	s.sched.period = epochPeriod(s.cfg.Every, len(photos))
	s.sched.refreshed()
	first := make([]int, len(photos))
	for i := range photos {
		first[i] = labels[i][0]
	}
	lo, hi := len(photos), 0
	for _, n := range clusterSizes(first, s.cfg.K) {
		lo, hi = min(lo, n), max(hi, n)
	}
	hn := float64(len(s.Heads))
	return fmt.Sprintf("self-labelling round %d: %d photos in %d clusters of %d-%d photos (the head's own argmax used %d clusters); Sinkhorn %.0f iterations, rounding kept the argmax of Q for %.0f%%; %s",
		s.rounds, len(photos), s.cfg.K, lo, hi, used, float64(iters)/hn, 100*agree/hn, change), nil
}

// Assign implements Assigner: each head's most likely cluster for each
// photo (no equipartition: the held-out photos are labelled one by one).
func (s *SeLa) Assign(trunk *core.Trunk, photos []*image.NRGBA) error {
	if s.labels.index == nil {
		return fmt.Errorf("tasks: sela has no labels yet")
	}
	lp, err := s.logProbs(trunk, photos)
	if err != nil {
		return err
	}
	labels := make([][]int, len(photos))
	for i := range photos {
		labels[i] = make([]int, len(s.Heads))
		for h := range s.Heads {
			labels[i][h] = topClass(lp[h][i])
		}
	}
	s.labels.assign(photos, labels)
	return nil
}

// Examples implements Task: one augmented crop of the photo with its
// labels.
func (s *SeLa) Examples(dst []core.Example, img *image.NRGBA, rng *rand.Rand) ([]core.Example, error) {
	if err := needPhoto(img); err != nil {
		return dst, err
	}
	l, err := s.labels.of(img)
	if err != nil {
		return dst, err
	}
	target := make([]float32, len(l))
	for h, c := range l {
		target[h] = float32(c)
	}
	return append(dst, core.Example{
		Views:  []core.Planar{core.TrunkInput(augmentedCrop(img, s.cfg.Size, s.cfg.MinScale, s.cfg.Jitter, rng), s.channels)},
		Class:  l[0],
		Target: target,
	}), nil
}

// Loss implements core.Objective: the mean over heads of each head's
// cross-entropy against its labels; the accuracy is the heads' mean.
func (s *SeLa) Loss(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, core.Score, error) {
	if trunk == nil {
		return nil, core.Score{}, fmt.Errorf("tasks: sela needs a trunk")
	}
	if len(batch) == 0 {
		return nil, core.Score{}, fmt.Errorf("tasks: sela batch is empty")
	}
	views := make([]core.Planar, len(batch))
	labels := make([][]int, len(s.Heads))
	for h := range labels {
		labels[h] = make([]int, len(batch))
	}
	for n, ex := range batch {
		if len(ex.Views) != 1 {
			return nil, core.Score{}, fmt.Errorf("tasks: sela example %d has %d views, want 1", n, len(ex.Views))
		}
		views[n] = ex.Views[0]
		if len(ex.Target) != len(s.Heads) {
			return nil, core.Score{}, fmt.Errorf("tasks: sela example %d has %d labels for %d heads", n, len(ex.Target), len(s.Heads))
		}
		for h, c := range ex.Target {
			labels[h][n] = int(c)
		}
	}
	x, sh, err := core.Stack(views)
	if err != nil {
		return nil, core.Score{}, fmt.Errorf("tasks: sela: %w", err)
	}
	f, err := trunk.Forward(mat.NewDense[float32](mat.WithShape(sh.C, sh.Cols()), mat.WithBacking(x)), sh, train)
	if err != nil {
		return nil, core.Score{}, fmt.Errorf("tasks: sela: %w", err)
	}
	losses := make([]mat.Tensor, len(s.Heads))
	var acc float64
	for h, head := range s.Heads {
		logits, err := core.Linear(f, head.W, head.B)
		if err != nil {
			return nil, core.Score{}, fmt.Errorf("tasks: sela: %w", err)
		}
		l, a, err := core.SoftmaxCrossEntropy(logits, labels[h], nil)
		if err != nil {
			return nil, core.Score{}, fmt.Errorf("tasks: sela head %d: %w", h, err)
		}
		losses[h] = l
		acc += a
	}
	loss := losses[0]
	if len(losses) > 1 {
		loss = ag.Mean(losses)
	}
	return loss, core.Score{Accuracy: acc / float64(len(s.Heads))}, nil
}

// Predict implements Task: the first head's cluster for the photo's
// centre crop, shown as a gallery of the labelled photos in it; Input is
// the photo.
func (s *SeLa) Predict(trunk *core.Trunk, img *image.NRGBA, rng *rand.Rand) (Prediction, error) {
	return predictCluster(trunk, s.Heads[0], &s.labels, s.cfg.Size, img)
}

// BaselineLoss is the loss of guessing: ln K for K equally likely clusters.
func (s *SeLa) BaselineLoss([]core.Example) float64 { return math.Log(float64(s.cfg.K)) }
