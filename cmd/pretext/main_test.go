package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nlpodyssey/spago/nn"
	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/recipe"
	"github.com/pretextlab/pretext/tasks"
	"github.com/pretextlab/pretext/tasks/samples"
)

// TestTrainPredictEndToEnd trains every task a few steps on the embedded
// photos, saves a checkpoint, and runs predict on it: the JSON lines and the
// output PNG must be well formed.
func TestTrainPredictEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("trains every task")
	}
	t.Parallel()
	dir := t.TempDir()
	photo := filepath.Join(dir, "photo.jpg")
	if err := os.WriteFile(photo, samples.Photos()[0].Data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range tasks.Names() {
		t.Run(name, func(t *testing.T) {
			ckpt := filepath.Join(dir, name+".ckpt")
			var out bytes.Buffer
			args := []string{"-task", name, "-steps", "10", "-batch", "8", "-seed", "3", "-out", ckpt, "-json", "-threads", "2"}
			if err := train(args, &out); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != 2 { // step 10, then the result
				t.Fatalf("want 2 JSON lines, got %q", out.String())
			}
			var res trainResult
			if err := json.Unmarshal([]byte(lines[1]), &res); err != nil {
				t.Fatal(err)
			}
			// SimSiam's and BYOL's losses are negative cosines; every other
			// is positive.
			if res.Task != name || res.Steps != 10 || res.HeldOut != 2 || !(res.Loss > 0 || (name == "simsiam" || name == "byol") && res.Loss > -1) || res.ImagesPerSec <= 0 {
				t.Errorf("result %+v", res)
			}
			// Super-resolution reports PSNR beside bicubic's on the
			// held-out photos, the joint-embedding methods (simclr and
			// those after it) view matching beside a random-init trunk's;
			// no other task
			// has a measure of its own.
			m := res.Measure
			switch name {
			case "super-resolution":
				if res.MeasureOn != "held-out" || m == nil || m.Name != "PSNR" || !(m.Value > 10 && m.Baseline > 10) {
					t.Errorf("%s: measure %+v on %q", name, m, res.MeasureOn)
				}
			case "simclr", "vicreg", "barlow-twins", "simsiam", "byol", "moco", "dino", "swav":
				if res.MeasureOn != "held-out" || m == nil || m.Name != "view matching" || !(m.Value >= 0 && m.Value <= 100 && m.Baseline >= 0 && m.Baseline <= 100) {
					t.Errorf("%s: measure %+v on %q", name, m, res.MeasureOn)
				}
			default:
				if res.MeasureOn != "" || m != nil {
					t.Errorf("%s: measure %+v on %q", name, m, res.MeasureOn)
				}
			}
			// The task's own defaults fill what the flags left out.
			info, err := tasks.Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			if s := res.Settings; s.Optimizer != info.Defaults.Optimizer || s.LR != info.Defaults.LR || s.Steps != 10 || s.Batch != 8 {
				t.Errorf("settings %+v, want the task's optimizer and rate (%+v) with 10 steps of 8", s, info.Defaults)
			}
			png1 := filepath.Join(dir, name+".png")
			out.Reset()
			if err := predict([]string{"-ckpt", ckpt, "-in", photo, "-out", png1}, &out); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(png1)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(bufio.NewReader(f))
			if err != nil {
				t.Fatal(err)
			}
			if img.Bounds().Dx() < 32 {
				t.Errorf("prediction image %v", img.Bounds())
			}
			t.Log(strings.TrimSpace(out.String()))
		})
	}
}

func TestLoadPhotosPassesOverNonImages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("# my photos"), 0o644)
	os.WriteFile(filepath.Join(dir, "labels.csv"), []byte("file,label\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "a.jpg"), samples.Photos()[1].Data, 0o644)
	os.WriteFile(filepath.Join(dir, "broken.jpg"), samples.Photos()[2].Data[:500], 0o644)
	var log bytes.Buffer
	photos, err := loadPhotos(dir, core.IntakeConfig{}, &log)
	if err != nil {
		t.Fatal(err)
	}
	if len(photos) != 1 || photos[0].Name != "a.jpg" {
		t.Fatalf("loaded %v", photos)
	}
	for _, name := range []string{"README.md", "labels.csv", "broken.jpg"} {
		if !strings.Contains(log.String(), name) {
			t.Errorf("no note about %s in %q", name, log.String())
		}
	}
}

// TestTrainReportsDivergence: with -json, every undone step is a line
// with "diverged" and its reason; at a rate of 1e30 the run then fails with
// core.ErrDiverged.
func TestTrainReportsDivergence(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	args := []string{"-task", "rotation", "-steps", "6", "-batch", "8", "-lr", "1e30", "-json", "-threads", "2", "-out", filepath.Join(t.TempDir(), "x.ckpt")}
	err := train(args, &out)
	if !errors.Is(err, core.ErrDiverged) {
		t.Fatalf("err = %v, want core.ErrDiverged", err)
	}
	var diverged int
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var st struct {
			Type string
			core.StepStats
		}
		if err := json.Unmarshal([]byte(line), &st); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if st.Diverged != (st.Type == "divergence") || st.Type != "step" && st.Type != "divergence" {
			t.Errorf("line %q: type %q", line, st.Type)
		}
		if st.Diverged {
			if st.Reason == "" || st.LRScale >= 1 {
				t.Errorf("diverged line %q", line)
			}
			diverged++
		}
	}
	if diverged == 0 {
		t.Errorf("no diverged line in %q", out.String())
	}
}

// TestTrainDefaultsAreThePages: pretext train -task T with no other flag
// runs the settings the page's default run of T has (the task's training
// defaults, seed 1, the RS trunk, a tenth held back), through the same
// recipe.
func TestTrainDefaultsAreThePages(t *testing.T) {
	t.Parallel()
	for _, name := range tasks.Names() {
		s, _, err := trainFlags([]string{"-task", name}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.WithDefaults()
		if err != nil {
			t.Fatal(err)
		}
		// The page's form: the task's defaults (tasks()), seed 1.
		page, err := recipe.Settings{Task: name, Seed: recipe.DefaultSeed}.WithDefaults()
		if err != nil {
			t.Fatal(err)
		}
		gj, _ := json.Marshal(got)
		pj, _ := json.Marshal(page)
		if string(gj) != string(pj) {
			t.Errorf("%s: the command's default run %s, the page's %s", name, gj, pj)
		}
		info, _ := tasks.Lookup(name)
		d := info.Defaults
		if got.Optimizer != d.Optimizer || got.LR != d.LR || got.Steps != d.Steps || got.Batch != d.Batch {
			t.Errorf("%s: default run %+v, the task's defaults %+v", name, got, d)
		}
	}
}

// TestListTasks: pretext tasks prints every registered task with its
// summary and training defaults, from the registry.
func TestListTasks(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := listTasks(nil, &out); err != nil {
		t.Fatal(err)
	}
	for _, name := range tasks.Names() {
		info, _ := tasks.Lookup(name)
		d := info.Defaults
		want := fmt.Sprintf("%s\n%-18s defaults: %d steps of %d, %s at %g", info.Summary, "", d.Steps, d.Batch, d.Optimizer, d.LR)
		if len(d.Config) > 0 {
			want += " -config '" + string(d.Config) + "'"
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("pretext tasks does not show %s's summary and defaults %q", name, want)
		}
	}
}

// TestTrainInterruptAndResume: a run stopped at step 3 of 6 (as Ctrl-C
// stops it) saves its model with the optimizer's state, the step and the
// batch generator and exits with status 130; -resume goes on to step 6 and
// ends with the uninterrupted run's model, bit for bit. Without -out the
// model goes to a file in the current folder, named in the message.
func TestTrainInterruptAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("trains three runs")
	}
	dir := t.TempDir()
	common := []string{"-task", "rotation", "-steps", "6", "-batch", "8", "-threads", "1"}
	whole := filepath.Join(dir, "whole.ckpt")
	if err := train(append(common, "-out", whole), io.Discard); err != nil {
		t.Fatal(err)
	}
	s, o, err := trainFlags(append(common, "-out", filepath.Join(dir, "part.ckpt")), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o.stopAt = 3
	err = trainRun(s, o, io.Discard)
	if code := exitCode(err, io.Discard); code != 130 || !strings.Contains(err.Error(), "step 3 of 6") || !strings.Contains(err.Error(), "-resume") {
		t.Fatalf("interrupted run: %v (exit status %d, want 130)", err, code)
	}
	resumed := filepath.Join(dir, "resumed.ckpt")
	if err := train([]string{"-resume", filepath.Join(dir, "part.ckpt"), "-out", resumed, "-threads", "1"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	a, b := loadTensors(t, whole), loadTensors(t, resumed)
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("%d and %d tensors", len(a), len(b))
	}
	for name, v := range a {
		if !slices.Equal(v, b[name]) {
			t.Fatalf("%s differs between the uninterrupted and the resumed run", name)
		}
	}
	// Without -out: a file in the current folder.
	t.Chdir(dir)
	s, o, err = trainFlags(common, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o.stopAt = 2
	err = trainRun(s, o, io.Discard)
	if _, statErr := os.Stat("pretext-rotation-step2.ckpt"); statErr != nil || err == nil || !strings.Contains(err.Error(), "pretext-rotation-step2.ckpt") {
		t.Fatalf("interrupted without -out: %v (%v)", err, statErr)
	}
	// A finished run refuses to resume without a new end.
	if err := train([]string{"-resume", resumed}, io.Discard); err == nil {
		t.Error("resumed a finished run without -steps")
	}
}

// loadTensors reads a checkpoint's parameters by name.
func loadTensors(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := core.LoadTrainer(f, tasks.Resolve)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float32{}
	for prefix, m := range map[string]nn.Model{"trunk.": tr.Trunk, "head.": tr.Head} {
		for _, np := range core.NamedParams(m) {
			out[prefix+np.Name] = slices.Clone(np.Param.Value().Data().F32())
		}
	}
	return out
}
