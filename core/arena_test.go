package core

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestStepArena checks the arena's bookkeeping: a buffer comes back after
// reset for the next request of its size, zeroed when asked, and a nil
// arena allocates zeroed buffers.
func TestStepArena(t *testing.T) {
	t.Parallel()
	var a stepArena
	b := a.floats(5000, false)
	for i := range b {
		b[i] = 1
	}
	c := a.floats(5000, false)
	if &c[0] == &b[0] {
		t.Fatal("a buffer lent twice within a step")
	}
	for i := range c {
		c[i] = 2
	}
	a.reset()
	d, e := a.floats(5000, true), a.floats(5000, false)
	lent := map[*float32]bool{&b[0]: true, &c[0]: true}
	if !lent[&d[0]] || !lent[&e[0]] || &d[0] == &e[0] {
		t.Fatal("after reset, the next requests of the size did not get the two buffers back")
	}
	if d[0] != 0 || d[4999] != 0 {
		t.Fatalf("a zeroed request got %v, %v", d[0], d[4999])
	}
	if e[0] != 1 && e[0] != 2 {
		t.Fatalf("a request with undefined contents was cleared (e[0] = %v): wasted work", e[0])
	}
	if c := a.floats(7, false); len(c) != 7 {
		t.Fatalf("len %d, want 7", len(c))
	}
	i32 := a.int32s(100)
	a.reset()
	if j := a.int32s(100); &j[0] != &i32[0] {
		t.Fatal("int32 buffer not reused after reset")
	}
	var none *stepArena
	if m := none.matrix(3, 4, false); len(data(m)) != 12 || data(m)[11] != 0 {
		t.Fatal("a nil arena must allocate zeroed matrices")
	}
}

// TestStepArenaSameResults trains two RS trainers from the same seed, one
// reusing its arena's buffers step after step and one given a fresh arena
// before every step (every buffer newly allocated and zeroed): losses and
// every parameter must agree bit for bit, so that no operator reads a
// reused buffer's stale contents.
func TestStepArenaSameResults(t *testing.T) {
	t.Parallel()
	reuse, err := NewWorkload("rs", 16, rand.New(rand.NewPCG(3, 0)))
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := NewWorkload("rs", 16, rand.New(rand.NewPCG(3, 0)))
	if err != nil {
		t.Fatal(err)
	}
	for step := range 4 {
		fresh.Trainer.arena = stepArena{}
		a, err := reuse.Trainer.Step(context.Background(), reuse.Batch())
		if err != nil {
			t.Fatal(err)
		}
		b, err := fresh.Trainer.Step(context.Background(), fresh.Batch())
		if err != nil {
			t.Fatal(err)
		}
		if math.Float64bits(a.Loss) != math.Float64bits(b.Loss) {
			t.Fatalf("step %d: loss %v with reused buffers, %v with fresh ones", step, a.Loss, b.Loss)
		}
	}
	if diff := sameState(state(reuse.Trainer), state(fresh.Trainer)); diff != "" {
		t.Fatalf("with reused buffers, %s of the run with fresh ones", diff)
	}
}

// TestStepAllocations checks the memory target of the RS workload at batch
// 64: once warm, a training step allocates at most 5 MB (it was 69 MB
// before the arena: every activation, gradient and im2col matrix anew).
func TestStepAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip("trains RS at batch 64")
	}
	w, err := NewWorkload("rs", 64, rand.New(rand.NewPCG(1, 0)))
	if err != nil {
		t.Fatal(err)
	}
	const warm, steps = 2, 3
	var before, after runtime.MemStats
	for i := range warm + steps {
		if i == warm {
			runtime.ReadMemStats(&before)
		}
		if _, err := w.Trainer.Step(context.Background(), w.Batch()); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	perStep := float64(after.TotalAlloc-before.TotalAlloc) / steps
	t.Logf("%.2f MB allocated a step", perStep/1e6)
	if perStep > 5e6 {
		t.Errorf("a warm RS step allocates %.1f MB, want at most 5 MB", perStep/1e6)
	}
}
