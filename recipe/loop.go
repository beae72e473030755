package recipe

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"sync"
	"time"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/tasks"
)

// Hooks are how a shell follows and steers a run. Every field is optional.
type Hooks struct {
	// Progress is called after every step, and after a diverged step
	// (st.Diverged: undone, and retried at the lowered rate st.LR).
	Progress func(st core.StepStats)
	// Refresh is called when a clustering task relabelled the photos
	// before the 0-based step, with its log line.
	Refresh func(step int, msg string)
	// Warning is called before the first step with what the photos cannot
	// teach the task (grey photos for colorization; photos too small).
	Warning func(msg string)
	// Preview is called every Preview.N steps before the last, between
	// steps: the model is the step's (previews of the held-back photos).
	Preview Every
	// Autosave is called every Autosave.N steps and when the run ends
	// (done or stopped), between steps (a session for a page reload, a
	// checkpoint file).
	Autosave Every
	// Eval is called every Eval.N steps and after the run's last step,
	// between steps: the model is the step's, to be measured (the
	// command's k-NN accuracy on labelled photos, explore.KNNPhotos). It
	// must leave the model as it found it. It is not called once a stop
	// is asked for.
	Eval Every
	// Yield is called between steps: in a browser it lets the event loop
	// run, so that a stop arrives while the run trains.
	Yield func()
	// Lock, if set, is held while the loop uses the model (a refresh, a
	// step), so that another goroutine may read it between steps. Hooks
	// are called without it held.
	Lock sync.Locker
	// Replica, if set, makes the run one replica of a data-parallel group:
	// every replica holds the same photos and model and trains with the
	// same settings. They share each step's trunk work and take identical
	// steps; a stop asked of any replica stops all of them after the same
	// step; only rank 0 previews, autosaves and warns.
	Replica core.Collective
}

// Every calls Fn with the step number every N steps (N < 1: never).
type Every struct {
	N  int
	Fn func(step int)
}

func (e Every) due(step int) bool { return e.N > 0 && e.Fn != nil && step%e.N == 0 }

// Outcome is how a call of Train ended.
type Outcome struct {
	// Step is the number of steps the run has taken.
	Step int
	// Stopped is set when the context ended the run before its last step.
	Stopped bool
	// Loss and Accuracy are the last step's.
	Loss, Accuracy float64
	// TrainAccuracy is the mean batch accuracy over the last tenth of the
	// run's steps (as many as this call took of them).
	TrainAccuracy float64
	// ImagesPerSec is the examples trained per second in this call, the
	// time of evaluations (Hooks.Eval) left out.
	ImagesPerSec float64
	// Warnings are the messages given to Hooks.Warning.
	Warnings []string
}

// Train trains the run on photos until it has taken Settings.Steps steps or
// ctx is done (then Outcome.Stopped). A step in progress always finishes:
// replicas must never disagree on the steps taken. Photos the task cannot
// use are left out with a warning.
func (r *Run) Train(ctx context.Context, photos []Photo, h Hooks) (Outcome, error) {
	var out Outcome
	lock := h.Lock
	if lock == nil {
		lock = nopLocker{}
	}
	lead := h.Replica == nil || h.Replica.Rank() == 0
	warn := func(msg string) {
		if msg == "" {
			return
		}
		out.Warnings = append(out.Warnings, msg)
		if lead && h.Warning != nil {
			h.Warning(msg)
		}
	}
	photos, msg := usable(r.Task, photos)
	warn(msg)
	if len(photos) == 0 {
		return out, errors.New("recipe: no photos to train on: add some photos first")
	}
	warn(greyWarning(r.Task, photos))
	r.Trainer.Replica = h.Replica
	defer func() { r.Trainer.Replica = nil }()
	stepCtx := ctx
	if h.Replica != nil {
		stepCtx = context.Background()
		if err := core.AgreeOn(h.Replica, "photos, settings or model", r.fingerprint(photos)); err != nil {
			return out, err
		}
	}
	imgs := Images(photos)
	total := r.Settings.Steps
	lastTenth := total - total/10 // steps after it count for TrainAccuracy
	var accSum float64
	var accN, images int
	var evaluating time.Duration // in Hooks.Eval
	start := time.Now()
	for r.Step() < total {
		if stop, err := agreeStop(ctx, h.Replica); err != nil {
			return out, err
		} else if stop {
			out.Stopped = true
			break
		}
		lock.Lock()
		msg, err := tasks.Prepare(r.Task, r.Trainer.Trunk, imgs, r.Step(), r.rng)
		lock.Unlock()
		if err != nil {
			return out, err
		}
		if msg != "" && h.Refresh != nil {
			h.Refresh(r.Step(), msg)
		}
		batch, err := tasks.Batch(r.Task, imgs, r.Settings.Batch, r.rng)
		if err != nil {
			return out, err
		}
		lock.Lock()
		st, err := r.Trainer.Step(stepCtx, batch)
		lock.Unlock()
		if errors.Is(err, context.Canceled) {
			out.Stopped = true
			break
		}
		if err != nil {
			return out, err
		}
		if h.Progress != nil {
			h.Progress(st)
		}
		if st.Diverged {
			continue // undone, and the rate lowered: the next batch retries the step
		}
		images += st.Images
		out.Loss, out.Accuracy = st.Loss, st.Accuracy
		if st.Step > lastTenth {
			accSum += st.Accuracy
			accN++
		}
		if lead && st.Step < total {
			if h.Autosave.due(st.Step) {
				h.Autosave.Fn(st.Step)
			}
			if h.Preview.due(st.Step) {
				h.Preview.Fn(st.Step)
			}
		}
		if lead && ctx.Err() == nil && (h.Eval.due(st.Step) || st.Step == total && h.Eval.N > 0 && h.Eval.Fn != nil) {
			t0 := time.Now()
			h.Eval.Fn(st.Step)
			evaluating += time.Since(t0)
		}
		if h.Yield != nil {
			h.Yield()
		}
	}
	out.Step = r.Step()
	if accN > 0 {
		out.TrainAccuracy = accSum / float64(accN)
	}
	if sec := (time.Since(start) - evaluating).Seconds(); sec > 0 {
		out.ImagesPerSec = float64(images) / sec
	}
	if lead && h.Autosave.N > 0 && h.Autosave.Fn != nil {
		h.Autosave.Fn(out.Step)
	}
	return out, nil
}

// agreeStop reports whether training should stop now: ctx is done or,
// for a replica, any replica's is (every replica gets the same answer).
func agreeStop(ctx context.Context, replica core.Collective) (bool, error) {
	stop := ctx.Err() != nil
	if replica == nil {
		return stop, nil
	}
	vote := []float32{0}
	if stop {
		vote[0] = 1
	}
	if err := replica.AllReduce(vote); err != nil {
		return false, fmt.Errorf("recipe: the replicas could not agree to go on: %w", err)
	}
	return vote[0] > 0, nil
}

// fingerprint hashes what a replica is about to train on: the training
// photos (names, sizes and pixels, in training order), the settings, the
// step and the parameters. Replicas must agree on it.
func (r *Run) fingerprint(photos []Photo) uint64 {
	h := fnv.New64a()
	var b [8]byte
	num := func(v uint64) {
		binary.LittleEndian.PutUint64(b[:], v)
		h.Write(b[:])
	}
	for _, p := range photos {
		h.Write([]byte(p.Name))
		num(uint64(p.Image.Rect.Dx())<<32 | uint64(p.Image.Rect.Dy()))
		h.Write(p.Image.Pix)
	}
	js, _ := json.Marshal(r.Settings)
	h.Write(js)
	num(uint64(r.Step()))
	for _, part := range []nn.Model{r.Trainer.Trunk, r.Trainer.Head} {
		for _, np := range core.NamedParams(part) {
			h.Write([]byte(np.Name))
			for _, v := range mat.Data[float32](np.Param.Value()) {
				num(uint64(math.Float32bits(v)))
			}
		}
	}
	return h.Sum64()
}

type nopLocker struct{}

func (nopLocker) Lock()   {}
func (nopLocker) Unlock() {}
