package tasks

import (
	"encoding/json"
	"image"
	"math"
	"strings"
	"testing"

	"github.com/pretextlab/pretext/core"
)

func newTestSeLa(t *testing.T, trunk *core.Trunk, cfg SeLaConfig) *SeLa {
	t.Helper()
	s, err := NewSeLa(cfg, trunk, testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSeLaLabels checks each head's labels against Sinkhorn-Knopp run on
// the head's own probabilities computed through the autograd path
// (Classifier.Logits), their balance, and the examples carrying them.
func TestSeLaLabels(t *testing.T) {
	t.Parallel()
	photos := testPhotos(t)[:12]
	trunk := smallTrunk(t, 1)
	s := newTestSeLa(t, trunk, SeLaConfig{K: 4, Heads: 2})
	msg, err := s.Refresh(trunk, photos, testRNG(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Log(msg)
	for h, head := range s.Heads {
		logP := make([][]float64, len(photos))
		for i, p := range photos {
			ex := []core.Example{{Views: []core.Planar{core.TrunkInput(core.CenterCrop(p, 32), 3)}}}
			logits, err := head.Logits(trunk, ex, false)
			if err != nil {
				t.Fatal(err)
			}
			probs := classProbs(logits.Value().Data().F32())
			logP[i] = make([]float64, len(probs))
			for c, v := range probs {
				logP[i][c] = math.Log(v)
			}
		}
		want, err := sinkhorn(logP, sinkhornConfig{Lambda: 25})
		if err != nil {
			t.Fatal(err)
		}
		size := make([]int, 4)
		for i, p := range photos {
			ex, err := s.Examples(nil, p, testRNG(uint64(i)))
			if err != nil {
				t.Fatal(err)
			}
			got := int(ex[0].Target[h])
			if got != want.Labels[i] {
				t.Errorf("head %d photo %d: label %d, Sinkhorn on the head's logits %d", h, i, got, want.Labels[i])
			}
			if h == 0 && ex[0].Class != got {
				t.Errorf("photo %d: class %d is not head 0's label %d", i, ex[0].Class, got)
			}
			size[got]++
			crop := augmentedCrop(p, 32, 0.25, 0.4, testRNG(uint64(i)))
			if !planarEqual(ex[0].Views[0], core.TrunkInput(crop, 3)) {
				t.Errorf("photo %d: view is not the augmented crop", i)
			}
		}
		for c, n := range size {
			if n != 3 {
				t.Errorf("head %d: cluster %d has %d of 12 photos, want 3", h, c, n)
			}
		}
	}
	// Held-out photos get each head's argmax; training labels stay.
	held := testPhotos(t)[12:]
	before, _ := s.Examples(nil, photos[0], testRNG(1))
	if err := s.Assign(trunk, held); err != nil {
		t.Fatal(err)
	}
	for i, p := range held {
		ex, err := s.Examples(nil, p, testRNG(1))
		if err != nil {
			t.Fatal(err)
		}
		e := []core.Example{{Views: []core.Planar{core.TrunkInput(core.CenterCrop(p, 32), 3)}}}
		for h, head := range s.Heads {
			logits, err := head.Logits(trunk, e, false)
			if err != nil {
				t.Fatal(err)
			}
			if want := topClass(classProbs(logits.Value().Data().F32())); int(ex[0].Target[h]) != want {
				t.Errorf("held-out photo %d head %d: label %v, argmax %d", i, h, ex[0].Target[h], want)
			}
		}
	}
	after, _ := s.Examples(nil, photos[0], testRNG(1))
	if after[0].Class != before[0].Class {
		t.Errorf("Assign changed a training label")
	}
}

// TestSeLaLossFalls trains a small trunk with two heads on the sample
// photos.
func TestSeLaLossFalls(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the sample photos; -short skips it")
	}
	t.Parallel()
	trunk := smallTrunk(t, 2)
	s := newTestSeLa(t, trunk, SeLaConfig{K: 4, Heads: 2})
	losses, _, logs := trainRefreshing(t, trunk, s, testPhotos(t)[:12], core.TrainConfig{Optimizer: "adam", LR: 3e-3}, 40, 32, 3)
	if len(logs) != 1 {
		t.Errorf("%d refreshes in 40 steps, want 1", len(logs))
	}
	checkLossFalls(t, losses, 5, 0.8)
}

// TestSeLaGrey runs rounds and steps on a 1-channel trunk.
func TestSeLaGrey(t *testing.T) {
	t.Parallel()
	trunk, err := core.NewTrunk(core.TrunkConfig{InChannels: 1, Widths: []int{8, 16}}, testRNG(3))
	if err != nil {
		t.Fatal(err)
	}
	s := newTestSeLa(t, trunk, SeLaConfig{K: 3, Size: 16, Every: 2})
	_, _, logs := trainRefreshing(t, trunk, s, testPhotos(t)[:6], core.TrainConfig{}, 3, 8, 4)
	if len(logs) != 2 || !strings.Contains(logs[1], "NMI") {
		t.Errorf("refreshes every 2 steps of 3: %q", logs)
	}
}

func TestSeLaSpecCheckpoint(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 4)
	s := newTestSeLa(t, trunk, SeLaConfig{K: 5, Heads: 3, Lambda: 10, Jitter: -1})
	got, err := Resolve(s.Spec(), trunk)
	if err != nil {
		t.Fatal(err)
	}
	s2, ok := got.(*SeLa)
	if !ok {
		t.Fatalf("Resolve gave %T", got)
	}
	if s2.Config() != s.Config() || len(s2.Heads) != 3 {
		t.Errorf("resolved config %+v with %d heads, want %+v", s2.Config(), len(s2.Heads), s.Config())
	}
	photos := testPhotos(t)
	_, tr, _ := trainRefreshing(t, trunk, s, photos, core.TrainConfig{Optimizer: "adam"}, 2, 8, 5)
	batch, err := Batch(s, photos, 8, testRNG(6))
	if err != nil {
		t.Fatal(err)
	}
	checkpointRoundTrip(t, tr, batch)
}

func TestSeLaPredict(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 7)
	photos := testPhotos(t)
	s := newTestSeLa(t, trunk, SeLaConfig{K: 4})
	if _, err := s.Refresh(trunk, photos, testRNG(2)); err != nil {
		t.Fatal(err)
	}
	p, err := s.Predict(trunk, photos[3], testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	checkPrediction(t, p, 4)
	k := topClass(p.Probs)
	if members := s.labels.members(0, k, GalleryMax); len(members) > 0 {
		if want := gallery(members, gallerySide); string(p.Image.Pix) != string(want.Pix) {
			t.Errorf("image is not the gallery of cluster %d", k)
		}
	}
	if !strings.Contains(p.Summary, "of 4 (p=") {
		t.Errorf("summary %q", p.Summary)
	}
}

func TestSeLaErrors(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 9)
	s := newTestSeLa(t, trunk, SeLaConfig{})
	for _, img := range []*image.NRGBA{nil, image.NewNRGBA(image.Rect(0, 0, 0, 5))} {
		if _, err := s.Examples(nil, img, testRNG(1)); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
			t.Errorf("Examples(%v): error %v", img, err)
		}
		if _, err := s.Predict(trunk, img, testRNG(1)); err == nil {
			t.Errorf("Predict(%v): no error", img)
		}
		if _, err := s.Refresh(trunk, []*image.NRGBA{img}, testRNG(1)); err == nil {
			t.Errorf("Refresh(%v): no error", img)
		}
	}
	if err := s.Assign(trunk, testPhotos(t)[:1]); err == nil {
		t.Errorf("Assign before a refresh: no error")
	}
	if _, err := s.Examples(nil, testPhotos(t)[0], testRNG(1)); err == nil {
		t.Errorf("Examples of an unlabelled photo: no error")
	}
	if _, _, err := s.Loss(trunk, []core.Example{{}}, true); err == nil {
		t.Errorf("Loss on an example without views: no error")
	}
	if _, _, err := s.Loss(trunk, []core.Example{{Views: []core.Planar{core.NewPlanar(3, 32, 32)}, Target: []float32{99}}}, true); err == nil {
		t.Errorf("Loss with a label out of range: no error")
	}
	for _, cfg := range []string{`{"size":-1}`, `{"k":1}`, `{"heads":-1}`, `{"heads":100}`, `{"lambda":-1}`, `{"min_scale":2}`, `{"bogus":1}`} {
		if _, err := New("sela", json.RawMessage(cfg), trunk, testRNG(1)); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
			t.Errorf("config %s: error %v", cfg, err)
		}
	}
}
