package core

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata (natively only)")

// toyRotation makes n source images with structure a network can orient (a
// smooth gradient plus an off-centre bright square), each in 4 rotations with
// labels 0-3: 4n examples, 32x32x3, all from rng.
func toyRotation(n int, rng *rand.Rand) []Example {
	const s = 32
	var out []Example
	for range n {
		base := NewPlanar(3, s, s)
		gx, gy := rng.Float32()*2-1, rng.Float32()*2-1
		bx, by := 4+rng.IntN(8), 4+rng.IntN(8)
		for c := range 3 {
			tint := rng.Float32()
			for y := range s {
				for x := range s {
					v := gx*float32(x-s/2)/s + gy*float32(y-s/2)/s + tint
					if x >= bx && x < bx+6 && y >= by && y < by+6 {
						v += 1.5
					}
					base.Pix[(c*s+y)*s+x] = v
				}
			}
		}
		img := base
		for k := range 4 {
			out = append(out, Example{Views: []Planar{img}, Class: k})
			img = rotate90(img)
		}
	}
	return out
}

// rotate90 turns p a quarter turn counter-clockwise (as imaging.Rotate90).
func rotate90(p Planar) Planar {
	q := NewPlanar(p.C, p.W, p.H)
	for c := range p.C {
		for y := range p.H {
			for x := range p.W {
				// (x, y) -> (y, W-1-x)
				q.Pix[(c*q.H+(p.W-1-x))*q.W+y] = p.Pix[(c*p.H+y)*p.W+x]
			}
		}
	}
	return q
}

func newRSTrainer(t testing.TB, seed uint64) (*Trainer, *rand.Rand) {
	return newTrainer(t, seed, TrunkConfig{}, TrainConfig{})
}

// newTrainer is a trunk of cfg with a 4-class classifier, trained with tc,
// both drawn from a rng seeded with seed, which it returns for the data.
func newTrainer(t testing.TB, seed uint64, cfg TrunkConfig, tc TrainConfig) (*Trainer, *rand.Rand) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 0))
	trunk, err := NewTrunk(cfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	head, err := NewClassifier(trunk.Features(), 4, rng)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(trunk, head, tc)
	if err != nil {
		t.Fatal(err)
	}
	return tr, rng
}

// TestLossTrajectoryRS runs 10 seeded steps of workload RS on toy rotation
// data and compares every loss with the recorded ones (llm.c's
// expected_losses). It runs natively and under GOOS=js in Node, so the two
// builds must agree within the tolerance.
func TestLossTrajectoryRS(t *testing.T) {
	t.Parallel()
	tr, rng := newRSTrainer(t, 7)
	data := toyRotation(16, rng)
	var losses []float64
	for i := range 10 {
		// A fresh order each step, from the seeded stream.
		rng.Shuffle(len(data), func(a, b int) { data[a], data[b] = data[b], data[a] })
		st, err := tr.Step(context.Background(), data)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		losses = append(losses, st.Loss)
	}
	golden := filepath.Join("testdata", "rs_trajectory.json")
	if *update {
		writeJSON(t, golden, losses)
	}
	var want []float64
	readJSON(t, golden, &want)
	if len(want) != len(losses) {
		t.Fatalf("recorded %d losses, ran %d", len(want), len(losses))
	}
	for i := range want {
		if rel := math.Abs(losses[i]-want[i]) / math.Abs(want[i]); rel > 1e-4 {
			t.Errorf("step %d: loss %.7f, recorded %.7f (rel. diff %.2g > 1e-4)", i+1, losses[i], want[i], rel)
		}
	}
	if !(losses[9] < losses[0]) {
		t.Errorf("loss did not fall: %v", losses)
	}
}

// TestTrainingLearnsToyRotation checks end to end that the trunk, head,
// backward pass and optimiser learn: 40 steps on toy rotation data bring the
// loss well below its start (chance is ln 4 = 1.386) and the evaluation-mode
// accuracy well above chance (0.25).
func TestTrainingLearnsToyRotation(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 40 steps")
	}
	t.Parallel()
	tr, rng := newRSTrainer(t, 3)
	data := toyRotation(16, rng)
	var first, last StepStats
	for i := range 40 {
		st, err := tr.Step(context.Background(), data)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = st
		}
		last = st
	}
	loss, score, err := tr.Evaluate(data)
	if err != nil {
		t.Fatal(err)
	}
	if last.Loss > 0.7*first.Loss || score.Accuracy < 0.6 {
		t.Errorf("loss %.3f -> %.3f, eval accuracy %.2f after 40 steps; want loss down 30%% and accuracy >= 0.6", first.Loss, last.Loss, score.Accuracy)
	}
	t.Logf("train loss %.3f -> %.3f, eval loss %.3f accuracy %.2f", first.Loss, last.Loss, loss, score.Accuracy)
}

func TestStepCancelled(t *testing.T) {
	t.Parallel()
	tr, rng := newRSTrainer(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tr.Step(ctx, toyRotation(1, rng)); err == nil {
		t.Fatal("step ran on a cancelled context")
	}
	if tr.Steps() != 0 {
		t.Fatalf("cancelled step counted: %d", tr.Steps())
	}
}

func TestStepRejectsBadBatch(t *testing.T) {
	t.Parallel()
	tr, _ := newRSTrainer(t, 1)
	cases := map[string][]Example{
		"empty":         nil,
		"no view":       {{Class: 0}},
		"grey input":    {{Views: []Planar{NewPlanar(1, 32, 32)}}},
		"mixed sizes":   {{Views: []Planar{NewPlanar(3, 32, 32)}}, {Views: []Planar{NewPlanar(3, 16, 16)}}},
		"too small":     {{Views: []Planar{NewPlanar(3, 2, 2)}}},
		"label too big": {{Views: []Planar{NewPlanar(3, 32, 32)}, Class: 4}},
	}
	for name, batch := range cases {
		if _, err := tr.Step(context.Background(), batch); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestLRSchedule(t *testing.T) {
	t.Parallel()
	c := TrainConfig{LR: 1, WarmupSteps: 4, Steps: 12}
	cases := []struct {
		step int
		want float64
	}{{0, 0.25}, {3, 1}, {4, 1}, {8, 0.5}, {12, 0}, {20, 0}}
	for _, tc := range cases {
		if got := c.LRAt(tc.step); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("step %d: lr %v, want %v", tc.step, got, tc.want)
		}
	}
	if got := (TrainConfig{}).LRAt(1000); got != 0.05 {
		t.Errorf("default constant lr %v, want 0.05", got)
	}
}

func writeJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func TestWorkloadMedianStep(t *testing.T) {
	t.Parallel()
	w, err := NewWorkload("rs", 4, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	var calls []int
	sec, err := w.MedianStep(context.Background(), 1, 2, func(i int) error { calls = append(calls, i); return nil })
	if err != nil || !(sec > 0) || !slices.Equal(calls, []int{0, 1, 2}) || w.Trainer.Steps() != 3 {
		t.Errorf("median %v s, hook calls %v, %d steps, %v", sec, calls, w.Trainer.Steps(), err)
	}
	if _, err := w.MedianStep(context.Background(), 0, 0, nil); err == nil {
		t.Error("zero timed steps accepted")
	}
}

// state copies every tensor a checkpoint of tr holds (parameters,
// batch-norm statistics, optimiser buffers), by name.
func state(tr *Trainer) map[string][]float32 {
	out := map[string][]float32{}
	for _, nt := range tr.tensors() {
		out[nt.Name] = slices.Clone(nt.values)
	}
	return out
}

// sameState reports the first tensor of got that differs, bit for bit,
// from want, or "".
func sameState(got, want map[string][]float32) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d tensors, want %d", len(got), len(want))
	}
	for name, w := range want {
		g := got[name]
		if len(g) != len(w) {
			return name + " (length)"
		}
		for i := range w {
			if math.Float32bits(g[i]) != math.Float32bits(w[i]) {
				return fmt.Sprintf("%s[%d] = %v, want %v", name, i, g[i], w[i])
			}
		}
	}
	return ""
}

// blownUp returns a copy of batch whose example i has one pixel of 1e30:
// finite, so accepted, but its square overflows float32 in batch-norm's
// variance, which makes the running variance (and maybe the loss)
// infinite.
func blownUp(batch []Example, i int) []Example {
	out := slices.Clone(batch)
	v := out[i].Views[0]
	pix := slices.Clone(v.Pix)
	pix[len(pix)/2] = 1e30
	v.Pix = pix
	out[i].Views = []Planar{v}
	return out
}

// TestDivergenceRecovers: a step that goes non-finite is undone (every
// parameter, batch-norm statistic and Adam buffer bit for bit as before
// it, the step count unchanged), the rate is halved and reported, and
// training then goes on at the lowered rate with finite losses; a
// checkpoint keeps the lowered rate.
func TestDivergenceRecovers(t *testing.T) {
	t.Parallel()
	tr, rng := newTrainer(t, 21, TrunkConfig{Widths: []int{8, 16, 32}}, TrainConfig{Optimizer: "adam", Steps: 20})
	batch := toyRotation(2, rng)
	for range 2 {
		if _, err := tr.Step(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	before := state(tr)
	st, err := tr.Step(context.Background(), blownUp(batch, 0))
	if err != nil {
		t.Fatal(err)
	}
	if !st.Diverged || st.Reason == "" || st.Step != 2 || tr.Steps() != 2 {
		t.Fatalf("step on a blown-up batch: %+v, trainer at step %d; want a divergence at step 2", st, tr.Steps())
	}
	if st.LRScale != 0.5 || tr.LRScale() != 0.5 || st.LR != tr.Config.LRAt(2)*0.5 {
		t.Errorf("after a divergence: scale %v (trainer %v), rate %v; want 0.5 and %v", st.LRScale, tr.LRScale(), st.LR, tr.Config.LRAt(2)*0.5)
	}
	if d := sameState(state(tr), before); d != "" {
		t.Errorf("state not restored: %s", d)
	}
	t.Log(st.DivergenceNote())
	for i := range 3 {
		st, err := tr.Step(context.Background(), batch)
		if err != nil {
			t.Fatal(err)
		}
		if st.Diverged || math.IsNaN(st.Loss) || math.IsInf(st.Loss, 0) || st.Step != 3+i {
			t.Fatalf("step after recovery: %+v", st)
		}
		if want := tr.Config.LRAt(2+i) * 0.5; st.LR != want {
			t.Errorf("step %d at rate %v, want %v", st.Step, st.LR, want)
		}
	}
	loaded, err := LoadTrainer(bytes.NewReader(save(t, tr)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.LRScale() != 0.5 {
		t.Errorf("resumed at scale %v, want 0.5", loaded.LRScale())
	}
}

// TestDivergenceGivesUp: at a rate of 1e30 every step overflows; the
// trainer recovers maxRecoveries times, halving the rate each time, then
// returns ErrDiverged, left exactly as it was before the first bad step.
func TestDivergenceGivesUp(t *testing.T) {
	t.Parallel()
	tr, rng := newTrainer(t, 3, TrunkConfig{Widths: []int{8, 16, 32}}, TrainConfig{LR: 1e30})
	batch := toyRotation(2, rng)
	var before map[string][]float32
	var diverged int
	for range 20 {
		if tr.streak == 0 { // the last step completed
			before = state(tr)
		}
		st, err := tr.Step(context.Background(), batch)
		if errors.Is(err, ErrDiverged) {
			t.Log(err)
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if st.Diverged {
			diverged++
		}
	}
	if diverged != maxRecoveries {
		t.Errorf("%d recoveries before giving up, want %d", diverged, maxRecoveries)
	}
	if s := tr.LRScale(); s != 1.0/16 {
		t.Errorf("scale %v after giving up, want 1/16", s)
	}
	if d := sameState(state(tr), before); d != "" {
		t.Errorf("state after giving up differs from the last good one: %s", d)
	}
}

// TestStepRefusesNonFiniteBatch: a NaN pixel is the data's fault, not the
// rate's: the step is refused with an error and nothing changes.
func TestStepRefusesNonFiniteBatch(t *testing.T) {
	t.Parallel()
	tr, rng := newRSTrainer(t, 4)
	batch := toyRotation(1, rng)
	before := state(tr)
	bad := blownUp(batch, 0)
	bad[0].Views[0].Pix[3] = float32(math.NaN())
	if _, err := tr.Step(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "pixel") {
		t.Fatalf("error %v, want one about a pixel", err)
	}
	if d := sameState(state(tr), before); d != "" || tr.Steps() != 0 || tr.LRScale() != 1 {
		t.Errorf("a refused batch changed the trainer: %s, step %d, scale %v", d, tr.Steps(), tr.LRScale())
	}
}
