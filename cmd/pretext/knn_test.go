package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/recipe"
)

// writeLabelledKinds writes n photos of each of two kinds (writeKinds) and
// a labels.csv naming all but the last two of each kind, so that some
// photos have no label.
func writeLabelledKinds(t *testing.T, dir string, n int) map[string]string {
	t.Helper()
	writeKinds(t, dir, n)
	labels := map[string]string{}
	csv := "file,label\n"
	for _, kind := range []string{"red", "blue"} {
		for i := range n - 2 {
			name := kind + "-" + strconv.Itoa(i) + ".png"
			labels[name] = kind
			csv += name + "," + kind + "\n"
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "labels.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	return labels
}

// jsonLines splits train's -json output into its lines by type, each
// decoded into a map.
func jsonLines(t *testing.T, out string) (types []string, lines []map[string]any) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		typ, _ := m["type"].(string)
		types, lines = append(types, typ), append(lines, m)
	}
	return types, lines
}

// TestTrainKNNLines: with labels beside the photos, -json gives a knn
// line every -knn-every steps and after the last one, measured on the
// held-back photos that labels.csv names; the result holds the last.
func TestTrainKNNLines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	labels := writeLabelledKinds(t, dir, 10)
	var out bytes.Buffer
	args := []string{"-task", "rotation", "-images", dir, "-holdout", "0.5", "-steps", "11", "-batch", "8", "-knn-every", "4", "-json", "-threads", "2"}
	if err := train(args, &out); err != nil {
		t.Fatal(err)
	}
	types, lines := jsonLines(t, out.String())
	if want := []string{"knn", "knn", "step", "knn", "result"}; !slices.Equal(types, want) {
		t.Fatalf("lines of types %v, want %v", types, want)
	}
	var res trainResult
	if err := json.Unmarshal([]byte(strings.Split(strings.TrimSpace(out.String()), "\n")[4]), &res); err != nil {
		t.Fatal(err)
	}
	named := 0
	for _, n := range res.HeldOutNames {
		if labels[n] != "" {
			named++
		}
	}
	if len(res.HeldOutNames) != 10 || named == len(res.HeldOutNames) || named < 4 {
		t.Fatalf("held out %v: want 10, some of them without a label", res.HeldOutNames)
	}
	var knn []map[string]any
	for i, typ := range types {
		if typ == "knn" {
			knn = append(knn, lines[i])
		}
	}
	for i, l := range knn {
		step := []float64{4, 8, 11}[i]
		acc, _ := l["accuracy"].(float64)
		if l["step"] != step || !(acc >= 0 && acc <= 1) || l["images"] != float64(named) || l["bank"] != float64(named) ||
			l["k"] != float64(named-1) || l["leave_one_out"] != true || !(l["seconds"].(float64) > 0) {
			t.Errorf("knn line %v: want step %v, accuracy in [0, 1], %d images, k=%d, leaving one out", l, step, named, named-1)
		}
	}
	if k := res.KNN; k == nil || k.Step != 11 || k.Accuracy != knn[2]["accuracy"] {
		t.Errorf("the result's knn %+v, want the last line's %v", k, knn[2])
	}
	// The two kinds are told apart by the trunk's features.
	if a := knn[2]["accuracy"].(float64); a < 0.75 {
		t.Errorf("k-NN accuracy %v on two kinds of photos", a)
	}
}

// TestTrainKNNLeavesTrainingAlone: measuring the trunk after every step
// changes nothing of the training: the same losses, and the same
// checkpoint (parameters, batch-norm statistics, optimizer state, batch
// generator) byte for byte.
func TestTrainKNNLeavesTrainingAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two runs of 20 steps")
	}
	t.Parallel()
	dir := t.TempDir()
	writeLabelledKinds(t, dir, 8)
	run := func(every string) (string, []byte) {
		ckpt := filepath.Join(t.TempDir(), "run.ckpt")
		var out bytes.Buffer
		args := []string{"-task", "rotation", "-images", dir, "-holdout", "0.5", "-steps", "20", "-batch", "8", "-knn-every", every, "-out", ckpt, "-json", "-threads", "2"}
		if err := train(args, &out); err != nil {
			t.Fatal(err)
		}
		var kept []string
		types, _ := jsonLines(t, out.String())
		for i, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			switch types[i] {
			case "step":
				// The step's numbers, not its timing.
				var st struct{ Step, Loss, Accuracy, LR any }
				json.Unmarshal([]byte(l), &st)
				kept = append(kept, string(mustJSON(t, st)))
			case "result":
				var r trainResult
				json.Unmarshal([]byte(l), &r)
				kept = append(kept, string(mustJSON(t, []any{r.Loss, r.TrainAcc, r.PretextLoss, r.PretextAcc})))
			}
		}
		b, err := os.ReadFile(ckpt)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(kept, "\n"), b
	}
	lossesOff, ckptOff := run("0")
	lossesOn, ckptOn := run("1")
	if lossesOff != lossesOn {
		t.Errorf("losses without evaluation:\n%s\nwith one after every step:\n%s", lossesOff, lossesOn)
	}
	if strings.Count(lossesOn, "\n") != 2 {
		t.Errorf("want two step lines and the result, got %q", lossesOn)
	}
	if !bytes.Equal(ckptOff, ckptOn) {
		t.Error("the checkpoints with and without evaluation differ")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTrainKNNFashion: on Fashion-MNIST the test images are classified by
// a bank of training images (small sets here: all of them).
func TestTrainKNNFashion(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on Fashion-MNIST-format data")
	}
	t.Parallel()
	dir := t.TempDir()
	writeFashion(t, dir, 200, 60)
	var out bytes.Buffer
	if err := train([]string{"-task", "rotation", "-data", "fashion-mnist:" + dir, "-steps", "4", "-batch", "16", "-knn-every", "2", "-json", "-threads", "2"}, &out); err != nil {
		t.Fatal(err)
	}
	types, lines := jsonLines(t, out.String())
	if want := []string{"knn", "knn", "result"}; !slices.Equal(types, want) {
		t.Fatalf("lines of types %v, want %v", types, want)
	}
	for i, l := range lines[:2] {
		// Ten classes a bright bar tells apart: far above the 10% of a guess.
		acc, _ := l["accuracy"].(float64)
		if l["step"] != float64(2*i+2) || acc < 0.4 || acc > 1 || l["images"] != 60.0 || l["bank"] != 200.0 || l["k"] != 20.0 || l["leave_one_out"] != false {
			t.Errorf("knn line %v", l)
		}
	}
}

// TestTrainKNNDefaultsAndErrors: without -knn-every, a run on labelled
// photos is measured every 50 steps and after the last, and a run without
// labels is not; asked for without labels, it is an error.
func TestTrainKNNDefaultsAndErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeLabelledKinds(t, dir, 6)
	for name, c := range map[string]struct {
		args  []string
		types []string
	}{
		"labels":        {[]string{"-images", dir, "-holdout", "0.5", "-steps", "3"}, []string{"knn", "result"}},
		"labels, never": {[]string{"-images", dir, "-holdout", "0.5", "-steps", "3", "-knn-every", "0"}, []string{"result"}},
		"no labels":     {[]string{"-steps", "3"}, []string{"result"}},
		"one held back": {[]string{"-images", dir, "-holdout", "0.01", "-steps", "3"}, []string{"result"}},
	} {
		var out bytes.Buffer
		if err := train(append(c.args, "-task", "rotation", "-batch", "4", "-json", "-threads", "2"), &out); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if types, _ := jsonLines(t, out.String()); !slices.Equal(types, c.types) {
			t.Errorf("%s: lines of types %v, want %v", name, types, c.types)
		}
	}
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"samples":       {[]string{"-knn-every", "5"}, "no labels with the embedded sample photos"},
		"one held back": {[]string{"-images", dir, "-holdout", "0.01", "-knn-every", "5"}, "two labels of two photos at least"},
		"negative":      {[]string{"-knn-every", "-1"}, "not a count of steps"},
	} {
		err := train(append(c.args, "-steps", "1", "-batch", "4", "-threads", "2"), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one saying %q", name, err, c.want)
		}
	}
}

// TestKNNLineForPeople: without -json an evaluation is one line, through
// the note the progress bar makes room for; one that fails is a note too.
func TestKNNLineForPeople(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeLabelledKinds(t, dir, 6)
	photos, err := loadPhotos(dir, core.IntakeConfig{}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// The first 8 by name: blue-0 to blue-5 (blue-4 and blue-5 unnamed),
	// red-0 and red-1.
	e, err := photosKNN(dir, photos, photos[:8])
	if err != nil {
		t.Fatal(err)
	}
	run, err := recipe.New(recipe.Settings{Task: "rotation", Steps: 1, Batch: 4})
	if err != nil {
		t.Fatal(err)
	}
	var notes []string
	var stdout bytes.Buffer
	h := e.hook(7, run.Trainer, false, &stdout, func(s string) { notes = append(notes, s) })
	h.Fn(7)
	if h.N != 7 || len(notes) != 1 || stdout.Len() != 0 || !strings.HasPrefix(notes[0], "step 7: k-NN accuracy ") ||
		!strings.Contains(notes[0], "% on 6 held-back labelled photos (leaving one out), k=5 (") {
		t.Errorf("notes %q, stdout %q", notes, stdout.String())
	}
	e.bankY = e.bankY[:1] // a bank and its labels that disagree
	h.Fn(8)
	if len(notes) != 2 || !strings.HasPrefix(notes[1], "step 8: no k-NN accuracy: ") || e.last.Step != 7 {
		t.Errorf("a failed evaluation: notes %q, the last kept %+v", notes, e.last)
	}
}
