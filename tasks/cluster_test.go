package tasks

import (
	"context"
	"image"
	"testing"

	"github.com/pretextlab/pretext/core"
)

// trainRefreshing is trainLosses for the clustering tasks: tasks.Prepare
// runs before every step, as in pretext train and the page. It returns the
// losses, the trainer and the refreshes' log lines.
func trainRefreshing(t testing.TB, trunk *core.Trunk, task Task, photos []*image.NRGBA, cfg core.TrainConfig, steps, batch int, seed uint64) ([]float64, *core.Trainer, []string) {
	t.Helper()
	tr, err := core.NewTrainer(trunk, task, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rng := testRNG(seed)
	var losses []float64
	var logs []string
	for step := range steps {
		msg, err := Prepare(task, trunk, photos, step, rng)
		if err != nil {
			t.Fatal(err)
		}
		if msg != "" {
			logs = append(logs, msg)
		}
		b, err := Batch(task, photos, batch, rng)
		if err != nil {
			t.Fatal(err)
		}
		st, err := tr.Step(context.Background(), b)
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, st.Loss)
	}
	return losses, tr, logs
}

// TestSchedule checks the refresh schedule: before the first batch, every
// period steps after the last refresh, again after a restart at an earlier
// step, and only once for period 0.
func TestSchedule(t *testing.T) {
	t.Parallel()
	s := schedule{period: 5}
	var got []int
	for step := range 17 {
		if s.needs(step) {
			got = append(got, step)
			s.refreshed()
		}
	}
	if want := []int{0, 5, 10, 15}; !equalInts(got, want) {
		t.Errorf("refreshed at %v, want %v", got, want)
	}
	if !s.needs(3) {
		t.Errorf("no refresh when steps restart below the last refresh")
	}
	once := schedule{}
	got = nil
	for step := 7; step < 30; step++ {
		if once.needs(step) {
			got = append(got, step)
			once.refreshed()
		}
	}
	if want := []int{7}; !equalInts(got, want) {
		t.Errorf("period 0 refreshed at %v, want %v", got, want)
	}
	if p := epochPeriod(-1, 130); p != 3 {
		t.Errorf("epoch of 130 photos is %d steps, want 3", p)
	}
}

func equalInts(a, b []int) bool {
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

// TestGallery checks the gallery's layout: tiles of the photos' centre
// squares, up to GalleryMax.
func TestGallery(t *testing.T) {
	t.Parallel()
	photos := testPhotos(t)
	g := gallery(photos, 20)
	w, h := 4*20+5*tileGap, 2*20+3*tileGap
	if b := g.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Errorf("gallery of %d photos is %v, want %dx%d", len(photos), b, w, h)
	}
	want := core.CenterCrop(photos[5], 20)
	x0, y0 := tileGap+1*(20+tileGap), tileGap+1*(20+tileGap)
	for y := range 20 {
		for x := range 20 {
			if g.NRGBAAt(x0+x, y0+y) != want.NRGBAAt(x, y) {
				t.Fatalf("tile 5 differs from photo 5's centre square at (%d, %d)", x, y)
			}
		}
	}
	if b := gallery(nil, 20).Bounds(); b.Dx() != 20+2*tileGap {
		t.Errorf("empty gallery is %v", b)
	}
}
