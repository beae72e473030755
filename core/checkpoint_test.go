package core

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/nlpodyssey/spago/nn"
)

// smallTrainer is a narrow trunk (8, 16, 32 channels) trained 3 steps with
// Adam, so its checkpoint holds non-trivial weights, BN statistics and
// optimiser state while staying small enough to commit.
func smallTrainer(t testing.TB) (*Trainer, []Example) {
	tr, rng := newTrainer(t, 11, TrunkConfig{Widths: []int{8, 16, 32}}, TrainConfig{Optimizer: "adam", WarmupSteps: 2, Steps: 10})
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

// TestCheckpointGolden loads a checkpoint written natively (as format
// version 1, before the restructuring of issue 16) and committed under
// testdata, checks its evaluation outputs against the recorded ones,
// and checks that saving it again gives the same bytes. Run under GOOS=js as
// well, it shows a native checkpoint loads in wasm and a wasm-written one is
// byte-for-byte what native writes (so it loads natively).
func TestCheckpointGolden(t *testing.T) {
	t.Parallel()
	ckpt := filepath.Join("testdata", "small.ckpt")
	golden := filepath.Join("testdata", "small_logits.json")
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
	// small.ckpt is of version 1, from before perceptron heads had their
	// own type; a classifier's names did not change, so saving it again
	// gives the same bytes but for the version, the release that wrote it
	// (a field it did not have) and the checksum.
	again := save(t, tr)
	if v := binary.LittleEndian.Uint32(again[8:]); v != CheckpointVersion {
		t.Errorf("saved as version %d, want %d", v, CheckpointVersion)
	}
	again = withHeader(t, again, func(h *checkpointHeader) {
		if h.Pretext != Version {
			t.Errorf("saved by release %q, want %q", h.Pretext, Version)
		}
		h.Pretext = ""
	})
	if len(again) != len(raw) || !bytes.Equal(again[:8], raw[:8]) || !bytes.Equal(again[12:len(again)-4], raw[12:len(raw)-4]) {
		t.Error("saving the loaded checkpoint gives different bytes (beyond the version and checksum)")
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
			return reseal(bytes.Replace(b, []byte(`"trunk.Layers.0.W"`), []byte(`"trunk.Layers.0.X"`), 1))
		}), "tensor 0"},
		{"renamed, checksum stale", mutate(func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"trunk.Layers.0.W"`), []byte(`"trunk.Layers.0.X"`), 1)
		}), "checksum"},
		{"NaN weight", mutate(func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[len(b)-8:], math.Float32bits(float32(math.NaN())))
			return reseal(b)
		}), "NaN"},
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

// reseal replaces the checksum of checkpoint b by that of its altered bytes,
// so that a test reaches the check it means to.
func reseal(b []byte) []byte {
	binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], castagnoli))
	return b
}

// withHeader returns checkpoint raw with its header changed by edit, its
// tensor bytes unchanged (or, if given, replaced by values) and its checksum
// recomputed.
func withHeader(t testing.TB, raw []byte, edit func(h *checkpointHeader), values ...byte) []byte {
	t.Helper()
	n := binary.LittleEndian.Uint32(raw[12:])
	var h checkpointHeader
	if err := json.Unmarshal(raw[16:16+n], &h); err != nil {
		t.Fatal(err)
	}
	edit(&h)
	js, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte(nil), raw[:12]...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(js)))
	out = append(out, js...)
	if values != nil {
		out = append(append(out, values...), 0, 0, 0, 0)
	} else {
		out = append(out, raw[16+n:]...)
	}
	return reseal(out)
}

// allocated returns the bytes f allocates (runtime.MemStats.TotalAlloc).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestCheckpointRefusesAbsurdSizes: headers (with valid checksums, so the
// size checks themselves are reached) that would make a loader allocate
// gigabytes are refused with a clear error, and LoadTrainer allocates less
// than 4 MB plus four times the file's size on each. A file whose tensors are missing costs no more than its
// own bytes, whatever its header declares.
func TestCheckpointRefusesAbsurdSizes(t *testing.T) {
	tr, _ := smallTrainer(t)
	raw := save(t, tr)
	huge := func(h *checkpointHeader) {
		// About 2^26 values (256 MB) in tensors of plausible shapes.
		h.Tensors = nil
		for i := range 16 {
			h.Tensors = append(h.Tensors, tensorHeader{fmt.Sprint("t", i), []int{1 << 11, 1<<11 - 1}})
		}
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"tensor of 2^40 values", withHeader(t, raw, func(h *checkpointHeader) { h.Tensors[0].Shape = []int{1 << 20, 1 << 20} }), "shape"},
		{"tensor side overflowing int", withHeader(t, raw, func(h *checkpointHeader) { h.Tensors[0].Shape = []int{1 << 62, 1 << 62, 4} }), "shape"},
		{"negative side", withHeader(t, raw, func(h *checkpointHeader) { h.Tensors[0].Shape = []int{-1, 8} }), "shape"},
		{"tensors of 2^31 values in all", withHeader(t, raw, func(h *checkpointHeader) {
			for i := range h.Tensors {
				h.Tensors[i].Shape = []int{1 << 13, 1 << 13}
			}
		}), "more than"},
		{"256 MB declared, absent", withHeader(t, raw[:len(raw)-4], huge)[:4096], "truncated"},
		{"trunk of 19 billion parameters", withHeader(t, raw, func(h *checkpointHeader) {
			h.Trunk.Widths, h.Trunk.Depth = []int{4096, 4096, 4096, 4096, 4096, 4096, 4096, 4096}, 16
		}), "parameters"},
		{"classifier of 2^31 classes", withHeader(t, raw, func(h *checkpointHeader) {
			h.Head.Config = json.RawMessage(`{"features":32,"classes":2147483648}`)
		}), "classes"},
		{"classifier of 65536 classes on 4096 features", withHeader(t, raw, func(h *checkpointHeader) {
			// Values enough for the trunk (126,976), present and zero.
			h.Trunk.Widths = []int{4096}
			h.Head.Config = json.RawMessage(`{"features":4096,"classes":65536}`)
			h.Tensors = []tensorHeader{{"x", []int{1 << 17}}}
		}, make([]byte, 4<<17)...), "parameters"},
		{"learning-rate scale 2", withHeader(t, raw, func(h *checkpointHeader) { h.LRScale = 2 }), "scale"},
		{"negative step", withHeader(t, raw, func(h *checkpointHeader) { h.Step = -1 }), "negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			n := allocated(func() { _, err = LoadTrainer(bytes.NewReader(tc.data), nil) })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
			if limit := 4<<20 + 4*uint64(len(tc.data)); n > limit {
				t.Errorf("LoadTrainer allocated %d bytes before refusing, more than %d", n, limit)
			}
			t.Logf("%v (%d bytes allocated)", err, n)
		})
	}
}

// TestCheckpointLRScale: the rate scale divergence recovery lowers is saved
// and restored; at 1 it is left out, so checkpoints written before it
// existed (as testdata/small.ckpt) read the same.
func TestCheckpointLRScale(t *testing.T) {
	t.Parallel()
	tr, _ := smallTrainer(t)
	if bytes.Contains(save(t, tr), []byte("lr_scale")) {
		t.Error("a checkpoint at scale 1 names lr_scale")
	}
	tr.lrScale = 0.25
	loaded, err := LoadTrainer(bytes.NewReader(save(t, tr)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.LRScale() != 0.25 {
		t.Errorf("loaded scale %v, want 0.25", loaded.LRScale())
	}
}

// tinyCheckpoint is the checkpoint of a 2- and 4-channel trunk with a
// 2-class head after one Adam step: the fuzzer's seed, 2 KB.
func tinyCheckpoint(t testing.TB) []byte {
	rng := rand.New(rand.NewPCG(5, 0))
	trunk, err := NewTrunk(TrunkConfig{Widths: []int{2, 4}}, rng)
	if err != nil {
		t.Fatal(err)
	}
	head, err := NewClassifier(trunk.Features(), 2, rng)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(trunk, head, TrainConfig{Optimizer: "adam"})
	if err != nil {
		t.Fatal(err)
	}
	batch := toyRotation(1, rng)[:2]
	if _, err := tr.Step(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	return save(t, tr)
}

// FuzzLoadTrainer feeds LoadTrainer arbitrary bytes, and the same bytes
// with their checksum recomputed so that mutations of the header and the
// tensors reach the model builder. It must never panic, must allocate
// little on data it refuses before the checksum, and whatever it loads must
// evaluate (or refuse the batch) and save to a checkpoint that loads and
// saves again to the same bytes.
func FuzzLoadTrainer(f *testing.F) {
	raw := tinyCheckpoint(f)
	f.Add(raw)
	f.Add(raw[:len(raw)/2])
	f.Add(raw[:20])
	f.Add([]byte("PRETEXT\x00"))
	flipped := append([]byte(nil), raw...)
	flipped[len(flipped)/2] ^= 4
	f.Add(flipped)
	f.Add(bytes.Replace(raw, []byte(`"widths":[2,4]`), []byte(`"widths":[2,4,8]`), 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		var err error
		n := allocated(func() { _, err = LoadTrainer(bytes.NewReader(b), nil) })
		switch {
		case err == nil:
			checkLoaded(t, b)
		case errors.Is(err, ErrChecksum) || errors.Is(err, io.ErrUnexpectedEOF):
			// Refused before any model was built: the cost is the data's.
			if limit := 4<<20 + 64*uint64(len(b)); n > limit {
				t.Fatalf("refusing %d bytes (%v) allocated %d", len(b), err, n)
			}
		}
		if len(b) < 4 {
			return
		}
		sealed := reseal(append([]byte(nil), b...))
		if _, err := LoadTrainer(bytes.NewReader(sealed), nil); err == nil {
			checkLoaded(t, sealed)
		}
	})
}

// checkLoaded evaluates the trainer loaded from b on a small batch and
// checks that its checkpoint round-trips.
func checkLoaded(t *testing.T, b []byte) {
	tr, err := LoadTrainer(bytes.NewReader(b), nil)
	if err != nil {
		t.Fatal(err)
	}
	img := NewPlanar(tr.Trunk.Config.InChannels, 16, 16)
	for i := range img.Pix {
		img.Pix[i] = float32(i%7) / 7
	}
	tr.Evaluate([]Example{{Views: []Planar{img}, Class: 1}, {Views: []Planar{img}}})
	again := save(t, tr)
	tr2, err := LoadTrainer(bytes.NewReader(again), nil)
	if err != nil {
		t.Fatalf("a loaded checkpoint saved again does not load: %v", err)
	}
	if !bytes.Equal(save(t, tr2), again) {
		t.Fatal("a loaded checkpoint does not save to the same bytes twice")
	}
}

func TestNamedParamsCoverModel(t *testing.T) {
	t.Parallel()
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

// TestCheckpointRecordsVersion checks that a checkpoint names the release
// that wrote it, and that one without the field (written before it was
// recorded) still loads.
func TestCheckpointRecordsVersion(t *testing.T) {
	t.Parallel()
	raw := tinyCheckpoint(t)
	var got string
	withHeader(t, raw, func(h *checkpointHeader) { got = h.Pretext })
	if got != Version || Version == "" {
		t.Fatalf("checkpoint says it was written by %q, want %q", got, Version)
	}
	old := withHeader(t, raw, func(h *checkpointHeader) { h.Pretext = "" })
	if _, err := LoadTrainer(bytes.NewReader(old), nil); err != nil {
		t.Fatalf("a checkpoint without the release field: %v", err)
	}
}
