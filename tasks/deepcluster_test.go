package tasks

import (
	"encoding/json"
	"image"
	"math"
	"strings"
	"testing"

	"github.com/nlpodyssey/spago/mat"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/internal/kmeans"
)

func newTestDeepCluster(t *testing.T, trunk *core.Trunk, cfg DeepClusterConfig) *DeepCluster {
	t.Helper()
	d, err := NewDeepCluster(cfg, trunk, testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDeepClusterLabels checks a round against an independent construction:
// the trunk's features of the centre crops, whitened, lie nearest their own
// cluster's centroid; the examples carry those labels on the augmented
// crops; the head is redrawn; held-out photos get their nearest centroid
// without changing the training labels.
func TestDeepClusterLabels(t *testing.T) {
	t.Parallel()
	photos := testPhotos(t)
	train, held := photos[:10], photos[10:]
	trunk := smallTrunk(t, 1)
	d := newTestDeepCluster(t, trunk, DeepClusterConfig{K: 4})
	if _, err := d.Examples(nil, train[0], testRNG(1)); err == nil {
		t.Errorf("Examples before any refresh: no error")
	}
	if !d.NeedsRefresh(0) {
		t.Fatalf("no refresh before the first step")
	}
	w0 := append([]float32(nil), mat.Data[float32](d.Head.W.Value())...)
	msg, err := d.Refresh(trunk, train, testRNG(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Log(msg)
	if d.NeedsRefresh(1) || d.NeedsRefresh(49) || !d.NeedsRefresh(50) {
		t.Errorf("schedule: want refreshes every 50 steps")
	}
	if equalF32(w0, mat.Data[float32](d.Head.W.Value())) {
		t.Errorf("head not redrawn by the refresh")
	}
	views := make([]core.Planar, len(train))
	for i, p := range train {
		views[i] = core.TrunkInput(core.CenterCrop(p, 32), 3)
	}
	feats, err := trunk.Embed(views)
	if err != nil {
		t.Fatal(err)
	}
	labels := make([]int, len(train))
	for i, f := range feats {
		row := make([]float64, len(f))
		for j, v := range f {
			row[j] = float64(v)
		}
		c, _ := kmeans.Nearest(d.white.apply(row), d.centroids)
		labels[i] = c
		ex, err := d.Examples(nil, train[i], testRNG(uint64(10+i)))
		if err != nil {
			t.Fatal(err)
		}
		if len(ex) != 1 || ex[0].Class != c {
			t.Errorf("photo %d: examples %d, class %d; nearest centroid %d", i, len(ex), ex[0].Class, c)
		}
		crop := augmentedCrop(train[i], 32, 0.25, 0.4, testRNG(uint64(10+i)))
		if !planarEqual(ex[0].Views[0], core.TrunkInput(crop, 3)) {
			t.Errorf("photo %d: view is not the augmented crop", i)
		}
	}
	size := clusterSizes(labels, 4)
	w := mat.Data[float32](d.Weights.Value())
	nonEmpty := 0
	for _, s := range size {
		if s > 0 {
			nonEmpty++
		}
	}
	if nonEmpty < 2 {
		t.Errorf("cluster sizes %v: want at least two clusters", size)
	}
	for c, s := range size {
		if s > 0 && math.Abs(float64(w[c])-float64(len(train))/float64(nonEmpty*s)) > 1e-6 {
			t.Errorf("cluster %d of %d photos has weight %v", c, s, w[c])
		}
	}
	if err := d.Assign(trunk, held); err != nil {
		t.Fatal(err)
	}
	hv := make([]core.Planar, len(held))
	for i, p := range held {
		hv[i] = core.TrunkInput(core.CenterCrop(p, 32), 3)
	}
	hf, err := trunk.Embed(hv)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range hf {
		row := make([]float64, len(f))
		for j, v := range f {
			row[j] = float64(v)
		}
		c, _ := kmeans.Nearest(d.white.apply(row), d.centroids)
		ex, err := d.Examples(nil, held[i], testRNG(1))
		if err != nil {
			t.Fatal(err)
		}
		if ex[0].Class != c {
			t.Errorf("held-out photo %d: class %d, nearest centroid %d", i, ex[0].Class, c)
		}
	}
	for i, p := range train {
		ex, _ := d.Examples(nil, p, testRNG(1))
		if ex[0].Class != labels[i] {
			t.Errorf("Assign changed photo %d's label", i)
		}
	}
	// A second round on the same photos compares with the first: the same
	// trunk and rng give the same clusters.
	msg, err = d.Refresh(trunk, train, testRNG(2))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "NMI 1.00") {
		t.Errorf("second round on an unchanged trunk: %q, want NMI 1.00", msg)
	}
	if _, err := d.Refresh(trunk, train, testRNG(3)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Examples(nil, held[0], testRNG(1)); err == nil {
		t.Errorf("a refresh keeps the held-out labels of the last round")
	}
}

func equalF32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestDeepClusterLossFalls trains a small trunk on the sample photos
// clustered into 4.
func TestDeepClusterLossFalls(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the sample photos; -short skips it")
	}
	t.Parallel()
	trunk := smallTrunk(t, 2)
	d := newTestDeepCluster(t, trunk, DeepClusterConfig{K: 4})
	losses, _, logs := trainRefreshing(t, trunk, d, testPhotos(t)[:12], core.TrainConfig{Optimizer: "adam", LR: 3e-3}, 40, 32, 3)
	if len(logs) != 1 {
		t.Errorf("%d refreshes in 40 steps, want 1: %q", len(logs), logs)
	}
	checkLossFalls(t, losses, 5, 0.8)
}

// TestDeepClusterGrey runs a round and a step on a 1-channel trunk.
func TestDeepClusterGrey(t *testing.T) {
	t.Parallel()
	trunk, err := core.NewTrunk(core.TrunkConfig{InChannels: 1, Widths: []int{8, 16}}, testRNG(3))
	if err != nil {
		t.Fatal(err)
	}
	d := newTestDeepCluster(t, trunk, DeepClusterConfig{K: 3, Size: 16, Every: -1})
	_, _, logs := trainRefreshing(t, trunk, d, testPhotos(t)[:6], core.TrainConfig{}, 3, 8, 4)
	if len(logs) != 3 {
		t.Errorf("every epoch of 6 photos: %d refreshes in 3 steps, want 3", len(logs))
	}
	ex, err := d.Examples(nil, testPhotos(t)[0], testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	if v := ex[0].Views[0]; v.C != 1 || v.H != 16 {
		t.Errorf("view is %dx%dx%d, want 1x16x16", v.C, v.H, v.W)
	}
}

func TestDeepClusterSpecCheckpoint(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 4)
	d := newTestDeepCluster(t, trunk, DeepClusterConfig{K: 5, Every: 7, PCA: 8, Jitter: -1})
	got, err := Resolve(d.Spec(), trunk)
	if err != nil {
		t.Fatal(err)
	}
	d2, ok := got.(*DeepCluster)
	if !ok {
		t.Fatalf("Resolve gave %T", got)
	}
	if d2.Config() != d.Config() {
		t.Errorf("resolved config %+v, want %+v", d2.Config(), d.Config())
	}
	photos := testPhotos(t)
	_, tr, _ := trainRefreshing(t, trunk, d, photos, core.TrainConfig{Optimizer: "adam"}, 2, 8, 5)
	batch, err := Batch(d, photos, 8, testRNG(6))
	if err != nil {
		t.Fatal(err)
	}
	loaded := checkpointRoundTrip(t, tr, batch)
	if !loaded.Head.(Refresher).NeedsRefresh(tr.Steps()) {
		t.Errorf("a loaded task does not ask for a refresh")
	}
}

func TestDeepClusterPredict(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 7)
	photos := testPhotos(t)
	d := newTestDeepCluster(t, trunk, DeepClusterConfig{K: 3})
	p, err := d.Predict(trunk, photos[0], testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	checkPrediction(t, p, 3)
	if !strings.Contains(p.Summary, "no photos clustered") {
		t.Errorf("summary before a refresh: %q", p.Summary)
	}
	if _, err := d.Refresh(trunk, photos, testRNG(2)); err != nil {
		t.Fatal(err)
	}
	p, err = d.Predict(trunk, photos[0], testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	checkPrediction(t, p, 3)
	k := topClass(p.Probs)
	members := d.labels.members(0, k, GalleryMax)
	if len(members) > 0 {
		if want := gallery(members, gallerySide); p.Image.Bounds() != want.Bounds() || string(p.Image.Pix) != string(want.Pix) {
			t.Errorf("image is not the gallery of cluster %d's %d photos", k, len(members))
		}
	}
	if !strings.HasPrefix(p.Summary, "cluster ") || !strings.Contains(p.Summary, "of 3 (p=") {
		t.Errorf("summary %q", p.Summary)
	}
	if p.Input.Bounds() != photos[0].Bounds() {
		t.Errorf("input is %v, want the photo %v", p.Input.Bounds(), photos[0].Bounds())
	}
}

func TestDeepClusterErrors(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 9)
	d := newTestDeepCluster(t, trunk, DeepClusterConfig{})
	for _, img := range []*image.NRGBA{nil, image.NewNRGBA(image.Rect(0, 0, 0, 5))} {
		if _, err := d.Examples(nil, img, testRNG(1)); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
			t.Errorf("Examples(%v): error %v", img, err)
		}
		if _, err := d.Predict(trunk, img, testRNG(1)); err == nil {
			t.Errorf("Predict(%v): no error", img)
		}
		if _, err := d.Refresh(trunk, []*image.NRGBA{img}, testRNG(1)); err == nil {
			t.Errorf("Refresh(%v): no error", img)
		}
	}
	if _, err := d.Refresh(trunk, nil, testRNG(1)); err == nil {
		t.Errorf("Refresh without photos: no error")
	}
	if err := d.Assign(trunk, testPhotos(t)[:1]); err == nil {
		t.Errorf("Assign before a refresh: no error")
	}
	if _, err := d.Examples(nil, testPhotos(t)[0], testRNG(1)); err == nil {
		t.Errorf("Examples of an unclustered photo: no error")
	}
	for _, cfg := range []string{`{"size":-1}`, `{"size":1}`, `{"k":1}`, `{"k":100000}`, `{"pca":-2}`, `{"restarts":-1}`, `{"min_scale":2}`, `{"jitter":3}`, `{"bogus":1}`, `[`} {
		if _, err := New("deepcluster", json.RawMessage(cfg), trunk, testRNG(1)); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
			t.Errorf("config %s: error %v", cfg, err)
		}
	}
	// One photo: one cluster, and training still runs.
	one := testPhotos(t)[:1]
	if _, err := d.Refresh(trunk, one, testRNG(1)); err != nil {
		t.Fatalf("Refresh of one photo: %v", err)
	}
	b, err := Batch(d, one, 4, testRNG(2))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Loss(trunk, b, true); err != nil {
		t.Errorf("loss on one photo's examples: %v", err)
	}
}
