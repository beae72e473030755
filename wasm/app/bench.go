package app

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"

	"github.com/pretextlab/pretext/core"
	workloads "github.com/pretextlab/pretext/internal/workload"
)

// Bench times training steps of a reference workload (rs, js or cs) with
// batch 64: the median of steps timed steps after warmup untimed ones, the
// same measure as pretext bench.
//
// With replica, the app is one of a data-parallel group (see
// Settings.Replica) that share each step; every replica must call Bench
// with the same arguments.
func (a *App) Bench(workload string, steps, warmup int, replica core.Collective) (BenchResult, error) {
	if steps < 1 || warmup < 0 || steps > 1000 {
		return BenchResult{}, fmt.Errorf("bench: steps %d and warm-up %d out of range", steps, warmup)
	}
	const batch = 64
	w, err := workloads.New(workload, batch, rand.New(rand.NewPCG(1, 0)))
	if err != nil {
		return BenchResult{}, err
	}
	w.Trainer.Replica = replica
	median, err := w.MedianStep(context.Background(), warmup, steps, func(int) error {
		if a.Yield != nil {
			a.Yield()
		}
		return nil
	})
	if err != nil {
		return BenchResult{}, err
	}
	return BenchResult{Workload: workload, ImagesPerSec: batch / median, Steps: steps, Batch: batch,
		Runtime: runtime.GOOS + "/" + runtime.GOARCH + " " + runtime.Version()}, nil
}
