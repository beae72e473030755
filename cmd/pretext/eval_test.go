package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/tasks"
	"github.com/pretextlab/pretext/tasks/samples"
)

// writeFashion writes a tiny Fashion-MNIST-format dataset to dir: n
// training and m test images of 28x28 whose class (0-9) sets where a
// bright bar is, so the classes are learnable.
func writeFashion(t *testing.T, dir string, n, m int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(9, 9))
	write := func(prefix string, count int) {
		var imgs, labels bytes.Buffer
		binary.Write(&imgs, binary.BigEndian, []uint32{2051, uint32(count), 28, 28})
		binary.Write(&labels, binary.BigEndian, []uint32{2049, uint32(count)})
		for range count {
			c := rng.IntN(10)
			labels.WriteByte(byte(c))
			for y := range 28 {
				for x := range 28 {
					v := byte(rng.IntN(40))
					if y >= 2*c+2 && y < 2*c+6 && x > 4 && x < 24 {
						v = byte(180 + rng.IntN(70))
					}
					imgs.WriteByte(v)
				}
			}
		}
		for name, b := range map[string][]byte{prefix + "-images-idx3-ubyte.gz": imgs.Bytes(), prefix + "-labels-idx1-ubyte.gz": labels.Bytes()} {
			var z bytes.Buffer
			w := gzip.NewWriter(&z)
			w.Write(b)
			w.Close()
			if err := os.WriteFile(filepath.Join(dir, name), z.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("train", n)
	write("t10k", m)
}

// writeLabelledPhotos writes the embedded samples that have a class (the
// file name's prefix) and a labels.csv to dir.
func writeLabelledPhotos(t *testing.T, dir string) {
	t.Helper()
	csv := "file,label\n"
	for _, p := range samples.Photos() {
		class, _, _ := strings.Cut(p.Name, "-")
		if class != "animal" && class != "monument" && class != "fish" {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, p.Name), p.Data, 0o644); err != nil {
			t.Fatal(err)
		}
		csv += p.Name + "," + class + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "labels.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
}

func runEval(t *testing.T, args ...string) []evalResult {
	t.Helper()
	var out bytes.Buffer
	if err := evalCmd(append(args, "-json", "-threads", "2"), &out); err != nil {
		t.Fatalf("eval %v: %v", args, err)
	}
	var res []evalResult
	dec := json.NewDecoder(&out)
	for dec.More() {
		var r evalResult
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		res = append(res, r)
	}
	return res
}

// TestEvalFashionEndToEnd pretrains rotation on a tiny Fashion-MNIST-format
// set (labels unused), then probes it, a random trunk and a supervised one.
func TestEvalFashionEndToEnd(t *testing.T) {
	dir := t.TempDir()
	writeFashion(t, dir, 300, 100)
	data := "fashion-mnist:" + dir
	ckpt := filepath.Join(dir, "rot.ckpt")
	var out bytes.Buffer
	if err := train([]string{"-task", "rotation", "-data", data, "-steps", "3", "-batch", "32", "-config", `{"min_scale":1,"jitter":-1}`, "-out", ckpt, "-json"}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var tr trainResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &tr); err != nil {
		t.Fatal(err)
	}
	if tr.HeldOut != 100 || tr.HeldOutNames != nil {
		t.Errorf("held out %d (names %v), want the 100 test images", tr.HeldOut, tr.HeldOutNames)
	}
	for want, args := range map[int][]string{
		2: {"-ckpt", ckpt},
		4: {"-random", "-seed", "1", "-block", "3,1", "-grid", "1,2"},
		1: {"-supervised", "-steps", "40", "-batch", "64", "-probe", "linear"},
	} {
		res := runEval(t, append([]string{"-data", data}, args...)...)
		if len(res) != want {
			t.Fatalf("%v: %d results", args, len(res))
		}
		for _, r := range res {
			// Ten classes, learnable: any probe of any trunk beats the 10%
			// of a guess by far.
			if r.Accuracy < 0.4 || r.Data != data || r.Dim < 1 {
				t.Errorf("%v: %+v", args, r)
			}
		}
		if args[0] == "-supervised" && res[0].EndToEnd < 0.2 { // chance is 0.1
			t.Errorf("supervised end to end %.2f", res[0].EndToEnd)
		}
	}
	for _, bad := range [][]string{
		{"-data", data}, // no trunk
		{"-data", data, "-random", "-ckpt", ckpt},   // two
		{"-data", data, "-random", "-probe", "svm"}, // unknown probe
		{"-data", "fashion-mnist:" + t.TempDir(), "-random"},
		{"-data", data, "-random", "-block", "1,2", "-grid", "1"},
	} {
		if err := evalCmd(bad, &out); err == nil {
			t.Errorf("eval %v passed", bad)
		}
	}
	if err := evalCmd([]string{"-data", "fashion-mnist:" + t.TempDir(), "-random"}, &out); err == nil || !strings.Contains(err.Error(), "apt-get install dataset-fashion-mnist") {
		t.Errorf("missing data: %v", err)
	}
}

// TestEvalPhotosFolds probes a labelled photo folder by cross validation.
func TestEvalPhotosFolds(t *testing.T) {
	dir := t.TempDir()
	writeLabelledPhotos(t, dir)
	res := runEval(t, "-data", "photos:"+dir, "-random", "-folds", "2", "-side", "32")
	for _, r := range res {
		if len(r.Folds) != 2 || r.Accuracy < 0 || r.Accuracy > 1 {
			t.Errorf("%+v", r)
		}
	}
	// A checkpoint of a 3-channel trunk probes photos; on Fashion-MNIST's
	// one channel it is refused.
	trunk, _ := core.NewTrunk(core.TrunkConfig{}, rand.New(rand.NewPCG(1, 1)))
	task, _ := tasks.New("rotation", nil, trunk, rand.New(rand.NewPCG(1, 1)))
	tr, _ := core.NewTrainer(trunk, task, core.TrainConfig{})
	ckpt := filepath.Join(dir, "rgb.ckpt")
	if err := writeAtomic(ckpt, tr.Save); err != nil {
		t.Fatal(err)
	}
	runEval(t, "-data", "photos:"+dir, "-ckpt", ckpt, "-folds", "2", "-side", "32", "-probe", "knn")
	fm := t.TempDir()
	writeFashion(t, fm, 20, 10)
	if err := evalCmd([]string{"-data", "fashion-mnist:" + fm, "-ckpt", ckpt}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "channels") {
		t.Errorf("a colour trunk on grey data: %v", err)
	}
}

// TestReportSmoke runs the whole report on tiny data with a hundredth of
// the steps: every row is run and written with its commands.
func TestReportSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	fm, photos, work := t.TempDir(), t.TempDir(), t.TempDir()
	writeFashion(t, fm, 300, 100)
	writeLabelledPhotos(t, photos)
	out := filepath.Join(work, "RESULTS.md")
	var buf bytes.Buffer
	if err := report([]string{"-fashion", fm, "-photos", photos, "-work", work, "-out", out, "-steps-scale", "0.002"}, &buf); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	for _, want := range []string{"| Fashion-MNIST | rotation, block 1, 4x4 pooled |", "| dev photos | colorization, block 3 |", "pretext train -task jigsaw", "pretext eval -data photos:"} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	// -reuse rebuilds it from the finished rows without running anything.
	if err := report([]string{"-fashion", fm, "-photos", photos, "-work", work, "-out", out + "2", "-steps-scale", "0.002", "-reuse"}, &buf); err != nil {
		t.Fatal(err)
	}
	b2, _ := os.ReadFile(out + "2")
	cut := func(s string) string { return s[strings.Index(s, "| data |"):] }
	if cut(string(b2)) != cut(md) {
		t.Error("the reused report differs")
	}
}

// TestFashionInstalled reads the real Fashion-MNIST when Debian's
// dataset-fashion-mnist is installed (.ci/run installs it): the counts, the
// padding and the first labels its README documents.
func TestFashionInstalled(t *testing.T) {
	if _, err := os.Stat(filepath.Join(FashionDir, "train-labels-idx1-ubyte.gz")); err != nil {
		t.Skip("dataset-fashion-mnist is not installed")
	}
	train, test, err := loadFashion(FashionDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(train.imgs) != 60000 || len(test.imgs) != 10000 {
		t.Fatalf("%d training and %d test images", len(train.imgs), len(test.imgs))
	}
	if !slices.Equal(train.labels[:10], []int{9, 0, 0, 3, 0, 2, 7, 2, 5, 5}) || !slices.Equal(test.labels[:10], []int{9, 2, 1, 1, 6, 1, 4, 6, 5, 7}) {
		t.Errorf("first labels %v and %v", train.labels[:10], test.labels[:10])
	}
	img := train.imgs[0]
	if b := img.Bounds(); b.Dx() != 32 || b.Dy() != 32 || img.Pix[0] != 0 || img.Pix[3] != 255 {
		t.Errorf("image %v, first pixel %v", b, img.Pix[:4])
	}
}

// TestReportRandomDifference checks the bracketed difference from the
// random-init mean: per data, trunk, pooling and probe, never on random rows.
func TestReportRandomDifference(t *testing.T) {
	res := func(block, grid int, probe string, acc float64) evalResult {
		return evalResult{Block: block, Grid: grid, Probe: probe, Accuracy: acc}
	}
	rows := []*reportRow{
		{data: "d", features: "random init, seed 0", results: []evalResult{res(3, 1, "linear", 0.50), res(2, 2, "linear", 0.70)}},
		{data: "d", features: "random init, seed 1", results: []evalResult{res(3, 1, "linear", 0.54)}},
		{data: "d", features: "wide trunk, random init, seed 0", results: []evalResult{res(3, 1, "linear", 0.90)}},
		{data: "d", features: "rotation", results: []evalResult{res(3, 1, "linear", 0.55), res(2, 2, "linear", 0.65), res(3, 1, "knn", 0.4)}},
		{data: "d", features: "wide trunk, rotation", results: []evalResult{res(3, 1, "linear", 0.91)}},
	}
	m := randomMeans(rows)
	for _, c := range []struct {
		row   int
		p     pooling
		probe string
		want  string
	}{
		{3, pooling{3, 1}, "linear", "55.00 (+3.0)"},
		{3, pooling{2, 2}, "linear", "65.00 (-5.0)"},
		{3, pooling{3, 1}, "knn", "40.00"}, // no random k-NN row
		{4, pooling{3, 1}, "linear", "91.00 (+1.0)"},
		{0, pooling{3, 1}, "linear", "50.00"},
	} {
		if got := rows[c.row].cell(c.p, c.probe, m); got != c.want {
			t.Errorf("row %d %v %s: %q, want %q", c.row, c.p, c.probe, got, c.want)
		}
	}
}
