package recipe_test

import (
	"context"
	"fmt"
	"log"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/recipe"
	"github.com/pretextlab/pretext/tasks/samples"
)

// Train a pretext task on photos: the recipe the page and `pretext train`
// use. Settings left at zero take the task's defaults.
func Example() {
	var photos []recipe.Photo
	for _, p := range samples.Photos() { // or your own files' bytes
		img, err := core.Decode(p.Name, p.Data, core.IntakeConfig{})
		if err != nil {
			log.Print(err) // a bad photo is skipped, with its name
			continue
		}
		photos = append(photos, recipe.Photo{Name: p.Name, Image: img})
	}
	run, err := recipe.New(recipe.Settings{Task: "rotation", Steps: 3, Batch: 16, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	train, held := recipe.Split(photos, recipe.DefaultHoldout, 1)
	out, err := run.Train(context.Background(), train, recipe.Hooks{})
	if err != nil {
		log.Fatal(err)
	}
	// run.Save(w) writes a checkpoint that pretext train -resume continues.
	fmt.Printf("%s: %d steps on %d photos, %d held back\n", run.Settings.Task, out.Step, len(train), len(held))
	// Output: rotation: 3 steps on 14 photos, 2 held back
}
