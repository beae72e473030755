package core

import (
	"context"
	"math/rand/v2"
	"testing"
)

// BenchmarkStepRS64 times one training step of workload RS (batch 64) and
// reports images/s; run with -cpu 1,2 for the thread counts.
func BenchmarkStepRS64(b *testing.B) {
	w, err := NewWorkload("rs", 64, rand.New(rand.NewPCG(1, 0)))
	if err != nil {
		b.Fatal(err)
	}
	batch := w.Batch()
	ctx := context.Background()
	for range 2 { // warm-up: first steps allocate optimiser state
		if _, err := w.Trainer.Step(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := w.Trainer.Step(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	ips := float64(64*b.N) / b.Elapsed().Seconds()
	b.ReportMetric(ips, "images/s")
	b.ReportMetric(ips*w.FLOPsPerImage/1e9, "GFLOP/s")
}
