package app

import (
	"flag"
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

func withSamples(t *testing.T) *App {
	t.Helper()
	a := New()
	res := a.AddSamples()
	if len(res.Rejected) > 0 || res.Count != len(samples.Photos()) || !strings.Contains(res.Credits, "license") {
		t.Fatalf("samples: %d added, rejected %v, credits %d bytes", res.Count, res.Rejected, len(res.Credits))
	}
	return a
}

func TestTasksListed(t *testing.T) {
	ts, err := New().Tasks()
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != len(tasks.Names()) {
		t.Fatalf("%d tasks listed, %d registered", len(ts), len(tasks.Names()))
	}
	for _, ti := range ts {
		if ti.InputSize == 0 || ti.Summary == "" || ti.Defaults.Steps == 0 || len(ti.Captions) == 0 {
			t.Errorf("task %+v", ti)
		}
	}
}
