package core

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
)

// runReplicas steps n replicas of newRSTrainer(seed) in goroutines, joined
// by LocalGroup, on the same batches; it returns every replica's losses and
// trainers.
func runReplicas(t *testing.T, n int, seed uint64, batches [][]Example) ([][]float64, []*Trainer) {
	t.Helper()
	group := LocalGroup(n)
	losses := make([][]float64, n)
	trainers := make([]*Trainer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r := range n {
		tr, _ := newRSTrainer(t, seed)
		tr.Replica = group[r]
		trainers[r] = tr
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, b := range batches {
				st, err := tr.Step(context.Background(), b)
				if err != nil {
					errs[r] = err
					return
				}
				losses[r] = append(losses[r], st.Loss)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return losses, trainers
}

// paramValues lists every parameter of the trainer's model, running
// batch-norm statistics included, by name.
func paramValues(tr *Trainer) map[string][]float32 {
	out := map[string][]float32{}
	for _, np := range NamedParams(tr.model()) {
		out[np.Name] = append([]float32(nil), data(np.Param)...)
	}
	return out
}

// TestDataParallelMatchesOneTrainer: 2 and 3 replicas, each running its
// share of the trunk with synchronised batch-norm, take the steps one
// trainer takes on the whole batch (the same losses and parameters within
// float tolerance, every replica bit-identical to the others), including a
// batch with fewer images than replicas.
func TestDataParallelMatchesOneTrainer(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 7))
	var batches [][]Example
	for range 4 {
		batches = append(batches, toyRotation(5, rng)) // 20 images: uneven shares for 3
	}
	batches = append(batches, toyRotation(1, rng)[:2]) // 2 images, fewer than 3 replicas
	one, _ := newRSTrainer(t, 3)
	var want []float64
	for _, b := range batches {
		st, err := one.Step(context.Background(), b)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, st.Loss)
	}
	wantParams := paramValues(one)
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprint(n, " replicas"), func(t *testing.T) {
			losses, trainers := runReplicas(t, n, 3, batches)
			for r := range n {
				for i, l := range losses[r] {
					if d := math.Abs(l - want[i]); d > 1e-5*max(1, math.Abs(want[i])) {
						t.Errorf("replica %d step %d: loss %.7f, one trainer %.7f", r, i+1, l, want[i])
					}
				}
			}
			first := paramValues(trainers[0])
			for name, w := range wantParams {
				got := first[name]
				for i := range w {
					if d := math.Abs(float64(got[i] - w[i])); d > 1e-4*max(1, math.Abs(float64(w[i]))) {
						t.Errorf("%s[%d] = %v, one trainer %v", name, i, got[i], w[i])
						break
					}
				}
				for r := 1; r < n; r++ {
					other := paramValues(trainers[r])[name]
					for i := range got {
						if math.Float32bits(other[i]) != math.Float32bits(got[i]) {
							t.Errorf("%s[%d]: replica %d has %v, replica 0 %v", name, i, r, other[i], got[i])
							break
						}
					}
				}
			}
		})
	}
}

// TestLocalGroupOutOfStep: replicas that reduce buffers of different
// lengths get an error, not a silent wrong sum.
func TestLocalGroupOutOfStep(t *testing.T) {
	t.Parallel()
	group := LocalGroup(2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[r] = group[r].AllReduce(make([]float32, 3+r))
		}()
	}
	wg.Wait()
	for r, err := range errs {
		if err == nil {
			t.Errorf("replica %d: no error for mismatched lengths", r)
		}
	}
	sum := [][]float64{{1, 2}, {10, 20}}
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[r] = group[r].AllReduce64(sum[r])
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil || sum[0][0] != 11 || sum[1][1] != 22 {
		t.Errorf("AllReduce64 after an error: %v %v, %v", errs[0], errs[1], sum)
	}
}

// TestDataParallelDivergence: a blown-up pixel in the images of replica 1
// alone makes every replica undo the same step (they decide on the same
// loss and the same summed gradients and statistics), all of them back to
// the same state bit for bit, at the same lowered rate, and they go on in
// step with finite losses.
func TestDataParallelDivergence(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(9, 9))
	good := toyRotation(2, rng) // 8 images: replica 1 has 4 to 7
	batches := [][]Example{good, blownUp(good, 7), good, good}
	const n = 2
	group := LocalGroup(n)
	stats := make([][]StepStats, n)
	trainers := make([]*Trainer, n)
	after1 := make([]map[string][]float32, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r := range n {
		tr, _ := newRSTrainer(t, 5)
		tr.Replica = group[r]
		trainers[r] = tr
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, b := range batches {
				st, err := tr.Step(context.Background(), b)
				if err != nil {
					errs[r] = err
					return
				}
				stats[r] = append(stats[r], st)
				if i == 0 {
					after1[r] = state(tr)
				}
				if i == 1 {
					if d := sameState(state(tr), after1[r]); d != "" {
						errs[r] = fmt.Errorf("replica %d not restored: %s", r, d)
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for r := range n {
		st := stats[r]
		if !st[1].Diverged || st[1].Step != 1 || st[1].LRScale != 0.5 {
			t.Errorf("replica %d, blown-up step: %+v, want a divergence at step 1", r, st[1])
		}
		for _, i := range []int{0, 2, 3} {
			if st[i].Diverged || math.IsNaN(st[i].Loss) || math.IsInf(st[i].Loss, 0) {
				t.Errorf("replica %d, batch %d: %+v", r, i, st[i])
			}
			if st[i].Loss != stats[0][i].Loss || st[i].LR != stats[0][i].LR {
				t.Errorf("replica %d, batch %d: loss %v at rate %v, replica 0 %v at %v", r, i, st[i].Loss, st[i].LR, stats[0][i].Loss, stats[0][i].LR)
			}
		}
	}
	if trainers[0].Steps() != 3 {
		t.Errorf("%d steps done, want 3", trainers[0].Steps())
	}
	if d := sameState(state(trainers[1]), state(trainers[0])); d != "" {
		t.Errorf("replicas differ after recovering: %s", d)
	}
}
