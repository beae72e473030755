package tasks

import (
	"fmt"

	"github.com/nlpodyssey/spago/mat"

	"github.com/pretextlab/pretext/core"
)

// The context tasks' forward pass: one trunk pass over every view of a
// batch, each example's view features concatenated, then the perceptron
// head.

// viewFeatures runs trunk once over every view of batch, each example
// holding exactly k views, and returns the features concatenated per
// example: [N, k*F], example n's row holding its views' feature vectors in
// view order (the trunk's [k*N, F] rows read k at a time).
func viewFeatures(name string, trunk *core.Trunk, batch []core.Example, k int, train bool) (mat.Tensor, error) {
	if trunk == nil {
		return nil, fmt.Errorf("tasks: %s needs a trunk", name)
	}
	if len(batch) == 0 {
		return nil, fmt.Errorf("tasks: %s batch is empty", name)
	}
	views := make([]core.Planar, 0, k*len(batch))
	for n, ex := range batch {
		if len(ex.Views) != k {
			return nil, fmt.Errorf("tasks: %s example %d has %d views, want %d", name, n, len(ex.Views), k)
		}
		views = append(views, ex.Views...)
	}
	x, s, err := core.Stack(views)
	if err != nil {
		return nil, fmt.Errorf("tasks: %s: %w", name, err)
	}
	f, err := trunk.Forward(mat.NewDense[float32](mat.WithShape(s.C, s.Cols()), mat.WithBacking(x)), s, train)
	if err != nil {
		return nil, fmt.Errorf("tasks: %s: %w", name, err)
	}
	return reshapeMatrix(f, len(batch), k*trunk.Features())
}

// headForward applies a task's perceptron head to x ([N, in]).
func headForward(name string, head *core.MLP, x mat.Tensor) (mat.Tensor, error) {
	y, err := head.Forward(x)
	if err != nil {
		return nil, fmt.Errorf("tasks: %s: %w", name, err)
	}
	return y, nil
}
