// Package pytorch_test cross-checks Pretext's operators against PyTorch:
// the twin in pretext_twin.py, built from a safetensors export, must give
// the same maps, features, logits, loss and gradients. It runs when
// Debian's /usr/bin/python3 imports torch, is skipped otherwise, and fails
// instead of skipping when PRETEXT_TORCH=1 (.ci/run sets it and installs
// python3-torch; build.sh test keeps a caller's value and, left unset,
// sets it where torch imports).
package pytorch_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/core/safetensors"
	"github.com/pretextlab/pretext/tasks"
	"github.com/pretextlab/pretext/tasks/samples"
)

// python is Debian's interpreter, the one python3-torch installs for.
const python = "/usr/bin/python3"

// Tolerances of the issue: relative to the largest magnitude of the
// reference tensor.
const (
	evalTol  = 1e-4
	trainTol = 1e-3
)

func needTorch(t *testing.T) {
	t.Helper()
	out, err := exec.Command(python, "-c", "import torch; print(torch.__version__)").CombinedOutput()
	if err == nil {
		t.Logf("torch %s", strings.TrimSpace(string(out)))
		return
	}
	if os.Getenv("PRETEXT_TORCH") == "1" {
		t.Fatalf("PRETEXT_TORCH=1 but %s cannot import torch: %v\n%s", python, err, out)
	}
	t.Skipf("%s cannot import torch (install python3-torch; PRETEXT_TORCH=1 makes this a failure): %v", python, err)
}

// quickSetups is every setup, or under -short the first (the RS trunk with
// the rotation head): each setup costs a Python process with torch.
func quickSetups() []setup {
	if testing.Short() {
		return setups[:1]
	}
	return setups
}

// twin runs pretext_twin.py with args.
func twin(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(python, append([]string{"pretext_twin.py"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pretext_twin.py %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

type setup struct {
	name  string
	trunk core.TrunkConfig
	task  string
	cfg   string // the task's JSON settings
	steps int    // Pretext steps taken before the check, so BN statistics are not their initial values
}

var setups = []setup{
	{"rotation-rs", core.TrunkConfig{}, "rotation", "", 2},
	{"rotation-depth2-grey", core.TrunkConfig{InChannels: 1, Widths: []int{8, 16, 24}, Depth: 2}, "rotation", `{"size":24}`, 2},
	{"jigsaw", core.TrunkConfig{Widths: []int{16, 32, 48}}, "jigsaw", `{"cell":16,"tile":13,"perms":10,"hidden":64}`, 2},
}

// trained builds s's task and trains it a few steps on the sample photos;
// it returns the trainer and a fresh batch (two photos' examples).
func trained(t *testing.T, s setup) (*core.Trainer, []core.Example) {
	rng := rand.New(rand.NewPCG(7, 0))
	trunk, err := core.NewTrunk(s.trunk, rng)
	if err != nil {
		t.Fatal(err)
	}
	var cfg []byte
	if s.cfg != "" {
		cfg = []byte(s.cfg)
	}
	task, err := tasks.New(s.task, cfg, trunk, rng)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := core.NewTrainer(trunk, task, core.TrainConfig{})
	if err != nil {
		t.Fatal(err)
	}
	photos := samples.Photos()
	batch := func(i int) []core.Example {
		var ex []core.Example
		for _, p := range photos[2*i : 2*i+2] {
			img, err := core.Decode(p.Name, p.Data, core.IntakeConfig{})
			if err != nil {
				t.Fatal(err)
			}
			if ex, err = task.Examples(ex, img, rng); err != nil {
				t.Fatal(err)
			}
		}
		return ex
	}
	for i := range s.steps {
		if _, err := tr.Step(context.Background(), batch(i)); err != nil {
			t.Fatal(err)
		}
	}
	return tr, batch(s.steps)
}

// writeBatch writes the batch's views as "x" [M, C, H, W] and the classes
// as "labels".
func writeBatch(t *testing.T, path string, batch []core.Example) {
	var views []core.Planar
	var labels []int64
	for _, ex := range batch {
		views = append(views, ex.Views...)
		labels = append(labels, int64(ex.Class))
	}
	v := views[0]
	x := safetensors.Tensor{Name: "x", DType: safetensors.F32, Shape: []int{len(views), v.C, v.H, v.W}}
	for _, p := range views {
		x.F32 = append(x.F32, p.Pix...)
	}
	y := safetensors.Tensor{Name: "labels", DType: safetensors.I64, Shape: []int{len(labels)}, I64: labels}
	writeFile(t, path, &safetensors.File{Tensors: []safetensors.Tensor{x, y}})
}

func writeFile(t *testing.T, path string, f *safetensors.File) {
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, f); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) *safetensors.File {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Read(bytes.NewReader(b), 0)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return f
}

func export(t *testing.T, tr *core.Trainer, path string) {
	var buf bytes.Buffer
	if err := tr.ExportSafetensors(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// logits runs the task's head in evaluation or training mode.
func logits(t *testing.T, tr *core.Trainer, batch []core.Example, train bool) []float32 {
	var out mat.Tensor
	var err error
	switch h := tr.Head.(type) {
	case *tasks.Rotation:
		out, err = h.Head.Logits(tr.Trunk, batch, train)
	case *tasks.Jigsaw:
		out, err = h.Logits(tr.Trunk, batch, train)
	default:
		t.Fatalf("no logits for %T", h)
	}
	if err != nil {
		t.Fatal(err)
	}
	return mat.Data[float32](out.Value())
}

// views stacks the batch's views in the trunk's layout.
func views(t *testing.T, batch []core.Example) (mat.Tensor, core.Shape) {
	var vs []core.Planar
	for _, ex := range batch {
		vs = append(vs, ex.Views...)
	}
	x, s, err := core.Stack(vs)
	if err != nil {
		t.Fatal(err)
	}
	return mat.NewDense[float32](mat.WithShape(s.C, s.Cols()), mat.WithBacking(x)), s
}

// nchw reorders maps [C, N*H*W] to PyTorch's [N, C, H, W].
func nchw(d []float32, s core.Shape) []float32 {
	out := make([]float32, len(d))
	plane := s.H * s.W
	for c := range s.C {
		for n := range s.N {
			copy(out[(n*s.C+c)*plane:(n*s.C+c+1)*plane], d[(c*s.N+n)*plane:(c*s.N+n+1)*plane])
		}
	}
	return out
}

// relDiff is max |got - want| / max |want|, and the max difference itself.
func relDiff(got, want []float32) (rel, abs float64) {
	if len(got) != len(want) {
		return math.Inf(1), math.Inf(1)
	}
	var scale float64
	for i := range want {
		abs = max(abs, math.Abs(float64(got[i])-float64(want[i])))
		scale = max(scale, math.Abs(float64(want[i])))
	}
	if scale == 0 {
		return abs, abs
	}
	return abs / scale, abs
}

// compare checks got against the twin's tensor name and logs the
// difference.
func compare(t *testing.T, f *safetensors.File, name string, got []float32, tol float64) {
	t.Helper()
	want := f.Tensor(name)
	if want == nil {
		t.Fatalf("the twin wrote no %s", name)
	}
	rel, abs := relDiff(got, want.F32)
	t.Logf("%-40s max |diff| %.3g, relative %.3g", name, abs, rel)
	if !(rel <= tol) {
		t.Errorf("%s: relative difference %.3g (max |diff| %.3g) exceeds %g", name, rel, abs, tol)
	}
}

// TestTwinMatches: the same batch through Pretext and through the PyTorch
// twin built from Pretext's export gives the same maps after every layer,
// features and logits in evaluation mode (relative 1e-4), and, in one
// training step (batch statistics, cross-entropy), the same loss, logits,
// running statistics and gradients of every parameter (relative 1e-3).
func TestTwinMatches(t *testing.T) {
	t.Parallel()
	needTorch(t)
	for _, s := range quickSetups() {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			model, batchFile, out := filepath.Join(dir, "model.safetensors"), filepath.Join(dir, "batch.safetensors"), filepath.Join(dir, "out.safetensors")
			tr, batch := trained(t, s)
			export(t, tr, model)
			writeBatch(t, batchFile, batch)
			twin(t, "run", model, "--batch", batchFile, "--out", out, "--train")
			f := readFile(t, out)

			// Evaluation mode, layer by layer.
			x, sh := views(t, batch)
			var y mat.Tensor = x
			for i, l := range tr.Trunk.Layers {
				var err error
				if y, sh, err = l.Forward(y, sh, false); err != nil {
					t.Fatal(err)
				}
				compare(t, f, fmt.Sprintf("eval.layer.%d", i), nchw(mat.Data[float32](y.Value()), sh), evalTol)
			}
			x, sh = views(t, batch)
			feat, err := tr.Trunk.Forward(x, sh, false)
			if err != nil {
				t.Fatal(err)
			}
			compare(t, f, "eval.features", mat.Data[float32](feat.Value()), evalTol)
			compare(t, f, "eval.logits", logits(t, tr, batch, false), evalTol)

			// One training step: loss and gradients.
			m := &struct {
				nn.Module
				T *core.Trunk
				H core.Objective
			}{T: tr.Trunk, H: tr.Head}
			nn.ZeroGrad(m)
			loss, _, err := tr.Head.Loss(tr.Trunk, batch, true)
			if err != nil {
				t.Fatal(err)
			}
			if err := ag.Backward(loss); err != nil {
				t.Fatal(err)
			}
			compare(t, f, "train.loss", []float32{loss.Value().Item().F32()}, trainTol)
			checked := 0
			for _, np := range tr.TorchParams() {
				if np.Param.RequiresGrad() {
					compare(t, f, "grad."+np.Name, mat.Data[float32](np.Param.Grad()), trainTol)
				} else {
					compare(t, f, "after."+np.Name, mat.Data[float32](np.Param.Value()), trainTol)
				}
				checked++
			}
			nn.ZeroGrad(m)
			// The twin's own tensors: every one was compared.
			if want := 2 + len(tr.Trunk.Layers) + 1 + 1 + checked; len(f.Tensors) < want {
				t.Errorf("the twin wrote %d tensors, want at least %d", len(f.Tensors), want)
			}
		})
	}
}

// TestTwinImport: a model changed in PyTorch (one SGD step of the twin)
// and saved as safetensors imports into Pretext, which then gives the
// twin's evaluation logits (relative 1e-4), through a checkpoint too; the
// step changed the weights by far more than that tolerance.
func TestTwinImport(t *testing.T) {
	t.Parallel()
	needTorch(t)
	for _, s := range quickSetups() {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			model, batchFile := filepath.Join(dir, "model.safetensors"), filepath.Join(dir, "batch.safetensors")
			stepped, out := filepath.Join(dir, "stepped.safetensors"), filepath.Join(dir, "out.safetensors")
			tr, batch := trained(t, s)
			export(t, tr, model)
			writeBatch(t, batchFile, batch)
			twin(t, "sgd", model, "--batch", batchFile, "--lr", "0.5", "--out", stepped)
			twin(t, "run", stepped, "--batch", batchFile, "--out", out)
			f := readFile(t, out)

			b, err := os.ReadFile(stepped)
			if err != nil {
				t.Fatal(err)
			}
			back, err := core.ImportSafetensors(bytes.NewReader(b), tasks.Resolve)
			if err != nil {
				t.Fatal(err)
			}
			if back.Steps() != tr.Steps()+1 || back.Head.Spec().Kind != s.task {
				t.Fatalf("imported a %s model at step %d, want %s at %d", back.Head.Spec().Kind, back.Steps(), s.task, tr.Steps()+1)
			}
			before := logits(t, tr, batch, false)
			after := logits(t, back, batch, false)
			if rel, _ := relDiff(before, f.Tensor("eval.logits").F32); rel < 100*evalTol {
				t.Fatalf("the PyTorch step changed the logits by only %.3g (relative): the check below could not tell", rel)
			}
			compare(t, f, "eval.logits", after, evalTol)
			// Through a checkpoint, as pretext import writes it.
			var ckpt bytes.Buffer
			if err := back.Save(&ckpt); err != nil {
				t.Fatal(err)
			}
			loaded, err := core.LoadTrainer(&ckpt, tasks.Resolve)
			if err != nil {
				t.Fatal(err)
			}
			if got := logits(t, loaded, batch, false); !slices.Equal(got, after) {
				t.Fatal("the imported model's checkpoint gives other logits")
			}
		})
	}
}
