package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/core/safetensors"
	"github.com/pretextlab/pretext/tasks"
)

// TestExportImportEveryTask: for every task, pretext export writes a
// safetensors file and pretext import reads it back into a checkpoint
// holding the same head settings, step and parameters (batch-norm
// statistics included), bit for bit. The head layout is the one the twin
// builds where the head is a classifier or jigsaw's perceptron. Under
// -short only rotation is checked.
func TestExportImportEveryTask(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	wantLayout := map[string]string{"rotation": core.LayoutLinear, "exemplar": core.LayoutLinear, "jigsaw": core.LayoutMLP, "colorization": core.LayoutNative}
	names := tasks.Names()
	if testing.Short() {
		names = []string{"rotation"} // building every task's head takes seconds
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 0))
			trunk, err := core.NewTrunk(core.TrunkConfig{}, rng)
			if err != nil {
				t.Fatal(err)
			}
			task, err := tasks.New(name, nil, trunk, rng)
			if err != nil {
				t.Fatal(err)
			}
			tr, err := core.NewTrainer(trunk, task, core.TrainConfig{Optimizer: "adam"})
			if err != nil {
				t.Fatal(err)
			}
			ckpt, st, back := filepath.Join(dir, name+".ckpt"), filepath.Join(dir, name+".safetensors"), filepath.Join(dir, name+"-back.ckpt")
			var buf bytes.Buffer
			if err := tr.Save(&buf); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(ckpt, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := exportCmd([]string{"-ckpt", ckpt, "-format", "safetensors", "-out", st}, &out); err != nil {
				t.Fatal(err)
			}
			if err := importCmd([]string{"-in", st, "-out", back}, &out); err != nil {
				t.Fatal(err)
			}
			raw, _ := os.ReadFile(st)
			f, err := safetensors.Read(bytes.NewReader(raw), 0)
			if err != nil {
				t.Fatal(err)
			}
			layout := f.Metadata["head_layout"]
			t.Logf("%s: head layout %s, %d tensors", name, layout, len(f.Tensors))
			if want, ok := wantLayout[name]; ok && layout != want {
				t.Errorf("head layout %s, want %s", layout, want)
			}
			b, err := os.ReadFile(back)
			if err != nil {
				t.Fatal(err)
			}
			got, err := core.LoadTrainer(bytes.NewReader(b), tasks.Resolve)
			if err != nil {
				t.Fatal(err)
			}
			if got.Head.Spec().Kind != name || string(got.Head.Spec().Config) != string(tr.Head.Spec().Config) || got.Config != tr.Config {
				t.Fatalf("imported %+v %+v, want %+v %+v", got.Head.Spec(), got.Config, tr.Head.Spec(), tr.Config)
			}
			a, z := core.NamedParams(tr.Head), core.NamedParams(got.Head)
			a, z = append(core.NamedParams(tr.Trunk), a...), append(core.NamedParams(got.Trunk), z...)
			if len(a) != len(z) {
				t.Fatalf("%d parameters, imported %d", len(a), len(z))
			}
			for i := range a {
				if a[i].Name != z[i].Name || !slices.Equal(a[i].Param.Value().Data().F32(), z[i].Param.Value().Data().F32()) {
					t.Fatalf("parameter %s differs after export and import", a[i].Name)
				}
			}
		})
	}
}

// TestImportNamesFile: a file that is not a safetensors export is refused
// with its name and the reason, and nothing is written.
func TestImportNamesFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad, out := filepath.Join(dir, "notes.safetensors"), filepath.Join(dir, "out.ckpt")
	if err := os.WriteFile(bad, []byte("just some notes"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := importCmd([]string{"-in", bad, "-out", out}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "not a safetensors file") {
		t.Fatalf("error %v, want one naming %s and the reason", err, bad)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a refused import wrote its output")
	}
	if err := exportCmd([]string{"-ckpt", bad, "-out", out}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("export of a non-checkpoint: %v", err)
	}
	if err := exportCmd([]string{"-ckpt", bad, "-format", "onnx", "-out", out}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "onnx") {
		t.Fatalf("export to onnx: %v", err)
	}
}
