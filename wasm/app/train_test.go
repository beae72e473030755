package app

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/recipe"
	"github.com/pretextlab/pretext/tasks"
	"github.com/pretextlab/pretext/tasks/samples"
)

func TestTrainWithoutPhotos(t *testing.T) {
	t.Parallel()
	if _, err := New().Train(context.Background(), quick("rotation", 2), nil); err == nil || !strings.Contains(err.Error(), "add some photos") {
		t.Fatalf("err = %v", err)
	}
	a := withSamples(t)
	for _, bad := range []Settings{{Settings: recipe.Settings{Task: "sudoku"}}, {Settings: recipe.Settings{Steps: -1}}, {Settings: recipe.Settings{Batch: 1 << 20}}, {Settings: recipe.Settings{LR: math.Inf(1)}}, {Settings: recipe.Settings{Trunk: "huge"}}, {Settings: recipe.Settings{Task: "rotation", Config: json.RawMessage(`{"size":"big"}`)}}} {
		if _, err := a.Train(context.Background(), bad, nil); err == nil {
			t.Errorf("settings %+v accepted", bad)
		}
	}
	if _, err := a.Train(context.Background(), Settings{Resume: true}, nil); err == nil {
		t.Error("resume with no model accepted")
	}
}

// run is a seeded run's record, kept in testdata so native and wasm builds
// are held to the same numbers.
type run struct {
	Losses []float64 `json:"losses"`
	Probs  []float64 `json:"probs"`
}

// TestTrainEventsExportImportResume trains rotation on the samples, checks
// the events, exports, imports into a fresh app (same previews), and
// resumes there to the same losses as the first app, resumed without an
// export.
func TestTrainEventsExportImportResume(t *testing.T) {
	t.Parallel()
	a := withSamples(t)
	var steps []Event
	var previews int
	res, err := a.Train(context.Background(), quick("rotation", 4), func(e Event) {
		switch e.Type {
		case "step":
			steps = append(steps, e)
		case "preview":
			previews++
			if len(e.Items) != 2 { // 16 photos, 10% held back
				t.Errorf("preview at step %d has %d items", e.Step, len(e.Items))
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 4 || steps[3].Step != 4 || steps[3].Steps != 4 || previews != 2 {
		t.Fatalf("%d step events, %d previews", len(steps), previews)
	}
	if res.Step != 4 || res.Stopped || res.HeldOut.Photos != 2 || res.HeldOut.BaselineLoss != math.Log(4) {
		t.Errorf("result %+v", res)
	}
	var losses []float64
	for _, e := range steps {
		losses = append(losses, e.Loss)
		if !(e.Loss > 0) || e.ImagesPerSec <= 0 || e.Elapsed <= 0 {
			t.Errorf("step event %+v", e)
		}
	}
	pv, err := a.Previews()
	if err != nil {
		t.Fatal(err)
	}
	p := pv[0]
	if len(p.Probs) != 4 || p.Image == nil || p.Input == nil || p.Original == nil || p.Summary == "" {
		t.Fatalf("preview %+v", p)
	}
	ckpt, err := a.Export()
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, run{Losses: losses, Probs: p.Probs})

	// Import into a fresh app: the same predictions.
	b := withSamples(t)
	info, err := b.Import(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	if info.Task != "rotation" || info.Step != 4 {
		t.Errorf("imported %+v", info)
	}
	pv2, err := b.Previews()
	if err != nil {
		t.Fatal(err)
	}
	if pv2[0].Name != p.Name || !slices.Equal(pv2[0].Probs, p.Probs) {
		t.Errorf("imported model predicts %v on %s, the original %v on %s", pv2[0].Probs, pv2[0].Name, p.Probs, p.Name)
	}
	f, err := b.Features(File{Name: samples.Photos()[0].Name, Bytes: samples.Photos()[0].Data})
	if err != nil || len(f) != 128 {
		t.Fatalf("features: %d values, %v", len(f), err)
	}
	if _, err := b.Import(ckpt[:len(ckpt)-9]); err == nil {
		t.Error("a truncated checkpoint imported")
	}

	// Resume both: the imported model takes the steps the first app
	// takes, which never stopped holding its run (same batches, same
	// optimizer state), and both continue from step 4.
	resume := func(a *App) []float64 {
		t.Helper()
		var losses []float64
		res, err := a.Train(context.Background(), Settings{Settings: recipe.Settings{Steps: 6}, Resume: true}, func(e Event) {
			if e.Type != "step" {
				return
			}
			if e.Step != 5+len(losses) {
				t.Errorf("resumed run reported step %d, want %d", e.Step, 5+len(losses))
			}
			losses = append(losses, e.Loss)
		})
		if err != nil || res.Step != 6 {
			t.Fatalf("resume: %+v, %v", res, err)
		}
		return losses
	}
	want, got := resume(a), resume(b)
	if len(want) != 2 || len(got) != 2 {
		t.Fatalf("resumed for %d steps in the first app, %d after the import; want 2", len(want), len(got))
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-6*max(1, math.Abs(want[i])) {
			t.Errorf("step %d: loss %.7f after the import, %.7f in the app that trained it", 5+i, got[i], want[i])
		}
	}
}

func checkGolden(t *testing.T, got run) {
	t.Helper()
	path := filepath.Join("testdata", "run.json")
	if *update {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want run
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	close := func(what string, g, w []float64) {
		if len(g) != len(w) {
			t.Fatalf("%s: %d values, golden %d", what, len(g), len(w))
		}
		for i := range g {
			if math.Abs(g[i]-w[i]) > 1e-4*math.Max(1, math.Abs(w[i])) {
				t.Errorf("%s[%d] = %.6f, golden %.6f", what, i, g[i], w[i])
			}
		}
	}
	close("losses", got.Losses, want.Losses)
	close("probs", got.Probs, want.Probs)
}

func TestStopAndBusy(t *testing.T) {
	t.Parallel()
	a := withSamples(t)
	var busy error
	res, err := a.Train(context.Background(), quick("jigsaw", 50), func(e Event) {
		if e.Type == "step" && e.Step == 2 {
			_, busy = a.Train(context.Background(), quick("rotation", 2), nil)
			a.Stop()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(busy, ErrBusy) {
		t.Errorf("a second Train while training: %v", busy)
	}
	if !res.Stopped || res.Step != 2 {
		t.Errorf("stopped at step 2: %+v", res)
	}
	if st := a.Status(); st.Training || st.Step != 2 || st.Task != "jigsaw" || st.Steps != 50 {
		t.Errorf("status %+v", st)
	}
}

// TestEveryTask runs each registered task through the page's whole path:
// train two steps, preview the held-back photos, export, import into a
// fresh app and resume one step (a clustering task relabels its photos
// after the import).
func TestEveryTask(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("trains every task and resumes it after an import: not in the quick tier")
	}
	for _, name := range tasks.Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a := withSamples(t)
			s := quick(name, 2)
			s.Batch = 4
			var steps, refreshes int
			res, err := a.Train(context.Background(), s, func(e Event) {
				switch e.Type {
				case "step":
					steps++
					// SimSiam's and BYOL's losses are negative cosines, in [-1, 1].
					if !(e.Loss >= 0 || (name == "simsiam" || name == "byol") && e.Loss >= -1) || math.IsInf(e.Loss, 0) {
						t.Errorf("step %d loss %v", e.Step, e.Loss)
					}
				case "refresh":
					refreshes++
					if e.Message == "" {
						t.Errorf("refresh at step %d without a message", e.Step)
					}
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if steps != 2 || res.Step != 2 || res.HeldOut.Photos != 2 {
				t.Fatalf("%d step events, result %+v", steps, res)
			}
			pv, err := a.Previews()
			if err != nil {
				t.Fatal(err)
			}
			if len(pv) == 0 || pv[0].Image == nil || pv[0].Summary == "" {
				t.Fatalf("preview %+v", pv)
			}
			ckpt, err := a.Export()
			if err != nil {
				t.Fatal(err)
			}
			b := withSamples(t)
			if _, err := b.Import(ckpt); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Previews(); err != nil {
				t.Fatalf("previews after import: %v", err)
			}
			res, err = b.Train(context.Background(), Settings{Settings: recipe.Settings{Steps: 3}, Resume: true}, nil)
			if err != nil || res.Step != 3 {
				t.Fatalf("resume after import: %+v, %v", res, err)
			}
			t.Logf("%s: %d refreshes in 2 steps", name, refreshes)
		})
	}
}

// TestTrainReportsDivergence: at a learning rate of 1e30 the steps
// overflow; every undone step is a "diverged" event saying so, with a
// halved rate each time, and the run then fails with core.ErrDiverged and
// a message that says what to do.
func TestTrainReportsDivergence(t *testing.T) {
	t.Parallel()
	a := withSamples(t)
	s := quick("rotation", 6)
	s.LR = 1e30
	var diverged []Event
	_, err := a.Train(context.Background(), s, func(e Event) {
		if e.Type == "diverged" {
			diverged = append(diverged, e)
		}
	})
	if !errors.Is(err, core.ErrDiverged) || !strings.Contains(err.Error(), "lower learning rate") {
		t.Fatalf("err = %v, want core.ErrDiverged", err)
	}
	if len(diverged) == 0 {
		t.Fatal("no diverged event")
	}
	for i, e := range diverged {
		if !strings.Contains(e.Message, "diverged") || !strings.Contains(e.Message, "lowered") {
			t.Errorf("event %d message %q", i, e.Message)
		}
		if i > 0 && e.LR != diverged[i-1].LR/2 {
			t.Errorf("event %d rate %v, the one before %v: want halved", i, e.LR, diverged[i-1].LR)
		}
	}
	t.Log(diverged[0].Message)
}
