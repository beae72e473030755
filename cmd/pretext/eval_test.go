package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/core/eval"
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
	if testing.Short() {
		t.Skip("trains and probes three trunks, one end to end")
	}
	t.Parallel()
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

// TestEvalCheckpoint: eval -ckpt probes the trunk the checkpoint holds,
// not a random one. A rotation checkpoint trained for a few steps with seed
// 1 on a tiny Fashion-MNIST-format set has features that differ from those
// of its own starting point (the seed's random trunk); eval -ckpt's k-NN
// accuracy, as JSON and as text, is the one the test computes itself on
// the trunk it loads from the file, and not the one of that random trunk,
// which eval -random -seed 1 gives.
func TestEvalCheckpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a checkpoint")
	}
	t.Parallel()
	dir := t.TempDir()
	writeFashion(t, dir, 200, 100)
	data := "fashion-mnist:" + dir
	ckpt := filepath.Join(dir, "rot.ckpt")
	// A high rate, so that three steps move the trunk far from its start:
	// at the default 0.05 both score within an image of each other.
	if err := train([]string{"-task", "rotation", "-data", data, "-steps", "3", "-batch", "32", "-seed", "1", "-knn-every", "0", "-lr", "1", "-out", ckpt, "-threads", "2"}, io.Discard); err != nil {
		t.Fatal(err)
	}

	// The test's own features (the last layer, globally pooled, batch-norm
	// statistics recomputed on the training images) and k-NN accuracy.
	trainSet, testSet, err := loadFashion(dir)
	if err != nil {
		t.Fatal(err)
	}
	trainIn, testIn := eval.Inputs(trainSet.imgs, 1), eval.Inputs(testSet.imgs, 1)
	probe := func(trunk *core.Trunk) (eval.Features, float64) {
		t.Helper()
		trainF, testF, err := eval.Extract(trunk, trainIn, testIn, []core.Pooling{{Layer: len(trunk.Layers) - 1, Grid: 1}}, eval.ExtractConfig{})
		if err != nil {
			t.Fatal(err)
		}
		acc, err := eval.KNN(trainF[0], trainSet.labels, testF[0], testSet.labels, 10, eval.DefaultK, eval.DefaultTemperature)
		if err != nil {
			t.Fatal(err)
		}
		return testF[0], acc
	}
	f, err := os.Open(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := core.LoadTrainer(f, tasks.Resolve)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if tr.Steps() != 3 || tr.Trunk.Config.InChannels != 1 {
		t.Fatalf("checkpoint at step %d with %d input channels, want 3 steps of a grey trunk", tr.Steps(), tr.Trunk.Config.InChannels)
	}
	trainedF, trainedAcc := probe(tr.Trunk)
	cfg, err := core.NamedTrunk("rs")
	if err != nil {
		t.Fatal(err)
	}
	cfg.InChannels = 1
	start, err := core.NewTrunk(cfg, rand.New(rand.NewPCG(1, 0))) // the run's first draw (recipe.New)
	if err != nil {
		t.Fatal(err)
	}
	startF, startAcc := probe(start)
	var diff, size float64
	for i, v := range trainedF.Data {
		diff += math.Abs(float64(v - startF.Data[i]))
		size += math.Abs(float64(v))
	}
	if trainedF.Dim != startF.Dim || !(diff > 1e-3*size) {
		t.Fatalf("the trained trunk's features differ from its starting point's by %g (of %g): the setup cannot tell them apart", diff, size)
	}
	if trainedAcc == startAcc {
		t.Fatalf("the trained and the random trunk both score %v: the setup cannot tell eval -ckpt from eval -random", trainedAcc)
	}
	t.Logf("k-NN accuracy: trained %v, its random start %v", trainedAcc, startAcc)

	for _, c := range []struct {
		args []string
		want float64
	}{
		{[]string{"-ckpt", ckpt}, trainedAcc},
		{[]string{"-random", "-seed", "1"}, startAcc},
	} {
		res := runEval(t, append([]string{"-data", data, "-probe", "knn"}, c.args...)...)
		if len(res) != 1 {
			t.Fatalf("eval %v: %d results, want one", c.args, len(res))
		}
		r := res[0]
		if !(r.Accuracy >= 0 && r.Accuracy <= 1) || math.Abs(r.Accuracy-c.want) > 1e-9 || r.Probe != "knn" || r.Dim != trainedF.Dim || r.Block != len(start.Config.Widths) {
			t.Errorf("eval %v: %+v, want a k-NN accuracy of %v on %d-d features of block %d", c.args, r, c.want, trainedF.Dim, len(start.Config.Widths))
		}
		if c.args[0] == "-ckpt" && !strings.Contains(r.Features, "rotation-pretrained (rot.ckpt, 3 steps)") {
			t.Errorf("eval -ckpt describes its features as %q", r.Features)
		}
		// The line for people: a percentage in [0, 100], the same.
		var out bytes.Buffer
		if err := evalCmd(append([]string{"-data", data, "-probe", "knn", "-threads", "2"}, c.args...), &out); err != nil {
			t.Fatal(err)
		}
		_, pct, ok := strings.Cut(strings.TrimSpace(out.String()), "knn probe: ")
		v, err := strconv.ParseFloat(strings.TrimSuffix(pct, "%"), 64)
		if !ok || err != nil || !strings.HasSuffix(pct, "%") || !(v >= 0 && v <= 100) || math.Abs(v-100*c.want) > 0.005+1e-9 {
			t.Errorf("eval %v prints %q, want a k-NN accuracy of %.2f%%", c.args, out.String(), 100*c.want)
		}
	}
}

// TestEvalPhotosFolds probes a labelled photo folder by cross validation.
func TestEvalPhotosFolds(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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

// needFashion skips the test when Fashion-MNIST is not in dir, or fails
// it when PRETEXT_FASHION=1 says it must be there (.ci/run installs
// Debian's dataset-fashion-mnist and sets it).
func needFashion(t *testing.T, dir string) {
	t.Helper()
	var missing []string
	for _, name := range []string{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("PRETEXT_FASHION") == "1" {
		t.Fatalf("PRETEXT_FASHION=1 but %s lacks %s (apt-get install dataset-fashion-mnist)", dir, strings.Join(missing, ", "))
	}
	t.Skipf("Fashion-MNIST is not in %s (apt-get install dataset-fashion-mnist; PRETEXT_FASHION=1 makes this a failure)", dir)
}

// TestFashionInstalled reads the real Fashion-MNIST when Debian's
// dataset-fashion-mnist is installed (.ci/run installs it): the counts, the
// padding and the first labels its README documents.
func TestFashionInstalled(t *testing.T) {
	t.Parallel()
	needFashion(t, FashionDir)
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
	t.Parallel()
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
