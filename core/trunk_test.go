package core

import (
	"image"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nlpodyssey/spago/mat"
)

func TestTrunkMACsRS(t *testing.T) {
	t.Parallel()
	tr, err := NewTrunk(TrunkConfig{}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	// WORKLOAD.md: conv1 0.88 M, conv2 4.72 M, conv3 4.72 M multiply-adds.
	want := int64(32*32*27*32 + 16*16*288*64 + 8*8*576*128)
	if got := tr.MACs(32, 32); got != want {
		t.Errorf("RS trunk MACs %d, want %d", got, want)
	}
}

func TestTrunkShapes(t *testing.T) {
	t.Parallel()
	tr, err := NewTrunk(WideTrunk, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Layers) != 6 || tr.Features() != 256 {
		t.Fatalf("wide trunk: %d layers, %d features", len(tr.Layers), tr.Features())
	}
	s, err := tr.OutShape(Shape{N: 2, C: 3, H: 27, W: 27})
	if err != nil {
		t.Fatal(err)
	}
	if s != (Shape{N: 2, C: 256, H: 6, W: 6}) {
		t.Errorf("27x27 input gives %v, want 2x256x6x6", s)
	}
	if _, err := tr.OutShape(Shape{N: 1, C: 3, H: 3, W: 3}); err == nil {
		t.Error("a 3x3 input passed")
	}
	for _, bad := range []TrunkConfig{{Widths: []int{0}}, {Depth: 99}, {InChannels: -1}, {Widths: make([]int, 9)}} {
		if _, err := NewTrunk(bad, rand.New(rand.NewPCG(1, 1))); err == nil {
			t.Errorf("config %+v accepted", bad)
		}
	}
}

func TestTrunkEmbed(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 3))
	tr, err := NewTrunk(TrunkConfig{Widths: []int{4, 8}}, rng)
	if err != nil {
		t.Fatal(err)
	}
	// Give the running statistics values other than their initial ones.
	for _, l := range tr.Layers {
		for i, m := range data(l.RunMean) {
			data(l.RunMean)[i] = m + 0.1*float32(i)
		}
	}
	views := make([]Planar, 3)
	for i := range views {
		views[i] = NewPlanar(3, 12, 12)
		for j := range views[i].Pix {
			views[i].Pix[j] = float32(rng.NormFloat64())
		}
	}
	before := slices.Clone(data(tr.Layers[0].RunMean))
	all, err := tr.Embed(views)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || len(all[0]) != 8 {
		t.Fatalf("got %d vectors of %d, want 3 of 8", len(all), len(all[0]))
	}
	// Evaluation mode treats each view alone: the batched vectors equal
	// the single-view ones.
	for i, v := range views {
		one, err := tr.Embed([]Planar{v})
		if err != nil {
			t.Fatal(err)
		}
		for j := range one[0] {
			if d := one[0][j] - all[i][j]; d > 1e-5 || d < -1e-5 {
				t.Fatalf("view %d feature %d: batched %v, alone %v", i, j, all[i][j], one[0][j])
			}
		}
	}
	if !slices.Equal(before, data(tr.Layers[0].RunMean)) {
		t.Error("Embed changed the running statistics")
	}
	if _, err := tr.Embed([]Planar{NewPlanar(1, 12, 12)}); err == nil {
		t.Error("a 1-channel view passed a 3-channel trunk")
	}
	if _, err := tr.Embed(nil); err == nil {
		t.Error("an empty batch passed")
	}
}

func TestNamedTrunk(t *testing.T) {
	t.Parallel()
	wide, err := NamedTrunk("wide")
	if err != nil || !slices.Equal(wide.Widths, WideTrunk.Widths) || wide.Depth != 2 {
		t.Errorf("wide: %+v, %v", wide, err)
	}
	if rs, err := NamedTrunk("rs"); err != nil || rs.Widths != nil {
		t.Errorf("rs: %+v, %v", rs, err)
	}
	if _, err := NamedTrunk("huge"); err == nil {
		t.Error("an unknown trunk name passed")
	}
}

func TestEmbedLayerGrid(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 5))
	tr, err := NewTrunk(TrunkConfig{InChannels: 1, Widths: []int{3, 4}}, rng)
	if err != nil {
		t.Fatal(err)
	}
	views := []Planar{NewPlanar(1, 10, 10), NewPlanar(1, 10, 10)}
	for _, v := range views {
		for j := range v.Pix {
			v.Pix[j] = float32(rng.NormFloat64())
		}
	}
	// Layer 0 pools 10x10 to 5x5; a 2x2 grid takes PyTorch's adaptive
	// bins: rows and columns [0, 3) and [2, 5).
	got, err := tr.EmbedLayer(views, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	x, s, _ := Stack(views)
	y, ys, err := tr.Layers[0].Forward(fromData(s.C, s.Cols(), x), s, false)
	if err != nil {
		t.Fatal(err)
	}
	d := data(y)
	bins := [][2]int{{0, 3}, {2, 5}}
	for n := range 2 {
		if len(got[n]) != 3*4 {
			t.Fatalf("%d values, want 12", len(got[n]))
		}
		for c := range 3 {
			for gy, by := range bins {
				for gx, bx := range bins {
					var sum float64
					for yy := by[0]; yy < by[1]; yy++ {
						for xx := bx[0]; xx < bx[1]; xx++ {
							sum += float64(d[(c*ys.N+n)*25+yy*5+xx])
						}
					}
					want := sum / 9
					if g := got[n][c*4+gy*2+gx]; math.Abs(float64(g)-want) > 1e-5 {
						t.Errorf("view %d channel %d bin (%d,%d): %v, want %v", n, c, gy, gx, g, want)
					}
				}
			}
		}
	}
	// The last layer with grid 1 is Embed.
	last, err := tr.EmbedLayer(views, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	emb, _ := tr.Embed(views)
	if !slices.Equal(last[1], emb[1]) {
		t.Error("EmbedLayer(last, 1) differs from Embed")
	}
	both, err := tr.EmbedLayers(views, []Pooling{{1, 1}, {0, 2}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(both[0][0], last[0]) || !slices.Equal(both[1][1], got[1]) {
		t.Error("EmbedLayers differs from EmbedLayer one pooling at a time")
	}
	for _, bad := range [][2]int{{2, 1}, {-1, 1}, {1, 6}, {0, 0}} {
		if _, err := tr.EmbedLayer(views, bad[0], bad[1]); err == nil {
			t.Errorf("layer %d grid %d accepted", bad[0], bad[1])
		}
	}
}

func TestRecomputeBN(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(6, 6))
	tr, err := NewTrunk(TrunkConfig{InChannels: 1, Widths: []int{3, 4}}, rng)
	if err != nil {
		t.Fatal(err)
	}
	batches := make([][]Planar, 3)
	for i := range batches {
		batches[i] = []Planar{NewPlanar(1, 8, 8), NewPlanar(1, 8, 8)}
		for _, v := range batches[i] {
			for j := range v.Pix {
				v.Pix[j] = float32(rng.NormFloat64()) + float32(i) // batches differ
			}
		}
	}
	w := slices.Clone(data(tr.Layers[0].W))
	first := tr.Clone()
	if err := tr.RecomputeBN(3, func(i int) ([]Planar, error) { return batches[i], nil }); err != nil {
		t.Fatal(err)
	}
	// Up to layer 0 only: the same statistics there, none changed after.
	before := slices.Clone(data(first.Layers[1].RunMean))
	if err := first.RecomputeBNTo(0, 3, func(i int) ([]Planar, error) { return batches[i], nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(data(first.Layers[0].RunVar), data(tr.Layers[0].RunVar)) || !slices.Equal(data(first.Layers[1].RunMean), before) {
		t.Error("RecomputeBNTo(0) differs from RecomputeBN at layer 0, or changed layer 1")
	}
	if err := first.RecomputeBNTo(2, 1, func(i int) ([]Planar, error) { return batches[i], nil }); err == nil {
		t.Error("RecomputeBNTo past the last layer: no error")
	}
	// Layer 0's running mean is the mean over batches of each batch's
	// per-channel mean of the convolution's output.
	for c := range 3 {
		var want float64
		for _, b := range batches {
			x, s, _ := Stack(b)
			y, ys, err := Conv2D(fromData(s.C, s.Cols(), x), s, tr.Layers[0].W, conv3x3)
			if err != nil {
				t.Fatal(err)
			}
			row := data(y)[c*ys.Cols() : (c+1)*ys.Cols()]
			var sum float64
			for _, v := range row {
				sum += float64(v)
			}
			want += sum / float64(len(row)) / 3
		}
		if got := data(tr.Layers[0].RunMean)[c]; math.Abs(float64(got)-want) > 1e-4 {
			t.Errorf("channel %d running mean %v, want %v", c, got, want)
		}
	}
	if !slices.Equal(w, data(tr.Layers[0].W)) {
		t.Error("RecomputeBN changed the weights")
	}
}

func TestTrunkInputGrey(t *testing.T) {
	t.Parallel()
	img := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	img.Pix = []byte{51, 51, 51, 255, 255, 0, 0, 255}
	p := TrunkInput(img, 1)
	if p.C != 1 || math.Abs(float64(p.Pix[0])-0.2) > 1e-6 || math.Abs(float64(p.Pix[1])-0.299) > 1e-6 {
		t.Errorf("grey input %v", p.Pix)
	}
	if TrunkInput(img, 3).C != 3 {
		t.Error("3-channel input is not colour")
	}
}

// TestInferMatchesGraph checks the graph-free layer pass (Embed's and
// RecomputeBN's) against the autograd layers bit for bit: outputs in
// evaluation mode, and outputs and updated running statistics in training
// mode, on odd map sizes (a pool that drops a row and a column).
func TestInferMatchesGraph(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(9, 9))
	cfg := TrunkConfig{InChannels: 2, Widths: []int{5, 6, 7}}
	a, err := NewTrunk(cfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range a.Layers {
		for i := range data(l.RunMean) {
			data(l.RunMean)[i] = float32(rng.NormFloat64())
			data(l.RunVar)[i] = float32(0.5 + rng.Float64())
			data(l.Gamma)[i] = float32(0.5 + rng.Float64())
			data(l.Beta)[i] = float32(0.3 * rng.NormFloat64())
		}
	}
	b, err := NewTrunk(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	copyTrunk := func() {
		for i, l := range a.Layers {
			m := b.Layers[i]
			copy(data(m.W), data(l.W))
			copy(data(m.Gamma), data(l.Gamma))
			copy(data(m.Beta), data(l.Beta))
			copy(data(m.RunMean), data(l.RunMean))
			copy(data(m.RunVar), data(l.RunVar))
		}
	}
	in := Shape{N: 3, C: 2, H: 11, W: 13}
	x := make([]float32, in.C*in.Cols())
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for _, train := range []bool{false, true} {
		copyTrunk()
		var g mat.Tensor = fromData(in.C, in.Cols(), slices.Clone(x))
		y, s := slices.Clone(x), in
		gs := in
		for li := range a.Layers {
			var err error
			if g, gs, err = a.Layers[li].forward(g, gs, train, 0.25, nil, nil); err != nil {
				t.Fatal(err)
			}
			var ns Shape
			var next []float32
			if next, ns, err = b.Layers[li].infer(y, s, train, 0.25); err != nil {
				t.Fatal(err)
			}
			y, s = next, ns
			if s != gs || !slices.Equal(y, data(g)) {
				t.Fatalf("train %v, layer %d: infer gives %v, the graph %v (or other values)", train, li, s, gs)
			}
			for i, l := range a.Layers {
				if !slices.Equal(data(l.RunMean), data(b.Layers[i].RunMean)) || !slices.Equal(data(l.RunVar), data(b.Layers[i].RunVar)) {
					t.Fatalf("train %v, after layer %d: running statistics of layer %d differ", train, li, i)
				}
			}
		}
	}
}

// TestTrunkClone checks that a clone embeds as the original does and that
// changing it (its statistics recomputed, a weight set) leaves the original
// as it was.
func TestTrunkClone(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 7))
	tr, err := NewTrunk(TrunkConfig{InChannels: 3, Widths: []int{4, 6}}, rng)
	if err != nil {
		t.Fatal(err)
	}
	views := []Planar{NewPlanar(3, 8, 8), NewPlanar(3, 8, 8)}
	for _, v := range views {
		for j := range v.Pix {
			v.Pix[j] = float32(rng.NormFloat64()) + 2
		}
	}
	want, err := tr.Embed(views)
	if err != nil {
		t.Fatal(err)
	}
	c := tr.Clone()
	got, err := c.Embed(views)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("clone's features of view %d %v, want %v", i, got[i], want[i])
		}
	}
	if err := c.RecomputeBN(1, func(int) ([]Planar, error) { return views, nil }); err != nil {
		t.Fatal(err)
	}
	data(c.Layers[0].W)[0] += 1
	c.Config.Widths[0] = 99
	if slices.Equal(data(c.Layers[0].RunMean), data(tr.Layers[0].RunMean)) {
		t.Error("the clone's recomputed statistics equal the original's: nothing was recomputed")
	}
	again, err := tr.Embed(views)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if !slices.Equal(again[i], want[i]) {
			t.Fatalf("changing the clone changed the original's features of view %d", i)
		}
	}
	if tr.Config.Widths[0] != 4 || c.Layers[0].RunMean.RequiresGrad() {
		t.Error("the clone shares its widths with the original, or its running statistics take gradients")
	}
}
