package tasks

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"

	"github.com/pretextlab/pretext/core"
)

// TestDataParallelEveryTask: for every registered task, two data-parallel
// replicas (core.Trainer.Replica) take the steps one trainer takes on the
// whole batch: the same losses within float tolerance. The heads couple
// examples in several ways (NT-Xent's negatives, multi-task's per-task
// means, decoders with their own batch-norm), which the replicas handle by
// running everything after the trunk on the whole batch.
func TestDataParallelEveryTask(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the sample photos; -short skips it")
	}
	t.Parallel()
	photos := testPhotos(t)
	const steps, batch = 3, 12
	run := func(t *testing.T, name string, replica core.Collective) ([]float64, error) {
		trunk := smallTrunk(t, 1)
		task, err := New(name, nil, trunk, testRNG(2))
		if err != nil {
			return nil, err
		}
		tr, err := core.NewTrainer(trunk, task, core.TrainConfig{})
		if err != nil {
			return nil, err
		}
		tr.Replica = replica
		rng := testRNG(3)
		var losses []float64
		for step := range steps {
			if _, err := Prepare(task, trunk, photos, step, rng); err != nil {
				return nil, err
			}
			b, err := Batch(task, photos, batch, rng)
			if err != nil {
				return nil, err
			}
			st, err := tr.Step(context.Background(), b)
			if err != nil {
				return nil, err
			}
			losses = append(losses, st.Loss)
		}
		return losses, nil
	}
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			want, err := run(t, name, nil)
			if err != nil {
				t.Fatal(err)
			}
			group := core.LocalGroup(2)
			got := make([][]float64, 2)
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for r := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					got[r], errs[r] = run(t, name, group[r])
				}()
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			for r := range 2 {
				for i := range want {
					if d := math.Abs(got[r][i] - want[i]); !(d <= 1e-4*max(1, math.Abs(want[i]))) {
						t.Errorf("replica %d step %d: loss %.6f, one trainer %.6f", r, i+1, got[r][i], want[i])
					}
				}
			}
			t.Logf("losses %.5f, replicas %.5f / %.5f", want, got[0], got[1])
		})
	}
}
