package tasks

import (
	"encoding/json"
	"image"
	"math"
	"strings"
	"testing"

	"github.com/nlpodyssey/spago/mat"

	"github.com/pretextlab/pretext/core"
)

// swavSmall is SwAV with small settings for the small trunk.
const swavSmall = `{"hidden":64,"proj":32,"prototypes":64,"local_crops":2}`

func newSwAV(t *testing.T, config string, trunk *core.Trunk) *SwAV {
	t.Helper()
	task, err := New("swav", json.RawMessage(config), trunk, testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	return task.(*SwAV)
}

// refSwAVCodes is Algorithm 1's sinkhorn, as written in the paper (in
// probabilities, not logs): Q = exp(scores/ε)ᵀ, [K, B], divided by its
// sum; then iters times the rows (prototypes) scaled to sum to 1/K and
// the columns (photos) to 1/B; the codes are (Q·B)ᵀ. scores is [B, K].
func refSwAVCodes(scores []float64, b, k int, eps float64, iters int) []float64 {
	q := make([]float64, k*b)
	var sum float64
	for i := range b {
		for j := range k {
			q[j*b+i] = math.Exp(scores[i*k+j] / eps)
			sum += q[j*b+i]
		}
	}
	for p := range q {
		q[p] /= sum
	}
	for range iters {
		for j := range k {
			var u float64
			for i := range b {
				u += q[j*b+i]
			}
			for i := range b {
				q[j*b+i] *= (1 / float64(k)) / u
			}
		}
		for i := range b {
			var c float64
			for j := range k {
				c += q[j*b+i]
			}
			for j := range k {
				q[j*b+i] *= (1 / float64(b)) / c
			}
		}
	}
	out := make([]float64, b*k)
	for i := range b {
		for j := range k {
			out[i*k+j] = q[j*b+i] * float64(b)
		}
	}
	return out
}

// TestSwAVCodes checks swavCodes (sinkhornScale on the transposed scores,
// in the log domain) against Algorithm 1's sinkhorn in probabilities, and
// that the codes are an equipartition: each photo's code sums to 1, and
// the prototypes' sums over the batch approach B/K: the paper's 3
// iterations at least halve the imbalance of a plain softmax on scores
// that crowd onto one prototype, and 1000 remove it.
func TestSwAVCodes(t *testing.T) {
	t.Parallel()
	rng := testRNG(31)
	for _, tc := range []struct{ b, k int }{{1, 1}, {2, 3}, {5, 4}, {8, 16}, {32, 64}} {
		scores := make([]float32, tc.b*tc.k)
		s64 := make([]float64, len(scores))
		for i := range scores {
			// Cosines, peaked: each photo near one prototype, most near
			// prototype 0 (unbalanced before the equipartition).
			v := 2*rng.Float64() - 1
			if i%tc.k == 0 || rng.Float64() < 0.05 {
				v = 0.9 + 0.1*rng.Float64()
			}
			scores[i], s64[i] = float32(v), float64(float32(v))
		}
		// Without the equipartition each code would be its photo's
		// softmax(scores/ε), which puts most photos on prototype 0.
		plain := 0.0
		{
			col := make([]float64, tc.k)
			for i := range tc.b {
				row := s64[i*tc.k : (i+1)*tc.k]
				var e float64
				for _, v := range row {
					e += math.Exp(v / 0.05)
				}
				for j, v := range row {
					col[j] += math.Exp(v/0.05) / e
				}
			}
			share := float64(tc.b) / float64(tc.k)
			for _, c := range col {
				plain = max(plain, math.Abs(c-share)/share)
			}
		}
		for _, iters := range []int{3, 1000} {
			lq := swavCodes(scores, tc.b, tc.k, 0.05, iters)
			want := refSwAVCodes(s64, tc.b, tc.k, 0.05, iters)
			col := make([]float64, tc.k)
			for i := range tc.b {
				var row float64
				for j := range tc.k {
					q := math.Exp(lq[i*tc.k+j])
					if d := math.Abs(q - want[i*tc.k+j]); d > 1e-9 {
						t.Fatalf("b=%d k=%d iters=%d: q[%d][%d] = %v, Algorithm 1 %v", tc.b, tc.k, iters, i, j, q, want[i*tc.k+j])
					}
					row += q
					col[j] += q
				}
				if math.Abs(row-1) > 1e-9 {
					t.Errorf("b=%d k=%d: code %d sums to %v, want 1", tc.b, tc.k, i, row)
				}
			}
			worst := 0.0
			share := float64(tc.b) / float64(tc.k)
			for _, c := range col {
				worst = max(worst, math.Abs(c-share)/share)
			}
			t.Logf("b=%d k=%d iters=%d: prototypes' sums within %.2g of B/K (softmax alone: %.2g)", tc.b, tc.k, iters, worst, plain)
			// 3 iterations at least halve the softmax's imbalance (or leave
			// it below 1e-9); 1000 remove it.
			if tol := map[int]float64{3: max(0.5*plain, 1e-9), 1000: 1e-6}[iters]; !(worst <= tol) {
				t.Errorf("b=%d k=%d iters=%d: a prototype's sum is %.3g off B/K = %.3g, want within %.3g", tc.b, tc.k, iters, worst, share, tol)
			}
		}
	}
}

// TestSwAVLoss checks the task's loss against eq. 1-2 from its definition,
// written here from the trunk's features, the head in evaluation mode and
// Algorithm 1's sinkhorn (refSwAVCodes); the codes are equipartitioned on
// the photos; the accuracy is core.PairAccuracy of the global views' z.
func TestSwAVLoss(t *testing.T) {
	t.Parallel()
	photos := testPhotos(t)
	trunk := smallTrunk(t, 2)
	task := newSwAV(t, swavSmall, trunk)
	batch, err := Batch(task, photos, 12, testRNG(3))
	if err != nil {
		t.Fatal(err)
	}
	loss, score, err := task.Loss(trunk, batch, false)
	if err != nil {
		t.Fatal(err)
	}
	n, k, views := len(batch), 64, 4
	var feats []mat.Tensor
	for v := range views {
		var vs []core.Planar
		for _, ex := range batch {
			vs = append(vs, ex.Views[v])
		}
		f, err := trunk.Embed(vs)
		if err != nil {
			t.Fatal(err)
		}
		feats = append(feats, rowMatrix(f))
	}
	f := feats[0]
	for _, g := range feats[1:] {
		if f, err = core.ConcatRows(f, g); err != nil {
			t.Fatal(err)
		}
	}
	z, err := task.Proj.Forward(f, false)
	if err != nil {
		t.Fatal(err)
	}
	zv, d := z.Value().Data().F32(), z.Shape()[1]
	protos := task.Prototypes.Value().Data().F32()
	// Scores z·C/|z| (C is unit), and from them the codes and log-softmax.
	scores := make([]float64, views*n*k)
	unit := make([]float32, views*n*d)
	for r := range views * n {
		var ss float64
		for _, x := range zv[r*d : (r+1)*d] {
			ss += float64(x) * float64(x)
		}
		for m := range d {
			unit[r*d+m] = float32(float64(zv[r*d+m]) / math.Sqrt(ss))
		}
		for j := range k {
			var s float64
			for m := range d {
				s += float64(zv[r*d+m]) * float64(protos[j*d+m])
			}
			scores[r*k+j] = s / math.Sqrt(ss)
		}
	}
	codes := [2][]float64{}
	for v := range 2 {
		codes[v] = refSwAVCodes(scores[v*n*k:(v+1)*n*k], n, k, 0.05, 3)
		col := make([]float64, k)
		for p, q := range codes[v] {
			col[p%k] += q
		}
		lo, hi := math.Inf(1), 0.0
		for _, c := range col {
			lo, hi = min(lo, c), max(hi, c)
		}
		t.Logf("view %d: prototypes' sums over the batch in [%.3f, %.3f], B/K = %.3f", v, lo, hi, float64(n)/float64(k))
		if share := float64(n) / float64(k); !(lo > 0.5*share && hi < 1.5*share) {
			t.Errorf("view %d: prototypes' sums in [%.3f, %.3f], not near B/K = %.3f", v, lo, hi, share)
		}
	}
	var want float64
	for tv := range 2 {
		for s := range views {
			if s == tv {
				continue
			}
			for i := range n {
				row := scores[(s*n+i)*k : (s*n+i+1)*k]
				var e float64
				for _, x := range row {
					e += math.Exp(x / 0.1)
				}
				for j, x := range row {
					want -= codes[tv][i*k+j] * (x/0.1 - math.Log(e)) / float64(n*2*(views-1))
				}
			}
		}
	}
	got := float64(loss.Value().Item().F32())
	t.Logf("loss %.5f, eq. 1-2 %.5f (ln K = %.5f)", got, want, math.Log(float64(k)))
	if math.Abs(got-want) > 1e-4*math.Max(1, math.Abs(want)) {
		t.Errorf("loss %v, eq. 1-2 gives %v", got, want)
	}
	pairs := make([]float32, 0, 2*n*d)
	for i := range n {
		pairs = append(pairs, unit[i*d:(i+1)*d]...)
		pairs = append(pairs, unit[(n+i)*d:(n+i+1)*d]...)
	}
	acc, err := core.PairAccuracy(mat.NewDense[float32](mat.WithShape(2*n, d), mat.WithBacking(pairs)))
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(score.Accuracy-acc) > 1e-9 {
		t.Errorf("accuracy %v, want %v", score.Accuracy, acc)
	}
}

// checkUnitPrototypes fails unless every prototype is a unit row.
func checkUnitPrototypes(t *testing.T, s *SwAV) {
	t.Helper()
	c, d := s.Prototypes.Value().Data().F32(), s.cfg.Proj
	for j := range s.cfg.Prototypes {
		var ss float64
		for _, v := range c[j*d : (j+1)*d] {
			ss += float64(v) * float64(v)
		}
		if math.Abs(math.Sqrt(ss)-1) > 1e-5 {
			t.Fatalf("prototype %d has norm %v, want 1", j, math.Sqrt(ss))
		}
	}
}

// TestSwAVLossFalls trains SwAV on the sample photos: the loss falls, the
// prototypes (which the gradient moves) stay unit rows, and the trunk's
// features match a photo's views more often than a random-init trunk's.
// The colour distortions are milder than the defaults', as in
// TestJointLossFalls.
func TestSwAVLossFalls(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the sample photos; -short skips it")
	}
	t.Parallel()
	photos := testPhotos(t)
	trunk := smallTrunk(t, 5)
	config := strings.TrimSuffix(swavSmall, "}") + `,"jitter_prob":0.5,"grey_prob":-1}`
	task := newSwAV(t, config, trunk)
	checkUnitPrototypes(t, task)
	before := append([]float32(nil), task.Prototypes.Value().Data().F32()...)
	losses, tr := trainLosses(t, trunk, task, photos, core.TrainConfig{Optimizer: "adam", LR: 2e-3}, 100, 16, 6)
	t.Logf("baseline ln K = %.4f", math.Log(64))
	checkLossFalls(t, losses, 10, 0.95)
	checkUnitPrototypes(t, task)
	moved := 0.0
	for i, v := range task.Prototypes.Value().Data().F32() {
		moved = max(moved, math.Abs(float64(v-before[i])))
	}
	if !(moved > 1e-3) {
		t.Errorf("the prototypes moved by at most %v", moved)
	}
	checkViewMatching(t, task, tr.Trunk, photos)
}

// TestSwAVCheckpoint rebuilds SwAV from its spec and a checkpoint, and a
// run saved after 3 steps goes on exactly as the one not stopped.
func TestSwAVCheckpoint(t *testing.T) {
	t.Parallel()
	photos := testPhotos(t)
	trunk := smallTrunk(t, 7)
	task := newSwAV(t, swavSmall, trunk)
	_, tr := trainLosses(t, trunk, task, photos, core.TrainConfig{Optimizer: "adam"}, 2, 8, 8)
	batch, err := Batch(task, photos, 8, testRNG(9))
	if err != nil {
		t.Fatal(err)
	}
	got := checkpointRoundTrip(t, tr, batch)
	s := got.Head.(*SwAV)
	if s.Name() != "swav" || s.cfg.LocalCrops != 2 || s.cfg.Prototypes != 64 || s.cfg.Epsilon != 0.05 {
		t.Errorf("loaded %s with %+v", s.Name(), s.cfg)
	}
	for i, v := range task.Prototypes.Value().Data().F32() {
		if s.Prototypes.Value().Data().F32()[i] != v {
			t.Fatalf("prototype value %d: %v, saved %v", i, s.Prototypes.Value().Data().F32()[i], v)
		}
	}
	if !s.Prototypes.RequiresGrad() {
		t.Errorf("the loaded prototypes take no gradient")
	}

	// Exact resume.
	checkResume(t, "swav", swavSmall)
}

// TestSwAVScores: the held-out measure is view matching on the two-view
// methods' views, and the baseline loss is ln K.
func TestSwAVScores(t *testing.T) {
	t.Parallel()
	photos := testPhotos(t)[:8]
	trunk := smallTrunk(t, 11)
	task := newSwAV(t, swavSmall, trunk)
	checkMultiCropScores(t, "swav", task, trunk, photos)
	if b := task.BaselineLoss(nil); math.Abs(b-math.Log(64)) > 1e-12 {
		t.Errorf("baseline loss %v, want ln 64", b)
	}
}

func TestSwAVErrors(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 14)
	for _, cfg := range []string{
		`{"prototypes":-1}`, `{"prototypes":100000}`, `{"temperature":-1}`, `{"temperature":1000}`,
		`{"epsilon":-0.1}`, `{"epsilon":1000}`, `{"sinkhorn_iters":-1}`, `{"sinkhorn_iters":101}`,
		`{"local_crops":17}`, `{"local_size":64}`, `{"local_min_scale":0.5}`,
		`{"size":-1}`, `{"min_scale":2}`, `{"hidden":-2}`, `{"proj":-2}`, `{"proj":16384,"prototypes":65536}`,
		`{"neighbors":100}`, `{"bogus":1}`, `[`,
	} {
		if _, err := New("swav", json.RawMessage(cfg), trunk, testRNG(1)); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
			t.Errorf("config %s: error %v", cfg, err)
		}
	}
	if _, err := NewSwAV(SwAVConfig{}, nil, testRNG(1)); err == nil {
		t.Errorf("no trunk: no error")
	}
	task := newSwAV(t, swavSmall, trunk)
	if _, err := task.Examples(nil, nil, testRNG(1)); err == nil {
		t.Errorf("Examples of no photo: no error")
	}
	if _, err := task.Examples(nil, testPhotos(t)[0], nil); err == nil {
		t.Errorf("Examples without a rng: no error")
	}
	g, l := core.NewPlanar(3, 32, 32), core.NewPlanar(3, 16, 16)
	four := core.Example{Views: []core.Planar{g, g, l, l}}
	two := core.Example{Views: []core.Planar{g, g}}
	for name, batch := range map[string][]core.Example{
		"none": nil, "one": {four}, "two views": {four, two},
	} {
		if _, _, err := task.Loss(trunk, batch, true); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
			t.Errorf("Loss on %s: error %v", name, err)
		}
	}
	if _, _, err := task.Loss(nil, []core.Example{four, four}, true); err == nil {
		t.Errorf("Loss without a trunk: no error")
	}
}

// checkMultiCropScores checks a multi-crop method's held-out scores on
// photos: the measure is view matching on the two-view methods' views
// (min_scale 0.2), made by the same pipeline from the same seed, and a
// prediction is the shared neighbours preview.
func checkMultiCropScores(t *testing.T, name string, task interface {
	Task
	Measurer
}, trunk *core.Trunk, photos []*image.NRGBA) {
	t.Helper()
	tr, err := core.NewTrainer(trunk, task, core.TrainConfig{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := HeldOutScore(tr, task, photos, 2, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	if h.Measure == nil || h.Measure.Name != "view matching" || !(h.Measure.Value >= 0 && h.Measure.Value <= 100) {
		t.Fatalf("measure %+v", h.Measure)
	}
	if !(h.Loss > 0) || !(h.Accuracy >= 0 && h.Accuracy <= 1) {
		t.Errorf("held-out loss %v, accuracy %v", h.Loss, h.Accuracy)
	}
	mr, err := task.Measure(trunk, photos, testRNG(12))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := viewMatching(name, ViewConfig{MinScale: 0.2}.withDefaults(), trunk, photos, testRNG(12))
	if err != nil {
		t.Fatal(err)
	}
	if mr != ref {
		t.Errorf("measure %+v, want %+v", mr, ref)
	}
	if _, err := Prepare(task, trunk, photos, 0, testRNG(13)); err != nil {
		t.Fatal(err)
	}
	p, err := task.Predict(trunk, photos[2], testRNG(14))
	if err != nil || !strings.HasPrefix(p.Summary, "nearest: photos #") {
		t.Errorf("predict: %q, %v", p.Summary, err)
	}
}
