package eval

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pretextlab/pretext/core"
)

// textures returns n colour 12x12 inputs of each of three textures and
// their classes: horizontal stripes (0), vertical stripes (1) and a
// checkerboard (2), each of two random colours at a random phase, with
// noise. Colour tells nothing of the class; the pattern does.
func textures(rng *rand.Rand, n int) ([]core.Planar, []int) {
	const side = 12
	var in []core.Planar
	var y []int
	for range n {
		for class := range 3 {
			var a, b [3]float32
			for c := range 3 {
				// b differs from a by 1.5 in every channel, up or down: a
				// pattern always there to see.
				a[c] = float32(rng.NormFloat64())
				b[c] = a[c] + 1.5*float32(2*rng.IntN(2)-1)
			}
			phase := rng.IntN(2)
			p := core.NewPlanar(3, side, side)
			for r := range side {
				for col := range side {
					on := [3]int{r, col, r + col}[class]
					v := a
					if (on+phase)%2 == 0 {
						v = b
					}
					for c := range 3 {
						p.Pix[(c*side+r)*side+col] = v[c] + 0.3*float32(rng.NormFloat64())
					}
				}
			}
			in = append(in, p)
			y = append(y, class)
		}
	}
	rng.Shuffle(len(y), func(i, j int) { in[i], in[j], y[i], y[j] = in[j], in[i], y[j], y[i] })
	return in, y
}

var smallSupervise = SuperviseConfig{Trunk: core.TrunkConfig{Widths: []int{8, 16}}, Steps: 60, Batch: 32}

// TestSupervise trains on a few textures per class: the test accuracy beats
// the third of a guess by far, and the same seed gives the same trunk and
// accuracy.
func TestSupervise(t *testing.T) {
	rng := newRand(7)
	train, trainY := textures(rng, 32)
	test, testY := textures(rng, 10)
	var steps []int
	cfg := smallSupervise
	cfg.Progress = func(st core.StepStats) { steps = append(steps, st.Step) }
	trunk, acc, err := Supervise(context.Background(), train, trainY, test, testY, cfg, newRand(8))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("test accuracy %.3f after %d steps", acc, cfg.Steps)
	if acc < 0.8 {
		t.Errorf("test accuracy %.3f, want well above chance (1/3)", acc)
	}
	if len(steps) != cfg.Steps || steps[0] != 1 || steps[len(steps)-1] != cfg.Steps {
		t.Errorf("progress reported steps %v", steps)
	}
	if trunk.Config.InChannels != 3 || len(trunk.Config.Widths) != 2 {
		t.Errorf("trunk config %+v", trunk.Config)
	}
	again, acc2, err := Supervise(context.Background(), train, trainY, test, testY, smallSupervise, newRand(8))
	if err != nil {
		t.Fatal(err)
	}
	if acc2 != acc {
		t.Errorf("the same seed scored %v then %v", acc, acc2)
	}
	p1, p2 := params(trunk), params(again)
	for name, v := range p1 {
		if !slices.Equal(v, p2[name]) {
			t.Errorf("the same seed trained %s differently", name)
		}
	}
}

func TestSuperviseErrors(t *testing.T) {
	rng := newRand(9)
	in, y := textures(rng, 2)
	with := func(v int) []int { return append(slices.Clone(y[1:]), v) }
	short := func(s SuperviseConfig) SuperviseConfig { s.Steps = 1; return s }(smallSupervise)
	for _, c := range []struct {
		name          string
		train, test   []core.Planar
		trainY, testY []int
		cfg           SuperviseConfig
	}{
		{"no training inputs", nil, in, nil, y, short},
		{"no test inputs", in, nil, y, nil, short},
		{"training labels missing", in, in, y[1:], y, short},
		{"test labels missing", in, in, y, y[1:], short},
		{"test label out of range", in, in, y, with(3), short},
		{"negative label", in, in, with(-1), y, short},
		{"label beyond Classes", in, in, y, y, func(s SuperviseConfig) SuperviseConfig { s.Classes = 2; return s }(short)},
		{"negative steps", in, in, y, y, func(s SuperviseConfig) SuperviseConfig { s.Steps = -1; return s }(short)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := Supervise(context.Background(), c.train, c.trainY, c.test, c.testY, c.cfg, newRand(1)); err == nil {
				t.Error("no error")
			} else {
				t.Log(err)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Supervise(ctx, in, y, in, y, short, newRand(1)); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled context: %v", err)
	}
}
