package tasks

import (
	"fmt"
	"image"
	"math/rand/v2"

	"github.com/disintegration/imaging"
	"github.com/nlpodyssey/spago/mat"

	"github.com/pretextlab/pretext/core"
)

// What the clustering tasks (deepcluster, sela, keypoint-clusters) share:
// their refresh schedule, the labels of the refreshed photos, embedding
// photos with the frozen trunk and the gallery their predictions show.

// schedule decides when a clustering task refreshes its labels: before its
// first batch (also after a checkpoint is loaded, as a fresh task has no
// labels) and then every period steps after the last refresh (period 0:
// never again).
type schedule struct {
	period int
	done   bool
	due    int // the step NeedsRefresh last said yes to
	last   int // the step of the last refresh
}

func (s *schedule) needs(step int) bool {
	if !s.done || (s.period > 0 && step-s.last >= s.period) || step < s.last {
		s.due = step
		return true
	}
	return false
}

// refreshed records a refresh for the step needs last asked about.
func (s *schedule) refreshed() { s.done, s.last = true, s.due }

// photoLabels holds the labels a refresh gave to photos, by pointer, and
// those given to held-out photos by Assign (kept apart, so assigning never
// changes the training labels). Each photo has one label per head.
type photoLabels struct {
	photos []*image.NRGBA
	labels [][]int
	index  map[*image.NRGBA]int
	held   map[*image.NRGBA][]int
}

// set replaces the refreshed photos and their labels.
func (p *photoLabels) set(photos []*image.NRGBA, labels [][]int) {
	p.photos, p.labels = photos, labels
	p.index = make(map[*image.NRGBA]int, len(photos))
	for i, ph := range photos {
		p.index[ph] = i
	}
}

// assign replaces the held-out photos' labels.
func (p *photoLabels) assign(photos []*image.NRGBA, labels [][]int) {
	p.held = make(map[*image.NRGBA][]int, len(photos))
	for i, ph := range photos {
		p.held[ph] = labels[i]
	}
}

// of returns img's labels: a refreshed photo's, else a held-out one's.
func (p *photoLabels) of(img *image.NRGBA) ([]int, error) {
	if i, ok := p.index[img]; ok {
		return p.labels[i], nil
	}
	if l, ok := p.held[img]; ok {
		return l, nil
	}
	if p.index == nil {
		return nil, fmt.Errorf("tasks: no photos clustered yet (tasks.Prepare refreshes the labels before training)")
	}
	return nil, fmt.Errorf("tasks: photo was not among the %d clustered photos", len(p.photos))
}

// members returns up to n refreshed photos whose label under head is c, in
// photo order.
func (p *photoLabels) members(head, c, n int) []*image.NRGBA {
	var out []*image.NRGBA
	for i, l := range p.labels {
		if len(out) == n {
			break
		}
		if l[head] == c {
			out = append(out, p.photos[i])
		}
	}
	return out
}

// embedBatch bounds the photos the trunk embeds at once (a refresh, the
// nearest neighbours of simclr's Predict).
const embedBatch = 32

// centreViews are the photos' centre crops, the fixed view the clustering
// tasks label photos by.
func centreViews(photos []*image.NRGBA, size, channels int) ([]core.Planar, error) {
	views := make([]core.Planar, len(photos))
	for i, ph := range photos {
		if err := needPhoto(ph); err != nil {
			return nil, fmt.Errorf("tasks: photo %d: %w", i, err)
		}
		views[i] = core.TrunkInput(core.CenterCrop(ph, size), channels)
	}
	return views, nil
}

// embedPhotos returns the frozen trunk's pooled features of each photo's
// centre crop (evaluation mode), in batches of embedBatch.
func embedPhotos(trunk *core.Trunk, photos []*image.NRGBA, size int) ([][]float64, error) {
	if trunk == nil {
		return nil, fmt.Errorf("tasks: no trunk to embed photos with")
	}
	views, err := centreViews(photos, size, trunk.Config.InChannels)
	if err != nil {
		return nil, err
	}
	f, err := embedViews(trunk, views)
	if err != nil {
		return nil, err
	}
	out := make([][]float64, len(f))
	for i, v := range f {
		out[i] = make([]float64, len(v))
		for j, x := range v {
			out[i][j] = float64(x)
		}
	}
	return out, nil
}

// embedViews returns the frozen trunk's pooled features of views
// (evaluation mode), embedBatch at a time.
func embedViews(trunk *core.Trunk, views []core.Planar) ([][]float32, error) {
	out := make([][]float32, 0, len(views))
	for lo := 0; lo < len(views); lo += embedBatch {
		f, err := trunk.Embed(views[lo:min(lo+embedBatch, len(views))])
		if err != nil {
			return nil, err
		}
		out = append(out, f...)
	}
	return out, nil
}

// resetLinear redraws a linear head's weights and bias as a fresh
// core.NewClassifier would (uniform in ±1/√features) and drops their
// optimiser state, in place, so the trainer keeps training the same
// parameters.
func resetLinear(c *core.Classifier, rng *rand.Rand) {
	classes, features := c.W.Shape()[0], c.W.Shape()[1]
	copy(mat.Data[float32](c.W.Value()), mat.Data[float32](core.UniformFanIn(classes, features, features, rng)))
	copy(mat.Data[float32](c.B.Value()), mat.Data[float32](core.UniformFanIn(classes, 1, features, rng)))
	c.W.State, c.B.State = nil, nil
}

// Gallery layout: up to galleryCols x galleryRows tiles of gallerySide
// pixels on white.
const (
	galleryCols = 4
	galleryRows = 2
	gallerySide = 64
	// GalleryMax is the most tiles a cluster gallery shows.
	GalleryMax = galleryCols * galleryRows
)

// gallery lays out the centre squares of up to GalleryMax images, row by
// row, side x side each, on a white board with gaps. With no image it is
// one empty white tile.
func gallery(imgs []*image.NRGBA, side int) *image.NRGBA {
	imgs = imgs[:min(len(imgs), GalleryMax)]
	crops := make([]*image.NRGBA, len(imgs))
	for i, img := range imgs {
		crops[i] = core.CenterCrop(img, side)
	}
	return board(crops, galleryCols, side)
}

// clusterSizes counts the labels of each of k clusters.
func clusterSizes(labels []int, k int) []int {
	size := make([]int, k)
	for _, l := range labels {
		size[l]++
	}
	return size
}

// epochPeriod is the period of a schedule for every steps on photos photos.
func epochPeriod(every, photos int) int {
	if every < 0 {
		return max(1, (photos+epochBatch-1)/epochBatch)
	}
	return every
}

// predictCluster is the prediction of the photo-clustering tasks: head's
// most likely cluster for img's centre crop and a gallery of up to
// GalleryMax refreshed photos labelled with it (by the first head).
func predictCluster(trunk *core.Trunk, head *core.Classifier, labels *photoLabels, size int, img *image.NRGBA) (Prediction, error) {
	if err := needPhoto(img); err != nil {
		return Prediction{}, err
	}
	if trunk == nil {
		return Prediction{}, fmt.Errorf("tasks: predict needs a trunk")
	}
	crop := core.CenterCrop(img, size)
	ex := []core.Example{{Views: []core.Planar{core.TrunkInput(crop, trunk.Config.InChannels)}}}
	logits, err := head.Logits(trunk, ex, false)
	if err != nil {
		return Prediction{}, fmt.Errorf("tasks: predict: %w", err)
	}
	probs := classProbs(mat.Data[float32](logits.Value()))
	k := topClass(probs)
	members := labels.members(0, k, GalleryMax)
	summary := fmt.Sprintf("cluster %d of %d (p=%.2f)", k, len(probs), probs[k])
	switch {
	case labels.index == nil:
		summary += ": no photos clustered yet"
		members = []*image.NRGBA{img}
	case len(members) == 0:
		summary += ": no clustered photo in it"
		members = []*image.NRGBA{img}
	default:
		summary += fmt.Sprintf(", %d clustered photos shown", len(members))
	}
	return Prediction{
		Image:   gallery(members, gallerySide),
		Input:   imaging.Clone(img),
		Summary: summary,
		Probs:   probs,
	}, nil
}
