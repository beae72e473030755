package eval

import (
	"fmt"
	"image"

	"github.com/pretextlab/pretext/core"
)

// ExtractConfig sets [Extract]. The zero value is the reference protocol.
type ExtractConfig struct {
	// KeepBN keeps the trunk's batch-norm running statistics as they are.
	// By default they are first replaced by the training inputs' own.
	KeepBN bool
	// Batch is the number of inputs per forward pass (default 256). It
	// sets the batches the statistics are recomputed over too, so it
	// changes them: keep the default to compare figures.
	Batch int
}

// DefaultExtractBatch is the inputs per forward pass of [Extract] by
// default: the reference protocol's batch.
const DefaultExtractBatch = 256

// Extract returns the frozen trunk's features of the training and test
// inputs under each pooling: trainF[p] row n is train[n] pooled as
// pools[p] says (see [core.Trunk.EmbedLayers]), in evaluation mode, all
// poolings from one forward pass per batch. Unless cfg.KeepBN, the
// trunk's batch-norm running statistics are first replaced by their
// averages over the training inputs, in batches of cfg.Batch (see
// [core.Trunk.RecomputeBN]): features of the evaluation data's statistics,
// not the pretext's (rotated crops, tiles). That changes the trunk; its
// weights are never changed. The inputs must all have one size.
//
// An empty set of inputs gives Features with no rows and Dim 0.
func Extract(trunk *core.Trunk, train, test []core.Planar, pools []core.Pooling, cfg ExtractConfig) (trainF, testF []Features, err error) {
	batch := cfg.Batch
	if batch == 0 {
		batch = DefaultExtractBatch
	}
	if batch < 0 {
		return nil, nil, fmt.Errorf("eval: extraction batch %d, want positive", batch)
	}
	if !cfg.KeepBN {
		n := (len(train) + batch - 1) / batch
		if err := trunk.RecomputeBN(n, func(i int) ([]core.Planar, error) {
			return train[i*batch : min((i+1)*batch, len(train))], nil
		}); err != nil {
			return nil, nil, err
		}
	}
	if trainF, err = embed(trunk, train, pools, batch); err != nil {
		return nil, nil, err
	}
	if testF, err = embed(trunk, test, pools, batch); err != nil {
		return nil, nil, err
	}
	return trainF, testF, nil
}

// embed returns the features of in under each pooling, batch inputs per
// forward pass.
func embed(trunk *core.Trunk, in []core.Planar, pools []core.Pooling, batch int) ([]Features, error) {
	fs := make([]Features, len(pools))
	for i := 0; i < len(in); i += batch {
		v, err := trunk.EmbedLayers(in[i:min(i+batch, len(in))], pools)
		if err != nil {
			return nil, err
		}
		for p := range pools {
			for _, row := range v[p] {
				fs[p].Dim = len(row)
				fs[p].Data = append(fs[p].Data, row...)
			}
		}
	}
	for p := range fs {
		fs[p].N = len(in)
	}
	return fs, nil
}

// Inputs converts images to the input planes of a trunk with the given
// number of input channels (see [core.TrunkInput]), one per image in order.
func Inputs[I image.Image](imgs []I, channels int) []core.Planar {
	out := make([]core.Planar, len(imgs))
	for i, img := range imgs {
		out[i] = core.TrunkInput(img, channels)
	}
	return out
}
