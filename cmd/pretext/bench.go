package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"

	workloads "github.com/pretextlab/pretext/internal/workload"
)

type benchResult struct {
	Workload     string  `json:"workload"`
	Threads      int     `json:"threads"`
	ImagesPerSec float64 `json:"images_per_sec"`
	GFLOPS       float64 `json:"gflops"`
	Runtime      string  `json:"runtime"`
	Steps        int     `json:"steps"`
	Batch        int     `json:"batch"`
	// AllocBytesPerStep is the heap allocated per timed step (Go's
	// runtime.MemStats.TotalAlloc over the timed steps, divided by them).
	AllocBytesPerStep float64 `json:"alloc_bytes_per_step"`
	// PeakRSSBytes is the process's peak resident set size, where the
	// system reports it (0 elsewhere, such as js/wasm).
	PeakRSSBytes int64 `json:"peak_rss_bytes,omitempty"`
}

// bench times training steps natively (or as wasm under GOOS=js): the
// median of -steps individually timed steps after -warmup untimed ones, as
// ../shared/bench/WORKLOAD.md prescribes. cmd/browserbench times the same
// workloads in headless Chromium.
func bench(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: pretext bench [flags]\n\n"+
			"Times a workload's training steps natively. In headless Chromium (Web Workers,\n"+
			"wasm): go run ./cmd/browserbench, from the repository root.\n\n")
		fs.PrintDefaults()
	}
	workload := fs.String("workload", "rs", "reference workload: rs (rotation-small), js (jigsaw-small) or cs (colorization-small)")
	threads := fs.Int("threads", runtime.NumCPU(), "goroutines for the operators (GOMAXPROCS)")
	steps := fs.Int("steps", 20, "timed steps (the figure is their median)")
	warmup := fs.Int("warmup", 5, "untimed warm-up steps")
	batch := fs.Int("batch", 64, "examples per step")
	seed := fs.Uint64("seed", 1, "seed for weights and data")
	asJSON := fs.Bool("json", false, "print one JSON object")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed steps to this file")
	memProfile := fs.String("memprofile", "", "write an allocation profile of the timed steps to this file")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if !slices.Contains(workloads.Names, *workload) {
		return usagef("bench: unknown workload %q (%s)", *workload, strings.Join(workloads.Names, ", "))
	}
	if *threads < 1 || *steps < 1 || *batch < 1 || *warmup < 0 {
		return usagef("bench: -threads, -steps and -batch must be positive, -warmup not negative")
	}
	runtime.GOMAXPROCS(*threads)
	w, err := workloads.New(*workload, *batch, rand.New(rand.NewPCG(*seed, 0)))
	if err != nil {
		return err
	}
	stopProfile := func() {}
	defer func() { stopProfile() }()
	var before runtime.MemStats
	median, err := w.MedianStep(context.Background(), *warmup, *steps, func(i int) error {
		var err error
		if i == *warmup { // profile the timed steps only
			if *memProfile != "" {
				runtime.MemProfileRate = 64 << 10
			}
			stopProfile, err = startProfile(*cpuProfile)
			runtime.ReadMemStats(&before)
		}
		return err
	})
	if err != nil {
		return err
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if *memProfile != "" {
		if err := writeMemProfile(*memProfile); err != nil {
			return err
		}
	}
	ips := float64(*batch) / median
	res := benchResult{
		Workload: *workload, Threads: *threads, ImagesPerSec: ips,
		GFLOPS:  ips * w.FLOPsPerImage / 1e9,
		Runtime: runtime.GOOS + "/" + runtime.GOARCH + " " + runtime.Version(),
		Steps:   *steps, Batch: *batch,
		AllocBytesPerStep: float64(after.TotalAlloc-before.TotalAlloc) / float64(*steps),
		PeakRSSBytes:      peakRSS(),
	}
	if *asJSON {
		return emit(stdout, "bench", res)
	}
	_, err = fmt.Fprintf(stdout, "%s: %.1f images/s, %.2f GFLOP/s, %.1f MB allocated a step (%d threads, %s, median of %d steps of %d)\n",
		res.Workload, res.ImagesPerSec, res.GFLOPS, res.AllocBytesPerStep/1e6, res.Threads, res.Runtime, res.Steps, res.Batch)
	return err
}

// writeMemProfile writes the heap profile's allocations to path.
func writeMemProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// startProfile starts a CPU profile into path (nothing if path is empty)
// and returns the function that stops it.
func startProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
