package tasks_test

import (
	"context"
	"fmt"
	"image"
	"log"
	"math/rand/v2"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/tasks"
	"github.com/pretextlab/pretext/tasks/samples"
)

// A pretext task by name: it makes its own examples and labels from
// photos and is the trainer's head. (Package recipe wraps this loop with
// the held-back split, relabelling, previews and checkpoints.)
func ExampleNew() {
	var photos []*image.NRGBA
	for _, p := range samples.Photos() {
		img, err := core.Decode(p.Name, p.Data, core.IntakeConfig{})
		if err != nil {
			log.Fatal(err)
		}
		photos = append(photos, img)
	}
	rng := rand.New(rand.NewPCG(1, 0))
	trunk, err := core.NewTrunk(core.TrunkConfig{}, rng)
	if err != nil {
		log.Fatal(err)
	}
	task, err := tasks.New("jigsaw", nil, trunk, rng) // nil: the task's default config
	if err != nil {
		log.Fatal(err)
	}
	tr, err := core.NewTrainer(trunk, task, core.TrainConfig{Optimizer: "adam", LR: 1e-3, Steps: 2})
	if err != nil {
		log.Fatal(err)
	}
	for range 2 {
		batch, err := tasks.Batch(task, photos, 8, rng)
		if err != nil {
			log.Fatal(err)
		}
		if _, err := tr.Step(context.Background(), batch); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(task.Name(), "trained for", tr.Steps(), "steps")
	// Output: jigsaw trained for 2 steps
}
