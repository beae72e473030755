package explore

import (
	"errors"
	"fmt"
	"image"
	"math"
	"slices"
	"strconv"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/core/eval"
)

// The k-NN accuracy of a trunk's features on labelled photos, the measure
// a run reports while it trains (solo-learn's online k-NN evaluation): the
// labels never reach the training, they only tell how well the features
// it has so far separate the classes.

// KNNConfig sets KNN and KNNPhotos. The zero value is the default: the
// evaluation's k-NN vote (core/eval: k = 20, temperature 0.07, as in Wu et
// al. 2018 and solo-learn's online k-NN) over the Embedder's default
// features.
type KNNConfig struct {
	// K is the neighbours that vote (default eval.DefaultK, 20; fewer
	// when the bank has fewer).
	K int
	// Temperature is the vote's: each neighbour weighs
	// exp(similarity/Temperature) (default eval.DefaultTemperature, 0.07).
	Temperature float64
	// Embed sets how KNNPhotos embeds the photos (default: the Embedder's
	// defaults).
	Embed EmbedConfig
	// Calibrate is how many of the bank photos, the first ones, KNNPhotos
	// recomputes the batch-norm statistics on (default all of them): a
	// thousand give the statistics about as well as more, at a fraction
	// of the time.
	Calibrate int
}

func (c KNNConfig) withDefaults() (KNNConfig, error) {
	if c.K == 0 {
		c.K = eval.DefaultK
	}
	if c.Temperature == 0 {
		c.Temperature = eval.DefaultTemperature
	}
	switch {
	case c.K < 1:
		return c, fmt.Errorf("explore: k-NN with %d neighbours", c.K)
	case !(c.Temperature > 0) || math.IsInf(c.Temperature, 0):
		return c, fmt.Errorf("explore: k-NN temperature %v, want above 0", c.Temperature)
	case c.Calibrate < 0:
		return c, fmt.Errorf("explore: calibrating on %d photos", c.Calibrate)
	}
	return c, nil
}

// KNNScore is a k-NN accuracy and what it was measured on.
type KNNScore struct {
	// Accuracy is the fraction of the classified photos whose label the
	// vote got right.
	Accuracy float64 `json:"accuracy"`
	// K is the neighbours that voted: KNNConfig.K, or fewer when the bank
	// (less the photo itself, leaving one out) has fewer.
	K int `json:"k"`
	// Images is the photos classified: the queries, or every bank photo
	// when leaving one out.
	Images int `json:"images"`
	// Bank is the labelled photos they were classified by.
	Bank int `json:"bank"`
	// LeaveOneOut tells that each bank photo was classified by the others
	// (there were no queries).
	LeaveOneOut bool `json:"leave_one_out"`
}

// ErrNoLabels is returned when labels are missing: one is empty, or there
// are not as many as rows.
var ErrNoLabels = errors.New("explore: every photo of a k-NN measure needs a label")

// KNN is the k-NN accuracy of embeddings whose labels are known. With
// queries, each query row is classified by a vote of its K most similar
// bank rows (core/eval's KNNPredict: cosine similarity, each neighbour
// weighing exp(similarity/Temperature)); a query whose label no bank row
// has counts as wrong. With queries nil, each bank row is classified by
// the other bank rows (LeaveOneOut with the k-NN probe), and the bank
// needs two labels at least. Labels are any non-empty strings.
func KNN(bank *Set, bankLabels []string, queries *Set, queryLabels []string, cfg KNNConfig) (KNNScore, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return KNNScore{}, err
	}
	if err := bank.check(); err != nil {
		return KNNScore{}, err
	}
	if err := checkLabels(bankLabels, bank.Len()); err != nil {
		return KNNScore{}, err
	}
	if queries == nil {
		named := make(map[int]string, bank.Len())
		for i, l := range bankLabels {
			named[i] = l
		}
		k := min(cfg.K, bank.Len()-1)
		acc, err := LeaveOneOut(bank, named, LabelConfig{Probe: ProbeKNN, K: max(k, 1), Temperature: cfg.Temperature})
		if err != nil {
			return KNNScore{}, err
		}
		return KNNScore{Accuracy: acc, K: k, Images: bank.Len(), Bank: bank.Len(), LeaveOneOut: true}, nil
	}
	if err := queries.check(); err != nil {
		return KNNScore{}, err
	}
	if queries.Dim != bank.Dim {
		return KNNScore{}, fmt.Errorf("explore: queries of %d values for a bank of %d", queries.Dim, bank.Dim)
	}
	if err := checkLabels(queryLabels, queries.Len()); err != nil {
		return KNNScore{}, err
	}
	classes := slices.Compact(slices.Sorted(slices.Values(bankLabels)))
	ids := make([]int, len(bankLabels))
	for i, l := range bankLabels {
		ids[i], _ = slices.BinarySearch(classes, l)
	}
	k := min(cfg.K, bank.Len())
	pred, err := eval.KNNPredict(eval.Features{N: bank.Len(), Dim: bank.Dim, Data: bank.Vecs}, ids,
		eval.Features{N: queries.Len(), Dim: queries.Dim, Data: queries.Vecs}, len(classes), k, cfg.Temperature)
	if err != nil {
		return KNNScore{}, err
	}
	hits := 0
	for i, p := range pred {
		if classes[p] == queryLabels[i] {
			hits++
		}
	}
	return KNNScore{Accuracy: float64(hits) / float64(len(pred)), K: k, Images: len(pred), Bank: bank.Len()}, nil
}

// checkLabels reports labels that are not one non-empty string per row.
func checkLabels(labels []string, n int) error {
	if len(labels) != n {
		return fmt.Errorf("%w: %d labels for %d", ErrNoLabels, len(labels), n)
	}
	if i := slices.Index(labels, ""); i >= 0 {
		return fmt.Errorf("%w: photo %d has none", ErrNoLabels, i)
	}
	return nil
}

// KNNPhotos is KNN on the embeddings of photos by trunk: an Embedder
// (cfg.Embed) over a copy of trunk, whose batch-norm statistics are
// recomputed on the bank photos (cfg.Calibrate of them) unless
// cfg.Embed.KeepBN, embeds the bank
// and the queries (queries nil: leave one out among the bank). The trunk
// is only read: its parameters and running statistics are left as they
// were, so a run may be measured between its steps without changing what
// it learns.
func KNNPhotos(trunk *core.Trunk, bank []*image.NRGBA, bankLabels []string, queries []*image.NRGBA, queryLabels []string, cfg KNNConfig) (KNNScore, error) {
	if _, err := cfg.withDefaults(); err != nil {
		return KNNScore{}, err
	}
	if err := checkLabels(bankLabels, len(bank)); err != nil {
		return KNNScore{}, err
	}
	if queries != nil {
		if err := checkLabels(queryLabels, len(queries)); err != nil {
			return KNNScore{}, err
		}
	}
	calibrate := bank
	if cfg.Calibrate > 0 {
		calibrate = bank[:min(cfg.Calibrate, len(bank))]
	}
	e, err := NewEmbedder(trunk, calibrate, cfg.Embed)
	if err != nil {
		return KNNScore{}, err
	}
	set := func(photos []*image.NRGBA) (*Set, error) {
		v, err := e.Embed(photos)
		if err != nil {
			return nil, err
		}
		names := make([]string, len(photos))
		for i := range names {
			names[i] = strconv.Itoa(i)
		}
		s := &Set{Dim: e.Dim()}
		return s, s.Add(names, v)
	}
	b, err := set(bank)
	if err != nil {
		return KNNScore{}, err
	}
	var q *Set
	if queries != nil {
		if len(queries) == 0 {
			return KNNScore{}, fmt.Errorf("%w to classify", ErrNoPhotos)
		}
		if q, err = set(queries); err != nil {
			return KNNScore{}, err
		}
	}
	return KNN(b, bankLabels, q, queryLabels, cfg)
}
