package tasks

import (
	"encoding/json"
	"image"
	"image/color"
	"strings"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/internal/kmeans"
)

func newTestKeypoints(t *testing.T, trunk *core.Trunk, cfg KeypointConfig) *KeypointClusters {
	t.Helper()
	k, err := NewKeypointClusters(cfg, trunk, testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestKeypointLabels checks the examples against an independent
// construction: a Harris corner of the photo, the crop of the patch around
// it shifted by the rng's draw, labelled with the nearest centroid of the
// corner's descriptor; each centroid is the mean of its descriptors.
func TestKeypointLabels(t *testing.T) {
	t.Parallel()
	photos := testPhotos(t)[:8]
	trunk := smallTrunk(t, 1)
	k := newTestKeypoints(t, trunk, KeypointConfig{K: 8, PerPhoto: 6})
	msg, err := k.Refresh(trunk, photos, testRNG(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Log(msg)
	if k.NeedsRefresh(1) || k.NeedsRefresh(1000) {
		t.Errorf("keypoint-clusters refreshes more than once")
	}
	sums := make([][]float64, 8)
	counts := make([]int, 8)
	for i, p := range photos {
		g, w, h := greyPlane(p)
		kps := harris(g, w, h, harrisConfig{N: 6, Margin: 14})
		gx, gy := sobel(g, w, h)
		byPos := map[image.Point]int{}
		for _, kp := range kps {
			d := describe(gx, gy, w, kp.X-12, kp.Y-12, 24)
			c, _ := kmeans.Nearest(d, k.centroids)
			byPos[image.Pt(kp.X, kp.Y)] = c
			if sums[c] == nil {
				sums[c] = make([]float64, descLen)
			}
			for j, v := range d {
				sums[c][j] += v
			}
			counts[c]++
		}
		for s := range 5 {
			seed := uint64(100*i + s)
			ex, err := k.Examples(nil, p, testRNG(seed))
			if err != nil {
				t.Fatal(err)
			}
			rng := testRNG(seed)
			kp := kps[rng.IntN(len(kps))]
			dx, dy := rng.IntN(5)-2, rng.IntN(5)-2
			if want := byPos[image.Pt(kp.X, kp.Y)]; ex[0].Class != want {
				t.Errorf("photo %d keypoint (%d, %d): class %d, nearest centroid %d", i, kp.X, kp.Y, ex[0].Class, want)
			}
			crop := imaging.Resize(imaging.Crop(p, image.Rect(kp.X+dx-12, kp.Y+dy-12, kp.X+dx+12, kp.Y+dy+12)), 32, 32, imaging.Linear)
			if !planarEqual(ex[0].Views[0], core.TrunkInput(crop, 3)) {
				t.Errorf("photo %d: view is not the shifted patch around (%d, %d)", i, kp.X, kp.Y)
			}
		}
	}
	for c, s := range sums {
		if counts[c] == 0 {
			continue
		}
		for j, v := range s {
			if m := v / float64(counts[c]); m-k.centroids[c][j] > 1e-9 || k.centroids[c][j]-m > 1e-9 {
				t.Fatalf("centroid %d[%d] = %v, mean of its descriptors %v", c, j, k.centroids[c][j], m)
			}
		}
	}
	// Held-out photos get their own keypoints' nearest centroids.
	held := testPhotos(t)[8:10]
	if err := k.Assign(trunk, held); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Examples(nil, held[1], testRNG(1)); err != nil {
		t.Errorf("held-out photo: %v", err)
	}
	if _, err := k.Examples(nil, photos[0], testRNG(1)); err != nil {
		t.Errorf("Assign dropped a training photo: %v", err)
	}
}

// TestKeypointLossFalls trains a small trunk on patches of the sample
// photos.
func TestKeypointLossFalls(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the sample photos; -short skips it")
	}
	t.Parallel()
	trunk := smallTrunk(t, 2)
	k := newTestKeypoints(t, trunk, KeypointConfig{K: 4, PerPhoto: 8})
	losses, _, logs := trainRefreshing(t, trunk, k, testPhotos(t)[:12], core.TrainConfig{Optimizer: "adam", LR: 3e-3}, 40, 32, 3)
	if len(logs) != 1 {
		t.Errorf("%d refreshes, want 1", len(logs))
	}
	checkLossFalls(t, losses, 5, 0.8)
}

// TestKeypointGrey runs the task on a 1-channel trunk with patches fed at
// their own size.
func TestKeypointGrey(t *testing.T) {
	t.Parallel()
	trunk, err := core.NewTrunk(core.TrunkConfig{InChannels: 1, Widths: []int{8, 16}}, testRNG(3))
	if err != nil {
		t.Fatal(err)
	}
	k := newTestKeypoints(t, trunk, KeypointConfig{K: 3, Size: 16, Patch: 16, Shift: -1})
	trainRefreshing(t, trunk, k, testPhotos(t)[:4], core.TrainConfig{}, 2, 8, 4)
	ex, err := k.Examples(nil, testPhotos(t)[0], testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	if v := ex[0].Views[0]; v.C != 1 || v.H != 16 || v.W != 16 {
		t.Errorf("view is %dx%dx%d, want 1x16x16", v.C, v.H, v.W)
	}
}

func TestKeypointSpecCheckpoint(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 4)
	k := newTestKeypoints(t, trunk, KeypointConfig{K: 5, Patch: 16, PerPhoto: 4, Shift: -1})
	got, err := Resolve(k.Spec(), trunk)
	if err != nil {
		t.Fatal(err)
	}
	k2, ok := got.(*KeypointClusters)
	if !ok {
		t.Fatalf("Resolve gave %T", got)
	}
	if k2.Config() != k.Config() {
		t.Errorf("resolved config %+v, want %+v", k2.Config(), k.Config())
	}
	photos := testPhotos(t)
	_, tr, _ := trainRefreshing(t, trunk, k, photos, core.TrainConfig{Optimizer: "adam"}, 2, 8, 5)
	batch, err := Batch(k, photos, 8, testRNG(6))
	if err != nil {
		t.Fatal(err)
	}
	checkpointRoundTrip(t, tr, batch)
}

// TestKeypointPredict checks the marked photo and the gallery of the
// predicted cluster's patches.
func TestKeypointPredict(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 7)
	photos := testPhotos(t)
	k := newTestKeypoints(t, trunk, KeypointConfig{K: 4, PerPhoto: 5})
	if _, err := k.Refresh(trunk, photos, testRNG(2)); err != nil {
		t.Fatal(err)
	}
	img := photos[2]
	p, err := k.Predict(trunk, img, testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	checkPrediction(t, p, 4)
	if p.Input.Bounds() != img.Bounds() {
		t.Fatalf("input is %v, want the photo's %v", p.Input.Bounds(), img.Bounds())
	}
	g, w, h := greyPlane(img)
	top := harris(g, w, h, harrisConfig{N: 5, Margin: 14})[0]
	red := color.NRGBA{255, 0, 0, 255}
	for _, q := range []image.Point{{top.X - 12, top.Y - 12}, {top.X + 12, top.Y + 12}, {top.X - 12, top.Y + 5}} {
		if got := p.Input.NRGBAAt(q.X, q.Y); got != red {
			t.Errorf("mark of the strongest keypoint (%d, %d) at %v is %v, want red", top.X, top.Y, q, got)
		}
	}
	if p.Input.NRGBAAt(top.X, top.Y) != img.NRGBAAt(top.X, top.Y) {
		t.Errorf("the keypoint itself is painted over")
	}
	c := topClass(p.Probs)
	if len(k.examples[c]) > 0 {
		if want := gallery(k.examples[c], gallerySide); string(p.Image.Pix) != string(want.Pix) {
			t.Errorf("image is not the gallery of cluster %d's patches", c)
		}
	}
	if !strings.Contains(p.Summary, "of 4 (p=") {
		t.Errorf("summary %q", p.Summary)
	}
}

func TestKeypointErrors(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 9)
	k := newTestKeypoints(t, trunk, KeypointConfig{})
	small := image.NewNRGBA(image.Rect(0, 0, 20, 100))
	for _, img := range []*image.NRGBA{nil, image.NewNRGBA(image.Rect(0, 0, 0, 5)), small} {
		if _, err := k.Examples(nil, img, testRNG(1)); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
			t.Errorf("Examples(%v): error %v", img, err)
		}
		if _, err := k.Predict(trunk, img, testRNG(1)); err == nil {
			t.Errorf("Predict(%v): no error", img)
		}
		if _, err := k.Refresh(trunk, []*image.NRGBA{img}, testRNG(1)); err == nil {
			t.Errorf("Refresh(%v): no error", img)
		}
	}
	if err := k.Assign(trunk, testPhotos(t)[:1]); err == nil {
		t.Errorf("Assign before a refresh: no error")
	}
	if _, err := k.Examples(nil, testPhotos(t)[0], testRNG(1)); err == nil {
		t.Errorf("Examples before a refresh: no error")
	}
	for _, cfg := range []string{`{"size":-1}`, `{"patch":10}`, `{"patch":0.5}`, `{"k":1}`, `{"per_photo":-3}`, `{"shift":100}`, `{"restarts":-1}`, `{"bogus":1}`} {
		if _, err := New("keypoint-clusters", json.RawMessage(cfg), trunk, testRNG(1)); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
			t.Errorf("config %s: error %v", cfg, err)
		}
	}
	// A flat photo still gives one keypoint, its centre.
	flat := image.NewNRGBA(image.Rect(0, 0, 40, 40))
	if _, err := k.Refresh(trunk, []*image.NRGBA{flat, testPhotos(t)[0]}, testRNG(1)); err != nil {
		t.Fatal(err)
	}
	if pts := k.points[flat]; len(pts) != 1 || pts[0].X != 20 || pts[0].Y != 20 {
		t.Errorf("flat photo's keypoints %v, want its centre", pts)
	}
}
