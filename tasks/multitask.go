package tasks

import (
	"encoding/gob"
	"encoding/json"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/pretextlab/pretext/core"
)

// MultiTask trains several pretext tasks on one trunk at once (Doersch &
// Zisserman 2017, "Multi-task Self-Supervised Visual Learning", ICCV): each
// sub-task keeps its own head and makes its own inputs (at its own size),
// every photo gives the examples of every sub-task, and the loss is the
// weighted sum of the sub-tasks' losses, each on its part of the batch.
//
// Examples appends each sub-task's examples of the photo in sub-task order,
// Head set to the sub-task's index. A batch of n examples (tasks.Batch)
// holds whole photos' worth of every sub-task except for the last photo,
// cut at n; a batch size that is a multiple of the examples one photo gives
// (6 by default: 4 rotations, 1 puzzle, 1 colour target) keeps the
// sub-tasks' shares exact. A sub-task with no example in a batch adds
// nothing to that batch's loss.
//
// The sub-tasks are built through the registry (tasks.New) from the
// config; a multi-task cannot contain another.
type MultiTask struct {
	nn.Module
	// Tasks are the sub-tasks in config order. Their heads are this
	// objective's parameters: spago's traversal and core.NamedParams look
	// into the slice's interface values ("Tasks.0.Head.W").
	Tasks []Task

	base[MultiTaskConfig]
	// step is the step of the last NeedsRefresh call, which Refresh asks
	// the sub-tasks about again.
	step int
}

var (
	_ Task      = &MultiTask{}
	_ Refresher = &MultiTask{}
	_ Assigner  = &MultiTask{}
	_ Baseliner = &MultiTask{}
)

func init() { gob.Register(&MultiTask{}) }

// multiTaskEntry is the task's registry entry.
var multiTaskEntry = entry{
	new:      fromConfig(NewMultiTask),
	summary:  "train several of these tasks together on one trunk, a weighted sum of their losses (Doersch & Zisserman 2017)",
	defaults: Defaults{Optimizer: "adam", LR: 0.001, Steps: 300, Batch: 36},
	captions: []Caption{
		{Image: "original", Text: "original"},
		{Image: "input", Text: "what the network saw (first task)"},
		{Image: "image", Text: "the first task's output"},
	},
}

// multiTaskName is the multi-task's registry key.
const multiTaskName = "multi-task"

// maxSubTasks bounds the sub-tasks of one multi-task.
const maxSubTasks = 16

// MultiTaskConfig sets the multi-task objective. The zero value is the
// default: rotation, jigsaw and colorization with their default settings,
// weight 1 each.
type MultiTaskConfig struct {
	// Tasks are the sub-tasks (default rotation, jigsaw, colorization).
	Tasks []SubTaskConfig `json:"tasks,omitempty"`
}

// SubTaskConfig names one sub-task of a multi-task.
type SubTaskConfig struct {
	// Name is the sub-task's registry key, e.g. "rotation".
	Name string `json:"name"`
	// Weight scales the sub-task's loss (default 1), positive.
	Weight float64 `json:"weight,omitempty"`
	// Config is the sub-task's own JSON config (default: its defaults).
	Config json.RawMessage `json:"config,omitempty"`
}

func (c MultiTaskConfig) withDefaults() MultiTaskConfig {
	if len(c.Tasks) == 0 {
		c.Tasks = []SubTaskConfig{{Name: "rotation"}, {Name: "jigsaw"}, {Name: "colorization"}}
	}
	out := MultiTaskConfig{Tasks: make([]SubTaskConfig, len(c.Tasks))}
	for i, t := range c.Tasks {
		if t.Weight == 0 {
			t.Weight = 1
		}
		out.Tasks[i] = t
	}
	return out
}

// taskBuilder builds a registered task by name: New, reached through an
// interface. The registry's map literal names NewMultiTask, which builds
// its sub-tasks through the registry; calling New directly would make the
// registry's initialiser depend on itself, an initialisation cycle the
// compiler refuses (dependencies are not traced through interface method
// calls).
type taskBuilder interface {
	build(name string, config json.RawMessage, trunk *core.Trunk, rng *rand.Rand) (Task, error)
}

// registryBuilder is the taskBuilder of the registry.
type registryBuilder struct{}

func (registryBuilder) build(name string, config json.RawMessage, trunk *core.Trunk, rng *rand.Rand) (Task, error) {
	return New(name, config, trunk, rng)
}

// NewMultiTask builds every sub-task of cfg for trunk through the registry,
// drawing their heads from rng in order.
func NewMultiTask(cfg MultiTaskConfig, trunk *core.Trunk, rng *rand.Rand) (*MultiTask, error) {
	if trunk == nil {
		return nil, fmt.Errorf("tasks: multi-task needs a trunk")
	}
	cfg = cfg.withDefaults()
	if len(cfg.Tasks) > maxSubTasks {
		return nil, fmt.Errorf("tasks: multi-task has %d sub-tasks, at most %d allowed", len(cfg.Tasks), maxSubTasks)
	}
	var b taskBuilder = registryBuilder{}
	m := &MultiTask{base: base[MultiTaskConfig]{name: multiTaskName, cfg: MultiTaskConfig{Tasks: make([]SubTaskConfig, len(cfg.Tasks))}}}
	values := 0 // of the heads so far: together they are one head
	for i, sc := range cfg.Tasks {
		switch {
		case sc.Name == multiTaskName:
			return nil, fmt.Errorf("tasks: multi-task sub-task %d is a multi-task; they do not nest", i)
		case !(sc.Weight > 0) || math.IsInf(sc.Weight, 1):
			return nil, fmt.Errorf("tasks: multi-task sub-task %d (%s) has weight %v, want positive and finite", i, sc.Name, sc.Weight)
		}
		t, err := b.build(sc.Name, sc.Config, trunk, rng)
		if err != nil {
			return nil, fmt.Errorf("tasks: multi-task sub-task %d: %w", i, err)
		}
		nn.ForEachParam(t, func(p *nn.Param) { values += p.Value().Size() })
		if err := checkHead("multi-task", values); err != nil {
			return nil, fmt.Errorf("%w (with sub-task %d, %s)", err, i, sc.Name)
		}
		m.Tasks = append(m.Tasks, t)
		// The spec keeps the sub-task's own normalised config, so a
		// rebuilt multi-task has the same spec.
		m.cfg.Tasks[i] = SubTaskConfig{Name: sc.Name, Weight: sc.Weight, Config: t.Spec().Config}
	}
	return m, nil
}

// Needs implements Task: what any of its sub-tasks needs.
func (m *MultiTask) Needs() Needs {
	var n Needs
	for _, t := range m.Tasks {
		tn := t.Needs()
		n.Colour = n.Colour || tn.Colour
		n.MinSide = max(n.MinSide, tn.MinSide)
	}
	return n
}

// InputSize implements Task: the largest of the sub-tasks' sizes.
func (m *MultiTask) InputSize() int {
	size := 0
	for _, t := range m.Tasks {
		size = max(size, t.InputSize())
	}
	return size
}

// Examples implements Task: every sub-task's examples of the photo,
// in sub-task order, each with Head set to its sub-task's index.
func (m *MultiTask) Examples(dst []core.Example, img *image.NRGBA, rng *rand.Rand) ([]core.Example, error) {
	for k, t := range m.Tasks {
		before := len(dst)
		var err error
		if dst, err = t.Examples(dst, img, rng); err != nil {
			return dst[:before], fmt.Errorf("tasks: multi-task %s: %w", t.Name(), err)
		}
		for i := before; i < len(dst); i++ {
			dst[i].Head = k
		}
	}
	return dst, nil
}

// split sorts batch into the sub-tasks' parts by Head.
func (m *MultiTask) split(batch []core.Example) ([][]core.Example, error) {
	parts := make([][]core.Example, len(m.Tasks))
	for i, ex := range batch {
		if ex.Head < 0 || ex.Head >= len(m.Tasks) {
			return nil, fmt.Errorf("tasks: multi-task example %d has head %d, want [0, %d)", i, ex.Head, len(m.Tasks))
		}
		parts[ex.Head] = append(parts[ex.Head], ex)
	}
	return parts, nil
}

// Loss implements core.Objective: Σ_k weight_k · loss_k over the
// sub-tasks with examples in batch, each sub-task's loss on its part (its
// own trunk pass, at its own input size). Accuracy is the weighted mean of
// their accuracies.
func (m *MultiTask) Loss(trunk *core.Trunk, batch []core.Example, train bool) (mat.Tensor, core.Score, error) {
	parts, err := m.split(batch)
	if err != nil {
		return nil, core.Score{}, err
	}
	var total mat.Tensor
	var acc, wsum float64
	for k, part := range parts {
		if len(part) == 0 {
			continue
		}
		l, s, err := m.Tasks[k].Loss(trunk, part, train)
		if err != nil {
			return nil, core.Score{}, fmt.Errorf("tasks: multi-task %s: %w", m.Tasks[k].Name(), err)
		}
		w := m.cfg.Tasks[k].Weight
		term := ag.ProdScalar(l, mat.Scalar(float32(w)))
		if total == nil {
			total = term
		} else {
			total = ag.Add(total, term)
		}
		acc += w * s.Accuracy
		wsum += w
	}
	if total == nil {
		return nil, core.Score{}, fmt.Errorf("tasks: multi-task batch is empty")
	}
	return total, core.Score{Accuracy: acc / wsum}, nil
}

// BaselineLoss is Σ_k weight_k · baseline_k over the sub-tasks with
// examples in batch, each sub-task's baseline on its part, matching Loss;
// NaN if one of them has no baseline (is not a Baseliner) or batch is bad.
func (m *MultiTask) BaselineLoss(batch []core.Example) float64 {
	parts, err := m.split(batch)
	if err != nil {
		return math.NaN()
	}
	var sum float64
	for k, part := range parts {
		if len(part) == 0 {
			continue
		}
		b, ok := m.Tasks[k].(Baseliner)
		if !ok {
			return math.NaN()
		}
		sum += m.cfg.Tasks[k].Weight * b.BaselineLoss(part)
	}
	return sum
}

// NeedsRefresh implements Refresher: whether any sub-task that is a
// Refresher needs refreshing before step.
func (m *MultiTask) NeedsRefresh(step int) bool {
	m.step = step
	need := false
	for _, t := range m.Tasks {
		if r, ok := t.(Refresher); ok && r.NeedsRefresh(step) {
			need = true
		}
	}
	return need
}

// Refresh implements Refresher: it refreshes the sub-tasks that need
// it at the step of the last NeedsRefresh call (0 if none) and joins their
// log lines.
func (m *MultiTask) Refresh(trunk *core.Trunk, photos []*image.NRGBA, rng *rand.Rand) (string, error) {
	var msgs []string
	for _, t := range m.Tasks {
		r, ok := t.(Refresher)
		if !ok || !r.NeedsRefresh(m.step) {
			continue
		}
		msg, err := r.Refresh(trunk, photos, rng)
		if err != nil {
			return "", fmt.Errorf("tasks: multi-task %s: %w", t.Name(), err)
		}
		if msg != "" {
			msgs = append(msgs, t.Name()+": "+msg)
		}
	}
	return strings.Join(msgs, "; "), nil
}

// Assign implements Assigner: the Refresher sub-tasks label the
// held-out photos; one that cannot (is no Assigner) is an error, as
// tasks.HeldOutScore reports for such a task on its own.
func (m *MultiTask) Assign(trunk *core.Trunk, photos []*image.NRGBA) error {
	for _, t := range m.Tasks {
		if _, ok := t.(Refresher); !ok {
			continue
		}
		a, ok := t.(Assigner)
		if !ok {
			return fmt.Errorf("tasks: multi-task %s cannot label held-out photos", t.Name())
		}
		if err := a.Assign(trunk, photos); err != nil {
			return fmt.Errorf("tasks: multi-task %s: %w", t.Name(), err)
		}
	}
	return nil
}

// Predict implements Task: the first sub-task's prediction (its
// images and probabilities), with a summary joining every sub-task's,
// "rotation: upright (p=0.93); jigsaw: ...".
func (m *MultiTask) Predict(trunk *core.Trunk, img *image.NRGBA, rng *rand.Rand) (Prediction, error) {
	var out Prediction
	summaries := make([]string, len(m.Tasks))
	for k, t := range m.Tasks {
		p, err := t.Predict(trunk, img, rng)
		if err != nil {
			return Prediction{}, fmt.Errorf("tasks: multi-task %s: %w", t.Name(), err)
		}
		if k == 0 {
			out = p
		}
		summaries[k] = t.Name() + ": " + p.Summary
	}
	out.Summary = strings.Join(summaries, "; ")
	return out, nil
}
