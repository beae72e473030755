package explore

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/pretextlab/pretext/core/eval"
)

// Probe names a few-shot classifier over embeddings.
type Probe string

// The probes.
const (
	// ProbeLinear is a multinomial logistic regression on the embeddings
	// standardised by all the set's photos (the evaluation's linear probe,
	// with a fixed weight decay, since a few named photos are too few to
	// choose one by cross-validation).
	ProbeLinear Probe = "linear"
	// ProbeKNN is a vote of the named photos most similar to a photo
	// (cosine similarity), each weighted by exp(similarity/Temperature)
	// (the evaluation's k-NN, Wu et al. 2018).
	ProbeKNN Probe = "knn"
)

// LabelConfig sets Label. The zero value is the default.
type LabelConfig struct {
	// Probe is the classifier (default ProbeKNN: on the dev photos, with
	// 5 named per label, it named the rest 1 to 2 points better than the
	// linear probe with every trained trunk tried; docs/RUNS.md).
	Probe Probe
	// Decay is the linear probe's weight decay (default DefaultDecay).
	Decay float64
	// K is the k-NN's neighbours (default DefaultK).
	K int
	// Temperature is the k-NN's vote temperature (default 0.07).
	Temperature float64
	// NoLeaveOneOut skips the leave-one-out accuracy (a fit per named
	// photo for the linear probe).
	NoLeaveOneOut bool
}

// Defaults of LabelConfig, chosen on the dev photos (docs/RUNS.md).
const (
	DefaultDecay       = 1
	DefaultK           = 10
	DefaultTemperature = 0.07
)

func (c LabelConfig) withDefaults() (LabelConfig, error) {
	if c.Probe == "" {
		c.Probe = ProbeKNN
	}
	if c.Decay == 0 {
		c.Decay = DefaultDecay
	}
	if c.K == 0 {
		c.K = DefaultK
	}
	if c.Temperature == 0 {
		c.Temperature = DefaultTemperature
	}
	switch {
	case c.Probe != ProbeLinear && c.Probe != ProbeKNN:
		return c, fmt.Errorf("explore: unknown probe %q (linear or knn)", c.Probe)
	case c.Decay < 0 || math.IsNaN(c.Decay) || math.IsInf(c.Decay, 0):
		return c, fmt.Errorf("explore: weight decay %v, want a finite value not below 0", c.Decay)
	case c.K < 1:
		return c, fmt.Errorf("explore: k-NN with %d neighbours", c.K)
	case !(c.Temperature > 0) || math.IsInf(c.Temperature, 0):
		return c, fmt.Errorf("explore: k-NN temperature %v, want above 0", c.Temperature)
	}
	return c, nil
}

// Labels are the predictions for a set's photos from the few it names.
type Labels struct {
	// Classes are the labels given, sorted.
	Classes []string `json:"classes"`
	// Pred[i] is photo i's label (an index into Classes): its own for a
	// named photo, the prediction for the others.
	Pred []int `json:"pred"`
	// Confidence[i] is the probe's probability of Pred[i] (1 for a named
	// photo).
	Confidence []float64 `json:"confidence"`
	// Named[i] tells whether photo i was named.
	Named []bool `json:"named"`
	// LeaveOneOut is the accuracy of predicting each named photo from the
	// others; NaN when not computed (NoLeaveOneOut).
	LeaveOneOut float64 `json:"leave_one_out"`
}

// ErrOneClass is returned when the named photos have fewer than two labels.
var ErrOneClass = errors.New("explore: name photos with at least two different labels")

// Label fits the probe to the named photos (index into s → label) and
// predicts a label with its confidence for every photo.
func Label(s *Set, named map[int]string, cfg LabelConfig) (Labels, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Labels{}, err
	}
	if err := s.check(); err != nil {
		return Labels{}, err
	}
	idx, y, classes, err := namedRows(s, named)
	if err != nil {
		return Labels{}, err
	}
	p, err := newPredictor(s, cfg)
	if err != nil {
		return Labels{}, err
	}
	out := Labels{Classes: classes, Pred: make([]int, s.Len()), Confidence: make([]float64, s.Len()), Named: make([]bool, s.Len()), LeaveOneOut: math.NaN()}
	pred, conf, err := p.predict(idx, y, len(classes), nil)
	if err != nil {
		return Labels{}, err
	}
	copy(out.Pred, pred)
	copy(out.Confidence, conf)
	for k, i := range idx {
		out.Pred[i], out.Confidence[i], out.Named[i] = y[k], 1, true
	}
	if !cfg.NoLeaveOneOut {
		if out.LeaveOneOut, err = p.leaveOneOut(idx, y, len(classes)); err != nil {
			return Labels{}, err
		}
	}
	return out, nil
}

// LeaveOneOut is the leave-one-out accuracy of the probe on the named
// photos alone, without predicting the others: what Label reports, for
// comparing embeddings (a trained trunk's against a random one's).
func LeaveOneOut(s *Set, named map[int]string, cfg LabelConfig) (float64, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return 0, err
	}
	if err := s.check(); err != nil {
		return 0, err
	}
	idx, y, classes, err := namedRows(s, named)
	if err != nil {
		return 0, err
	}
	p, err := newPredictor(s, cfg)
	if err != nil {
		return 0, err
	}
	return p.leaveOneOut(idx, y, len(classes))
}

// namedRows returns the named photos' indices in order, their class ids
// and the sorted class names.
func namedRows(s *Set, named map[int]string) (idx, y []int, classes []string, err error) {
	for i, l := range named {
		if i < 0 || i >= s.Len() {
			return nil, nil, nil, fmt.Errorf("explore: photo %d named, but the set has %d", i, s.Len())
		}
		if l == "" {
			return nil, nil, nil, fmt.Errorf("explore: photo %s has an empty label", s.Names[i])
		}
		idx = append(idx, i)
		if !slices.Contains(classes, l) {
			classes = append(classes, l)
		}
	}
	if len(classes) < 2 {
		return nil, nil, nil, ErrOneClass
	}
	slices.Sort(idx)
	slices.Sort(classes)
	y = make([]int, len(idx))
	for k, i := range idx {
		y[k], _ = slices.BinarySearch(classes, named[i])
	}
	return idx, y, classes, nil
}

// predictor fits a probe to some rows and predicts others.
type predictor struct {
	s   *Set
	cfg LabelConfig
	std eval.Features // the standardised rows (linear probe)
}

func newPredictor(s *Set, cfg LabelConfig) (*predictor, error) {
	p := &predictor{s: s, cfg: cfg}
	if cfg.Probe == ProbeLinear {
		all := eval.Features{N: s.Len(), Dim: s.Dim, Data: s.Vecs}
		p.std, _ = eval.Standardize(all, eval.Features{Dim: s.Dim})
	}
	return p, nil
}

// rows returns the standardised rows at idx.
func (p *predictor) rows(idx []int) eval.Features {
	f := eval.Features{N: len(idx), Dim: p.s.Dim, Data: make([]float32, 0, len(idx)*p.s.Dim)}
	for _, i := range idx {
		f.Data = append(f.Data, p.std.Row(i)...)
	}
	return f
}

// predict fits to the rows idx with classes y and returns the label and
// confidence of every photo of the set (only, if only is not nil).
func (p *predictor) predict(idx, y []int, classes int, only []int) (pred []int, conf []float64, err error) {
	if only == nil {
		only = make([]int, p.s.Len())
		for i := range only {
			only[i] = i
		}
	}
	pred, conf = make([]int, len(only)), make([]float64, len(only))
	prob := make([]float64, classes)
	switch p.cfg.Probe {
	case ProbeLinear:
		m, _, err := eval.FitLogistic(p.rows(idx), y, classes, p.cfg.Decay, 0, 0)
		if err != nil {
			return nil, nil, err
		}
		for k, i := range only {
			row := p.std.Row(i)
			for c := range classes {
				s := m.B[c]
				w := m.W[c*m.Dim : (c+1)*m.Dim]
				for j, v := range row {
					s += w[j] * float64(v)
				}
				prob[c] = s
			}
			pred[k], conf[k] = softmaxArgmax(prob)
		}
	case ProbeKNN:
		// The named photos as a Set of their own: Nearest ranks them.
		named := Set{Dim: p.s.Dim, Vecs: make([]float32, 0, len(idx)*p.s.Dim)}
		for _, j := range idx {
			named.Names = append(named.Names, p.s.Names[j])
			named.Vecs = append(named.Vecs, p.s.Row(j)...)
		}
		for k, i := range only {
			nb, err := named.Nearest(p.s.Row(i), p.cfg.K, -1)
			if err != nil {
				return nil, nil, err
			}
			clear(prob)
			var total float64
			for _, n := range nb {
				w := math.Exp((n.Similarity - nb[0].Similarity) / p.cfg.Temperature)
				prob[y[n.Index]] += w
				total += w
			}
			best := 0
			for c := range prob {
				if prob[c] > prob[best] {
					best = c
				}
			}
			pred[k], conf[k] = best, prob[best]/total
		}
	}
	return pred, conf, nil
}

// softmaxArgmax returns the class of the highest score (the first on ties)
// and its softmax probability.
func softmaxArgmax(score []float64) (int, float64) {
	best := 0
	for c, s := range score {
		if s > score[best] {
			best = c
		}
	}
	var z float64
	for _, s := range score {
		z += math.Exp(s - score[best])
	}
	return best, 1 / z
}

// leaveOneOut predicts each named photo from the others.
func (p *predictor) leaveOneOut(idx, y []int, classes int) (float64, error) {
	hits := 0
	rest, ry := make([]int, 0, len(idx)-1), make([]int, 0, len(idx)-1)
	for k, i := range idx {
		rest, ry = append(append(rest[:0], idx[:k]...), idx[k+1:]...), append(append(ry[:0], y[:k]...), y[k+1:]...)
		pred, _, err := p.predict(rest, ry, classes, []int{i})
		if err != nil {
			return 0, err
		}
		if pred[0] == y[k] {
			hits++
		}
	}
	return float64(hits) / float64(len(idx)), nil
}
