// Package app is the state behind the browser page: the photos a person
// gave, the model being trained, and every operation of the page's API
// (docs/browser.md). It is plain Go with no syscall/js, so it builds and is
// tested natively and under Node; package main in wasm/ only converts
// values between JavaScript and these types.
package app

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"image"
	"maps"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/disintegration/imaging"
	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/pretextlab/pretext/core"
	workloads "github.com/pretextlab/pretext/internal/workload"
	"github.com/pretextlab/pretext/tasks"
	"github.com/pretextlab/pretext/tasks/samples"
)

// Version names this build for the page.
const Version = "0.4.0"

// Sizes of the images the page is sent.
const (
	thumbSide   = 96  // photo thumbnails
	previewSide = 192 // originals and outputs in previews
	maxPreviews = 6   // held-back photos previewed
	predictSeed = 1   // the seed of Predict's random choices, as in pretext predict
)

// Image is an image for the page: RGBA pixels, row by row (ImageData's
// layout).
type Image struct {
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Pix    []byte `json:"data"`
}

func toImage(img *image.NRGBA, side int) *Image {
	if img == nil {
		return nil
	}
	if b := img.Bounds(); b.Dx() > side || b.Dy() > side {
		img = imaging.Fit(img, side, side, imaging.Linear)
	}
	b := img.Bounds()
	pix := make([]byte, 0, 4*b.Dx()*b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		i := img.PixOffset(b.Min.X, y)
		pix = append(pix, img.Pix[i:i+4*b.Dx()]...)
	}
	// NRGBA and ImageData are both non-premultiplied RGBA.
	return &Image{Width: b.Dx(), Height: b.Dy(), Pix: pix}
}

// Photo describes a photo the app holds.
type Photo struct {
	ID     int    `json:"id"`
	Name   string `json:"name"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Thumb  *Image `json:"thumb"`
}

// Rejected is a file that was not taken, and why.
type Rejected struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// Added is the answer to AddImages and AddSamples.
type Added struct {
	Added    []Photo    `json:"added"`
	Rejected []Rejected `json:"rejected"`
	Count    int        `json:"count"`
	Credits  string     `json:"credits,omitempty"`
}

// File is a named photo file's bytes.
type File struct {
	Name  string
	Bytes []byte
}

// fileKey identifies a file's contents under its name.
type fileKey struct {
	name string
	crc  uint32
	size int
}

type photo struct {
	id   int
	name string
	img  *image.NRGBA
}

// Settings configure a training run; zero fields take the defaults.
type Settings struct {
	Task      string          `json:"task"`
	Steps     int             `json:"steps"`
	Batch     int             `json:"batch"`
	LR        float64         `json:"lr"`
	Optimizer string          `json:"optimizer"`
	Seed      uint64          `json:"seed"`
	Width     string          `json:"width"`
	Holdout   *float64        `json:"holdout,omitempty"`
	Config    json.RawMessage `json:"config,omitempty"`
	Every     int             `json:"previewEvery"`
	// SaveEvery, if positive, makes the run emit a "session" event (see
	// SaveSession) every SaveEvery steps and when it ends, for the page to
	// keep across a reload.
	SaveEvery int  `json:"saveEvery,omitempty"`
	Resume    bool `json:"resume"`
	// Replica, if set, makes this app one replica of a data-parallel run
	// (one per Web Worker): every replica must hold the same photos and
	// model and train with the same settings. They share each step's
	// trunk work and take identical steps; only rank 0 computes previews
	// and the held-out score, and a stop asked of any replica stops all
	// of them after the same step.
	Replica core.Collective `json:"-"`
}

// defaultsFor is what the page pre-fills for task: the task's own
// training defaults (tasks.Defaults) and the run's.
func defaultsFor(task string) Settings {
	var d Settings
	if info, err := tasks.Lookup(task); err == nil {
		td := info.Defaults
		d = Settings{Steps: td.Steps, Batch: td.Batch, LR: td.LR, Optimizer: td.Optimizer}
	}
	d.Task, d.Seed, d.Width, d.Every = task, 1, "rs", 10
	h := 0.1
	d.Holdout = &h
	return d
}

func (s Settings) withDefaults() Settings {
	if s.Task == "" {
		s.Task = "rotation"
	}
	d := defaultsFor(s.Task)
	if s.Steps == 0 {
		s.Steps = d.Steps
	}
	if s.Batch == 0 {
		s.Batch = d.Batch
	}
	if s.Optimizer == "" {
		s.Optimizer = d.Optimizer
	}
	if s.LR == 0 && s.Optimizer == d.Optimizer {
		s.LR = d.LR
	}
	if s.Seed == 0 {
		s.Seed = d.Seed
	}
	if s.Width == "" {
		s.Width = d.Width
	}
	if s.Holdout == nil {
		s.Holdout = d.Holdout
	}
	if s.Every == 0 {
		s.Every = d.Every
	}
	return s
}

func (s Settings) validate() error {
	switch {
	case s.Steps < 1 || s.Steps > 1_000_000:
		return fmt.Errorf("steps %d out of range [1, 1000000]", s.Steps)
	case s.Batch < 1 || s.Batch > 4096:
		return fmt.Errorf("batch %d out of range [1, 4096]", s.Batch)
	case s.LR < 0 || math.IsNaN(s.LR) || math.IsInf(s.LR, 0):
		return fmt.Errorf("learning rate %v is not a finite positive number", s.LR)
	case *s.Holdout < 0 || *s.Holdout >= 1:
		return fmt.Errorf("held-back fraction %v outside [0, 1)", *s.Holdout)
	case s.Every < 1:
		return fmt.Errorf("preview interval %d, want at least 1", s.Every)
	}
	return nil
}

// Event is a training progress report: Type "step" after every step,
// "preview" with Items every Settings.Every steps and at the end,
// "warning" with a Message before the first step when the photos cannot
// teach the task what it learns (greyWarning), and "diverged" when a step
// went non-finite and was undone (LR is then the lowered rate).
type Event struct {
	Type         string    `json:"type"`
	Step         int       `json:"step"`
	Steps        int       `json:"steps"`
	Loss         float64   `json:"loss"`
	Accuracy     float64   `json:"accuracy"`
	LR           float64   `json:"lr"`
	ImagesPerSec float64   `json:"imagesPerSec"`
	Elapsed      float64   `json:"elapsed"`
	ETA          float64   `json:"eta"`
	Items        []Preview `json:"items,omitempty"`
	// Message is a refresh's log line (Type "refresh": a clustering task
	// relabelled the photos), a warning's text, or what diverged and the
	// new rate (Type "diverged").
	Message string `json:"message,omitempty"`
	// Session is a saved session (Type "session", see Settings.SaveEvery).
	Session []byte `json:"session,omitempty"`
}

// Preview is a task's visual output on one photo.
type Preview struct {
	ID       int       `json:"id"`
	Name     string    `json:"name"`
	Summary  string    `json:"summary"`
	Probs    []float64 `json:"probs"`
	Image    *Image    `json:"image"`
	Input    *Image    `json:"input"`
	Original *Image    `json:"original"`
}

// HeldOutScore is the task's score on the held-back photos.
type HeldOutScore struct {
	Loss         float64 `json:"loss"`
	Accuracy     float64 `json:"accuracy"`
	BaselineLoss float64 `json:"baselineLoss"`
	Photos       int     `json:"photos"`
}

// Result is how a training run ended.
type Result struct {
	Task         string       `json:"task"`
	Step         int          `json:"step"`
	Steps        int          `json:"steps"`
	Loss         float64      `json:"loss"`
	Accuracy     float64      `json:"accuracy"`
	Stopped      bool         `json:"stopped"`
	HeldOut      HeldOutScore `json:"heldOut"`
	ImagesPerSec float64      `json:"imagesPerSec"`
	// Warnings are the run's "warning" events' messages (e.g. grey
	// photos for colorization).
	Warnings []string `json:"warnings,omitempty"`
}

// Status is a snapshot of the app.
type Status struct {
	Photos   int    `json:"photos"`
	HeldOut  int    `json:"heldOut"`
	Task     string `json:"task"`
	Step     int    `json:"step"`
	Steps    int    `json:"steps"`
	Training bool   `json:"training"`
}

// ModelInfo describes the model loaded by Import.
type ModelInfo struct {
	Task  string           `json:"task"`
	Step  int              `json:"step"`
	Trunk core.TrunkConfig `json:"trunk"`
	Train core.TrainConfig `json:"train"`
}

// model is the trained (or training) network and how it was made.
type model struct {
	settings Settings
	trainer  *core.Trainer
	task     tasks.Task
	rng      *rand.Rand // draws batches; carried across stop and resume
	src      *rand.PCG  // rng's source, whose state a session saves
}

// App holds the page's photos and model. Its methods are safe for
// concurrent use: a training run holds the model only during each step, so
// previews, status and stop are answered while it trains.
type App struct {
	// Yield, if set, is called between training steps. In the browser it
	// lets the event loop run (Go's wasm has one thread), so messages such
	// as stop arrive while training.
	Yield func()

	mu       sync.Mutex // guards the fields below
	intake   core.IntakeConfig
	photos   []photo
	nextID   int
	seen     map[fileKey]bool // files taken (or refused), so none is added twice
	model    *model
	training bool
	cancel   context.CancelFunc

	modelMu sync.Mutex // held while the model's parameters are in use
}

// New returns an empty app.
func New() *App { return &App{} }

// Tasks describes the registered tasks: summary, training defaults, photo
// needs and preview captions.
func (a *App) Tasks() ([]tasks.Info, error) { return tasks.All() }

// AddImages decodes files (EXIF orientation honoured, downscaled) and keeps
// the usable ones; the others are listed with the reason. Files past the
// limits (SetLimits) are refused from their headers, before decoding, and
// may be added again once the limits allow them.
func (a *App) AddImages(files []File) Added {
	var res Added
	var decoded []photo
	a.mu.Lock()
	seen := maps.Clone(a.seen)
	in := core.Intake{Config: a.intake, Photos: len(a.photos), Bytes: a.heldBytes()}
	a.mu.Unlock()
	if seen == nil {
		seen = map[fileKey]bool{}
	}
	for _, f := range files {
		key := fileKey{f.Name, crc32.ChecksumIEEE(f.Bytes), len(f.Bytes)}
		if seen[key] {
			res.Rejected = append(res.Rejected, Rejected{Name: f.Name, Reason: "already added"})
			continue
		}
		img, err := in.Add(f.Name, f.Bytes)
		if err != nil {
			res.Rejected = append(res.Rejected, Rejected{Name: f.Name, Reason: reason(err)})
			if !errors.Is(err, core.ErrLimit) {
				seen[key] = true
			}
			continue
		}
		seen[key] = true
		decoded = append(decoded, photo{name: f.Name, img: img})
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen = seen
	for _, p := range decoded {
		a.nextID++
		p.id = a.nextID
		a.photos = append(a.photos, p)
		b := p.img.Bounds()
		res.Added = append(res.Added, Photo{ID: p.id, Name: p.name, Width: b.Dx(), Height: b.Dy(), Thumb: toImage(p.img, thumbSide)})
	}
	res.Count = len(a.photos)
	return res
}

// reason is an intake error's message for people, without the file name
// (the page shows it beside the reason) or package prefix.
func reason(err error) string {
	var ie *core.IntakeError
	if errors.As(err, &ie) {
		err = ie.Err
	}
	return strings.TrimPrefix(err.Error(), "core: ")
}

// AddSamples adds the embedded sample photos.
func (a *App) AddSamples() Added {
	var files []File
	for _, p := range samples.Photos() {
		files = append(files, File{Name: p.Name, Bytes: p.Data})
	}
	res := a.AddImages(files)
	res.Credits = samples.Credits()
	return res
}

// ClearImages forgets every photo. A running training goes on with the
// photos it started with.
func (a *App) ClearImages() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.photos, a.seen = nil, nil
	return 0
}

// Status reports the photo count and the model's progress.
func (a *App) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := Status{Photos: len(a.photos), Training: a.training}
	if m := a.model; m != nil {
		s.Task, s.Steps = m.task.Name(), m.settings.Steps
		s.HeldOut = len(a.split(m.settings).held)
		a.modelMu.Lock()
		s.Step = m.trainer.Steps()
		a.modelMu.Unlock()
	}
	return s
}

type split struct{ train, held []photo }

// split divides the photos, sorted by name so that the order they were
// added in does not matter (and the command line, which reads a folder in
// name order, holds back the same ones). Callers hold a.mu.
func (a *App) split(s Settings) split {
	sorted := slices.Clone(a.photos)
	slices.SortStableFunc(sorted, func(x, y photo) int { return strings.Compare(x.name, y.name) })
	ti, hi := tasks.Split(len(sorted), *s.Holdout, s.Seed)
	var out split
	for _, i := range ti {
		out.train = append(out.train, sorted[i])
	}
	for _, i := range hi {
		out.held = append(out.held, sorted[i])
	}
	return out
}

// ErrBusy is returned by operations that need the model while it trains.
var ErrBusy = errors.New("training is running: stop it first")

// Train trains the task of s on the photos, reporting to progress, until
// s.Steps steps are done or Stop is called. With s.Resume it continues the
// current model (the one trained, stopped or imported last) up to s.Steps;
// otherwise it starts a new one, seeded by s.Seed, the same way as
// pretext train.
func (a *App) Train(ctx context.Context, s Settings, progress func(Event)) (Result, error) {
	a.mu.Lock()
	if a.training {
		a.mu.Unlock()
		return Result{}, ErrBusy
	}
	m, err := a.prepare(s)
	if err != nil {
		a.mu.Unlock()
		return Result{}, err
	}
	sp := a.split(m.settings)
	if len(sp.train) == 0 {
		a.mu.Unlock()
		return Result{}, errors.New("no photos to train on: add some photos first")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a.model, a.training, a.cancel = m, true, cancel
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.training, a.cancel = false, nil
		a.mu.Unlock()
	}()
	return a.run(ctx, m, sp, progress)
}

// prepare builds the model a training run continues or starts. Callers
// hold a.mu.
func (a *App) prepare(s Settings) (*model, error) {
	if s.Resume {
		m := a.model
		if m == nil {
			return nil, errors.New("nothing to resume: train or import a model first")
		}
		if s.Steps <= m.trainer.Steps() {
			return nil, fmt.Errorf("the model has done %d steps already; ask for more to resume", m.trainer.Steps())
		}
		ns := m.settings
		ns.Steps, ns.Resume = s.Steps, true
		ns.Replica = s.Replica // this run's group, if any: never the last run's
		if s.Batch > 0 {
			ns.Batch = s.Batch
		}
		if s.Every > 0 {
			ns.Every = s.Every
		}
		ns.SaveEvery = s.SaveEvery
		m.settings = ns
		m.trainer.Config.Steps = s.Steps // the schedule stretches to the new end
		return m, nil
	}
	s = s.withDefaults()
	if err := s.validate(); err != nil {
		return nil, err
	}
	tcfg, err := core.NamedTrunk(s.Width)
	if err != nil {
		return nil, err
	}
	src := rand.NewPCG(s.Seed, 0)
	rng := rand.New(src)
	trunk, err := core.NewTrunk(tcfg, rng)
	if err != nil {
		return nil, err
	}
	task, err := tasks.New(s.Task, s.Config, trunk, rng)
	if err != nil {
		return nil, err
	}
	tr, err := core.NewTrainer(trunk, task, core.TrainConfig{Optimizer: s.Optimizer, LR: s.LR, WarmupSteps: max(1, s.Steps/20), Steps: s.Steps})
	if err != nil {
		return nil, err
	}
	return &model{settings: s, trainer: tr, task: task, rng: rng, src: src}, nil
}

func (a *App) run(ctx context.Context, m *model, sp split, progress func(Event)) (Result, error) {
	s := m.settings
	imgs := make([]*image.NRGBA, len(sp.train))
	for i, p := range sp.train {
		imgs[i] = p.img
	}
	if progress == nil {
		progress = func(Event) {}
	}
	res := Result{Task: m.task.Name(), Steps: s.Steps}
	start := time.Now()
	first := m.trainer.Steps()
	images := 0
	// A replica's trainer must never skip a step the others take: the
	// replicas agree on stopping before each step, and steps themselves
	// are not cancelled.
	m.trainer.Replica = s.Replica
	defer func() { m.trainer.Replica, m.settings.Replica = nil, nil }()
	stepCtx, lead := ctx, true
	if s.Replica != nil {
		stepCtx, lead = context.Background(), s.Replica.Rank() == 0
		if err := core.AgreeOn(s.Replica, "photos, settings or model", fingerprint(m, sp.train)); err != nil {
			return res, err
		}
	}
	if msg := greyWarning(m.task, imgs); msg != "" && lead {
		res.Warnings = append(res.Warnings, msg)
		progress(Event{Type: "warning", Step: m.trainer.Steps(), Steps: s.Steps, Message: msg})
	}
	for m.trainer.Steps() < s.Steps {
		if stop, err := agreeStop(ctx, s.Replica); err != nil {
			return res, err
		} else if stop {
			res.Stopped = true
			break
		}
		a.modelMu.Lock()
		msg, err := tasks.Prepare(m.task, m.trainer.Trunk, imgs, m.trainer.Steps(), m.rng)
		a.modelMu.Unlock()
		if err != nil {
			return res, err
		}
		if msg != "" {
			progress(Event{Type: "refresh", Step: m.trainer.Steps(), Steps: s.Steps, Message: msg})
		}
		batch, err := tasks.Batch(m.task, imgs, s.Batch, m.rng)
		if err != nil {
			return res, err
		}
		a.modelMu.Lock()
		st, err := m.trainer.Step(stepCtx, batch)
		a.modelMu.Unlock()
		if errors.Is(err, context.Canceled) {
			res.Stopped = true
			break
		}
		if err != nil {
			return res, err
		}
		if st.Diverged {
			// Undone and the rate lowered: the next batch retries the step.
			progress(Event{Type: "diverged", Step: st.Step, Steps: s.Steps, LR: st.LR, Message: st.DivergenceNote()})
			continue
		}
		images += st.Images
		elapsed := time.Since(start).Seconds()
		done := st.Step - first
		res.Step, res.Loss, res.Accuracy = st.Step, st.Loss, st.Accuracy
		progress(Event{Type: "step", Step: st.Step, Steps: s.Steps, Loss: st.Loss, Accuracy: st.Accuracy, LR: st.LR,
			ImagesPerSec: st.ImagesSec, Elapsed: elapsed, ETA: elapsed / float64(done) * float64(s.Steps-st.Step)})
		if lead && s.SaveEvery > 0 && st.Step%s.SaveEvery == 0 && st.Step < s.Steps {
			a.emitSession(m, progress)
		}
		if lead && st.Step%s.Every == 0 && st.Step < s.Steps {
			if items, err := a.previews(m, sp.held, sp.train); err == nil {
				progress(Event{Type: "preview", Step: st.Step, Steps: s.Steps, Items: items})
			}
		}
		if a.Yield != nil {
			a.Yield()
		}
	}
	res.Step = m.trainer.Steps()
	if sec := time.Since(start).Seconds(); sec > 0 {
		res.ImagesPerSec = float64(images) / sec
	}
	if !lead {
		return res, nil
	}
	if s.SaveEvery > 0 {
		a.emitSession(m, progress)
	}
	if len(sp.held) > 0 {
		held := make([]*image.NRGBA, len(sp.held))
		for i, p := range sp.held {
			held[i] = p.img
		}
		a.modelMu.Lock()
		h, err := tasks.HeldOutScore(m.trainer, m.task, held, 4, s.Batch, s.Seed)
		a.modelMu.Unlock()
		if err != nil {
			return res, err
		}
		res.HeldOut = HeldOutScore{Loss: h.Loss, Accuracy: h.Accuracy, BaselineLoss: h.BaselineLoss, Photos: len(held)}
	}
	if items, err := a.previews(m, sp.held, sp.train); err == nil {
		progress(Event{Type: "preview", Step: res.Step, Steps: s.Steps, Items: items})
	}
	return res, nil
}

// emitSession reports the model as a saved session, between steps.
func (a *App) emitSession(m *model, progress func(Event)) {
	a.modelMu.Lock()
	b, err := session(m)
	a.modelMu.Unlock()
	if err != nil {
		progress(Event{Type: "session", Step: m.trainer.Steps(), Steps: m.settings.Steps, Message: "could not save the session: " + err.Error()})
		return
	}
	progress(Event{Type: "session", Step: m.trainer.Steps(), Steps: m.settings.Steps, Session: b})
}

// fingerprint hashes what a replica is about to train on: the training
// photos (names, sizes and pixels, in training order), the settings, the
// step and the parameters. Replicas must agree on it.
func fingerprint(m *model, train []photo) uint64 {
	h := fnv.New64a()
	var b [8]byte
	num := func(v uint64) {
		binary.LittleEndian.PutUint64(b[:], v)
		h.Write(b[:])
	}
	for _, p := range train {
		h.Write([]byte(p.name))
		num(uint64(p.img.Rect.Dx())<<32 | uint64(p.img.Rect.Dy()))
		h.Write(p.img.Pix)
	}
	s := m.settings
	s.Replica = nil
	js, _ := json.Marshal(s)
	h.Write(js)
	num(uint64(m.trainer.Steps()))
	for _, part := range []nn.Model{m.trainer.Trunk, m.trainer.Head} {
		for _, np := range core.NamedParams(part) {
			h.Write([]byte(np.Name))
			for _, v := range mat.Data[float32](np.Param.Value()) {
				num(uint64(math.Float32bits(v)))
			}
		}
	}
	return h.Sum64()
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
		return false, fmt.Errorf("the workers could not agree to go on: %w", err)
	}
	return vote[0] > 0, nil
}

// Stop asks a running training to stop after its current step.
func (a *App) Stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cancel != nil {
		a.cancel()
	}
}

// previews runs the task on the held-back photos (up to maxPreviews), or on
// training photos when none are held back.
func (a *App) previews(m *model, held, train []photo) ([]Preview, error) {
	list := held
	if len(list) == 0 {
		list = train
	}
	list = list[:min(len(list), maxPreviews)]
	out := make([]Preview, 0, len(list))
	for _, p := range list {
		pv, err := a.predict(m, p)
		if err != nil {
			return nil, err
		}
		out = append(out, pv)
	}
	return out, nil
}

func (a *App) predict(m *model, p photo) (Preview, error) {
	a.modelMu.Lock()
	pred, err := m.task.Predict(m.trainer.Trunk, p.img, rand.New(rand.NewPCG(predictSeed, 0)))
	a.modelMu.Unlock()
	if err != nil {
		return Preview{}, fmt.Errorf("%s: %w", p.name, err)
	}
	probs := pred.Probs
	if probs == nil {
		probs = []float64{}
	}
	return Preview{ID: p.id, Name: p.name, Summary: pred.Summary, Probs: probs,
		Image: toImage(pred.Image, previewSide), Input: toImage(pred.Input, previewSide), Original: toImage(p.img, previewSide)}, nil
}

// Previews runs the current model on the held-back photos.
func (a *App) Previews() ([]Preview, error) {
	a.mu.Lock()
	m := a.model
	var sp split
	if m != nil {
		sp = a.split(m.settings)
	}
	a.mu.Unlock()
	if m == nil {
		return nil, errors.New("no model yet: train or import one first")
	}
	return a.previews(m, sp.held, sp.train)
}

// PredictID runs the current model on the photo with that id.
func (a *App) PredictID(id int) (Preview, error) {
	a.mu.Lock()
	m := a.model
	i := slices.IndexFunc(a.photos, func(p photo) bool { return p.id == id })
	var p photo
	if i >= 0 {
		p = a.photos[i]
	}
	a.mu.Unlock()
	if m == nil {
		return Preview{}, errors.New("no model yet: train or import one first")
	}
	if i < 0 {
		return Preview{}, fmt.Errorf("no photo with id %d", id)
	}
	return a.predict(m, p)
}

// PredictFile runs the current model on a photo file that is not added.
func (a *App) PredictFile(f File) (Preview, error) {
	a.mu.Lock()
	m := a.model
	a.mu.Unlock()
	if m == nil {
		return Preview{}, errors.New("no model yet: train or import one first")
	}
	img, err := core.Decode(f.Name, f.Bytes, a.intake)
	if err != nil {
		return Preview{}, err
	}
	return a.predict(m, photo{name: f.Name, img: img})
}

// Features returns the frozen trunk's pooled features of a photo file: the
// centre crop at the task's input size, in evaluation mode.
func (a *App) Features(f File) ([]float32, error) {
	a.mu.Lock()
	m := a.model
	a.mu.Unlock()
	if m == nil {
		return nil, errors.New("no model yet: train or import one first")
	}
	img, err := core.Decode(f.Name, f.Bytes, a.intake)
	if err != nil {
		return nil, err
	}
	crop := core.CenterCrop(img, m.task.InputSize())
	a.modelMu.Lock()
	defer a.modelMu.Unlock()
	v, err := m.trainer.Trunk.Embed([]core.Planar{core.PlanarFromImage(crop, core.ImageNetNorm)})
	if err != nil {
		return nil, err
	}
	return v[0], nil
}

// Export writes the model as a checkpoint, the format of pretext train -out.
func (a *App) Export() ([]byte, error) {
	a.mu.Lock()
	m := a.model
	a.mu.Unlock()
	if m == nil {
		return nil, errors.New("no model to export: train or import one first")
	}
	var buf bytes.Buffer
	a.modelMu.Lock()
	defer a.modelMu.Unlock()
	if err := m.trainer.Save(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Import loads a checkpoint (from Export or pretext train -out) as the
// current model, ready for previews or to resume training.
func (a *App) Import(b []byte) (ModelInfo, error) {
	tr, err := core.LoadTrainer(bytes.NewReader(b), tasks.Resolve)
	if err != nil {
		return ModelInfo{}, err
	}
	task, ok := tr.Head.(tasks.Task)
	if !ok {
		return ModelInfo{}, fmt.Errorf("the checkpoint holds a %s head, not a pretext task", tr.Head.Spec().Kind)
	}
	s := defaultsFor(task.Name())
	s.Steps = max(tr.Steps(), tr.Config.Steps)
	s.Optimizer, s.LR = tr.Config.Optimizer, tr.Config.LR
	s.Width = "rs"
	if slices.Equal(tr.Trunk.Config.Widths, core.WideTrunk.Widths) {
		s.Width = "wide"
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.training {
		return ModelInfo{}, ErrBusy
	}
	// Batches after a resume are drawn from the seed and the step reached.
	src := rand.NewPCG(s.Seed, uint64(tr.Steps()))
	a.model = &model{settings: s, trainer: tr, task: task, rng: rand.New(src), src: src}
	return ModelInfo{Task: task.Name(), Step: tr.Steps(), Trunk: tr.Trunk.Config, Train: tr.Config}, nil
}

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

// BenchResult is a Bench measurement.
type BenchResult struct {
	Workload     string  `json:"workload"`
	ImagesPerSec float64 `json:"images_per_sec"`
	Steps        int     `json:"steps"`
	Batch        int     `json:"batch"`
	Runtime      string  `json:"runtime"`
}
