package eval

import (
	"image"
	"image/color"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/pretextlab/pretext/core"
)

// smallTrunk returns a three-stage grey trunk; the same seed gives the same
// weights.
func smallTrunk(t *testing.T, seed uint64) *core.Trunk {
	t.Helper()
	trunk, err := core.NewTrunk(core.TrunkConfig{InChannels: 1, Widths: []int{4, 8, 8}}, newRand(seed))
	if err != nil {
		t.Fatal(err)
	}
	return trunk
}

// noiseInputs returns n grey side x side inputs of Gaussian noise around
// 0.5 (so batch-norm statistics move when recomputed).
func noiseInputs(rng *rand.Rand, n, side int) []core.Planar {
	in := make([]core.Planar, n)
	for k := range in {
		p := core.NewPlanar(1, side, side)
		for i := range p.Pix {
			p.Pix[i] = float32(0.5 + rng.NormFloat64())
		}
		in[k] = p
	}
	return in
}

// params returns a copy of the trunk's parameters by name.
func params(trunk *core.Trunk) map[string][]float32 {
	m := map[string][]float32{}
	for _, np := range core.NamedParams(trunk) {
		m[np.Name] = slices.Clone(np.Param.Value().Data().F32())
	}
	return m
}

func isBNStat(name string) bool {
	return strings.HasSuffix(name, "RunMean") || strings.HasSuffix(name, "RunVar")
}

var testPools = []core.Pooling{{Layer: 0, Grid: 2}, {Layer: 2, Grid: 1}, {Layer: 1, Grid: 4}}

// TestExtractBatched checks that features in batches are those of one
// forward pass over all inputs, row for row.
func TestExtractBatched(t *testing.T) {
	rng := newRand(1)
	train, test := noiseInputs(rng, 23, 16), noiseInputs(rng, 9, 16)
	trunk := smallTrunk(t, 2)
	whole := func(in []core.Planar) [][][]float32 {
		v, err := trunk.EmbedLayers(in, testPools)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	wantTrain, wantTest := whole(train), whole(test)
	for _, batch := range []int{1, 5, 23, 0} {
		trainF, testF, err := Extract(trunk, train, test, testPools, ExtractConfig{KeepBN: true, Batch: batch})
		if err != nil {
			t.Fatal(err)
		}
		for p := range testPools {
			for _, c := range []struct {
				name string
				got  Features
				want [][]float32
			}{{"train", trainF[p], wantTrain[p]}, {"test", testF[p], wantTest[p]}} {
				if c.got.N != len(c.want) || c.got.Dim != len(c.want[0]) || c.got.check(c.name) != nil {
					t.Fatalf("batch %d pooling %d %s: %d x %d features, want %d x %d", batch, p, c.name, c.got.N, c.got.Dim, len(c.want), len(c.want[0]))
				}
				for n, row := range c.want {
					if !slices.Equal(c.got.Row(n), row) {
						t.Errorf("batch %d pooling %d %s row %d differs from one pass", batch, p, c.name, n)
					}
				}
			}
		}
	}
}

// TestExtractRecomputesBN checks that by default the statistics are those
// RecomputeBN makes over the training inputs in batches of Batch, and the
// features those of the trunk with them.
func TestExtractRecomputesBN(t *testing.T) {
	rng := newRand(3)
	train, test := noiseInputs(rng, 20, 16), noiseInputs(rng, 6, 16)
	got, want := smallTrunk(t, 4), smallTrunk(t, 4)
	before := params(got)
	trainF, testF, err := Extract(got, train, test, testPools, ExtractConfig{Batch: 8})
	if err != nil {
		t.Fatal(err)
	}
	if err := want.RecomputeBN(3, func(i int) ([]core.Planar, error) {
		return train[i*8 : min(i*8+8, 20)], nil
	}); err != nil {
		t.Fatal(err)
	}
	after, wantParams := params(got), params(want)
	for name, v := range after {
		if !slices.Equal(v, wantParams[name]) {
			t.Errorf("%s differs from RecomputeBN's", name)
		}
		if changed := !slices.Equal(v, before[name]); changed != isBNStat(name) {
			t.Errorf("%s: changed %v by recomputing the statistics", name, changed)
		}
	}
	for _, c := range []struct {
		name string
		in   []core.Planar
		got  []Features
	}{{"train", train, trainF}, {"test", test, testF}} {
		v, err := want.EmbedLayers(c.in, testPools)
		if err != nil {
			t.Fatal(err)
		}
		for p := range testPools {
			for n, row := range v[p] {
				if !slices.Equal(c.got[p].Row(n), row) {
					t.Errorf("%s pooling %d row %d differs from the recomputed trunk's", c.name, p, n)
				}
			}
		}
	}
}

// TestExtractKeepBN checks that with KeepBN nothing of the trunk changes,
// and that Extract reports bad poolings and batches.
func TestExtractKeepBN(t *testing.T) {
	rng := newRand(5)
	train, test := noiseInputs(rng, 12, 16), noiseInputs(rng, 4, 16)
	trunk := smallTrunk(t, 6)
	before := params(trunk)
	if _, _, err := Extract(trunk, train, test, testPools, ExtractConfig{KeepBN: true}); err != nil {
		t.Fatal(err)
	}
	for name, v := range params(trunk) {
		if !slices.Equal(v, before[name]) {
			t.Errorf("%s changed with KeepBN", name)
		}
	}
	for _, c := range []struct {
		name  string
		pools []core.Pooling
		cfg   ExtractConfig
	}{
		{"layer out of range", []core.Pooling{{Layer: 3, Grid: 1}}, ExtractConfig{KeepBN: true}},
		{"grid larger than the maps", []core.Pooling{{Layer: 2, Grid: 5}}, ExtractConfig{KeepBN: true}},
		{"negative batch", testPools, ExtractConfig{Batch: -1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := Extract(trunk, train, test, c.pools, c.cfg); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestInputs(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 5, 4))
	for i := range img.Pix {
		img.Pix[i] = uint8(37 * i)
	}
	grey := image.NewGray(image.Rect(0, 0, 3, 3))
	grey.Set(1, 1, color.Gray{200})
	for _, channels := range []int{1, 3} {
		got := Inputs([]*image.NRGBA{img, img}, channels)
		want := core.TrunkInput(img, channels)
		if len(got) != 2 || !slices.Equal(got[0].Pix, want.Pix) || !slices.Equal(got[1].Pix, want.Pix) || got[0].C != channels {
			t.Errorf("%d channels: %d inputs, want 2 of TrunkInput's", channels, len(got))
		}
		mixed := Inputs([]image.Image{grey, img}, channels)
		if !slices.Equal(mixed[0].Pix, core.TrunkInput(grey, channels).Pix) {
			t.Errorf("%d channels: a grey image differs from TrunkInput's", channels)
		}
	}
}
