package core

import (
	"encoding/gob"
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"
)

// Classifier is a linear head on the trunk's pooled features trained with
// softmax cross-entropy on each example's Class, from its first view. It is
// the head of workload RS and of supervised training.
type Classifier struct {
	nn.Module
	// W is [classes, features], B is [classes, 1] (PyTorch's nn.Linear).
	W, B *nn.Param
	// ClassWeights optionally weights the loss per class (nil: all 1).
	ClassWeights []float32
}

var _ Objective = &Classifier{}

func init() { gob.Register(&Classifier{}) }

// ClassifierKind is the HeadSpec kind of a [Classifier].
const ClassifierKind = "classifier"

type classifierConfig struct {
	Features     int       `json:"features"`
	Classes      int       `json:"classes"`
	ClassWeights []float32 `json:"class_weights,omitempty"`
}

// MaxHeadValues bounds the parameters of one head, so that no head
// configuration (from a checkpoint's header, say) can ask for gigabytes:
// 2^24 values, 64 MB, as the trunk's own bound.
const MaxHeadValues = 1 << 24

// NewClassifier returns a linear head from features to classes initialised as
// PyTorch's nn.Linear: weights and bias uniform in ±1/√features.
func NewClassifier(features, classes int, rng *rand.Rand) (*Classifier, error) {
	if features < 1 || classes < 2 || features > 1<<16 || classes > 1<<16 {
		return nil, fmt.Errorf("core: classifier with %d features and %d classes; want features in [1, 65536] and classes in [2, 65536]", features, classes)
	}
	if n := (features + 1) * classes; n > MaxHeadValues {
		return nil, fmt.Errorf("core: classifier with %d features and %d classes has %d parameters, at most %d allowed", features, classes, n, MaxHeadValues)
	}
	return &Classifier{
		W: nn.NewParam(UniformFanIn(classes, features, features, rng)),
		B: nn.NewParam(UniformFanIn(classes, 1, features, rng)),
	}, nil
}

// Classes is the number of classes the head predicts.
func (c *Classifier) Classes() int { return c.W.Shape()[0] }

// Spec implements Objective.
func (c *Classifier) Spec() HeadSpec {
	cfg, _ := json.Marshal(classifierConfig{Features: c.W.Shape()[1], Classes: c.Classes(), ClassWeights: c.ClassWeights})
	return HeadSpec{Kind: ClassifierKind, Config: cfg}
}

// classifierFromSpec rebuilds a classifier (weights to be loaded) for trunk.
func classifierFromSpec(spec HeadSpec, trunk *Trunk) (Objective, error) {
	var cfg classifierConfig
	if err := json.Unmarshal(spec.Config, &cfg); err != nil {
		return nil, fmt.Errorf("core: classifier config: %w", err)
	}
	if cfg.Features != trunk.Features() {
		return nil, fmt.Errorf("core: classifier takes %d features, the trunk gives %d", cfg.Features, trunk.Features())
	}
	c, err := NewClassifier(cfg.Features, cfg.Classes, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, err
	}
	if cfg.ClassWeights != nil && len(cfg.ClassWeights) != cfg.Classes {
		return nil, fmt.Errorf("core: classifier has %d class weights for %d classes", len(cfg.ClassWeights), cfg.Classes)
	}
	c.ClassWeights = cfg.ClassWeights
	return c, nil
}

// Logits runs trunk and head on the first view of every example: [N, classes].
func (c *Classifier) Logits(trunk *Trunk, batch []Example, train bool) (mat.Tensor, error) {
	views := make([]Planar, len(batch))
	for i, ex := range batch {
		if len(ex.Views) == 0 {
			return nil, fmt.Errorf("core: example %d has no image", i)
		}
		views[i] = ex.Views[0]
	}
	x, s, err := Stack(views)
	if err != nil {
		return nil, err
	}
	f, err := trunk.Forward(fromData(s.C, s.Cols(), x), s, train)
	if err != nil {
		return nil, err
	}
	return Linear(f, c.W, c.B)
}

// Loss implements Objective.
func (c *Classifier) Loss(trunk *Trunk, batch []Example, train bool) (mat.Tensor, Score, error) {
	logits, err := c.Logits(trunk, batch, train)
	if err != nil {
		return nil, Score{}, err
	}
	labels := make([]int, len(batch))
	for i, ex := range batch {
		labels[i] = ex.Class
	}
	loss, acc, err := SoftmaxCrossEntropy(logits, labels, c.ClassWeights)
	if err != nil {
		return nil, Score{}, err
	}
	return loss, Score{Accuracy: acc}, nil
}
