package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/recipe"
	"github.com/pretextlab/pretext/tasks"
)

type trainResult struct {
	Task         string   `json:"task"`
	Steps        int      `json:"steps"`
	Loss         float64  `json:"loss"`
	TrainAcc     float64  `json:"train_acc"`
	PretextAcc   float64  `json:"pretext_acc"`
	PretextLoss  float64  `json:"pretext_loss"`
	BaselineLoss float64  `json:"baseline_loss"`
	HeldOut      int      `json:"held_out_photos"`
	HeldOutNames []string `json:"held_out_names"`
	ImagesPerSec float64  `json:"images_per_sec"`
	// Measure is the task's own measure against its baseline
	// (super-resolution: PSNR against bicubic upsampling), on the
	// held-out photos or, with none held out, on the training photos
	// (MeasureOn says which); absent for other tasks.
	Measure   *tasks.Measure `json:"measure,omitempty"`
	MeasureOn string         `json:"measure_on,omitempty"`
	// Settings are the run's, the task's defaults filled in.
	Settings recipe.Settings `json:"settings"`
	// Warnings are what the photos could not teach the task.
	Warnings []string `json:"warnings,omitempty"`
	// KNN is the last k-NN evaluation (-knn-every), if any.
	KNN *knnLine `json:"knn,omitempty"`
}

// trainOptions are train's flags beyond the run's settings.
type trainOptions struct {
	src     dataSource
	intake  core.IntakeConfig
	out     string
	threads int
	asJSON  bool
	// resume is a checkpoint to go on from (-resume).
	resume string
	// knnEvery is how often the k-NN accuracy is measured on held-back
	// labelled images (-knn-every; 0: never); if it was given, a data
	// source without labels is an error.
	knnEvery everyFlag
	// stopAt, if set, stops the run after that step as a signal would
	// (for tests, which cannot send themselves SIGINT safely).
	stopAt int
}

// interruptedError is a run stopped by a signal, its model saved: the
// command exits with status 130, as a shell reports an interrupted job.
type interruptedError struct{ msg string }

func (e *interruptedError) Error() string { return e.msg }

// train trains a pretext task on a folder of photos (or the embedded
// samples) with the recipe the page uses, and reports its score on
// held-back photos.
func train(args []string, stdout io.Writer) error {
	s, o, err := trainFlags(args, stdout)
	if err != nil {
		return err
	}
	return trainRun(s, o, stdout)
}

// trainFlags parses train's flags: the run's settings (zero where the
// task's defaults apply, as the page's form leaves them) and the rest.
func trainFlags(args []string, stdout io.Writer) (recipe.Settings, trainOptions, error) {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	var s recipe.Settings
	var o trainOptions
	fs.StringVar(&s.Task, "task", "rotation", "pretext task: "+strings.Join(tasks.Names(), ", "))
	dir := fs.String("images", "", "folder of photos (default: the embedded sample photos)")
	data := fs.String("data", "", "data source: photos:DIR (the same as -images DIR), or fashion-mnist[:DIR] (its 60k training images, their labels used only to measure with -knn-every; held out: its 10k test images)")
	fs.IntVar(&s.Steps, "steps", 0, "training steps (default: the task's; pretext tasks lists them)")
	fs.IntVar(&s.Batch, "batch", 0, "examples per step (default: the task's)")
	fs.Uint64Var(&s.Seed, "seed", recipe.DefaultSeed, "seed for weights, crops and the held-back split")
	fs.Float64Var(&s.LR, "lr", 0, "peak learning rate (default: the task's with its optimizer, else the optimizer's)")
	fs.StringVar(&s.Optimizer, "opt", "", "optimizer: sgd or adam (default: the task's)")
	fs.StringVar(&s.Trunk, "trunk", "rs", "trunk: rs (small, as in the browser) or wide")
	taskConfig := fs.String("config", "", `the task's settings as JSON, e.g. '{"size":64}' (default: the task's defaults)`)
	holdout := fs.Float64("holdout", recipe.DefaultHoldout, "fraction of photos held back to measure the task on photos it never trained on")
	fs.StringVar(&o.out, "out", "", "write the trained checkpoint to this file")
	fs.IntVar(&o.threads, "threads", runtime.NumCPU(), "goroutines for the operators")
	fs.BoolVar(&o.asJSON, "json", false, "print a JSON line every 10 steps, one per k-NN evaluation (-knn-every), and a final JSON result")
	fs.StringVar(&o.resume, "resume", "", "go on with the run saved in this checkpoint (by -out, or at an interruption), on the same -images; -steps sets a new end")
	fs.Var(&o.knnEvery, "knn-every", fmt.Sprintf("every `N` steps and after the last, the k-NN accuracy (k=20, cosine, T=0.07) of the trunk's features on held-back labelled images: %d of Fashion-MNIST's test images, or the held-back photos (at most %d) that a labels.csv beside them names, each by the others; 0: never (default %d on photos, %d on Fashion-MNIST; without labels, never)", knnFashionQueries, knnMaxPhotos, knnEveryPhotos, knnEveryFashion))
	limits := intakeFlags(fs)
	if err := parseFlags(fs, args, stdout); err != nil {
		return s, o, err
	}
	var err error
	if o.intake, err = limits(); err != nil {
		return s, o, fmt.Errorf("train: %w", err)
	}
	o.src = dataSource{kind: "photos", dir: *dir}
	if *data != "" {
		if o.src, err = parseData(*data); err != nil {
			return s, o, fmt.Errorf("train: %w", err)
		}
	}
	if *taskConfig != "" {
		if !json.Valid([]byte(*taskConfig)) {
			return s, o, usagef("train: -config %q is not JSON", *taskConfig)
		}
		s.Config = json.RawMessage(*taskConfig)
	}
	if _, err := tasks.Lookup(s.Task); err != nil {
		return s, o, usagef("train: -task: %v", err)
	}
	if o.resume != "" {
		// The checkpoint holds the run's settings: only what is not a
		// setting may be given beside it.
		var clash []string
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "resume", "steps", "images", "data", "out", "threads", "json", "knn-every", "max-photos", "max-megapixels", "max-memory":
			default:
				clash = append(clash, "-"+f.Name)
			}
		})
		if len(clash) > 0 {
			return s, o, usagef("train: -resume takes the run's settings from the checkpoint; leave out %s", strings.Join(clash, " "))
		}
	}
	s.Holdout, s.Channels = holdout, o.src.channels()
	return s, o, nil
}

// trainRun trains the run of s as o says.
func trainRun(s recipe.Settings, o trainOptions, stdout io.Writer) error {
	src, out, asJSON := o.src, &o.out, &o.asJSON
	runtime.GOMAXPROCS(max(1, o.threads))
	var run *recipe.Run
	var err error
	if o.resume != "" {
		if run, err = resumeRun(o.resume, s.Steps); err != nil {
			return fmt.Errorf("train: %w", err)
		}
	} else if run, err = recipe.New(s); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	s = run.Settings
	log := os.Stderr
	var trainSet, heldSet []recipe.Photo
	var knn *knnEval
	knnErr := errNoLabels
	knnEvery := o.knnEvery.every(src)
	rounds := recipe.Rounds
	if src.kind == "fashion-mnist" {
		train, test, err := loadFashion(src.dir)
		if err != nil {
			return err
		}
		trainSet, heldSet = unnamed(train.imgs), unnamed(test.imgs)
		rounds = 1 // 10,000 test images: one pass is plenty
		knn, knnErr = fashionKNN(train, test), nil
	} else {
		photos, err := loadPhotos(src.dir, o.intake, log)
		if err != nil {
			return err
		}
		trainSet, heldSet = recipe.Split(photos, *s.Holdout, s.Seed)
		if knnEvery > 0 {
			knn, knnErr = photosKNN(src.dir, photos, heldSet)
		}
	}
	switch {
	case knnEvery == 0:
		knn = nil
	case knnErr != nil && o.knnEvery.set:
		return fmt.Errorf("train: -knn-every: %w", knnErr)
	case knnErr != nil && !errors.Is(knnErr, errNoLabels):
		// labels.csv is there but cannot serve: say so, and train.
		fmt.Fprintf(log, "no k-NN evaluation: %v\n", knnErr)
	}
	if !*asJSON {
		fmt.Fprintf(log, "training %s on %d photos (%d held back) for %d steps of %d (%s, learning rate %g)\n",
			s.Task, len(trainSet), len(heldSet), s.Steps, s.Batch, s.Optimizer, run.Trainer.Config.LR)
		if knn != nil {
			fmt.Fprintf(log, "k-NN accuracy every %d steps on %s\n", knnEvery, knn.what)
		}
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	if o.stopAt == 0 {
		// The first Ctrl-C (or SIGTERM) ends the run after its step; then
		// the signals are the system's again, so a second one quits at once.
		sig, stopSignals := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stopSignals()
		go func() {
			<-sig.Done()
			stopSignals()
			stop()
		}()
	}
	start := time.Now()
	bar := newProgress(log, s.Steps, !*asJSON)
	note := func(msg string) {
		bar.clear()
		fmt.Fprintln(log, msg)
	}
	var evalHook recipe.Every
	if knn != nil {
		evalHook = knn.hook(knnEvery, run.Trainer, *asJSON, stdout, note)
	}
	outcome, err := run.Train(ctx, trainSet, recipe.Hooks{
		Eval: evalHook,
		Progress: func(st core.StepStats) {
			if st.Step == o.stopAt {
				stop()
			}
			switch {
			case st.Diverged && *asJSON:
				emit(stdout, "divergence", st)
			case st.Diverged:
				note(st.DivergenceNote())
			default:
				bar.update(st, time.Since(start))
				if *asJSON && st.Step%10 == 0 {
					emit(stdout, "step", st)
				}
			}
		},
		Refresh: func(step int, msg string) {
			if !*asJSON {
				note(fmt.Sprintf("step %d: %s", step, msg))
			}
		},
		Warning: func(msg string) {
			if !*asJSON {
				note("warning: " + msg)
			}
		},
	})
	bar.done()
	if err != nil {
		return err
	}
	res := trainResult{Task: s.Task, Steps: outcome.Step, Loss: outcome.Loss, TrainAcc: outcome.TrainAccuracy,
		HeldOut: len(heldSet), HeldOutNames: names(heldSet), ImagesPerSec: outcome.ImagesPerSec, Settings: s, Warnings: outcome.Warnings}
	if knn != nil {
		res.KNN = knn.last
	}
	if outcome.Stopped {
		// An interrupted run keeps what it learned, with what it needs to
		// go on: the optimizer's state, the step, the batch generator.
		path := *out
		if path == "" {
			path = fmt.Sprintf("pretext-%s-step%d.ckpt", s.Task, outcome.Step)
		}
		if err := saveRun(run, path); err != nil {
			return fmt.Errorf("train: interrupted at step %d of %d, and saving the model failed: %w", outcome.Step, s.Steps, err)
		}
		return &interruptedError{fmt.Sprintf("train: interrupted at step %d of %d; the model so far is in %s (go on with: pretext train -resume %s%s)",
			outcome.Step, s.Steps, path, path, src.flag())}
	}
	if len(heldSet) > 0 {
		h, err := run.HeldOut(heldSet, rounds)
		if err != nil {
			return err
		}
		res.PretextLoss, res.PretextAcc, res.BaselineLoss = h.Loss, h.Accuracy, h.BaselineLoss
		if h.Measure != nil {
			res.Measure, res.MeasureOn = h.Measure, "held-out"
		}
	} else if _, ok := run.Task.(tasks.Measurer); ok {
		h, err := run.HeldOut(trainSet, rounds)
		if err != nil {
			return err
		}
		res.Measure, res.MeasureOn = h.Measure, "training"
	}
	if *out != "" {
		if err := saveRun(run, *out); err != nil {
			return err
		}
	}
	if *asJSON {
		return emit(stdout, "result", res)
	}
	fmt.Fprintf(stdout, "%s: %d steps, loss %.3f, train accuracy %.1f%%, held-out pretext accuracy %.1f%% (loss %.3f vs %.3f for a trivial guess, %d photos), %.0f images/s\n",
		res.Task, res.Steps, res.Loss, 100*res.TrainAcc, 100*res.PretextAcc, res.PretextLoss, res.BaselineLoss, res.HeldOut, res.ImagesPerSec)
	if m := res.Measure; m != nil {
		fmt.Fprintf(stdout, "%s on the %s photos: %.2f %s, %s %.2f %s\n", m.Name, res.MeasureOn, m.Value, m.Unit, m.BaselineName, m.Baseline, m.Unit)
	}
	if k := res.KNN; k != nil {
		fmt.Fprintf(stdout, "k-NN accuracy after step %d: %.1f%% on %s, k=%d\n", k.Step, 100*k.Accuracy, knn.what, k.K)
	}
	if *out != "" {
		fmt.Fprintf(stdout, "checkpoint: %s\n", *out)
	}
	return nil
}

// resumeRun loads the run a checkpoint holds and, if steps is set, makes
// it train up to steps.
func resumeRun(path string, steps int) (*recipe.Run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr, err := core.LoadTrainer(bufio.NewReader(f), tasks.Resolve)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	run, err := recipe.FromTrainer(tr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if steps > 0 {
		if err := run.Extend(steps); err != nil {
			return nil, err
		}
	} else if run.Step() >= run.Settings.Steps {
		return nil, fmt.Errorf("%s has done all its %d steps; give -steps to train further", path, run.Step())
	}
	return run, nil
}

// saveRun writes run as a checkpoint that -resume can go on from.
func saveRun(run *recipe.Run, path string) error {
	return writeAtomic(path, run.Save)
}

// writeAtomic writes path through save: whole, then renamed into place.
func writeAtomic(path string, save func(io.Writer) error) error {
	f, err := os.CreateTemp(dirOf(path), ".pretext-*.ckpt")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := save(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil { // CreateTemp makes it private
		return err
	}
	// Written whole, then renamed: an interrupted save never leaves a
	// half-written checkpoint under the requested name.
	return os.Rename(f.Name(), path)
}

func dirOf(path string) string {
	if i := strings.LastIndexAny(path, `/\`); i >= 0 {
		return path[:i+1]
	}
	return "."
}

// progress draws a one-line progress bar on a terminal.
type progress struct {
	w     io.Writer
	total int
	on    bool
}

func newProgress(w *os.File, total int, want bool) *progress {
	fi, err := w.Stat()
	return &progress{w: w, total: total, on: want && err == nil && fi.Mode()&os.ModeCharDevice != 0}
}

func (p *progress) update(st core.StepStats, elapsed time.Duration) {
	if !p.on {
		return
	}
	const width = 24
	filled := width * st.Step / p.total
	eta := time.Duration(float64(elapsed) / float64(st.Step) * float64(p.total-st.Step)).Round(time.Second)
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d loss %.3f acc %.2f %.0f img/s ETA %v  ",
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled), st.Step, p.total, st.Loss, st.Accuracy, st.ImagesSec, eta)
}

// clear blanks the bar's line so that a log line can be printed.
func (p *progress) clear() {
	if p.on {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func (p *progress) done() {
	if p.on {
		fmt.Fprintln(p.w)
	}
}

// unnamed wraps images that came without file names.
func unnamed(imgs []*image.NRGBA) []recipe.Photo {
	out := make([]recipe.Photo, len(imgs))
	for i, img := range imgs {
		out[i] = recipe.Photo{Image: img}
	}
	return out
}

func names(ps []recipe.Photo) []string {
	var out []string
	for _, p := range ps {
		if p.Name != "" {
			out = append(out, p.Name)
		}
	}
	return out
}
