package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"time"

	"github.com/pretextlab/pretext/core"
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
	// PSNR of super-resolution (dB, 8-bit scale) against bicubic
	// upsampling, on the held-out photos or, with none held out, on the
	// training photos (PSNROn says which).
	PSNR        float64 `json:"psnr,omitempty"`
	PSNRBicubic float64 `json:"psnr_bicubic,omitempty"`
	PSNROn      string  `json:"psnr_on,omitempty"`
}

// train trains a pretext task on a folder of photos (or the embedded
// samples) and reports its accuracy on held-back photos.
func train(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	task := fs.String("task", "rotation", "pretext task: "+strings.Join(tasks.Names(), ", "))
	dir := fs.String("images", "", "folder of photos (default: the embedded sample photos)")
	data := fs.String("data", "", "data source: photos:DIR (the same as -images DIR), or fashion-mnist[:DIR] (its 60k training images, labels unused; held out: its 10k test images)")
	steps := fs.Int("steps", 300, "training steps")
	batch := fs.Int("batch", 64, "examples per step")
	seed := fs.Uint64("seed", 1, "seed for weights, crops and the held-back split")
	lr := fs.Float64("lr", 0, "peak learning rate (default: the optimiser's)")
	opt := fs.String("opt", "sgd", "optimiser: sgd or adam")
	trunkName := fs.String("trunk", "rs", "trunk: rs (small, as in the browser) or wide")
	taskConfig := fs.String("config", "", `the task's settings as JSON, e.g. '{"size":64}' (default: the task's defaults)`)
	holdout := fs.Float64("holdout", 0.1, "fraction of photos held back to measure pretext accuracy")
	out := fs.String("out", "", "write the trained checkpoint to this file")
	threads := fs.Int("threads", runtime.NumCPU(), "goroutines for the operators")
	asJSON := fs.Bool("json", false, "print a JSON line every 10 steps and a final JSON result")
	limits := intakeFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	intake, err := limits()
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	src := dataSource{kind: "photos", dir: *dir}
	if *data != "" {
		var err error
		if src, err = parseData(*data); err != nil {
			return fmt.Errorf("train: %w", err)
		}
	}
	if *steps < 1 || *batch < 1 || *holdout < 0 || *holdout >= 1 {
		return fmt.Errorf("train: -steps and -batch must be positive and -holdout in [0, 1)")
	}
	runtime.GOMAXPROCS(max(1, *threads))
	log := os.Stderr
	var trainSet, heldSet []photo
	rounds := 4 // passes of random crops over the held-back photos
	if src.kind == "fashion-mnist" {
		train, test, err := loadFashion(src.dir)
		if err != nil {
			return err
		}
		trainSet, heldSet = unnamed(train.imgs), unnamed(test.imgs)
		rounds = 1
	} else {
		photos, err := loadPhotos(src.dir, intake, log)
		if err != nil {
			return err
		}
		trainSet, heldSet = splitPhotos(photos, *holdout, *seed)
	}
	rng := rand.New(rand.NewPCG(*seed, 0))
	tcfg, err := core.NamedTrunk(*trunkName)
	if err != nil {
		return err
	}
	tcfg.InChannels = src.channels()
	trunk, err := core.NewTrunk(tcfg, rng)
	if err != nil {
		return err
	}
	t, err := tasks.New(*task, json.RawMessage(*taskConfig), trunk, rng)
	if err != nil {
		return err
	}
	tr, err := core.NewTrainer(trunk, t, core.TrainConfig{Optimizer: *opt, LR: *lr, WarmupSteps: max(1, *steps/20), Steps: *steps})
	if err != nil {
		return err
	}
	if !*asJSON {
		fmt.Fprintf(log, "training %s on %d photos (%d held back) for %d steps of %d\n", *task, len(trainSet), len(heldSet), *steps, *batch)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	imgs := images(trainSet)
	start := time.Now()
	var last core.StepStats
	var accSum float64
	var accN int
	bar := newProgress(log, *steps, !*asJSON)
	err = tr.Run(ctx, *steps, func(step int) ([]core.Example, error) {
		msg, err := tasks.Prepare(t, trunk, imgs, step, rng)
		if err != nil {
			return nil, err
		}
		if msg != "" && !*asJSON {
			bar.clear()
			fmt.Fprintf(log, "step %d: %s\n", step, msg)
		}
		return tasks.Batch(t, imgs, *batch, rng)
	}, func(st core.StepStats) {
		if st.Diverged {
			if *asJSON {
				json.NewEncoder(stdout).Encode(st)
			} else {
				bar.clear()
				fmt.Fprintln(log, st.DivergenceNote())
			}
			return
		}
		last = st
		if st.Step > *steps*9/10 { // train accuracy: mean over the last tenth
			accSum += st.Accuracy
			accN++
		}
		bar.update(st, time.Since(start))
		if *asJSON && st.Step%10 == 0 {
			json.NewEncoder(stdout).Encode(st)
		}
	})
	bar.done()
	if err != nil {
		return err
	}
	res := trainResult{Task: *task, Steps: tr.Steps(), Loss: last.Loss, HeldOut: len(heldSet), HeldOutNames: names(heldSet),
		ImagesPerSec: float64(*batch**steps) / time.Since(start).Seconds()}
	if accN > 0 {
		res.TrainAcc = accSum / float64(accN)
	}
	if len(heldSet) > 0 {
		h, err := tasks.HeldOutScore(tr, t, images(heldSet), rounds, *batch, *seed)
		if err != nil {
			return err
		}
		res.PretextLoss, res.PretextAcc, res.BaselineLoss = h.Loss, h.Accuracy, h.BaselineLoss
	}
	if sr, ok := t.(*tasks.SuperResolution); ok {
		on, set := "held-out", heldSet
		if len(set) == 0 {
			on, set = "training", trainSet
		}
		// Four random crops of each photo, drawn from their own seed.
		var m, b float64
		for r := range uint64(4) {
			pm, pb, err := sr.PSNR(trunk, images(set), rand.New(rand.NewPCG(*seed, 0x9a5+r)))
			if err != nil {
				return err
			}
			m, b = m+pm/4, b+pb/4
		}
		res.PSNR, res.PSNRBicubic, res.PSNROn = m, b, on
	}
	if *out != "" {
		if err := saveCheckpoint(tr, *out); err != nil {
			return err
		}
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "%s: %d steps, loss %.3f, train accuracy %.1f%%, held-out pretext accuracy %.1f%% (loss %.3f vs %.3f for a trivial guess, %d photos), %.0f images/s\n",
		res.Task, res.Steps, res.Loss, 100*res.TrainAcc, 100*res.PretextAcc, res.PretextLoss, res.BaselineLoss, res.HeldOut, res.ImagesPerSec)
	if res.PSNROn != "" {
		fmt.Fprintf(stdout, "PSNR on the %s photos: %.2f dB, bicubic upsampling %.2f dB\n", res.PSNROn, res.PSNR, res.PSNRBicubic)
	}
	if *out != "" {
		fmt.Fprintf(stdout, "checkpoint: %s\n", *out)
	}
	return nil
}

func saveCheckpoint(tr *core.Trainer, path string) error {
	f, err := os.CreateTemp(dirOf(path), ".pretext-*.ckpt")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := tr.Save(f); err != nil {
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
func unnamed(imgs []*image.NRGBA) []photo {
	out := make([]photo, len(imgs))
	for i, img := range imgs {
		out[i] = photo{img: img}
	}
	return out
}

func names(ps []photo) []string {
	var out []string
	for _, p := range ps {
		if p.name != "" {
			out = append(out, p.name)
		}
	}
	return out
}
