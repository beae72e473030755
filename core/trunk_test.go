package core

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestTrunkMACsRS(t *testing.T) {
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
