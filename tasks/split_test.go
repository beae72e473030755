package tasks

import (
	"slices"
	"testing"
)

func TestSplit(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		n       int
		holdout float64
		held    int
	}{{16, 0.1, 2}, {10, 0.1, 1}, {2, 0.1, 1}, {1, 0.5, 0}, {5, 0, 0}, {4, 0.99, 3}, {0, 0.1, 0}} {
		train, held := Split(c.n, c.holdout, 7)
		if len(held) != c.held || len(train)+len(held) != c.n {
			t.Errorf("Split(%d, %v): %d train, %d held, want %d held", c.n, c.holdout, len(train), len(held), c.held)
		}
		all := slices.Sorted(slices.Values(append(slices.Clone(train), held...)))
		for i, v := range all {
			if v != i {
				t.Errorf("Split(%d, %v) is not a partition: %v", c.n, c.holdout, all)
				break
			}
		}
	}
	a, b := Split(16, 0.25, 3)
	c, d := Split(16, 0.25, 3)
	if !slices.Equal(a, c) || !slices.Equal(b, d) {
		t.Error("the same seed split differently")
	}
	_, e := Split(16, 0.25, 4)
	if slices.Equal(b, e) {
		t.Error("seeds 3 and 4 held back the same photos")
	}
}
