package tasks

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"image"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/nlpodyssey/spago/nn"

	"github.com/pretextlab/pretext/core"
)

// smallMultiConfig is a quick multi-task for tests: rotation, a small
// jigsaw and colorization at 32 pixels, weights 2, 1 and 0.5.
const smallMultiConfig = `{"tasks":[
	{"name":"rotation","weight":2},
	{"name":"jigsaw","config":{"cell":16,"tile":14,"perms":10,"hidden":64}},
	{"name":"colorization","weight":0.5,"config":{"size":32}}]}`

func newTestMulti(t *testing.T, trunk *core.Trunk, config string) *MultiTask {
	t.Helper()
	task, err := New("multi-task", json.RawMessage(config), trunk, testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	return task.(*MultiTask)
}

// subTasks builds the sub-tasks of config on their own, as the registry
// does.
func subTasks(t *testing.T, trunk *core.Trunk, config string) []Task {
	t.Helper()
	var cfg MultiTaskConfig
	if err := json.Unmarshal([]byte(config), &cfg); err != nil {
		t.Fatal(err)
	}
	var out []Task
	for _, sc := range cfg.Tasks {
		task, err := New(sc.Name, sc.Config, trunk, testRNG(1))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, task)
	}
	return out
}

// TestMultiTaskDefaults checks the default sub-tasks and input size.
func TestMultiTaskDefaults(t *testing.T) {
	t.Parallel()
	m := newTestMulti(t, smallTrunk(t, 1), "")
	var names []string
	for i, st := range m.Config().Tasks {
		names = append(names, m.Tasks[i].Name())
		if st.Weight != 1 || st.Name != m.Tasks[i].Name() {
			t.Errorf("sub-task %d: %+v", i, st)
		}
	}
	if want := []string{"rotation", "jigsaw", "colorization"}; !slices.Equal(names, want) {
		t.Errorf("default sub-tasks %v, want %v", names, want)
	}
	if m.InputSize() != 64 {
		t.Errorf("input size %d, want colorization's 64", m.InputSize())
	}
}

// TestMultiTaskExamples checks that a photo gives every sub-task's
// examples, in order, tagged with its index: the same examples the
// sub-tasks built on their own make from the same random stream.
func TestMultiTaskExamples(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 2)
	m := newTestMulti(t, trunk, smallMultiConfig)
	subs := subTasks(t, trunk, smallMultiConfig)
	img := testPhotos(t)[3]
	got, err := m.Examples(nil, img, testRNG(3))
	if err != nil {
		t.Fatal(err)
	}
	rng := testRNG(3)
	var want []core.Example
	var heads []int
	for k, st := range subs {
		n := len(want)
		if want, err = st.Examples(want, img, rng); err != nil {
			t.Fatal(err)
		}
		for range len(want) - n {
			heads = append(heads, k)
		}
	}
	if len(got) != 6 || len(got) != len(want) {
		t.Fatalf("%d examples, want 6 (4 rotations, a puzzle, a colour target) and the sub-tasks' %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Head != heads[i] || got[i].Class != want[i].Class || !slices.Equal(got[i].Target, want[i].Target) || len(got[i].Views) != len(want[i].Views) {
			t.Fatalf("example %d: head %d class %d, want head %d class %d", i, got[i].Head, got[i].Class, heads[i], want[i].Class)
		}
		for v := range got[i].Views {
			if !planarEqual(got[i].Views[v], want[i].Views[v]) {
				t.Errorf("example %d view %d differs from its sub-task's", i, v)
			}
		}
	}
}

// TestMultiTaskLossIsWeightedSum checks the loss, score and baseline
// against the sub-tasks' own on their parts of the batch.
func TestMultiTaskLossIsWeightedSum(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 4)
	m := newTestMulti(t, trunk, smallMultiConfig)
	batch, err := Batch(m, testPhotos(t), 16, testRNG(5))
	if err != nil {
		t.Fatal(err)
	}
	loss, score, err := m.Loss(trunk, batch, false)
	if err != nil {
		t.Fatal(err)
	}
	weights := []float64{2, 1, 0.5}
	var want, acc, base float64
	for k, st := range m.Tasks {
		var part []core.Example
		for _, ex := range batch {
			if ex.Head == k {
				part = append(part, ex)
			}
		}
		if len(part) == 0 {
			t.Fatalf("sub-task %d has no examples in a batch of 16", k)
		}
		l, s, err := st.Loss(trunk, part, false)
		if err != nil {
			t.Fatal(err)
		}
		want += weights[k] * float64(l.Value().Item().F32())
		acc += weights[k] * s.Accuracy
		base += weights[k] * st.(Baseliner).BaselineLoss(part)
	}
	if got := float64(loss.Value().Item().F32()); math.Abs(got-want) > 1e-5*want {
		t.Errorf("loss %v, want the weighted sum %v", got, want)
	}
	if math.Abs(score.Accuracy-acc/3.5) > 1e-12 {
		t.Errorf("accuracy %v, want the weighted mean %v", score.Accuracy, acc/3.5)
	}
	if got := m.BaselineLoss(batch); math.Abs(got-base) > 1e-12 {
		t.Errorf("baseline %v, want %v", got, base)
	}
}

// TestMultiTaskParams checks that spago's traversal and core.NamedParams
// find every sub-task's head parameters inside the slice of interfaces,
// and that gob carries them.
func TestMultiTaskParams(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 6)
	m := newTestMulti(t, trunk, smallMultiConfig)
	var want []*nn.Param
	for _, st := range m.Tasks {
		nn.ForEachParam(st, func(p *nn.Param) { want = append(want, p) })
	}
	var got []*nn.Param
	nn.ForEachParam(m, func(p *nn.Param) { got = append(got, p) })
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("spago finds %d parameters, the sub-tasks hold %d", len(got), len(want))
	}
	named := core.NamedParams(m)
	if len(named) != len(want) {
		t.Fatalf("NamedParams finds %d parameters, want %d", len(named), len(want))
	}
	for i, np := range named {
		if np.Param != want[i] || !strings.HasPrefix(np.Name, "Tasks.") {
			t.Errorf("named param %d: %s", i, np.Name)
		}
	}
	if named[0].Name != "Tasks.0.Head.W" {
		t.Errorf("first parameter is %s, want Tasks.0.Head.W", named[0].Name)
	}

	var buf bytes.Buffer
	var obj core.Objective = m
	if err := gob.NewEncoder(&buf).Encode(&obj); err != nil {
		t.Fatal(err)
	}
	var back core.Objective
	if err := gob.NewDecoder(&buf).Decode(&back); err != nil {
		t.Fatal(err)
	}
	bn := core.NamedParams(back)
	if len(bn) != len(named) {
		t.Fatalf("gob: %d parameters back, want %d", len(bn), len(named))
	}
	for i := range bn {
		a, b := named[i].Param.Value().Data().F32(), bn[i].Param.Value().Data().F32()
		if bn[i].Name != named[i].Name || !slices.Equal(a, b) {
			t.Errorf("gob: parameter %s came back as %s or changed", named[i].Name, bn[i].Name)
		}
	}
}

// TestMultiTaskLossFalls trains a small trunk on the sample photos, two
// photos' examples of every sub-task per batch.
func TestMultiTaskLossFalls(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the sample photos; -short skips it")
	}
	t.Parallel()
	trunk := smallTrunk(t, 7)
	m := newTestMulti(t, trunk, smallMultiConfig)
	losses, _ := trainLosses(t, trunk, m, testPhotos(t)[:4], core.TrainConfig{Optimizer: "adam", LR: 3e-3}, 40, 12, 8)
	checkLossFalls(t, losses, 5, 0.8)
}

// TestMultiTaskSpecCheckpoint rebuilds the multi-task from its spec and
// from a checkpoint.
func TestMultiTaskSpecCheckpoint(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 9)
	m := newTestMulti(t, trunk, smallMultiConfig)
	got, err := Resolve(m.Spec(), trunk)
	if err != nil {
		t.Fatal(err)
	}
	m2, ok := got.(*MultiTask)
	if !ok {
		t.Fatalf("Resolve gave %T", got)
	}
	if string(m2.Spec().Config) != string(m.Spec().Config) {
		t.Errorf("resolved spec %s, want %s", m2.Spec().Config, m.Spec().Config)
	}
	if c := m2.Tasks[1].(*Jigsaw).Config(); c.Cell != 16 || c.Perms != 10 || m2.Config().Tasks[2].Weight != 0.5 {
		t.Errorf("resolved sub-task settings lost: jigsaw %+v, weights %+v", c, m2.Config().Tasks)
	}
	photos := testPhotos(t)
	_, tr := trainLosses(t, trunk, m, photos, core.TrainConfig{Optimizer: "adam"}, 2, 12, 10)
	batch, err := Batch(m, photos, 12, testRNG(11))
	if err != nil {
		t.Fatal(err)
	}
	checkpointRoundTrip(t, tr, batch)
}

// TestMultiTaskPredict checks the first sub-task's prediction comes with
// every sub-task's summary.
func TestMultiTaskPredict(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 12)
	m := newTestMulti(t, trunk, smallMultiConfig)
	img := testPhotos(t)[1]
	p, err := m.Predict(trunk, img, testRNG(13))
	if err != nil {
		t.Fatal(err)
	}
	checkPrediction(t, p, 4)
	r, err := m.Tasks[0].Predict(trunk, img, testRNG(13))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Probs, r.Probs) || !imagesEqual(p.Image, r.Image) {
		t.Errorf("prediction is not rotation's")
	}
	parts := strings.Split(p.Summary, "; ")
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "rotation: "+r.Summary) || !strings.HasPrefix(parts[1], "jigsaw: permutation") || !strings.HasPrefix(parts[2], "colorization: ") {
		t.Errorf("summary %q", p.Summary)
	}
}

// refresherOnly is a rotation task that is a Refresher but no Assigner,
// counting its refreshes.
type refresherOnly struct {
	*Rotation
	refreshed int
}

func (r *refresherOnly) NeedsRefresh(step int) bool { return step%2 == 0 }

func (r *refresherOnly) Refresh(*core.Trunk, []*image.NRGBA, *rand.Rand) (string, error) {
	r.refreshed++
	return "refreshed", nil
}

// TestMultiTaskRefresh checks Refresher sub-tasks are refreshed on their
// own schedules and held-out photos are assigned through them.
func TestMultiTaskRefresh(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 14)
	m := newTestMulti(t, trunk, `{"tasks":[{"name":"rotation"},{"name":"simclr","config":{"size":24}}]}`)
	photos := testPhotos(t)[:6]
	msg, err := Prepare(m, trunk, photos, 0, testRNG(15))
	if err != nil || !strings.HasPrefix(msg, "simclr: kept 6 photos") {
		t.Fatalf("Prepare at step 0: %q, %v", msg, err)
	}
	if msg, err := Prepare(m, trunk, photos, 1, testRNG(15)); err != nil || msg != "" {
		t.Errorf("Prepare at step 1: %q, %v; want nothing", msg, err)
	}
	tr, err := core.NewTrainer(trunk, m, core.TrainConfig{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := HeldOutScore(tr, m, testPhotos(t)[6:10], 1, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Per photo: 4 rotations (ln 4 each) and one pair of views; batches of
	// 10 flush after two photos: a part of 8 rotations, one of 2 pairs.
	if want := math.Log(4) + math.Log(3); h.Examples != 20 || math.Abs(h.BaselineLoss-want) > 1e-12 {
		t.Errorf("held-out: %d examples, baseline %v; want 20 and %v", h.Examples, h.BaselineLoss, want)
	}

	ro := &refresherOnly{Rotation: m.Tasks[0].(*Rotation)}
	m.Tasks[0] = ro
	for step := range 4 {
		if _, err := Prepare(m, trunk, photos, step, testRNG(16)); err != nil {
			t.Fatal(err)
		}
	}
	if ro.refreshed != 2 {
		t.Errorf("sub-task refreshed %d times in 4 steps, want 2 (even steps)", ro.refreshed)
	}
	if _, err := HeldOutScore(tr, m, photos, 1, 10, 1); err == nil || !strings.Contains(err.Error(), "cannot label held-out photos") {
		t.Errorf("held-out score with a sub-task that cannot assign: %v", err)
	}
}

func TestMultiTaskErrors(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 17)
	for _, cfg := range []string{
		`{"tasks":[{"name":"multi-task"}]}`,
		`{"tasks":[{"name":"rotation"},{"name":"multi-task","config":{"tasks":[{"name":"rotation"}]}}]}`,
		`{"tasks":[{"name":"nope"}]}`,
		`{"tasks":[{"name":""}]}`,
		`{"tasks":[{"name":"rotation","weight":-1}]}`,
		`{"tasks":[{"name":"rotation","config":{"size":-1}}]}`,
		`{"tasks":[{"name":"rotation","config":{"bogus":1}}]}`,
		`{"tasks":[{"name":"rotation","bogus":1}]}`,
		`{"bogus":1}`,
		`[`,
	} {
		if _, err := New("multi-task", json.RawMessage(cfg), trunk, testRNG(1)); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
			t.Errorf("config %s: error %v", cfg, err)
		}
	}
	m := newTestMulti(t, trunk, smallMultiConfig)
	for _, batch := range [][]core.Example{nil, {{Head: 3}}, {{Head: -1}}, {{Head: 0}}} {
		if _, _, err := m.Loss(trunk, batch, true); err == nil {
			t.Errorf("Loss on %+v: no error", batch)
		}
	}
	if b := m.BaselineLoss([]core.Example{{Head: 7}}); !math.IsNaN(b) {
		t.Errorf("baseline of a bad batch %v, want NaN", b)
	}
	for _, img := range []*image.NRGBA{nil, image.NewNRGBA(image.Rect(0, 0, 8, 8))} {
		if _, err := m.Examples(nil, img, testRNG(1)); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
			t.Errorf("Examples on a bad photo: error %v", err)
		}
		if _, err := m.Predict(trunk, img, testRNG(1)); err == nil {
			t.Errorf("Predict on a bad photo: no error")
		}
	}
}
