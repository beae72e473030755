package app

import (
	"fmt"
	"image"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/explore"
	"github.com/pretextlab/pretext/recipe"
)

// Evaluation while training, on the page: every few steps, the k-NN
// accuracy of the trunk's features on the photos the person named in
// step 4 (Settings.Labels), through explore.KNNPhotos, as pretext train
// -knn-every measures held-back photos labels.csv names. The labels never
// reach the training: the losses are the same with or without them.
//
// Which photos: every named photo the app holds, held back or not, each
// classified by the others (leaving one out). The command measures only
// the held-back labelled photos, but a person names a few dozen photos at
// most, of which a tenth are held back: two or three, too few for a
// measure (leaving one out needs two labels of two photos each). A
// training photo's label is as unseen by the run as a held-back one's (no
// task trains on labels); its pixels are not, so the measure says how
// well the features separate the classes the person cares about among
// these photos, not how they carry over to new ones (the held-out score
// says that of the task).

// knnMaxPhotos caps the named photos measured on, held-back ones first
// (pretext train's cap): at a few hundred the measure is steady, and its
// cost grows with the photos.
const knnMaxPhotos = 200

// knnPoints is about how many evaluations a run makes by default.
const knnPoints = 10

// knnShare bounds the share of a run's time spent on evaluations by
// default: an evaluation comes at most every 1/knnShare times its cost
// in steps (knnEvery).
const knnShare = 0.10

// knnCost is what an evaluation of one photo costs, in examples of a
// training step at input side 64: the photo is embedded twice at
// explore's side (64), once to recompute the batch-norm statistics and
// once for its features, forward only, where a training example takes a
// forward and a backward pass. BenchmarkKNNCost (knn_test.go) measured
// 0.85 and 0.95 on two shared cores of the development VM (200 named
// photos against rotation's steps of 64 examples at side 32: 1.0-1.3 s
// an evaluation, 0.10-0.11 s a step); rounded up, so that the default
// interval errs on the cheap side. Two-view tasks cost more an example
// than that, so they spend less on evaluating.
const knnCost = 1.0

// knnEval is what a run's trunk is measured on: the named photos and
// their labels.
type knnEval struct {
	photos []*image.NRGBA
	labels []string
}

// knnPhotos returns the photos among train and held that labels name,
// held-back ones first (in the split's order), at most knnMaxPhotos; ids
// of photos no longer held are left out. It returns nil and why when
// they cannot be measured: no label (nil and ""), or fewer than two
// labels with two photos each.
func knnPhotos(labels []Named, train, held []photo) (*knnEval, string) {
	if len(labels) == 0 {
		return nil, ""
	}
	byID := make(map[int]string, len(labels))
	for _, n := range labels {
		if n.Label != "" {
			byID[n.ID] = n.Label
		}
	}
	e := &knnEval{}
	for _, p := range slices.Concat(held, train) {
		if l, ok := byID[p.id]; ok && len(e.photos) < knnMaxPhotos {
			e.photos, e.labels = append(e.photos, p.Image), append(e.labels, l)
		}
	}
	per := map[string]int{}
	for _, l := range e.labels {
		per[l]++
	}
	spare := len(slices.DeleteFunc(slices.Collect(maps.Values(per)), func(n int) bool { return n < 2 }))
	if spare < 2 {
		return nil, fmt.Sprintf("no k-NN accuracy: %d named %s with %d %s; name two photos of two labels at least",
			len(e.photos), plural(len(e.photos), "photo", "photos"), len(per), plural(len(per), "label", "labels"))
	}
	return e, ""
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// knnEvery is the default interval between evaluations of a run of
// steps steps of batch examples at input side side, shared by workers
// data-parallel workers, measured on n photos: about knnPoints a run, and
// never so often that evaluating takes more than knnShare of the time
// (knnCost).
func knnEvery(steps, batch, side, n, workers int) int {
	every := (steps + knnPoints - 1) / knnPoints
	// An evaluation costs knnCost·n·(64/side)² examples; a step, batch
	// examples shared by the workers while one worker alone evaluates
	// (and the others wait for it), so it counts for batch/workers at
	// best.
	cost := knnCost * float64(n) * float64(explore.DefaultSide*explore.DefaultSide) / float64(side*side) / float64(batch) * float64(max(workers, 1))
	return max(every, int(math.Ceil(cost/knnShare)), 1)
}

// config is the measure: pretext train -knn-every's (pretext eval's
// default features: the last block, global average pooling, batch-norm
// statistics recomputed on the photos; the k-NN vote, k = 20, T = 0.07).
func (e *knnEval) config(trunk *core.Trunk) explore.KNNConfig {
	return explore.KNNConfig{Embed: explore.EmbedConfig{Block: len(trunk.Config.Widths), Grid: 1, Side: explore.DefaultSide}}
}

// hook is the recipe's Eval hook: every evaluation is a "knn" event. It
// reads the trunk under the app's model lock, so that previews and
// status wait for it rather than see it half read. One that fails (a
// trunk whose features are not finite) is a "knn" event with a Message,
// and the run goes on: it may recover.
func (e *knnEval) hook(a *App, every int, trunk func() *core.Trunk, steps int, progress func(Event)) recipe.Every {
	return recipe.Every{N: every, Fn: func(step int) {
		start := time.Now()
		a.modelMu.Lock()
		t := trunk()
		s, err := explore.KNNPhotos(t, e.photos, e.labels, nil, nil, e.config(t))
		a.modelMu.Unlock()
		if err != nil {
			progress(Event{Type: "knn", Step: step, Steps: steps, Message: fmt.Sprintf("step %d: no k-NN accuracy: %v", step, err)})
			return
		}
		progress(Event{Type: "knn", Step: step, Steps: steps, Accuracy: s.Accuracy, Images: s.Images, K: s.K, Seconds: time.Since(start).Seconds()})
	}}
}
