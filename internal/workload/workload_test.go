package workload

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/tasks"
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

// TestWorkloadShapesAndFLOPs checks each workload against
// ../shared/bench/WORKLOAD.md (and, for CS, the package doc), layer by
// layer: the trunk's weights, its output maps (from a forward pass), the
// head's weights, and FLOPsPerImage against a count made here from those
// shapes: 9·in·out multiply-adds per output position of each 3x3 conv, on
// every view, x3 for forward and both gradients, x2 FLOPs a multiply-add.
// The heads are left out of the figure, as New documents; their share is
// logged.
func TestWorkloadShapesAndFLOPs(t *testing.T) {
	t.Parallel()
	convs := [][2]int{{3, 32}, {32, 64}, {64, 128}} // in, out
	cases := []struct {
		name        string
		views, side int   // per image
		maps        int   // side of the trunk's output maps
		head        []int // weight shapes, flattened: rows, cols, ...
		tol         float64
	}{
		// RS's figure is WORKLOAD.md's rounded 62 MFLOP.
		{"rs", 1, 32, 8, []int{4, 128}, 0.005},
		{"js", 9, 27, 6, []int{512, 1152, 100, 512}, 1e-12},
		{"cs", 1, 64, 16, []int{64, 128, 313, 64}, 1e-12},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w, err := New(tc.name, 2, rand.New(rand.NewPCG(1, 0)))
			if err != nil {
				t.Fatal(err)
			}
			trunk := w.Trainer.Trunk
			if len(trunk.Layers) != len(convs) {
				t.Fatalf("trunk of %d layers, want %d", len(trunk.Layers), len(convs))
			}
			var macs float64
			side := tc.side
			for i, c := range convs {
				l := trunk.Layers[i]
				if s := l.W.Shape(); len(s) != 2 || s[0] != c[1] || s[1] != 9*c[0] {
					t.Errorf("conv %d weights %v, want [%d %d]", i+1, s, c[1], 9*c[0])
				}
				if l.Pool != (i < 2) {
					t.Errorf("conv %d pools: %v", i+1, l.Pool)
				}
				macs += float64(9 * c[0] * c[1] * side * side)
				if l.Pool {
					side /= 2 // 2x2, stride 2, odd sides rounded down
				}
			}
			macs *= float64(tc.views)
			for _, ex := range w.Batch() {
				if len(ex.Views) != tc.views {
					t.Fatalf("%d views, want %d", len(ex.Views), tc.views)
				}
				for _, v := range ex.Views {
					if v.C != 3 || v.H != tc.side || v.W != tc.side {
						t.Fatalf("view %dx%dx%d, want 3x%dx%d", v.C, v.H, v.W, tc.side, tc.side)
					}
				}
			}
			x, sh, err := core.Stack(w.Batch()[0].Views[:1])
			if err != nil {
				t.Fatal(err)
			}
			_, out, err := trunk.Maps(mat.NewDense[float32](mat.WithShape(sh.C, sh.Cols()), mat.WithBacking(x)), sh, false)
			if err != nil {
				t.Fatal(err)
			}
			if out.C != 128 || out.H != tc.maps || out.W != tc.maps || side != tc.maps {
				t.Errorf("trunk output %dx%dx%d (counted %d), want 128x%dx%d", out.C, out.H, out.W, side, tc.maps, tc.maps)
			}
			var params []*nn.Param
			switch h := w.Trainer.Head.(type) {
			case *core.Classifier:
				params = []*nn.Param{h.W}
			case *tasks.Jigsaw:
				params = []*nn.Param{h.Head.W1, h.Head.W2}
			case *tasks.Colorization:
				params = []*nn.Param{h.W1, h.W2}
			default:
				t.Fatalf("head %T", h)
			}
			var got []int
			headMACs := 0.0
			for _, p := range params {
				got = append(got, p.Shape()...)
				headMACs += float64(p.Shape()[0] * p.Shape()[1])
			}
			if !slices.Equal(got, tc.head) {
				t.Errorf("head weights %v, want %v", got, tc.head)
			}
			if tc.name == "cs" {
				headMACs *= float64(tc.maps * tc.maps) // 1x1 convs at every position
			}
			want := 6 * macs
			t.Logf("trunk %.2f M multiply-adds an image, %.4g FLOPs (figure %.4g); the head adds %.1f%%", macs/1e6, want, w.FLOPsPerImage, 100*headMACs/macs)
			if math.Abs(w.FLOPsPerImage-want) > tc.tol*want {
				t.Errorf("FLOPs per image %.6g, counted %.6g", w.FLOPsPerImage, want)
			}
		})
	}
}
