package core

import (
	"math/rand/v2"
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
