package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pretextlab/pretext/internal/chromium"
	"github.com/pretextlab/pretext/web"
)

// result is browserbench's answer, its -json output.
type result struct {
	Workload     string  `json:"workload"`
	Runtime      string  `json:"runtime"`
	Workers      int     `json:"workers"`
	ImagesPerSec float64 `json:"images_per_sec"`
	Steps        int     `json:"steps"`
	Batch        int     `json:"batch"`
	Module       string  `json:"module"`
	// Exchange is how the workers add up their values: "shared memory"
	// (cross-origin isolated page) or "messages"; "none" for one worker.
	Exchange string `json:"exchange"`
	// ExchangeMS is each worker's time per step (warm-up included) in
	// exchanges, and the part of it spent waiting for the other workers.
	ExchangeMS []exchangeMS `json:"exchange_ms_per_step,omitempty"`
	// Kernel is the GEMM kernel the module ran, if it says.
	Kernel any `json:"kernel,omitempty"`
	// FrameGaps are the page's animation-frame intervals while it trained.
	FrameGaps frameGaps `json:"ui_frame_gaps_ms"`
	// Reference is the TF.js anchor run right after, with -reference.
	Reference *reference `json:"reference,omitempty"`
	// Ratio is ImagesPerSec over the reference's.
	Ratio float64 `json:"ratio,omitempty"`
}

type exchangeMS struct {
	Worker  int     `json:"worker"`
	Total   float64 `json:"total"`
	Waiting float64 `json:"waiting"`
}

type frameGaps struct {
	Frames int     `json:"frames"`
	Max    float64 `json:"max"`
	P99    float64 `json:"p99"`
	Median float64 `json:"median"`
}

type reference struct {
	Runtime      string  `json:"runtime"`
	ImagesPerSec float64 `json:"images_per_sec"`
	Command      string  `json:"command"`
}

type options struct {
	workload      string
	steps, warmup int
	workers       int  // 0: the page's default (one per core, up to 4)
	isolated      bool // serve with COOP/COEP (shared memory between workers)
	noSIMD        bool // the workers leave out the simd128 kernel
	reference     string
	asJSON        bool
	cpuProfile    string // write worker 0's V8 profile here
}

// bench runs web/bench.html in headless Chromium: the workload's
// training steps in Web Workers running the wasm module as one
// data-parallel group, timed as the native bench times them. Run it from
// the repository root (it serves web/ and builds the module if it is
// stale). With o.reference (the folder of ../shared/bench/anchors), the
// TF.js anchor runs right after and the ratio is printed.
func bench(o options, stdout io.Writer) error {
	if _, err := os.Stat("web/bench.html"); err != nil {
		return errors.New("run it from the repository root (it serves web/)")
	}
	exe := chromium.Find()
	if exe == "" {
		return errors.New("no chromium on PATH (apt-get install chromium)")
	}
	if _, err := web.EnsureBuilt("."); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	h := web.Handler("web")
	if !o.isolated {
		h = web.UnisolatedHandler("web")
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	defer srv.Close()

	ctx, cancel := chromium.Start(context.Background(), exe)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 30*time.Minute)
	defer cancelTimeout()
	q := url.Values{"workload": {o.workload}, "steps": {fmt.Sprint(o.steps)}, "warmup": {fmt.Sprint(o.warmup)}}
	if o.workers > 0 {
		q.Set("workers", fmt.Sprint(o.workers))
	}
	if o.noSIMD {
		q.Set("simd", "0")
	}
	var prof *workerProfiles
	var actions []chromedp.Action
	if o.cpuProfile != "" {
		var attach chromedp.Action
		prof, attach = profileWorkers(ctx)
		actions = append(actions, attach)
	}
	var state, answer, status string
	err = chromedp.Run(ctx, append(actions,
		chromedp.Navigate("http://"+ln.Addr().String()+"/bench.html?"+q.Encode()),
		chromedp.Poll(`(() => { const s = document.getElementById("bench-status").dataset.state; return s === "done" || s === "error" ? s : null })()`,
			&state, chromedp.WithPollingInterval(250*time.Millisecond), chromedp.WithPollingTimeout(0)),
		chromedp.Text("#bench-result", &answer, chromedp.ByQuery),
		chromedp.Text("#bench-status", &status, chromedp.ByQuery),
	)...)
	if err != nil {
		return fmt.Errorf("in chromium: %w", err)
	}
	if state != "done" {
		return fmt.Errorf("the page failed: %s", status)
	}
	var r struct {
		ImagesPerSec float64   `json:"images_per_sec"`
		Steps        int       `json:"steps"`
		Batch        int       `json:"batch"`
		Runtime      string    `json:"runtime"`
		Workers      int       `json:"workers"`
		Shared       bool      `json:"shared"`
		Kernel       any       `json:"kernel"`
		FrameGaps    frameGaps `json:"frame_gaps"`
		Exchanges    []*struct {
			Rank    int     `json:"rank"`
			WaitMS  float64 `json:"wait_ms"`
			TotalMS float64 `json:"total_ms"`
		} `json:"exchanges"`
	}
	if err := json.Unmarshal([]byte(answer), &r); err != nil {
		return fmt.Errorf("the page's result %q: %w", answer, err)
	}
	if prof != nil {
		log := stdout
		if o.asJSON {
			log = os.Stderr
		}
		if err := prof.stop(o.cpuProfile, log); err != nil {
			return err
		}
	}
	var browserVersion string
	chromedp.Run(ctx, chromedp.Evaluate(`navigator.userAgent.match(/Chrom(e|ium)\/[0-9.]+/)?.[0] || navigator.userAgent`, &browserVersion))
	cancel() // Chromium goes before the reference starts its own
	res := result{Workload: o.workload, Runtime: "chromium", Workers: r.Workers, ImagesPerSec: r.ImagesPerSec,
		Steps: r.Steps, Batch: r.Batch, Module: r.Runtime + " in " + browserVersion, Kernel: r.Kernel, FrameGaps: r.FrameGaps}
	for _, x := range r.Exchanges {
		if x != nil {
			n := float64(o.steps + o.warmup)
			res.ExchangeMS = append(res.ExchangeMS, exchangeMS{Worker: x.Rank, Total: x.TotalMS / n, Waiting: x.WaitMS / n})
		}
	}
	switch {
	case r.Workers <= 1:
		res.Exchange = "none"
	case r.Shared:
		res.Exchange = "shared memory"
	default:
		res.Exchange = "messages"
	}
	if o.reference != "" {
		ref, err := runReference(o.reference, o.steps, stdout, o.asJSON)
		if err != nil {
			return err
		}
		res.Reference, res.Ratio = ref, res.ImagesPerSec/ref.ImagesPerSec
	}
	if o.asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "%s: %.1f images/s in %s (%d worker(s), exchange: %s; median of %d steps of %d)\n",
		res.Workload, res.ImagesPerSec, browserVersion, res.Workers, res.Exchange, res.Steps, res.Batch)
	for _, x := range res.ExchangeMS {
		fmt.Fprintf(stdout, "worker %d's exchanges: %.1f ms per step, %.1f ms of it waiting for the others\n", x.Worker, x.Total, x.Waiting)
	}
	fmt.Fprintf(stdout, "page frames while training: %d, gap median %.0f ms, p99 %.0f ms, max %.0f ms\n",
		res.FrameGaps.Frames, res.FrameGaps.Median, res.FrameGaps.P99, res.FrameGaps.Max)
	if res.Reference != nil {
		fmt.Fprintf(stdout, "reference: %.1f images/s (%s); ratio %.2fx\n", res.Reference.ImagesPerSec, res.Reference.Runtime, res.Ratio)
	}
	return nil
}

// runReference runs the TF.js anchor of workload RS in headless Chromium
// (dir/rs_tfjs_chromium.mjs, its best setting: SIMD, one thread, the
// hand-written conv gradients) and reads its median images per second. Its
// npm packages come from $TFJS_DIR or dir/node_modules (dir/README.md says
// how to install them).
func runReference(dir string, steps int, log io.Writer, quiet bool) (*reference, error) {
	script := filepath.Join(dir, "rs_tfjs_chromium.mjs")
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("-reference: %w", err)
	}
	modules := os.Getenv("TFJS_DIR")
	if modules == "" {
		modules = dir
	}
	if _, err := os.Stat(filepath.Join(modules, "node_modules", "@tensorflow", "tfjs-backend-wasm")); err != nil {
		return nil, fmt.Errorf("-reference: TF.js is not installed in %s (set TFJS_DIR; see %s)", modules, filepath.Join(dir, "README.md"))
	}
	args := []string{"rs_tfjs_chromium.mjs", "--coi", "0", "--threads", "1", "--grad", "tuned", "--runs", "1", "--steps", fmt.Sprint(steps)}
	cmd := exec.Command("node", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("-reference: node %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "SUMMARY ")
		if !ok {
			continue
		}
		var s struct {
			Runtime string  `json:"runtime"`
			TFJS    string  `json:"tfjs"`
			Median  float64 `json:"img_per_s_median"`
			Threads int     `json:"threadsCount"`
			SIMD    bool    `json:"simd"`
		}
		if err := json.Unmarshal([]byte(line), &s); err != nil || s.Median <= 0 {
			return nil, fmt.Errorf("-reference: summary %q: %v", line, err)
		}
		if !quiet {
			fmt.Fprintf(log, "reference run: %s\n", line)
		}
		return &reference{
			Runtime:      fmt.Sprintf("TF.js %s %s backend in Chromium (SIMD %v, %d thread, hand-written conv gradients)", s.TFJS, strings.TrimPrefix(s.Runtime, "tfjs-browser "), s.SIMD, s.Threads),
			ImagesPerSec: s.Median,
			Command:      "node " + strings.Join(args, " "),
		}, nil
	}
	return nil, fmt.Errorf("-reference: no SUMMARY line from node %s:\n%s", strings.Join(args, " "), out)
}
