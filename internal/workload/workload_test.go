package workload

import (
	"context"
	"math/rand/v2"
	"testing"
)

// TestWorkloads: each reference workload builds, gives batches of the
// size asked with the views WORKLOAD.md describes, and takes a step.
func TestWorkloads(t *testing.T) {
	cases := []struct {
		name        string
		views, side int // per example
	}{
		{"rs", 1, 32},
		{"js", 9, 27},
		{"cs", 1, 64},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := New(tc.name, 4, rand.New(rand.NewPCG(1, 0)))
			if err != nil {
				t.Fatal(err)
			}
			batch := w.Batch()
			if len(batch) != 4 {
				t.Fatalf("batch of %d, want 4", len(batch))
			}
			for _, ex := range batch {
				if len(ex.Views) != tc.views || ex.Views[0].H != tc.side || ex.Views[0].W != tc.side {
					t.Fatalf("example of %d views of %dx%d, want %d of %dx%d", len(ex.Views), ex.Views[0].H, ex.Views[0].W, tc.views, tc.side, tc.side)
				}
			}
			if !(w.FLOPsPerImage > 0) {
				t.Errorf("FLOPs per image %v", w.FLOPsPerImage)
			}
			if _, err := w.Trainer.Step(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := New("xs", 4, rand.New(rand.NewPCG(1, 0))); err == nil {
		t.Error("an unknown workload was built")
	}
}
