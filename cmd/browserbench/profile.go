package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/profiler"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// workerProfiles runs V8's sampling profiler in every Web Worker the page
// starts, from the worker's first instruction: the page's targets are
// auto-attached paused, and each worker is let go once its profiler runs.
type workerProfiles struct {
	ctx     context.Context
	mu      sync.Mutex
	workers []context.Context // in the order they attached (rank 0 first)
	errs    []error
}

// profileWorkers starts listening; the returned action must run before the
// page is opened.
func profileWorkers(ctx context.Context) (*workerProfiles, chromedp.Action) {
	w := &workerProfiles{ctx: ctx}
	chromedp.ListenTarget(ctx, func(ev any) {
		if e, ok := ev.(*target.EventAttachedToTarget); ok && strings.Contains(e.TargetInfo.Type, "worker") {
			go w.attach(e.TargetInfo.TargetID)
		}
	})
	return w, target.SetAutoAttach(true, true).WithFlatten(true)
}

func (w *workerProfiles) attach(id target.ID) {
	wctx, _ := chromedp.NewContext(w.ctx, chromedp.WithTargetID(id))
	err := chromedp.Run(wctx,
		profiler.Enable(),
		profiler.SetSamplingInterval(250), // µs
		profiler.Start(),
		runtime.RunIfWaitingForDebugger(),
	)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.errs = append(w.errs, fmt.Errorf("profiling worker %s: %w", id, err))
		return
	}
	w.workers = append(w.workers, wctx)
}

// stop ends the first worker's profile (rank 0: the workers start in rank
// order), writes it to path as a .cpuprofile (Chrome DevTools opens it) and
// prints the functions with the most self time.
func (w *workerProfiles) stop(path string, out io.Writer) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.errs) > 0 {
		return w.errs[0]
	}
	if len(w.workers) == 0 {
		return fmt.Errorf("-cpuprofile: no worker was profiled")
	}
	var prof *profiler.Profile
	if err := chromedp.Run(w.workers[0], chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		prof, err = profiler.Stop().Do(ctx)
		return err
	})); err != nil {
		return fmt.Errorf("-cpuprofile: %w", err)
	}
	b, err := json.Marshal(prof)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	top := profileTop(prof)
	fmt.Fprintf(out, "worker 0's profile (%s; open it in Chrome DevTools), self time:\n", path)
	for _, f := range top[:min(len(top), 25)] {
		fmt.Fprintf(out, "%6.1f%%  %s\n", f.share*100, f.name)
	}
	return nil
}

type profileEntry struct {
	name  string
	share float64
}

// profileTop sums the samples of each function (all its nodes) and sorts
// them by share of all samples.
func profileTop(p *profiler.Profile) []profileEntry {
	byID := map[int64]string{}
	for _, n := range p.Nodes {
		name := n.CallFrame.FunctionName
		if name == "" {
			name = "(anonymous " + n.CallFrame.URL + ")"
		}
		byID[n.ID] = name
	}
	counts := map[string]int{}
	for _, id := range p.Samples {
		counts[byID[id]]++
	}
	var out []profileEntry
	for name, c := range counts {
		out = append(out, profileEntry{name, float64(c) / float64(len(p.Samples))})
	}
	slices.SortFunc(out, func(a, b profileEntry) int {
		if a.share != b.share {
			if a.share > b.share {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	return out
}
