package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pretextlab/pretext/web"
)

// browserResult is pretext bench -browser's answer.
type browserResult struct {
	Workload     string  `json:"workload"`
	Runtime      string  `json:"runtime"`
	Workers      int     `json:"workers"`
	ImagesPerSec float64 `json:"images_per_sec"`
	Steps        int     `json:"steps"`
	Batch        int     `json:"batch"`
	Module       string  `json:"module"`
}

// benchBrowser runs web/bench.html in headless Chromium: the workload's
// training steps in one Web Worker running the wasm module, timed as the
// native bench times them. Run it from the repository root (it serves web/
// and builds the module if it is stale).
func benchBrowser(workload string, steps, warmup int, asJSON bool, stdout io.Writer) error {
	if _, err := os.Stat("web/bench.html"); err != nil {
		return errors.New("bench -browser: run it from the repository root (it serves web/)")
	}
	exe := web.Chromium()
	if exe == "" {
		return errors.New("bench -browser: no chromium on PATH (apt-get install chromium)")
	}
	if _, err := web.EnsureBuilt("."); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: web.Handler("web")}
	go srv.Serve(ln)
	defer srv.Close()

	ctx, cancel := web.NewBrowser(context.Background(), exe)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 30*time.Minute)
	defer cancelTimeout()
	q := url.Values{"workload": {workload}, "steps": {fmt.Sprint(steps)}, "warmup": {fmt.Sprint(warmup)}}
	var state, result, version string
	err = chromedp.Run(ctx,
		chromedp.Navigate("http://"+ln.Addr().String()+"/bench.html?"+q.Encode()),
		chromedp.Poll(`(() => { const s = document.getElementById("bench-status").dataset.state; return s === "done" || s === "error" ? s : null })()`,
			&state, chromedp.WithPollingInterval(250*time.Millisecond), chromedp.WithPollingTimeout(0)),
		chromedp.Text("#bench-result", &result, chromedp.ByQuery),
		chromedp.Text("#bench-status", &version, chromedp.ByQuery),
	)
	if err != nil {
		return fmt.Errorf("bench -browser: %w", err)
	}
	if state != "done" {
		return fmt.Errorf("bench -browser: the page failed: %s", version)
	}
	var r struct {
		ImagesPerSec float64 `json:"images_per_sec"`
		Steps        int     `json:"steps"`
		Batch        int     `json:"batch"`
		Runtime      string  `json:"runtime"`
	}
	if err := json.Unmarshal([]byte(result), &r); err != nil {
		return fmt.Errorf("bench -browser: result %q: %w", result, err)
	}
	var browserVersion string
	chromedp.Run(ctx, chromedp.Evaluate(`navigator.userAgent.match(/Chrom(e|ium)\/[0-9.]+/)?.[0] || navigator.userAgent`, &browserVersion))
	res := browserResult{Workload: workload, Runtime: "chromium", Workers: 1, ImagesPerSec: r.ImagesPerSec,
		Steps: r.Steps, Batch: r.Batch, Module: r.Runtime + " in " + browserVersion}
	if asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	_, err = fmt.Fprintf(stdout, "%s: %.1f images/s in %s (1 worker, median of %d steps of %d)\n",
		res.Workload, res.ImagesPerSec, browserVersion, res.Steps, res.Batch)
	return err
}
