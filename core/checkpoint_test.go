package core

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nlpodyssey/spago/nn"
)

// smallTrainer is a narrow trunk (8, 16, 32 channels) trained 3 steps with
// Adam, so its checkpoint holds non-trivial weights, BN statistics and
// optimiser state while staying small enough to commit.
func smallTrainer(t testing.TB) (*Trainer, []Example) {
	rng := rand.New(rand.NewPCG(11, 0))
	trunk, err := NewTrunk(TrunkConfig{Widths: []int{8, 16, 32}}, rng)
	if err != nil {
		t.Fatal(err)
	}
	head, err := NewClassifier(trunk.Features(), 4, rng)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(trunk, head, TrainConfig{Optimizer: "adam", WarmupSteps: 2, Steps: 10})
	if err != nil {
		t.Fatal(err)
	}
	data := toyRotation(2, rng)
	for range 3 {
		if _, err := tr.Step(context.Background(), data); err != nil {
			t.Fatal(err)
		}
	}
	return tr, data
}

func evalLogits(t testing.TB, tr *Trainer, batch []Example) []float32 {
	t.Helper()
	logits, err := tr.Head.(*Classifier).Logits(tr.Trunk, batch, false)
	if err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), data(logits)...)
}

func save(t testing.TB, tr *Trainer) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := tr.Save(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestCheckpointGolden loads a checkpoint written natively and committed
// under testdata, checks its evaluation outputs against the recorded ones,
// and checks that saving it again gives the same bytes. Run under GOOS=js as
// well, it shows a native checkpoint loads in wasm and a wasm-written one is
// byte-for-byte what native writes (so it loads natively).
func TestCheckpointGolden(t *testing.T) {
	ckpt := filepath.Join("testdata", "small.ckpt")
	golden := filepath.Join("testdata", "small_logits.json")
	if *update {
		tr, batch := smallTrainer(t)
		if err := os.WriteFile(ckpt, save(t, tr), 0o644); err != nil {
			t.Fatal(err)
		}
		writeJSON(t, golden, evalLogits(t, tr, batch))
	}
	raw, err := os.ReadFile(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := LoadTrainer(bytes.NewReader(raw), nil)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Steps() != 3 {
		t.Errorf("loaded step %d, want 3", tr.Steps())
	}
	var want []float32
	readJSON(t, golden, &want)
	_, batch := toyRotationFor(t)
	got := evalLogits(t, tr, batch)
	if len(got) != len(want) {
		t.Fatalf("%d logits, recorded %d", len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
			t.Errorf("logit %d: %v, recorded %v", i, got[i], want[i])
		}
	}
	if !bytes.Equal(save(t, tr), raw) {
		t.Error("saving the loaded checkpoint gives different bytes")
	}
}

// toyRotationFor rebuilds the batch smallTrainer trains on without training.
func toyRotationFor(t testing.TB) (*rand.Rand, []Example) {
	rng := rand.New(rand.NewPCG(11, 0))
	trunk, _ := NewTrunk(TrunkConfig{Widths: []int{8, 16, 32}}, rng)
	if _, err := NewClassifier(trunk.Features(), 4, rng); err != nil {
		t.Fatal(err)
	}
	return rng, toyRotation(2, rng)
}

// TestCheckpointResume checks that a loaded trainer continues exactly as the
// original: same parameters, optimiser state, step and schedule.
func TestCheckpointResume(t *testing.T) {
	tr, batch := smallTrainer(t)
	loaded, err := LoadTrainer(bytes.NewReader(save(t, tr)), nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		a, err := tr.Step(context.Background(), batch)
		if err != nil {
			t.Fatal(err)
		}
		b, err := loaded.Step(context.Background(), batch)
		if err != nil {
			t.Fatal(err)
		}
		if a.Loss != b.Loss || a.LR != b.LR || a.Step != b.Step {
			t.Fatalf("original step %+v, resumed %+v", a, b)
		}
	}
	if !bytes.Equal(save(t, tr), save(t, loaded)) {
		t.Error("original and resumed trainers diverged")
	}
}

func TestCheckpointSGDRoundTrip(t *testing.T) {
	tr, rng := newRSTrainer(t, 5)
	if _, err := tr.Step(context.Background(), toyRotation(2, rng)); err != nil {
		t.Fatal(err)
	}
	raw := save(t, tr)
	loaded, err := LoadTrainer(bytes.NewReader(raw), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(save(t, loaded), raw) {
		t.Error("SGD checkpoint does not round-trip")
	}
}

func TestCheckpointRefusesDamage(t *testing.T) {
	tr, _ := smallTrainer(t)
	raw := save(t, tr)
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), raw...)) }
	cases := []struct {
		name string
		data []byte
		want string // substring of the error
	}{
		{"empty", nil, "truncated"},
		{"truncated header", raw[:20], "truncated"},
		{"truncated tensors", raw[:len(raw)/2], "truncated"},
		{"no checksum", raw[:len(raw)-4], "truncated"},
		{"flipped tensor byte", mutate(func(b []byte) []byte { b[len(b)-100] ^= 0x10; return b }), "checksum"},
		{"flipped checksum", mutate(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), "checksum"},
		{"trailing data", append(append([]byte(nil), raw...), 0), "after the checkpoint"},
		{"wrong magic", mutate(func(b []byte) []byte { b[0] = 'X'; return b }), "magic"},
		{"too new", mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 99); return b }), "newer"},
		{"huge header", mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[12:], 1<<31); return b }), "exceeds"},
		{"absurd width", mutate(func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"widths":[8,16,32]`), []byte(`"widths":[9999999]`), 1)
		}), "width"},
		{"header garbage", mutate(func(b []byte) []byte { b[16] = '!'; return b }), "header"},
		{"tensor renamed", mutate(func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"trunk.Layers.0.W"`), []byte(`"trunk.Layers.0.X"`), 1)
		}), "tensor 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.data) == len(raw) && bytes.Equal(tc.data, raw) {
				t.Fatal("the case did not alter the checkpoint")
			}
			_, err := LoadTrainer(bytes.NewReader(tc.data), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := LoadTrainer(bytes.NewReader(raw[:len(raw)-4]), nil); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated file error %v does not wrap io.ErrUnexpectedEOF", err)
	}
}

func TestNamedParamsCoverModel(t *testing.T) {
	tr, _ := newRSTrainer(t, 1)
	named := NamedParams(tr.model())
	var count, trainable int
	nn.ForEachParam(tr.model(), func(p *nn.Param) {
		count++
		if p.RequiresGrad() {
			trainable += p.Size()
		}
	})
	if len(named) != count {
		t.Fatalf("NamedParams found %d parameters, spago's traversal %d", len(named), count)
	}
	seen := map[string]bool{}
	for _, np := range named {
		if seen[np.Name] {
			t.Errorf("duplicate name %s", np.Name)
		}
		seen[np.Name] = true
	}
	// ../shared/bench/anchors/README.md: RS has 93,988 trainable parameters.
	if trainable != 93988 {
		t.Errorf("RS has %d trainable parameters, want 93988", trainable)
	}
	for _, name := range []string{"Trunk.Layers.0.W", "Trunk.Layers.2.RunVar", "Head.W", "Head.B"} {
		if !seen[name] {
			t.Errorf("no parameter named %s in %v", name, named)
		}
	}
}
