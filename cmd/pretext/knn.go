package main

import (
	"errors"
	"fmt"
	"image"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/explore"
	"github.com/pretextlab/pretext/recipe"
)

// Evaluation while training (-knn-every): every N steps, the k-NN
// accuracy of the trunk's features on held-back labelled images, through
// explore.KNNPhotos, as solo-learn's online k-NN evaluation does. The
// labels never reach the training.

// How often a run is measured by default (-knn-every unset): an
// evaluation should cost a small part of the training between two. On
// two shared cores of the development VM, 50 steps of rotation (64
// examples) took about 2.5 s; an evaluation on the 17 labelled held-back
// photos of ../shared/data/photos 0.05-0.11 s, on knnMaxPhotos of them
// 0.7-0.9 s, on Fashion-MNIST 1.3-2.4 s (docs/GUIDE.md).
const (
	knnEveryPhotos  = 50
	knnEveryFashion = 500
)

// knnMaxPhotos caps the held-back labelled photos measured on (the first
// in the split's seeded order, a random draw). With the default
// -max-photos and -holdout there are at most 100.
const knnMaxPhotos = 200

// The Fashion-MNIST evaluation: a bank of training images votes for test
// images, the batch-norm statistics recomputed on the first thousand of
// the bank. Fixed subsets keep it cheap; they are drawn with a fixed
// seed, not the run's, so that runs of different seeds are measured on
// the same images.
const (
	knnFashionBank      = 2000
	knnFashionQueries   = 1000
	knnFashionCalibrate = 1000
	knnFashionSeed      = 20 // issue 20, which asked for the evaluation
)

// everyFlag is -knn-every: a count of steps, or unset (the data's
// default).
type everyFlag struct {
	n   int
	set bool
}

// String is the count given, or "" when unset (flag prints no default).
func (f *everyFlag) String() string {
	if f == nil || !f.set {
		return ""
	}
	return strconv.Itoa(f.n)
}

// Set takes a count of steps, 0 or more.
func (f *everyFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return fmt.Errorf("%q is not a count of steps (0: never)", s)
	}
	f.n, f.set = n, true
	return nil
}

// every is how often to measure a run on src: as given, or the data's
// default.
func (f everyFlag) every(src dataSource) int {
	switch {
	case f.set:
		return f.n
	case src.kind == "fashion-mnist":
		return knnEveryFashion
	}
	return knnEveryPhotos
}

// errNoLabels is a data source without labels: no evaluation to make.
var errNoLabels = errors.New("there are no labels")

// knnEval is what a run's trunk is measured on every -knn-every steps.
type knnEval struct {
	bank, queries []*image.NRGBA // queries nil: leave one out among the bank
	bankY, queryY []string
	side          int      // the photos' side for the trunk
	calibrate     int      // KNNConfig.Calibrate
	what          string   // the images classified, for people
	last          *knnLine // the latest evaluation
}

// knnLine is a -json line of type "knn": one evaluation.
type knnLine struct {
	Step int `json:"step"`
	explore.KNNScore
	// Seconds is the evaluation's time: embedding the images and the vote.
	Seconds float64 `json:"seconds"`
}

// fashionKNN is the evaluation on Fashion-MNIST: a fixed subset of the
// training images as the bank, of the test images as the queries.
func fashionKNN(train, test labelled) *knnEval {
	rng := rand.New(rand.NewPCG(knnFashionSeed, 0))
	pick := func(set labelled, n int) ([]*image.NRGBA, []string) {
		idx := rng.Perm(len(set.imgs))[:min(n, len(set.imgs))]
		slices.Sort(idx)
		imgs, y := make([]*image.NRGBA, len(idx)), make([]string, len(idx))
		for k, i := range idx {
			imgs[k], y[k] = set.imgs[i], strconv.Itoa(set.labels[i])
		}
		return imgs, y
	}
	e := &knnEval{side: 32, calibrate: knnFashionCalibrate}
	e.bank, e.bankY = pick(train, knnFashionBank)
	e.queries, e.queryY = pick(test, knnFashionQueries)
	e.what = fmt.Sprintf("%d test images (a bank of %d training images)", len(e.queries), len(e.bank))
	return e
}

// photosKNN is the evaluation on photos with a labels.csv beside them:
// leave one out among the held-back photos it names.
func photosKNN(dir string, photos, held []recipe.Photo) (*knnEval, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w with the embedded sample photos", errNoLabels)
	}
	path := filepath.Join(dir, "labels.csv")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: no labels.csv in %s", errNoLabels, dir)
	}
	named, err := readLabels(path, names(photos))
	if err != nil {
		return nil, err
	}
	label := make(map[string]string, len(named))
	for i, l := range named {
		label[photos[i].Name] = l
	}
	e := &knnEval{side: explore.DefaultSide}
	for _, p := range held {
		if l, ok := label[p.Name]; ok && len(e.bank) < knnMaxPhotos {
			e.bank, e.bankY = append(e.bank, p.Image), append(e.bankY, l)
		}
	}
	// Leaving one out tells the labels apart only if two of them have a
	// photo to spare.
	per := map[string]int{}
	for _, l := range e.bankY {
		per[l]++
	}
	if spare := len(slices.DeleteFunc(slices.Collect(maps.Values(per)), func(n int) bool { return n < 2 })); spare < 2 {
		return nil, fmt.Errorf("%d of the %d held-back photos have a label in %s; leaving one out needs two labels of two photos at least (raise -holdout)",
			len(e.bank), len(held), path)
	}
	e.what = fmt.Sprintf("%d held-back labelled photos (leaving one out)", len(e.bank))
	return e, nil
}

// config is the measure: pretext eval's default features (the last
// block, global average pooling, batch-norm statistics recomputed on the
// bank) and its k-NN vote (k = 20, T = 0.07).
func (e *knnEval) config(trunk *core.Trunk) explore.KNNConfig {
	return explore.KNNConfig{Embed: explore.EmbedConfig{Block: len(trunk.Config.Widths), Grid: 1, Side: e.side}, Calibrate: e.calibrate}
}

// measure evaluates trunk after step.
func (e *knnEval) measure(trunk *core.Trunk, step int) (knnLine, error) {
	start := time.Now()
	s, err := explore.KNNPhotos(trunk, e.bank, e.bankY, e.queries, e.queryY, e.config(trunk))
	if err != nil {
		return knnLine{}, err
	}
	return knnLine{Step: step, KNNScore: s, Seconds: time.Since(start).Seconds()}, nil
}

// hook is the recipe's Eval hook: each evaluation is reported as a
// -json line or a line for people (through note); one that fails is
// noted and the run goes on.
func (e *knnEval) hook(every int, tr *core.Trainer, asJSON bool, stdout io.Writer, note func(string)) recipe.Every {
	return recipe.Every{N: every, Fn: func(step int) {
		l, err := e.measure(tr.Trunk, step)
		if err != nil {
			// A trunk whose features are not finite cannot be measured;
			// the run may still recover, so it goes on.
			note(fmt.Sprintf("step %d: no k-NN accuracy: %v", step, err))
			return
		}
		e.last = &l
		if asJSON {
			emit(stdout, "knn", l)
			return
		}
		note(fmt.Sprintf("step %d: k-NN accuracy %.1f%% on %s, k=%d (%.2f s)", step, 100*l.Accuracy, e.what, l.K, l.Seconds))
	}}
}
