package eval

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/pretextlab/pretext/core"
)

// SuperviseConfig sets [Supervise]. The zero value trains workload RS's
// trunk for 3000 steps of 256 inputs.
type SuperviseConfig struct {
	// Trunk is the trunk to train (default: RS on 3 channels; set
	// InChannels to 1 for grey inputs).
	Trunk core.TrunkConfig
	// Classes is the number of classes (default: one more than the
	// largest training label).
	Classes int
	// Steps is the number of training steps (default 3000); the learning
	// rate follows a cosine to 0 over them.
	Steps int
	// Batch is the inputs per step (default 256).
	Batch int
	// Progress, if not nil, is called after every step.
	Progress func(core.StepStats)
}

// evalChunk is the test inputs per evaluation pass of [Supervise]: it bounds
// the memory of one forward pass, and changes no result.
const evalChunk = 500

// Supervise trains a trunk and a linear head ([core.Classifier]) end to end
// on the labelled training inputs, the supervised ceiling that frozen
// features are compared with, and returns the trunk and the head's accuracy
// on the test inputs. It uses [core.Trainer] at its defaults (SGD, momentum
// 0.9, learning rate 0.05 cosine to 0, weight decay 5e-4); each step takes
// the next cfg.Batch inputs of a shuffle of the training set, reshuffled
// when it runs out. rng draws the trunk's weights, then the head's, then
// the shuffles: the same rng state gives the same trunk and accuracy. It
// returns ctx's error when cancelled.
func Supervise(ctx context.Context, train []core.Planar, trainY []int, test []core.Planar, testY []int, cfg SuperviseConfig, rng *rand.Rand) (*core.Trunk, float64, error) {
	cfg, err := cfg.withDefaults(trainY)
	if err != nil {
		return nil, 0, err
	}
	switch {
	case len(train) == 0:
		return nil, 0, errors.New("eval: no training inputs to supervise")
	case len(test) == 0:
		return nil, 0, errors.New("eval: no test inputs to score the supervised trunk")
	case len(trainY) != len(train):
		return nil, 0, fmt.Errorf("eval: %d training labels for %d inputs", len(trainY), len(train))
	case len(testY) != len(test):
		return nil, 0, fmt.Errorf("eval: %d test labels for %d inputs", len(testY), len(test))
	}
	if err := checkLabels("training", trainY, len(train), cfg.Classes); err != nil {
		return nil, 0, err
	}
	if err := checkLabels("test", testY, len(test), cfg.Classes); err != nil {
		return nil, 0, err
	}
	trunk, err := core.NewTrunk(cfg.Trunk, rng)
	if err != nil {
		return nil, 0, err
	}
	head, err := core.NewClassifier(trunk.Features(), cfg.Classes, rng)
	if err != nil {
		return nil, 0, err
	}
	tr, err := core.NewTrainer(trunk, head, core.TrainConfig{Steps: cfg.Steps})
	if err != nil {
		return nil, 0, err
	}
	var order []int
	batch := make([]core.Example, 0, cfg.Batch)
	err = tr.Run(ctx, cfg.Steps, func(int) ([]core.Example, error) {
		batch = batch[:0]
		for len(batch) < cfg.Batch {
			if len(order) == 0 {
				order = rng.Perm(len(train))
			}
			i := order[0]
			order = order[1:]
			batch = append(batch, core.Example{Views: []core.Planar{train[i]}, Class: trainY[i]})
		}
		return batch, nil
	}, cfg.Progress)
	if err != nil {
		return nil, 0, err
	}
	// The accuracy of each chunk times its size, summed: the count of
	// correct inputs, whatever the chunking.
	correct := 0.0
	for i := 0; i < len(test); i += evalChunk {
		j := min(i+evalChunk, len(test))
		ex := make([]core.Example, 0, j-i)
		for k := i; k < j; k++ {
			ex = append(ex, core.Example{Views: []core.Planar{test[k]}, Class: testY[k]})
		}
		_, score, err := tr.Evaluate(ex)
		if err != nil {
			return nil, 0, err
		}
		correct += score.Accuracy * float64(len(ex))
	}
	return trunk, correct / float64(len(test)), nil
}

// withDefaults returns c with its zero fields set, or an error for a
// negative one.
func (c SuperviseConfig) withDefaults(trainY []int) (SuperviseConfig, error) {
	if c.Steps < 0 || c.Batch < 0 || c.Classes < 0 {
		return c, fmt.Errorf("eval: supervised training of %d steps of %d inputs over %d classes, want positive", c.Steps, c.Batch, c.Classes)
	}
	if c.Steps == 0 {
		c.Steps = 3000
	}
	if c.Batch == 0 {
		c.Batch = 256
	}
	if c.Classes == 0 {
		for _, y := range trainY {
			c.Classes = max(c.Classes, y+1)
		}
	}
	return c, nil
}
