// Package workload builds the reference training workloads of
// ../shared/bench/WORKLOAD.md, which every speed figure of the project is
// quoted on: RS (rotation-small) from core, JS (jigsaw-small) and CS
// (colorization-small) from their tasks on a fixed batch of the embedded
// sample photos. The command's bench and the page's bench run them.
package workload

import (
	"fmt"
	"image"
	"math/rand/v2"
	"strings"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/tasks"
	"github.com/pretextlab/pretext/tasks/samples"
)

// Names are the reference workloads New builds.
var Names = []string{"rs", "js", "cs"}

// New builds the named reference workload with batch examples per step:
// RS from core (random data), and JS and CS from their tasks on one fixed
// batch made from the embedded sample photos, so only the training step is
// timed.
//
//   - js, jigsaw-small: 96x96 crops, 9 tiles of 27x27 through the RS trunk,
//     MLP 1152 -> 512 -> 100 permutations.
//   - cs, colorization-small (defined here): 64x64 grey inputs (L as RGB)
//     through the RS trunk to 128 x 16x16 maps, per-position classification
//     over the 313 ab bins with soft targets and class rebalancing.
func New(name string, batch int, rng *rand.Rand) (*core.Workload, error) {
	if name == "rs" {
		return core.NewWorkload(name, batch, rng)
	}
	taskName := map[string]string{"js": "jigsaw", "cs": "colorization"}[name]
	if taskName == "" {
		return nil, fmt.Errorf("workload: unknown workload %q (%s)", name, strings.Join(Names, ", "))
	}
	trunk, err := core.NewTrunk(core.TrunkConfig{}, rng)
	if err != nil {
		return nil, err
	}
	task, err := tasks.New(taskName, nil, trunk, rng)
	if err != nil {
		return nil, err
	}
	tr, err := core.NewTrainer(trunk, task, core.TrainConfig{})
	if err != nil {
		return nil, err
	}
	var photos []*image.NRGBA
	for _, p := range samples.Photos() {
		img, err := core.Decode(p.Name, p.Data, core.IntakeConfig{})
		if err != nil {
			return nil, err
		}
		photos = append(photos, img)
	}
	examples, err := tasks.Batch(task, photos, batch, rng)
	if err != nil {
		return nil, err
	}
	// FLOPs: the trunk's multiply-adds on every view, x3 for forward and
	// both gradients, x2 FLOPs per multiply-add; the heads are small beside
	// it and left out.
	var macs int64
	for _, v := range examples[0].Views {
		macs += trunk.MACs(v.H, v.W)
	}
	return &core.Workload{
		Name:          name,
		FLOPsPerImage: float64(6 * macs),
		Trainer:       tr,
		Batch:         func() []core.Example { return examples },
	}, nil
}
