package app

import "testing"

func TestBench(t *testing.T) {
	t.Parallel()
	r, err := New().Bench("rs", 1, 0, nil)
	if err != nil || r.ImagesPerSec <= 0 || r.Workload != "rs" {
		t.Fatalf("bench: %+v, %v", r, err)
	}
	if _, err := New().Bench("nope", 1, 0, nil); err == nil {
		t.Error("unknown workload accepted")
	}
}
