package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/core/eval"
	"github.com/pretextlab/pretext/tasks"
)

// evalOptions say which frozen features to probe, and how.
type evalOptions struct {
	data       dataSource
	ckpt       string // a pretext checkpoint, or
	random     bool   // a randomly initialised trunk, or
	supervised bool   // a trunk trained end to end with the labels
	seed       uint64
	trunk      string // rs or wide, for -random and -supervised
	probes     []string
	blocks     []int // 1-based; 0: the last
	grids      []int // one per block
	keepBN     bool
	steps      int // -supervised
	batch      int
	side       int // photos are filled to side x side
	folds      int
}

// evalResult is one probe's outcome.
type evalResult struct {
	Data        string    `json:"data"`
	Features    string    `json:"features"`
	Probe       string    `json:"probe"`
	Accuracy    float64   `json:"accuracy"`
	Folds       []float64 `json:"folds,omitempty"`
	FoldSD      float64   `json:"fold_sd,omitempty"`
	Block       int       `json:"block"`
	Grid        int       `json:"grid"`
	Dim         int       `json:"dim"`
	BN          string    `json:"bn"`
	WeightDecay []float64 `json:"weight_decay,omitempty"`     // the decay the probe chose (per fold)
	Iterations  []int     `json:"lbfgs_iterations,omitempty"` // of the final fit (per fold); 300 is the cap
	EndToEnd    float64   `json:"end_to_end_accuracy,omitempty"`
	Seconds     float64   `json:"seconds"`
}

func evalCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	var o evalOptions
	data := fs.String("data", "fashion-mnist", "labelled data: fashion-mnist[:DIR] (default DIR "+FashionDir+") or photos:DIR (with labels.csv)")
	fs.StringVar(&o.ckpt, "ckpt", "", "probe the trunk of this pretext checkpoint")
	fs.BoolVar(&o.random, "random", false, "probe a randomly initialised trunk (the floor)")
	fs.BoolVar(&o.supervised, "supervised", false, "train the trunk end to end with the labels first (the ceiling), then probe it")
	fs.Uint64Var(&o.seed, "seed", 0, "seed of -random's weights and -supervised's training")
	fs.StringVar(&o.trunk, "trunk", "rs", "trunk of -random and -supervised: rs or wide")
	probe := fs.String("probe", "linear,knn", "probes: linear (logistic regression on standardised features), knn (k=20, cosine, T=0.07), or both comma-separated")
	blocks := fs.String("block", "0", "probe the features after this block (1-based; 0: the last), or several, comma-separated, from one pass")
	grids := fs.String("grid", "1", "average-pool each block's maps over a grid x grid partition (1: global); one per -block")
	bn := fs.String("bn", "recompute", "batch-norm statistics for the features: recompute (one pass over the training images) or keep")
	fs.IntVar(&o.steps, "steps", 3000, "-supervised: training steps")
	fs.IntVar(&o.batch, "batch", 256, "-supervised: images per step")
	fs.IntVar(&o.side, "side", 64, "photos: the side of the square input")
	fs.IntVar(&o.folds, "folds", 5, "photos: cross-validation folds")
	threads := fs.Int("threads", runtime.NumCPU(), "goroutines for the operators")
	asJSON := fs.Bool("json", false, "print one JSON object per probe")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	var err error
	if o.data, err = parseData(*data); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	sources := 0
	for _, on := range []bool{o.ckpt != "", o.random, o.supervised} {
		if on {
			sources++
		}
	}
	if sources != 1 {
		return errors.New("eval: give exactly one of -ckpt FILE, -random and -supervised")
	}
	o.probes = strings.Split(*probe, ",")
	for _, p := range o.probes {
		if p != "linear" && p != "knn" {
			return fmt.Errorf("eval: unknown probe %q (linear or knn)", p)
		}
	}
	switch *bn {
	case "recompute", "keep":
		o.keepBN = *bn == "keep"
	default:
		return usagef("eval: -bn %q, want recompute or keep", *bn)
	}
	if o.blocks, err = intList(*blocks); err != nil {
		return fmt.Errorf("eval: -block: %w", err)
	}
	if o.grids, err = intList(*grids); err != nil {
		return fmt.Errorf("eval: -grid: %w", err)
	}
	if len(o.blocks) != len(o.grids) {
		return fmt.Errorf("eval: %d blocks but %d grids", len(o.blocks), len(o.grids))
	}
	if slices.Min(o.grids) < 1 || slices.Min(o.blocks) < 0 || o.steps < 1 || o.batch < 1 || o.side < 8 || o.folds < 2 {
		return errors.New("eval: -grid, -steps, -batch must be positive, -block not negative, -side at least 8, -folds at least 2")
	}
	runtime.GOMAXPROCS(max(1, *threads))
	stopProfile, err := startProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	results, err := evaluate(o, os.Stderr)
	if err != nil {
		return err
	}
	for _, r := range results {
		if *asJSON {
			if err := emit(stdout, "eval", r); err != nil {
				return err
			}
			continue
		}
		spread := ""
		if len(r.Folds) > 0 {
			spread = fmt.Sprintf(" (fold sd %.1f over %d folds)", 100*r.FoldSD, len(r.Folds))
		}
		fmt.Fprintf(stdout, "%s, %s, %s probe: %.2f%%%s\n", r.Data, r.Features, r.Probe, 100*r.Accuracy, spread)
	}
	return nil
}

// evaluate runs the probes of o: on Fashion-MNIST, fit on the 60k training
// images and score on the 10k test images; on a photo folder, k-fold cross
// validation with the folds of loadLabelledPhotos.
func evaluate(o evalOptions, log io.Writer) ([]evalResult, error) {
	start := time.Now()
	type split struct{ train, test labelled }
	var splits []split
	classes := 0
	if o.data.kind == "fashion-mnist" {
		train, test, err := loadFashion(o.data.dir)
		if err != nil {
			return nil, err
		}
		splits = []split{{train, test}}
		classes = 10
	} else {
		set, names, folds, err := loadLabelledPhotos(o.data.dir, o.side, o.folds, log)
		if err != nil {
			return nil, err
		}
		classes = len(names)
		for _, sp := range eval.Splits(folds, o.folds) {
			splits = append(splits, split{set.subset(sp.Train), set.subset(sp.Test)})
		}
	}
	fmt.Fprintf(log, "data loaded in %.1f s\n", time.Since(start).Seconds())
	channels := o.data.channels()
	// One result per (block, grid) and probe, in that order.
	var results []evalResult
	for b := range o.blocks {
		for _, p := range o.probes {
			results = append(results, evalResult{Data: o.data.String(), Probe: p, Grid: o.grids[b], BN: map[bool]string{true: "keep", false: "recompute"}[o.keepBN]})
		}
	}
	var endToEnd []float64
	for _, s := range splits {
		trainIn, testIn := eval.Inputs(s.train.imgs, channels), eval.Inputs(s.test.imgs, channels)
		trunk, desc, e2e, err := probeTrunk(o, channels, classes, trainIn, s.train.labels, testIn, s.test.labels, log)
		if err != nil {
			return nil, err
		}
		if e2e >= 0 {
			endToEnd = append(endToEnd, e2e)
		}
		pools := make([]core.Pooling, len(o.blocks))
		for b, block := range o.blocks {
			if block == 0 {
				block = len(trunk.Config.Widths)
			}
			if block > len(trunk.Config.Widths) {
				return nil, fmt.Errorf("eval: -block %d, the trunk has %d", block, len(trunk.Config.Widths))
			}
			pools[b] = core.Pooling{Layer: block*trunk.Config.Depth - 1, Grid: o.grids[b]}
			for i := range o.probes {
				results[b*len(o.probes)+i].Block = block
			}
		}
		t0 := time.Now()
		trainF, testF, err := eval.Extract(trunk, trainIn, testIn, pools, eval.ExtractConfig{KeepBN: o.keepBN})
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "features: %d+%d images, %d poolings, in %.1f s\n", len(trainIn), len(testIn), len(pools), time.Since(t0).Seconds())
		for b := range pools {
			for i, p := range o.probes {
				r := &results[b*len(o.probes)+i]
				r.Features = desc
				r.Dim = trainF[b].Dim
				t0 := time.Now()
				var acc float64
				var how string
				switch p {
				case "linear":
					pr, err := eval.LinearProbe(trainF[b], s.train.labels, testF[b], s.test.labels, classes, eval.ProbeConfig{})
					if err != nil {
						return nil, err
					}
					acc = pr.Accuracy
					r.WeightDecay = append(r.WeightDecay, pr.WeightDecay)
					r.Iterations = append(r.Iterations, pr.Iterations)
					how = fmt.Sprintf(", decay %g, %d L-BFGS iterations in the final fit, %d evaluations in all", pr.WeightDecay, pr.Iterations, pr.Evaluations)
				case "knn":
					if acc, err = eval.KNN(trainF[b], s.train.labels, testF[b], s.test.labels, classes, min(eval.DefaultK, trainF[b].N), eval.DefaultTemperature); err != nil {
						return nil, err
					}
				}
				fmt.Fprintf(log, "block %d grid %d (%d-d), %s probe: %.2f%% (%.1f s%s)\n", r.Block, r.Grid, r.Dim, p, 100*acc, time.Since(t0).Seconds(), how)
				if len(splits) > 1 {
					r.Folds = append(r.Folds, acc)
				} else {
					r.Accuracy = acc
				}
			}
		}
	}
	for i := range results {
		r := &results[i]
		if len(r.Folds) > 0 {
			r.Accuracy, r.FoldSD = eval.MeanSD(r.Folds)
		}
		if len(endToEnd) > 0 {
			r.EndToEnd, _ = eval.MeanSD(endToEnd)
		}
		r.Seconds = time.Since(start).Seconds()
	}
	return results, nil
}

// probeTrunk returns the trunk o names, a description of it, and for
// -supervised its end-to-end test accuracy (else -1). A checkpoint is read
// afresh for each fold: recomputing batch-norm statistics changes it.
func probeTrunk(o evalOptions, channels, classes int, trainIn []core.Planar, trainY []int, testIn []core.Planar, testY []int, log io.Writer) (*core.Trunk, string, float64, error) {
	if o.ckpt != "" {
		f, err := os.Open(o.ckpt)
		if err != nil {
			return nil, "", 0, err
		}
		defer f.Close()
		tr, err := core.LoadTrainer(f, tasks.Resolve)
		if err != nil {
			return nil, "", 0, fmt.Errorf("%s: %w", o.ckpt, err)
		}
		if tr.Trunk.Config.InChannels != channels {
			return nil, "", 0, fmt.Errorf("%s: its trunk takes %d input channels, %s has %d", o.ckpt, tr.Trunk.Config.InChannels, o.data, channels)
		}
		return tr.Trunk, fmt.Sprintf("%s-pretrained (%s, %d steps)", tr.Head.Spec().Kind, baseName(o.ckpt), tr.Steps()), -1, nil
	}
	cfg, err := core.NamedTrunk(o.trunk)
	if err != nil {
		return nil, "", 0, err
	}
	cfg.InChannels = channels
	rng := rand.New(rand.NewPCG(o.seed, 0))
	if o.random {
		trunk, err := core.NewTrunk(cfg, rng)
		return trunk, fmt.Sprintf("random init (%s, seed %d)", o.trunk, o.seed), -1, err
	}
	start := time.Now()
	trunk, acc, err := eval.Supervise(context.Background(), trainIn, trainY, testIn, testY, eval.SuperviseConfig{
		Trunk: cfg, Classes: classes, Steps: o.steps, Batch: o.batch,
		Progress: func(st core.StepStats) {
			if st.Step%500 == 0 {
				fmt.Fprintf(log, "supervised: step %d/%d, loss %.3f, %.0f images/s\n", st.Step, o.steps, st.Loss, float64(st.Step*o.batch)/time.Since(start).Seconds())
			}
		},
	}, rng)
	return trunk, fmt.Sprintf("supervised (%s, seed %d, %d steps of %d)", o.trunk, o.seed, o.steps, o.batch), acc, err
}

func baseName(path string) string {
	if i := strings.LastIndexAny(path, `/\`); i >= 0 {
		return path[i+1:]
	}
	return path
}

// intList parses "3,2,1".
func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}
