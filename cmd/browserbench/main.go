// Command browserbench times Pretext's training steps in headless Chromium,
// as the page runs them: the workload trains as wasm in Web Workers (one
// data-parallel group) on web/bench.html, served with the page's headers,
// and the figure is the median step time, as pretext bench times it
// natively. Run it from the repository root; it builds the wasm module if it
// is stale.
//
//	go run ./cmd/browserbench [-workload rs|js|cs] [-workers N] [-isolated=false] [-simd=false]
//	    [-steps N] [-warmup N] [-reference ../shared/bench/anchors] [-cpuprofile F.cpuprofile] [-json]
//
// It is a command of its own so that chromedp, which drives the browser,
// stays out of the pretext command.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	err := run(os.Args[1:], os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "browserbench:", err)
		os.Exit(1)
	}
}

// run parses the flags and runs the benchmark.
func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("browserbench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: go run ./cmd/browserbench [flags] (from the repository root)\n\n"+
			"Times a workload's training steps as wasm in Web Workers in headless Chromium.\n\n")
		fs.PrintDefaults()
	}
	workload := fs.String("workload", "rs", "reference workload: rs (rotation-small), js (jigsaw-small) or cs (colorization-small)")
	steps := fs.Int("steps", 20, "timed steps (the figure is their median)")
	warmup := fs.Int("warmup", 5, "untimed warm-up steps")
	workers := fs.Int("workers", 0, "Web Workers training as one data-parallel group (0: the page's default, one per core up to 4)")
	isolated := fs.Bool("isolated", true, "serve the page cross-origin isolated, so the workers share memory (false: they exchange messages)")
	simd := fs.Bool("simd", true, "load the wasm simd128 kernels (false: the pure-Go kernels)")
	ref := fs.String("reference", "", "the folder of the TF.js anchor (../shared/bench/anchors), run right after for the ratio (workload rs only)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	cpuProfile := fs.String("cpuprofile", "", "write worker 0's V8 CPU profile of the whole run to this file (a .cpuprofile, for Chrome DevTools)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *steps < 1 || *warmup < 0 {
		return errors.New("-steps must be positive, -warmup not negative")
	}
	if *workers < 0 || *workers > 8 {
		return fmt.Errorf("-workers %d out of range [0, 8]", *workers)
	}
	if *workload != "rs" && *ref != "" {
		return errors.New("the TF.js reference runs workload rs only")
	}
	return bench(options{workload: *workload, steps: *steps, warmup: *warmup, workers: *workers,
		isolated: *isolated, noSIMD: !*simd, reference: *ref, asJSON: *asJSON, cpuProfile: *cpuProfile}, stdout)
}
