package core

import (
	"context"
	"encoding/json"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
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
	rng := rand.New(rand.NewPCG(seed, 0))
	trunk, err := NewTrunk(TrunkConfig{}, rng)
	if err != nil {
		t.Fatal(err)
	}
	head, err := NewClassifier(trunk.Features(), 4, rng)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(trunk, head, TrainConfig{})
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
