package core

import (
	"testing"

	"github.com/nlpodyssey/spago/nn"
)

func TestMomentumUpdate(t *testing.T) {
	t.Parallel()
	online, err := NewTrunk(TrunkConfig{Widths: []int{4, 8}}, testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	target := online.Frozen()
	// A copy with the same values, no gradients, nothing shared.
	op, tp := NamedParams(online), NamedParams(target)
	for i := range op {
		if tp[i].Name != op[i].Name || tp[i].Param.RequiresGrad() || !equalF32(data(tp[i].Param), data(op[i].Param)) {
			t.Fatalf("frozen %s differs or requires a gradient", tp[i].Name)
		}
	}
	data(online.Layers[0].W)[0] += 1
	if data(target.Layers[0].W)[0] == data(online.Layers[0].W)[0] {
		t.Fatal("the frozen trunk shares values with the online one")
	}
	// Move the online trunk, then follow it with m = 0.75.
	for _, np := range op {
		for k := range data(np.Param) {
			data(np.Param)[k] += float32(k%5) - 2
		}
	}
	before := make([][]float32, len(tp))
	for i, np := range tp {
		before[i] = cloneData(np.Param)
	}
	if err := MomentumUpdate(target, online, 0.75); err != nil {
		t.Fatal(err)
	}
	for i, np := range tp {
		want := make([]float64, len(before[i]))
		for k := range want {
			want[k] = 0.75*float64(before[i][k]) + 0.25*float64(data(op[i].Param)[k])
		}
		assertClose(t, np.Name, data(np.Param), want, 1e-6)
	}
	// m = 1 keeps the target; m = 0 copies the online network.
	keep := cloneData(target.Layers[1].W)
	if err := MomentumUpdate(target, online, 1); err != nil {
		t.Fatal(err)
	}
	assertUnchanged(t, "m=1", target.Layers[1].W, keep)
	if err := MomentumUpdate(target, online, 0); err != nil {
		t.Fatal(err)
	}
	if !equalF32(data(target.Layers[1].W), data(online.Layers[1].W)) {
		t.Error("m=0 did not copy the online network")
	}

	// Projectors too.
	p, err := NewProjector(3, 4, 2, true, testRNG(2))
	if err != nil {
		t.Fatal(err)
	}
	pf := p.Frozen()
	for _, np := range NamedParams(pf) {
		if np.Param.RequiresGrad() {
			t.Errorf("frozen projector's %s requires a gradient", np.Name)
		}
	}
	// Refusals: another architecture, a momentum out of range.
	other, err := NewTrunk(TrunkConfig{Widths: []int{4, 6}}, testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name           string
		target, online nn.Model
		m              float64
	}{
		{"widths differ", target, other, 0.5},
		{"trunk from projector", target, p, 0.5},
		{"m above 1", target, online, 1.5},
		{"m negative", target, online, -0.1},
	} {
		if err := MomentumUpdate(tc.target, tc.online, tc.m); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
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
