package app

import (
	"flag"
	"slices"
	"strings"
	"testing"

	"github.com/pretextlab/pretext/recipe"
	"github.com/pretextlab/pretext/tasks"
	"github.com/pretextlab/pretext/tasks/samples"
)

var update = flag.Bool("update", false, "rewrite testdata/run.json (natively)")

// quick are settings for fast test runs: small batches on the RS trunk.
func quick(task string, steps int) Settings {
	return Settings{Settings: recipe.Settings{Task: task, Steps: steps, Batch: 8}, Every: 2}
}

func withSamples(t testing.TB) *App {
	t.Helper()
	a := New()
	res := a.AddSamples()
	if len(res.Rejected) > 0 || res.Count != len(samples.Photos()) || !strings.Contains(res.Credits, "license") {
		t.Fatalf("samples: %d added, rejected %v, credits %d bytes", res.Count, res.Rejected, len(res.Credits))
	}
	return a
}

// registered is every task the page offers, in name order: a task that
// leaves the registry, or one added without the page's tests knowing,
// fails TestTasksListed.
var registered = []string{
	"barlow-twins", "byol", "colorization", "deepcluster", "dino", "exemplar", "inpainting",
	"jigsaw", "jigsaw-positions", "keypoint-clusters", "moco", "multi-task", "relative-position",
	"rotation", "sela", "simclr", "simsiam", "super-resolution", "swav", "vicreg",
}

// TestTasksListed: the page lists exactly the registered tasks, in name
// order, each with what the page shows of it.
func TestTasksListed(t *testing.T) {
	t.Parallel()
	ts, err := New().Tasks()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ti := range ts {
		names = append(names, ti.Name)
		if ti.InputSize == 0 || ti.Summary == "" || ti.Defaults.Steps == 0 || len(ti.Captions) == 0 {
			t.Errorf("task %+v", ti)
		}
	}
	if !slices.Equal(names, registered) || !slices.Equal(tasks.Names(), registered) {
		t.Errorf("the page lists %d tasks %v, the registry holds %d %v; want the %d %v",
			len(names), names, len(tasks.Names()), tasks.Names(), len(registered), registered)
	}
}
