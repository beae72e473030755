package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/disintegration/imaging"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/core/safetensors"
	"github.com/pretextlab/pretext/internal/chromium"
	"github.com/pretextlab/pretext/internal/testphotos"
	"github.com/pretextlab/pretext/recipe"
	"github.com/pretextlab/pretext/tasks"
	"github.com/pretextlab/pretext/tasks/samples"
	"github.com/pretextlab/pretext/wasm/app"
)

// The real-browser test: Debian's chromium, headless, driven by chromedp,
// loads the page from Handler and uses it as a person would. It runs when
// chromium is installed; with PRETEXT_BROWSER=1 (./build.sh test, CI) a
// missing chromium is a failure, not a skip.

func needChromium(t *testing.T) string {
	t.Helper()
	if p := chromium.Find(); p != "" {
		return p
	}
	if os.Getenv("PRETEXT_BROWSER") == "1" {
		t.Fatal("PRETEXT_BROWSER=1 but no chromium on PATH (apt-get install chromium)")
	}
	t.Skip("no chromium on PATH; the browser test needs it (apt-get install chromium)")
	return ""
}

// artifacts is where screenshots go: $PRETEXT_ARTIFACTS, or a temporary
// folder.
func artifacts(t *testing.T) string {
	if d := os.Getenv("PRETEXT_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// page is a browser tab on a test server, recording every request it
// makes and every error it logs.
type page struct {
	t        *testing.T
	ctx      context.Context
	origin   string
	host     string
	mu       sync.Mutex
	requests []string // seen by the page's DevTools session
	served   []string // seen by the server
	workers  int      // workers watched
	problems []string
}

func openPage(t *testing.T, downloads string) *page { return openPageWith(t, downloads, Handler(".")) }

// openPageWith opens the page served by files (Handler or UnisolatedHandler).
func openPageWith(t *testing.T, downloads string, files http.Handler) *page {
	p := openPath(t, downloads, files, "/")
	p.waitState(30*time.Second, "idle")
	return p
}

// openPath opens path (with its query) on a test server of files, without
// waiting for the page to be ready.
func openPath(t *testing.T, downloads string, files http.Handler, path string) *page {
	exe := needChromium(t)
	if built, err := EnsureBuilt(".."); err != nil {
		t.Fatal(err)
	} else if built {
		t.Log("built the wasm module")
	}
	p := &page{t: t}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.served = append(p.served, r.Method+" "+r.URL.Path)
		p.mu.Unlock()
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.origin = srv.URL
	p.host = strings.TrimPrefix(srv.URL, "http://")

	ctx, cancel := chromium.Start(context.Background(), exe)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 8*time.Minute)
	t.Cleanup(cancelTimeout)

	p.ctx = ctx
	chromedp.ListenTarget(ctx, p.record)
	p.run("open the page",
		network.Enable(),
		log.Enable(),
		target.SetAutoAttach(true, true).WithFlatten(true),
		browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllow).WithDownloadPath(downloads),
		chromedp.Navigate(srv.URL+path),
	)
	return p
}

// record notes a DevTools event of the page or its worker: requests,
// exceptions, console errors and log errors (CSP violations among them).
func (p *page) record(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev := ev.(type) {
	case *target.EventAttachedToTarget:
		// A worker starts paused (auto-attach below waits for the
		// debugger): listen to its requests too, then let it run.
		if strings.Contains(ev.TargetInfo.Type, "worker") {
			go p.watchWorker(ev.TargetInfo.TargetID)
		}
	case *network.EventRequestWillBeSent:
		p.requests = append(p.requests, ev.Request.URL)
	case *runtime.EventExceptionThrown:
		p.problems = append(p.problems, "exception: "+ev.ExceptionDetails.Error())
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.APITypeError {
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			p.problems = append(p.problems, "console.error: "+strings.Join(parts, " "))
		}
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.LevelError {
			p.problems = append(p.problems, fmt.Sprintf("%s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	}
}

// watchWorker records a worker's requests and errors as the page's, then
// lets the worker (paused at its start) run.
func (p *page) watchWorker(id target.ID) {
	wctx, _ := chromedp.NewContext(p.ctx, chromedp.WithTargetID(id))
	chromedp.ListenTarget(wctx, p.record)
	// The first Run attaches and enables the network and log domains.
	if err := chromedp.Run(wctx, runtime.RunIfWaitingForDebugger()); err != nil {
		p.mu.Lock()
		p.problems = append(p.problems, fmt.Sprintf("attaching to worker %s: %v", id, err))
		p.mu.Unlock()
		return
	}
	p.mu.Lock()
	p.workers++
	p.mu.Unlock()
}

func (p *page) run(what string, actions ...chromedp.Action) {
	p.t.Helper()
	if err := chromedp.Run(p.ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v\nproblems: %v", what, err, p.problems)
	}
}

// eval evaluates js in the page, waiting for it if it is a Promise.
func (p *page) eval(js string, out any) {
	p.t.Helper()
	p.run("evaluate "+js, chromedp.Evaluate(js, out, func(e *runtime.EvaluateParams) *runtime.EvaluateParams { return e.WithAwaitPromise(true) }))
}

// view is JS for a Promise of expr evaluated with page bound to the page's
// read-only test view: the export page of its module app.js, which the
// page has already loaded (so importing it runs nothing again).
func view(expr string) string {
	return `import("/app.js").then(({page}) => ` + expr + `)`
}

// waitState waits for #status's data-state to be one of want and returns
// it; "error" ends the wait with a failure.
func (p *page) waitState(timeout time.Duration, want ...string) string {
	p.t.Helper()
	wantJS, _ := json.Marshal(append(want, "error"))
	var state string
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	err := chromedp.Run(ctx, chromedp.Poll(fmt.Sprintf(
		`(() => { const s = document.querySelector("#status"); return s && %s.includes(s.dataset.state) ? s.dataset.state : null })()`, wantJS),
		&state, chromedp.WithPollingInterval(200*time.Millisecond)))
	if err != nil {
		var text string
		chromedp.Run(p.ctx, chromedp.Evaluate(`(document.querySelector("#status")||{}).textContent + " | " + (document.querySelector("#messages")||{}).textContent`, &text))
		p.t.Fatalf("waiting for state %v: %v (page says %q)\nproblems: %v", want, err, text, p.problems)
	}
	if state == "error" && !slices.Contains(want, "error") {
		var text string
		p.eval(`document.querySelector("#status").textContent + " | " + document.querySelector("#messages").textContent`, &text)
		p.t.Fatalf("the page reports an error: %s", text)
	}
	return state
}

// set sets form fields by id and fires their input and change events.
func (p *page) set(fields map[string]string) {
	p.t.Helper()
	b, _ := json.Marshal(fields)
	p.eval(fmt.Sprintf(`(() => { for (const [id, v] of Object.entries(%s)) {
		const el = document.getElementById(id);
		if (!el) throw new Error("no #" + id);
		el.value = v;
		el.dispatchEvent(new Event("input", {bubbles: true}));
		el.dispatchEvent(new Event("change", {bubbles: true}));
	} return true })()`, b), nil)
}

type point struct {
	Step     int     `json:"step"`
	Loss     float64 `json:"loss"`
	Accuracy float64 `json:"accuracy"`
	// KNN is the k-NN accuracy on the named photos, at the steps it was
	// measured (web/curve.js), on KNNImages photos with KNNK neighbours.
	KNN        *float64 `json:"knn"`
	KNNImages  int      `json:"knnImages"`
	KNNK       int      `json:"knnK"`
	KNNSeconds float64  `json:"knnSeconds"`
}

type preview struct {
	Name  string    `json:"name"`
	Probs []float64 `json:"probs"`
}

// train sets the task and its settings, clicks Train and waits until done.
func (p *page) train(fields map[string]string) []point {
	p.t.Helper()
	p.set(map[string]string{"task": fields["task"]})
	p.set(fields)
	p.run("click train", chromedp.Click("#train", chromedp.ByQuery))
	p.waitState(10*time.Second, "training", "done")
	p.waitState(5*time.Minute, "done")
	var hist []point
	p.eval(view(`page.history`), &hist)
	return hist
}

func (p *page) previews() []preview {
	p.t.Helper()
	var out []preview
	p.eval(`Array.from(document.querySelectorAll("#predictions .prediction")).map(e => ({name: e.dataset.name, probs: JSON.parse(e.dataset.probs || "[]")}))`, &out)
	return out
}

// waitFile waits for a new file in dir and returns its path.
func waitFile(t *testing.T, dir string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".crdownload") && !strings.HasPrefix(e.Name(), ".") {
				return filepath.Join(dir, e.Name())
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no download in %s after %v", dir, timeout)
	return ""
}

func writeSamples(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for _, ph := range samples.Photos() {
		path := filepath.Join(dir, ph.Name)
		if err := os.WriteFile(path, ph.Data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	// A file that is not a photo: the page must name it and keep the rest.
	bad := filepath.Join(dir, "notes.jpg")
	if err := os.WriteFile(bad, []byte("not a photo"), 0o644); err != nil {
		t.Fatal(err)
	}
	return append(paths, bad)
}

// nativeRun trains rotation with the page's settings in Go, for the page's
// numbers to be compared with.
func nativeRun(t *testing.T, s app.Settings) (losses []float64, ckpt []byte, previews []app.Preview) {
	t.Helper()
	a, losses, _ := nativeTrain(t, s)
	ckpt, err := a.Export()
	if err != nil {
		t.Fatal(err)
	}
	pv, err := a.Previews()
	if err != nil {
		t.Fatal(err)
	}
	return losses, ckpt, pv
}

// nativeTrain trains s natively on the sample photos and returns the app
// with its model, each step's loss and the steps of its previews.
func nativeTrain(t *testing.T, s app.Settings) (a *app.App, losses []float64, previewSteps []int) {
	t.Helper()
	a = app.New()
	a.AddSamples()
	if _, err := a.Train(context.Background(), s, func(e app.Event) {
		switch e.Type {
		case "step":
			losses = append(losses, e.Loss)
		case "preview":
			previewSteps = append(previewSteps, e.Step)
		}
	}); err != nil {
		t.Fatal(err)
	}
	return a, losses, previewSteps
}

func closeTo(a, b, rel float64) bool { return math.Abs(a-b) <= rel*math.Max(1, math.Abs(b)) }

func TestBrowser(t *testing.T) {
	skipShort(t)
	downloads := t.TempDir()
	p := openPage(t, downloads)
	shots := artifacts(t)

	// Photos through the file input, one of them not a photo.
	p.run("choose photos", chromedp.SetUploadFiles("#files", writeSamples(t), chromedp.ByQuery))
	var count string
	p.run("wait for thumbnails", chromedp.Poll(fmt.Sprintf(
		`document.querySelectorAll("#thumbs canvas").length === %d && document.querySelector("#photo-count").textContent`, len(samples.Photos())),
		&count, chromedp.WithPollingTimeout(30*time.Second)))
	if !strings.Contains(count, fmt.Sprint(len(samples.Photos()))) {
		t.Errorf("photo count says %q", count)
	}
	var rejected string
	p.eval(`document.querySelector("#rejected").textContent`, &rejected)
	if !strings.Contains(rejected, "notes.jpg") {
		t.Errorf("the rejected list %q does not name notes.jpg", rejected)
	}

	// Rotation, 30 steps on two workers sharing each batch through shared
	// memory: the chart moves, the loss falls, and the losses are those of
	// the native build's single trainer to float tolerance.
	var isolated bool
	p.eval(`self.crossOriginIsolated`, &isolated)
	if !isolated {
		t.Error("the page is not cross-origin isolated: its workers cannot share memory")
	}
	var before string
	p.eval(`document.querySelector("#chart").toDataURL()`, &before)
	// The gaps between the page's frames while it trains are logged (a
	// speed figure, not a test: cmd/browserbench reports it).
	p.eval(`(() => { const g = window.frameGapsForTest = {max: 0, n: 0, last: 0};
		const tick = (t) => { if (g.last) { g.max = Math.max(g.max, t - g.last); g.n++ } g.last = t; requestAnimationFrame(tick) };
		requestAnimationFrame(tick); return true })()`, nil)
	settings := app.Settings{Settings: recipe.Settings{Task: "rotation", Steps: 30, Batch: 32}}
	hist := p.train(map[string]string{"task": "rotation", "steps": "30", "batch": "32", "workers": "2"})
	var ran struct {
		Workers int  `json:"workers"`
		Shared  bool `json:"shared"`
	}
	p.eval(view(`page.lastResult`), &ran)
	if ran.Workers != 2 || !ran.Shared {
		t.Errorf("the run reports %d workers, shared memory %v; want 2, true", ran.Workers, ran.Shared)
	}
	var gaps struct {
		Max float64 `json:"max"`
		N   int     `json:"n"`
	}
	p.eval(`window.frameGapsForTest`, &gaps)
	t.Logf("page frames while training rotation on 2 workers: %d, longest gap %.0f ms", gaps.N, gaps.Max)
	var after string
	p.eval(`document.querySelector("#chart").toDataURL()`, &after)
	if before == after {
		t.Error("the chart did not change during training")
	}
	if len(hist) != 30 {
		t.Fatalf("chart history has %d points, want 30", len(hist))
	}
	mean := func(ps []point) float64 {
		s := 0.0
		for _, q := range ps {
			s += q.Loss
		}
		return s / float64(len(ps))
	}
	if first, last := mean(hist[:5]), mean(hist[25:]); !(last < first) {
		t.Errorf("loss did not fall: first five steps %.4f, last five %.4f", first, last)
	}
	native, nativeCkpt, nativePreviews := nativeRun(t, settings)
	for i, q := range hist {
		if !closeTo(q.Loss, native[i], 1e-4) {
			t.Errorf("step %d: loss %.6f in Chromium, %.6f native", q.Step, q.Loss, native[i])
		}
	}
	pv := p.previews()
	if len(pv) == 0 || len(pv[0].Probs) != 4 {
		t.Fatalf("predictions panel: %+v", pv)
	}
	var drawn bool
	p.eval(`Array.from(document.querySelectorAll("#predictions .prediction canvas")).some(c => c.width > 0 && c.getContext("2d").getImageData(0, 0, c.width, c.height).data.some(v => v > 0))`, &drawn)
	if !drawn {
		t.Error("the predictions panel drew nothing")
	}
	var shot []byte
	p.run("screenshot", chromedp.FullScreenshot(&shot, 100))
	if err := os.WriteFile(filepath.Join(shots, "browser-rotation.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}

	// Export (a real download), then import it back: same predictions.
	p.run("export", chromedp.Click("#export", chromedp.ByQuery))
	exported := waitFile(t, downloads, 30*time.Second)
	b, err := os.ReadFile(exported)
	if err != nil || !strings.HasPrefix(string(b), "PRETEXT") {
		t.Fatalf("exported %s: %d bytes, %v", exported, len(b), err)
	}
	// The page's checkpoint loads natively and predicts the same there.
	nat := app.New()
	nat.AddSamples()
	if _, err := nat.Import(b); err != nil {
		t.Fatalf("the page's checkpoint does not load natively: %v", err)
	}
	natPv, err := nat.Previews()
	if err != nil {
		t.Fatal(err)
	}
	for i := range natPv {
		for k := range natPv[i].Probs {
			if natPv[i].Name != pv[i].Name || !closeTo(natPv[i].Probs[k], pv[i].Probs[k], 1e-5) {
				t.Errorf("%s class %d: the page's model gives %v natively, %v in the page", natPv[i].Name, k, natPv[i].Probs, pv[i].Probs)
				break
			}
		}
	}
	importAndPreview := func(path string) []preview {
		t.Helper()
		p.eval(`document.querySelector("#predictions").replaceChildren(); true`, nil)
		p.run("import "+path, chromedp.SetUploadFiles("#import", []string{path}, chromedp.ByQuery))
		p.run("wait for previews after import", chromedp.Poll(`document.querySelectorAll("#predictions .prediction").length > 0`, nil, chromedp.WithPollingTimeout(30*time.Second)))
		return p.previews()
	}
	re := importAndPreview(exported)
	if len(re) != len(pv) {
		t.Fatalf("after import %d previews, before %d", len(re), len(pv))
	}
	for i := range re {
		if re[i].Name != pv[i].Name || !slices.Equal(re[i].Probs, pv[i].Probs) {
			t.Errorf("after import %s: %v, before %s: %v", re[i].Name, re[i].Probs, pv[i].Name, pv[i].Probs)
		}
	}

	// A checkpoint trained natively predicts in the page what it predicts
	// natively.
	nativeFile := filepath.Join(t.TempDir(), "native.ckpt")
	if err := os.WriteFile(nativeFile, nativeCkpt, 0o644); err != nil {
		t.Fatal(err)
	}
	got := importAndPreview(nativeFile)
	if len(got) != len(nativePreviews) {
		t.Fatalf("%d previews of the native model in the page, %d natively", len(got), len(nativePreviews))
	}
	for i, n := range nativePreviews {
		if got[i].Name != n.Name {
			t.Errorf("preview %d: %s in the page, %s natively", i, got[i].Name, n.Name)
			continue
		}
		for k := range n.Probs {
			if !closeTo(got[i].Probs[k], n.Probs[k], 1e-5) {
				t.Errorf("%s class %d: p=%.6f in the page, %.6f natively", n.Name, k, got[i].Probs[k], n.Probs[k])
			}
		}
	}
	var info string
	p.eval(`document.querySelector("#model-info").textContent`, &info)
	if !strings.Contains(info, "rotation") {
		t.Errorf("model info after import: %q", info)
	}

	// Task settings that are not a JSON object are refused on the page.
	p.set(map[string]string{"task": "jigsaw", "task-config": "{bad"})
	p.run("click train", chromedp.Click("#train", chromedp.ByQuery))
	var msgs string
	p.eval(`document.querySelector("#messages").textContent`, &msgs)
	if !strings.Contains(msgs, "Task settings") {
		t.Errorf("bad task settings: messages %q", msgs)
	}

	// Smoke runs of every other task in the registry; multi-task with
	// settings typed on the page.
	for _, task := range tasks.Names() {
		if task == "rotation" {
			continue
		}
		fields := map[string]string{"task": task, "steps": "3", "batch": "8", "task-config": "", "workers": "2"}
		if task == "multi-task" {
			fields["task-config"] = `{"tasks":[{"name":"rotation"},{"name":"jigsaw","weight":0.5}]}`
			fields["batch"] = "10"
		}
		hist := p.train(fields)
		// A finite loss; simsiam's and byol's are negative cosines.
		if len(hist) != 3 || hist[2].Loss == 0 || math.IsNaN(hist[2].Loss) || math.IsInf(hist[2].Loss, 0) {
			t.Errorf("%s: history %+v", task, hist)
		}
		if pv := p.previews(); len(pv) == 0 {
			t.Errorf("%s: no predictions rendered", task)
		}
		if r, ok := must(tasks.New(task, nil, must(core.NewTrunk(core.TrunkConfig{}, rand.New(rand.NewPCG(1, 1)))), rand.New(rand.NewPCG(1, 1)))).(tasks.Refresher); ok && r.NeedsRefresh(0) {
			// A clustering task's relabelling is shown on the page.
			var note string
			p.eval(`document.querySelector("#refresh-note").textContent`, &note)
			if !strings.HasPrefix(note, "Step 0: ") {
				t.Errorf("%s: refresh note %q", task, note)
			}
		}
		p.run("screenshot", chromedp.FullScreenshot(&shot, 100))
		if err := os.WriteFile(filepath.Join(shots, "browser-"+task+".png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Stop and Resume: the run stops between steps and resumes where it
	// stopped, one chart point per step.
	p.set(map[string]string{"task": "rotation"})
	p.set(map[string]string{"task": "rotation", "steps": "40", "batch": "8", "workers": "2"})
	p.run("click train", chromedp.Click("#train", chromedp.ByQuery))
	p.run("wait for three steps", chromedp.Poll(view(`page.history.length >= 3`), nil, chromedp.WithPollingTimeout(time.Minute)))
	p.run("click stop", chromedp.Click("#stop", chromedp.ByQuery))
	p.waitState(time.Minute, "stopped")
	var stoppedAt int
	p.eval(view(`page.history.length`), &stoppedAt)
	if stoppedAt >= 40 {
		t.Fatalf("stop came too late: the run finished (%d steps)", stoppedAt)
	}
	p.run("click resume", chromedp.Click("#resume", chromedp.ByQuery))
	p.waitState(10*time.Second, "training", "done")
	p.waitState(5*time.Minute, "done")
	p.eval(view(`page.history`), &hist)
	for i, q := range hist {
		if q.Step != i+1 {
			t.Fatalf("after stopping at %d and resuming, the chart has steps %v", stoppedAt, hist)
		}
	}
	if len(hist) != 40 {
		t.Errorf("resumed run ended with %d points, want 40", len(hist))
	}

	p.checkPrivate()
	t.Logf("%d requests, all to %s (the server served %d); screenshots in %s", len(p.requests), p.origin, len(p.served), shots)
}

// checkPrivate fails the test if the page or a worker requested anything
// outside the page's origin (DevTools saw every request of the page and of
// its workers) or logged an error.
func (p *page) checkPrivate() {
	t := p.t
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.workers == 0 {
		t.Error("no worker was watched: its requests went unseen")
	}
	var wasm bool
	for _, r := range p.requests {
		u, err := url.Parse(r)
		if err != nil || (u.Scheme != "blob" && u.Scheme != "data" && u.Host != p.host) {
			t.Errorf("the page requested %s, outside its origin %s", r, p.origin)
		}
		wasm = wasm || (err == nil && u.Path == "/pretext.wasm")
	}
	if !wasm {
		t.Errorf("DevTools never saw the worker fetch pretext.wasm (saw %v): the request log is incomplete", p.requests)
	}
	if len(p.problems) > 0 {
		t.Errorf("the page logged errors:\n%s", strings.Join(p.problems, "\n"))
	}
}

// TestBrowserSIMD checks that in Chromium the worker loaded the simd128
// GEMM kernel (web/gemm.wasm), that Go uses it, and that it agrees bit for
// bit with the pure-Go kernel and a plain loop (pretext.kernels runs
// kernel.SelfCheck in the worker).
func TestBrowserSIMD(t *testing.T) {
	skipShort(t)
	needChromium(t)
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		if os.Getenv("PRETEXT_BROWSER") == "1" {
			t.Fatal("PRETEXT_BROWSER=1 but no wat2wasm on PATH to build web/gemm.wasm (apt-get install wabt)")
		}
		t.Skip("no wat2wasm on PATH: web/gemm.wasm cannot be built (apt-get install wabt)")
	}
	p := openPage(t, t.TempDir())
	var kernels []string
	p.run("pretext.kernels", chromedp.Evaluate(view(`page.call("kernels")`), &kernels,
		func(e *runtime.EvaluateParams) *runtime.EvaluateParams { return e.WithAwaitPromise(true) }))
	if len(kernels) != 2 || kernels[0] != "simd4x8" {
		t.Errorf("kernels in Chromium: %v, want the simd128 kernel first and the pure-Go one", kernels)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.problems) > 0 {
		t.Errorf("the page logged errors:\n%s", strings.Join(p.problems, "\n"))
	}
	t.Logf("kernels in Chromium: %v", kernels)
}

func TestHandlerHeaders(t *testing.T) {
	srv := httptest.NewServer(Handler("."))
	defer srv.Close()
	for path, want := range map[string]int{"/": 200, "/worker.js": 200, "/serve.go": 404, "/browser_test.go": 404} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
		if want != 200 {
			continue
		}
		h := resp.Header
		if h.Get("Content-Security-Policy") != Policy || h.Get("Cross-Origin-Opener-Policy") != "same-origin" || h.Get("Cross-Origin-Embedder-Policy") != "require-corp" {
			t.Errorf("GET %s: headers %v", path, h)
		}
	}
	resp, err := http.Post(srv.URL+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
}

// must returns v, panicking on err (test set-up that cannot fail).
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestBrowserWorkersWithoutIsolation: served without the cross-origin
// isolation headers (a static host that cannot send them), the page has no
// shared memory, and three workers exchange their sums through the page
// (uneven shares of the batch); the losses are still the native single
// trainer's.
func TestBrowserWorkersWithoutIsolation(t *testing.T) {
	skipShort(t)
	p := openPageWith(t, t.TempDir(), UnisolatedHandler("."))
	var isolated bool
	p.eval(`self.crossOriginIsolated`, &isolated)
	if isolated {
		t.Fatal("the page is cross-origin isolated without the headers")
	}
	p.run("add the samples", chromedp.Click("#samples", chromedp.ByQuery))
	p.run("wait for thumbnails", chromedp.Poll(fmt.Sprintf(`document.querySelectorAll("#thumbs canvas").length === %d`, len(samples.Photos())),
		nil, chromedp.WithPollingTimeout(30*time.Second)))
	hist := p.train(map[string]string{"task": "rotation", "steps": "8", "batch": "24", "workers": "3"})
	var ran struct {
		Workers int  `json:"workers"`
		Shared  bool `json:"shared"`
	}
	p.eval(view(`page.lastResult`), &ran)
	if ran.Workers != 3 || ran.Shared {
		t.Errorf("the run reports %d workers, shared memory %v; want 3, false", ran.Workers, ran.Shared)
	}
	native, _, _ := nativeRun(t, app.Settings{Settings: recipe.Settings{Task: "rotation", Steps: 8, Batch: 24}})
	if len(hist) != len(native) {
		t.Fatalf("%d steps in the page, %d native", len(hist), len(native))
	}
	for i, q := range hist {
		if !closeTo(q.Loss, native[i], 1e-4) {
			t.Errorf("step %d: loss %.6f in three workers, %.6f native", q.Step, q.Loss, native[i])
		}
	}
	p.mu.Lock()
	if p.workers < 3 {
		t.Errorf("%d workers watched, want 3", p.workers)
	}
	p.mu.Unlock()
	p.checkPrivate()
}

// TestBrowserDist: the folder ./build.sh dist writes, served by Go's plain
// http.FileServer (no security or isolation headers, as a static host
// serves it), trains with the simd128 kernel and two workers exchanging by
// messages, with the native run's losses, and loads nothing from elsewhere.
func TestBrowserDist(t *testing.T) {
	skipShort(t)
	needChromium(t)
	dir := t.TempDir()
	if err := Dist("..", dir); err != nil {
		t.Fatal(err)
	}
	p := openPageWith(t, t.TempDir(), http.FileServer(http.Dir(dir)))
	var isolated bool
	p.eval(`self.crossOriginIsolated`, &isolated)
	if isolated {
		t.Fatal("the page is cross-origin isolated without the headers")
	}
	var kernels []string
	p.run("pretext.kernels", chromedp.Evaluate(view(`page.call("kernels")`), &kernels,
		func(e *runtime.EvaluateParams) *runtime.EvaluateParams { return e.WithAwaitPromise(true) }))
	if len(kernels) == 0 || kernels[0] != "simd4x8" {
		t.Errorf("kernels: %v, want the committed simd128 kernel first", kernels)
	}
	p.run("add the samples", chromedp.Click("#samples", chromedp.ByQuery))
	p.run("wait for thumbnails", chromedp.Poll(fmt.Sprintf(`document.querySelectorAll("#thumbs canvas").length === %d`, len(samples.Photos())),
		nil, chromedp.WithPollingTimeout(30*time.Second)))
	hist := p.train(map[string]string{"task": "rotation", "steps": "6", "batch": "24", "workers": "2"})
	native, _, _ := nativeRun(t, app.Settings{Settings: recipe.Settings{Task: "rotation", Steps: 6, Batch: 24}})
	if len(hist) != len(native) {
		t.Fatalf("%d steps in the page, %d native", len(hist), len(native))
	}
	for i, q := range hist {
		if !closeTo(q.Loss, native[i], 1e-4) {
			t.Errorf("step %d: loss %.6f from dist/, %.6f native", q.Step, q.Loss, native[i])
		}
	}
	p.checkPrivate()
}

// TestBrowserReloadResumes: a run stopped part-way is kept in the
// browser's storage (photos, model, optimizer state, chart); after a reload
// the page offers it back, and resuming carries the run on exactly: the
// step counter continues and every loss is the native uninterrupted run's.
func TestBrowserReloadResumes(t *testing.T) {
	skipShort(t)
	p := openPage(t, t.TempDir())
	p.run("choose photos", chromedp.SetUploadFiles("#files", writeSamples(t), chromedp.ByQuery))
	p.run("wait for thumbnails", chromedp.Poll(fmt.Sprintf(`document.querySelectorAll("#thumbs canvas").length === %d`, len(samples.Photos())),
		nil, chromedp.WithPollingTimeout(30*time.Second)))
	const steps = 12
	p.set(map[string]string{"task": "rotation"})
	p.set(map[string]string{"task": "rotation", "steps": fmt.Sprint(steps), "batch": "16", "workers": "2"})
	p.run("click train", chromedp.Click("#train", chromedp.ByQuery))
	p.run("wait for three steps", chromedp.Poll(view(`page.history.length >= 3`), nil, chromedp.WithPollingTimeout(time.Minute)))
	p.run("click stop", chromedp.Click("#stop", chromedp.ByQuery))
	p.waitState(time.Minute, "stopped")
	var stoppedAt int
	p.eval(view(`page.history.length`), &stoppedAt)
	if stoppedAt >= steps {
		t.Fatalf("the run finished before the stop (%d steps)", stoppedAt)
	}
	p.run("wait for the saved session", chromedp.Poll(view(fmt.Sprintf(`page.savedStep === %d`, stoppedAt)), nil, chromedp.WithPollingTimeout(30*time.Second)))

	p.run("reload", chromedp.Reload())
	p.waitState(30*time.Second, "idle")
	var offer string
	p.run("wait for the offer", chromedp.Poll(`!document.querySelector("#saved-box").hidden && document.querySelector("#saved-text").textContent`,
		&offer, chromedp.WithPollingTimeout(30*time.Second)))
	if !strings.Contains(offer, fmt.Sprintf("step %d of %d", stoppedAt, steps)) || !strings.Contains(offer, fmt.Sprintf("%d photos", len(samples.Photos()))) {
		t.Errorf("the offer says %q", offer)
	}
	p.run("restore", chromedp.Click("#saved-restore", chromedp.ByQuery))
	p.waitState(time.Minute, "stopped")
	var restored int
	p.eval(view(`page.history.length`), &restored)
	if restored != stoppedAt {
		t.Errorf("the chart came back with %d steps, want %d", restored, stoppedAt)
	}
	p.run("click resume", chromedp.Click("#resume", chromedp.ByQuery))
	p.waitState(10*time.Second, "training", "done")
	p.waitState(5*time.Minute, "done")
	var hist []point
	p.eval(view(`page.history`), &hist)
	native, _, _ := nativeRun(t, app.Settings{Settings: recipe.Settings{Task: "rotation", Steps: steps, Batch: 16}})
	if len(hist) != steps {
		t.Fatalf("after the reload the chart has %d steps, want %d", len(hist), steps)
	}
	for i, q := range hist {
		if q.Step != i+1 || !closeTo(q.Loss, native[i], 1e-4) {
			t.Errorf("step %d (point %d): loss %.6f, the native uninterrupted run %.6f", q.Step, i+1, q.Loss, native[i])
		}
	}

	// Discard empties the storage: the next reload offers nothing.
	p.run("reload", chromedp.Reload())
	p.waitState(30*time.Second, "idle")
	p.run("wait for the offer", chromedp.Poll(`!document.querySelector("#saved-box").hidden`, nil, chromedp.WithPollingTimeout(30*time.Second)))
	p.run("discard", chromedp.Click("#saved-discard", chromedp.ByQuery))
	p.run("wait for the storage to empty", chromedp.Poll(view(`page.discarded === true`), nil, chromedp.WithPollingTimeout(30*time.Second)))
	p.run("reload", chromedp.Reload())
	p.waitState(30*time.Second, "idle")
	time.Sleep(time.Second) // the offer, if any, follows the workers' start
	var hidden bool
	p.eval(`document.querySelector("#saved-box").hidden`, &hidden)
	if !hidden {
		t.Error("after Discard the page still offers a saved run")
	}
	p.checkPrivate()
}

// badInput is what the page must say of each bad file of
// core/testdata/intake (core's TestIntakeCorpus checks the good ones).
var badInput = map[string]string{
	"truncated.jpg":   "corrupt image",
	"bad-crc.png":     "corrupt image: png: invalid format: invalid checksum",
	"empty.jpg":       "the file is empty",
	"notes.jpg":       "not a JPEG, PNG, GIF or WebP image",
	"huge-header.png": "20000x20000 pixels is more than the limit of 50000000",
	"one-pixel.png":   "1x1 is smaller than 32 pixels on a side",
}

// addFiles puts files in the page's file input and waits until they are
// read; it returns the intake note.
func (p *page) addFiles(paths []string) string {
	p.t.Helper()
	p.eval(`document.querySelector("#intake-note").textContent = ""; true`, nil)
	p.run("choose photos", chromedp.SetUploadFiles("#files", paths, chromedp.ByQuery))
	return p.waitAdded()
}

// rejected is the page's list of skipped files, name to reason.
func (p *page) rejected() map[string]string {
	p.t.Helper()
	var items [][2]string
	p.eval(`Array.from(document.querySelectorAll("#rejected li")).map(li => [li.querySelector("strong").textContent, li.textContent.slice(li.querySelector("strong").textContent.length + 2)])`, &items)
	out := map[string]string{}
	for _, it := range items {
		out[it[0]] = it[1]
	}
	return out
}

// TestBrowserBadInput puts the corpus of bad and unusual files through the
// page's file input: each bad file is named with its reason, the good ones
// appear and train; then colorization on grey photos warns, and the photo
// limits typed on the page refuse photos with their reasons.
func TestBrowserBadInput(t *testing.T) {
	skipShort(t)
	p := openPage(t, t.TempDir())
	corpusDir := filepath.Join("..", "core", "testdata", "intake")
	entries, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range entries {
		if e.Name() != "gen.go" {
			paths = append(paths, must(filepath.Abs(filepath.Join(corpusDir, e.Name()))))
		}
	}
	good := len(paths) - len(badInput)
	note := p.addFiles(paths)
	if want := fmt.Sprintf("Added %d photos; %d skipped", good, len(badInput)); !strings.HasPrefix(note, want) {
		t.Errorf("intake note %q, want %q", note, want)
	}
	var thumbs int
	p.eval(`document.querySelectorAll("#thumbs canvas").length`, &thumbs)
	if thumbs != good {
		t.Errorf("%d thumbnails, want %d", thumbs, good)
	}
	rejected := p.rejected()
	for name, want := range badInput {
		if !strings.Contains(rejected[name], want) {
			t.Errorf("the page says of %s %q, want %q", name, rejected[name], want)
		}
	}
	if len(rejected) != len(badInput) {
		t.Errorf("rejected %v, want %d files", rejected, len(badInput))
	}
	if hist := p.train(map[string]string{"task": "rotation", "steps": "3", "batch": "8", "workers": "1"}); len(hist) != 3 {
		t.Errorf("training on the good files: %d steps, want 3", len(hist))
	}
	var shot []byte
	p.run("screenshot", chromedp.FullScreenshot(&shot, 90))
	if err := os.WriteFile(filepath.Join(artifacts(t), "browser-bad-input.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}

	// Colorization on grey photos warns.
	dir := t.TempDir()
	var grey []string
	for _, ph := range samples.Photos()[:4] {
		img, err := core.Decode(ph.Name, ph.Data, core.IntakeConfig{})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "grey-"+strings.TrimSuffix(ph.Name, filepath.Ext(ph.Name))+".png")
		var b bytes.Buffer
		if err := png.Encode(&b, imaging.Grayscale(img)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		grey = append(grey, path)
	}
	p.run("clear", chromedp.Click("#clear", chromedp.ByQuery))
	p.addFiles(grey)
	p.train(map[string]string{"task": "colorization", "steps": "2", "batch": "4", "holdout": "0"})
	var msgs string
	p.eval(`document.querySelector("#messages").textContent`, &msgs)
	if !strings.Contains(msgs, "all 4 training photos are greyscale: grey photos teach colorization no colour") {
		t.Errorf("no grey warning among the messages %q", msgs)
	}

	// Limits: the form's defaults are the app's, and each limit typed on
	// the page refuses photos with its reason.
	var placeholders []string
	p.eval(`["max-photos", "max-megapixels", "max-memory"].map(id => document.getElementById(id).placeholder)`, &placeholders)
	if want := []string{fmt.Sprint(core.DefaultMaxPhotos), fmt.Sprint(core.DefaultMaxPixels / 1_000_000), fmt.Sprint(core.DefaultMaxBytes >> 20)}; !slices.Equal(placeholders, want) {
		t.Errorf("the limit fields show defaults %q, the app's are %q", placeholders, want)
	}
	p.run("clear", chromedp.Click("#clear", chromedp.ByQuery))
	p.set(map[string]string{"max-photos": "2"})
	note = p.addFiles(grey[:3])
	if r := p.rejected(); !strings.HasPrefix(note, "Added 2 photos; 1 skipped") || r[filepath.Base(grey[2])] != "the limit of 2 photos is reached" {
		t.Errorf("most photos 2: note %q, rejected %v", note, r)
	}
	big := filepath.Join(dir, "big.png")
	var b bytes.Buffer
	if err := png.Encode(&b, imaging.Resize(must(core.Decode("sample", samples.Photos()[0].Data, core.IntakeConfig{})), 1024, 768, imaging.Linear)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	p.set(map[string]string{"max-photos": "", "max-memory": "4"})
	p.addFiles([]string{big})
	if r := p.rejected()["big.png"]; !strings.HasSuffix(r, "decoding this 1024x768 one needs 6.0 MB more: over the memory limit of 4.0 MB") {
		t.Errorf("memory 4 MB: big.png rejected with %q", r)
	}
	p.set(map[string]string{"max-memory": "", "max-megapixels": "0.5"})
	p.addFiles([]string{big})
	if r := p.rejected()["big.png"]; r != "1024x768 pixels is more than the limit of 500000" {
		t.Errorf("largest photo 0.5 megapixels: big.png rejected with %q", r)
	}
	// A file larger than the whole memory limit is refused by the worker
	// before it reads it.
	huge := filepath.Join(dir, "huge.jpg")
	if err := os.WriteFile(huge, make([]byte, 3<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	p.set(map[string]string{"max-megapixels": "", "max-memory": "2"})
	p.addFiles([]string{huge})
	if r := p.rejected()["huge.jpg"]; r != "the file is 3 MB, more than the 2 MB allowed for all photos" {
		t.Errorf("memory 2 MB: huge.jpg rejected with %q", r)
	}
	p.set(map[string]string{"max-memory": ""})
	if note := p.addFiles([]string{big}); !strings.HasPrefix(note, "Added 1 photo") {
		t.Errorf("with the default limits big.png gives %q", note)
	}
	p.checkPrivate()
}

// TestBrowserDivergence: at a learning rate of 1e30 every step overflows;
// the page says each time that a step diverged and was undone at a lower
// rate, then that training failed, with advice to lower the rate; it
// requests nothing outside its origin and logs no error meanwhile.
func TestBrowserDivergence(t *testing.T) {
	skipShort(t)
	p := openPage(t, t.TempDir())
	p.run("add the samples", chromedp.Click("#samples", chromedp.ByQuery))
	p.run("wait for thumbnails", chromedp.Poll(fmt.Sprintf(`document.querySelectorAll("#thumbs canvas").length === %d`, len(samples.Photos())),
		nil, chromedp.WithPollingTimeout(30*time.Second)))
	p.set(map[string]string{"task": "rotation"})
	p.set(map[string]string{"task": "rotation", "steps": "6", "batch": "8", "workers": "1", "lr": "1e30"})
	p.run("click train", chromedp.Click("#train", chromedp.ByQuery))
	var msgs string
	p.run("wait for the failure", chromedp.Poll(`(() => { const t = document.querySelector("#messages").textContent; return t.includes("Training failed") ? t : null })()`,
		&msgs, chromedp.WithPollingTimeout(2*time.Minute)))
	if !strings.Contains(msgs, "Training became unstable: step ") || !strings.Contains(msgs, "learning rate lowered to 5e+29 (1/2 of the schedule)") {
		t.Errorf("messages %q: want the divergences, the first halving the rate", msgs)
	}
	if !strings.Contains(msgs, "lower learning rate") {
		t.Errorf("messages %q: the failure gives no advice", msgs)
	}
	p.checkPrivate()
}

// TestBrowserSafetensors: the page exports its model as safetensors (a
// real download, which imports natively), and imports one back through
// its import input: the export after one SGD step of the PyTorch twin
// (interop/pytorch) when Debian's python3 has torch (required with
// PRETEXT_TORCH=1), else the export itself. The page then predicts what
// the imported model predicts natively. Nothing is requested outside the
// page's origin and no error is logged.
func TestBrowserSafetensors(t *testing.T) {
	skipShort(t)
	downloads := t.TempDir()
	p := openPage(t, downloads)
	p.addFiles(writeSamples(t))
	p.train(map[string]string{"task": "rotation", "steps": "3", "batch": "8", "workers": "1"})
	p.run("export safetensors", chromedp.Click("#export-safetensors", chromedp.ByQuery))
	exported := waitFile(t, downloads, 30*time.Second)
	if !strings.HasSuffix(exported, ".safetensors") {
		t.Fatalf("the download is %s", exported)
	}
	b := must(os.ReadFile(exported))
	tr, err := core.ImportSafetensors(bytes.NewReader(b), tasks.Resolve)
	if err != nil || tr.Steps() != 3 || tr.Head.Spec().Kind != "rotation" {
		t.Fatalf("the page's safetensors export imports natively as %v, %v", tr, err)
	}

	file, steps := exported, 3
	if exec.Command("/usr/bin/python3", "-c", "import torch").Run() == nil {
		file, steps = filepath.Join(t.TempDir(), "stepped.safetensors"), 4
		batch := filepath.Join(t.TempDir(), "batch.safetensors")
		writeRotationBatch(t, tr, batch)
		cmd := exec.Command("/usr/bin/python3", "pretext_twin.py", "sgd", exported, "--batch", batch, "--lr", "0.5", "--out", file)
		cmd.Dir = filepath.Join("..", "interop", "pytorch")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("pretext_twin.py sgd: %v\n%s", err, out)
		}
	} else if os.Getenv("PRETEXT_TORCH") == "1" {
		t.Fatal("PRETEXT_TORCH=1 but /usr/bin/python3 cannot import torch")
	}
	p.eval(`document.querySelector("#predictions").replaceChildren(); true`, nil)
	p.run("import "+file, chromedp.SetUploadFiles("#import", []string{file}, chromedp.ByQuery))
	p.run("wait for previews after import", chromedp.Poll(`document.querySelectorAll("#predictions .prediction").length > 0`, nil, chromedp.WithPollingTimeout(30*time.Second)))
	got := p.previews()
	var info string
	p.eval(`document.querySelector("#model-info").textContent`, &info)
	if !strings.Contains(info, fmt.Sprintf("trained for %d steps", steps)) {
		t.Errorf("model info after importing %s: %q", filepath.Base(file), info)
	}
	imported, err := core.ImportSafetensors(bytes.NewReader(must(os.ReadFile(file))), tasks.Resolve)
	if err != nil {
		t.Fatal(err)
	}
	var ckpt bytes.Buffer
	if err := imported.Save(&ckpt); err != nil {
		t.Fatal(err)
	}
	nat := app.New()
	nat.AddSamples()
	if _, err := nat.Import(ckpt.Bytes()); err != nil {
		t.Fatal(err)
	}
	want := must(nat.Previews())
	if len(got) != len(want) {
		t.Fatalf("%d previews in the page, %d natively", len(got), len(want))
	}
	for i, n := range want {
		for k := range n.Probs {
			if got[i].Name != n.Name || !closeTo(got[i].Probs[k], n.Probs[k], 1e-5) {
				t.Errorf("%s: %v in the page, %s: %v natively", got[i].Name, got[i].Probs, n.Name, n.Probs)
				break
			}
		}
	}
	p.checkPrivate()
}

// writeRotationBatch writes the rotation examples of two sample photos as
// the twin's batch file: "x" [N, C, H, W] and "labels".
func writeRotationBatch(t *testing.T, tr *core.Trainer, path string) {
	task := tr.Head.(tasks.Task)
	rng := rand.New(rand.NewPCG(3, 0))
	var ex []core.Example
	for _, ph := range samples.Photos()[:2] {
		ex = must(task.Examples(ex, must(core.Decode(ph.Name, ph.Data, core.IntakeConfig{})), rng))
	}
	v := ex[0].Views[0]
	x := safetensors.Tensor{Name: "x", DType: safetensors.F32, Shape: []int{len(ex), v.C, v.H, v.W}}
	y := safetensors.Tensor{Name: "labels", DType: safetensors.I64, Shape: []int{len(ex)}}
	for _, e := range ex {
		x.F32 = append(x.F32, e.Views[0].Pix...)
		y.I64 = append(y.I64, int64(e.Class))
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, &safetensors.File{Tensors: []safetensors.Tensor{x, y}}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserExplore uses step 4 as a person would: after a short run it
// embeds the photos, finds a photo's neighbours, names photos of two kinds
// and gets every other photo's predicted label with a confidence and the
// leave-one-out figures, draws the map and downloads the embeddings. The
// times to embed, to map and to label are logged.
func TestBrowserExplore(t *testing.T) {
	skipShort(t)
	downloads := t.TempDir()
	p := openPage(t, downloads)
	p.run("add the samples", chromedp.Click("#samples", chromedp.ByQuery))
	n := len(samples.Photos())
	p.run("wait for thumbnails", chromedp.Poll(fmt.Sprintf(`document.querySelectorAll("#thumbs canvas").length === %d`, n),
		nil, chromedp.WithPollingTimeout(30*time.Second)))
	var disabled bool
	p.eval(`document.querySelector("#explore-start").disabled`, &disabled)
	if !disabled {
		t.Error("step 4 is open before there is a model")
	}
	hist := p.train(map[string]string{"task": "rotation", "steps": "8", "batch": "16", "workers": "1"})
	// No photo named: no k-NN accuracy, a hint under the chart.
	if knn := knnPoints(hist); len(knn) > 0 {
		t.Errorf("k-NN accuracy without named photos: %+v", knn)
	}
	var knnNote string
	p.eval(`document.querySelector("#knn-note").textContent`, &knnNote)
	if !strings.Contains(knnNote, "Name photos in step 4") {
		t.Errorf("without named photos the chart's note says %q", knnNote)
	}

	p.run("embed", chromedp.Click("#explore-start", chromedp.ByQuery))
	var status string
	p.run("wait for the embeddings", chromedp.Poll(`(() => { const s = document.querySelector("#explore-status").textContent; return s.includes("embedded") || s.includes("failed") ? s : null })()`,
		&status, chromedp.WithPollingTimeout(time.Minute)))
	if !strings.Contains(status, fmt.Sprintf("%d photos embedded", n)) {
		t.Fatalf("step 4 says %q", status)
	}
	t.Logf("Chromium: %s", status)

	// Similar: a photo's neighbours, itself left out.
	var first string
	p.eval(`document.querySelector("#similar-grid .explore-photo").dataset.id`, &first)
	p.run("click a photo", chromedp.Click("#similar-grid .explore-photo", chromedp.ByQuery))
	var ids []string
	p.run("wait for neighbours", chromedp.Poll(`(() => { const f = document.querySelectorAll("#neighbours .explore-photo"); return f.length === 8 ? Array.from(f, e => e.dataset.id) : null })()`,
		&ids, chromedp.WithPollingTimeout(30*time.Second)))
	if slices.Contains(ids, first) {
		t.Errorf("photo %s is among its own neighbours %v", first, ids)
	}

	// Label: name two photos of each of two kinds.
	p.run("open the labels", chromedp.Click("#tab-label", chromedp.ByQuery))
	name := func(prefix, label string) {
		p.eval(fmt.Sprintf(`(() => { const figs = Array.from(document.querySelectorAll("#label-grid .explore-photo"))
			.filter(f => f.querySelector("canvas").title.startsWith(%q)).slice(0, 2);
			figs.forEach(f => f.click()); return figs.length })()`, prefix), nil)
		p.set(map[string]string{"label-text": label})
		p.run("name", chromedp.Click("#label-apply", chromedp.ByQuery))
	}
	name("animal", "animal")
	name("monument", "monument")
	var summary struct {
		Text      string `json:"text"`
		LOO       string `json:"loo"`
		RandomLOO string `json:"randomLoo"`
		Preds     int    `json:"preds"`
		Seconds   string `json:"seconds"`
	}
	p.run("wait for predictions", chromedp.Poll(`(() => { const s = document.querySelector("#label-summary");
		const preds = document.querySelectorAll("#label-predictions .prediction-photo");
		return s.dataset.loo && preds.length ? {text: s.textContent, loo: s.dataset.loo, randomLoo: s.dataset.randomLoo, preds: preds.length,
			seconds: document.querySelector("#label-predictions").dataset.seconds} : null })()`,
		&summary, chromedp.WithPollingTimeout(time.Minute)))
	if summary.Preds != n-4 || !strings.Contains(summary.Text, "Leave-one-out accuracy") {
		t.Errorf("labels: %d predictions (want %d), summary %q", summary.Preds, n-4, summary.Text)
	}
	var confs []float64
	p.eval(`Array.from(document.querySelectorAll("#label-predictions .prediction-photo"), f => Number(f.dataset.confidence))`, &confs)
	for _, c := range confs {
		if !(c > 0 && c <= 1) {
			t.Errorf("a confidence of %v", c)
		}
	}
	t.Logf("Chromium: labels for %d photos from 4 named in %s s; leave-one-out %s, random init %s", n, summary.Seconds, summary.LOO, summary.RandomLOO)

	// The map: drawn, and timed.
	p.run("open the map", chromedp.Click("#tab-map", chromedp.ByQuery))
	var mapSeconds string
	p.run("wait for the map", chromedp.Poll(`document.querySelector("#map").dataset.seconds || null`, &mapSeconds, chromedp.WithPollingTimeout(time.Minute)))
	var drawn bool
	p.eval(`(() => { const c = document.querySelector("#map"); return c.getContext("2d").getImageData(0, 0, c.width, c.height).data.some(v => v < 200) })()`, &drawn)
	if !drawn {
		t.Error("the map is blank")
	}
	t.Logf("Chromium: map of %d photos in %s s", n, mapSeconds)
	var shot []byte
	p.run("screenshot", chromedp.FullScreenshot(&shot, 90))
	if err := os.WriteFile(filepath.Join(artifacts(t), "browser-explore.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}

	// The embeddings as CSV, a real download.
	p.run("export the embeddings", chromedp.Click("#export-embeddings-csv", chromedp.ByQuery))
	b, err := os.ReadFile(waitFile(t, downloads, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != n+1 || !strings.HasPrefix(lines[0], "file,f0,f1,") {
		t.Errorf("embeddings CSV: %d lines, header %.30q", len(lines), lines[0])
	}

	// A run given the four named photos reports its k-NN accuracy on them
	// every 20 steps (40 steps of 16 on 2 workers, 4 photos: the default
	// interval, wasm/app/knn.go), drawn on the curve; the points survive
	// a reload.
	hist = p.train(map[string]string{"task": "rotation", "steps": "40", "batch": "16", "workers": "2"})
	knn := knnPoints(hist)
	checkKNN := func(when string, knn []point) {
		t.Helper()
		if len(knn) != 2 || knn[0].Step != 20 || knn[1].Step != 40 {
			t.Fatalf("%s: k-NN accuracy at %+v, want steps 20 and 40", when, knn)
		}
		for _, q := range knn {
			if !(*q.KNN >= 0 && *q.KNN <= 1) || q.KNNImages != 4 || q.KNNK != 3 || !(q.Loss > 0) {
				t.Errorf("%s: point %+v", when, q)
			}
		}
	}
	checkKNN("after the run", knn)
	p.eval(`document.querySelector("#knn-note").textContent`, &knnNote)
	if !strings.Contains(knnNote, "k-NN accuracy at step 40") || !strings.Contains(knnNote, "4 named photos") {
		t.Errorf("the chart's note says %q", knnNote)
	}
	var res struct {
		ImagesPerSec float64 `json:"imagesPerSec"`
	}
	p.eval(view(`page.lastResult`), &res)
	t.Logf("Chromium: k-NN accuracy on 4 named photos %.2f then %.2f, in %.3f and %.3f s; a step of 16 on 2 workers took %.3f s",
		*knn[0].KNN, *knn[1].KNN, knn[0].KNNSeconds, knn[1].KNNSeconds, 16/res.ImagesPerSec)
	p.run("screenshot", chromedp.FullScreenshot(&shot, 90))
	if err := os.WriteFile(filepath.Join(artifacts(t), "browser-knn.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}
	p.run("wait for the saved session", chromedp.Poll(view(`page.savedStep === 40`), nil, chromedp.WithPollingTimeout(30*time.Second)))
	p.run("reload", chromedp.Reload())
	p.waitState(30*time.Second, "idle")
	p.run("wait for the offer", chromedp.Poll(`!document.querySelector("#saved-box").hidden`, nil, chromedp.WithPollingTimeout(30*time.Second)))
	p.run("restore", chromedp.Click("#saved-restore", chromedp.ByQuery))
	p.waitState(time.Minute, "done")
	p.eval(view(`page.history`), &hist)
	checkKNN("after a reload", knnPoints(hist))
	p.checkPrivate()
}

// knnPoints are the points of a curve that carry a k-NN accuracy.
func knnPoints(hist []point) []point {
	var out []point
	for _, q := range hist {
		if q.KNN != nil {
			out = append(out, q)
		}
	}
	return out
}

// TestBrowserExploreTiming times step 4 on a folder of photos in Chromium
// (PRETEXT_EXPLORE_PHOTOS=DIR, e.g. 1,000 photos; skipped without it):
// adding them, a 2-step run, embedding them all and the t-SNE map. It logs
// the times (docs/RUNS.md quotes them); it asserts only that each step
// finished.
func TestBrowserExploreTiming(t *testing.T) {
	dir := os.Getenv("PRETEXT_EXPLORE_PHOTOS")
	if dir == "" {
		t.Skip("PRETEXT_EXPLORE_PHOTOS=DIR names the photos to time step 4 on")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range entries {
		if !e.IsDir() {
			paths = append(paths, filepath.Join(dir, e.Name()))
		}
	}
	p := openPage(t, t.TempDir())
	p.run("choose photos", chromedp.SetUploadFiles("#files", paths, chromedp.ByQuery))
	p.run("wait for thumbnails", chromedp.Poll(fmt.Sprintf(`document.querySelectorAll("#thumbs canvas").length === %d`, len(paths)),
		nil, chromedp.WithPollingTimeout(5*time.Minute)))
	p.train(map[string]string{"task": "rotation", "steps": "2", "batch": "16", "workers": "2"})
	p.run("embed", chromedp.Click("#explore-start", chromedp.ByQuery))
	var status string
	p.run("wait for the embeddings", chromedp.Poll(`(() => { const s = document.querySelector("#explore-status").textContent; return s.includes("embedded") || s.includes("failed") ? s : null })()`,
		&status, chromedp.WithPollingTimeout(5*time.Minute)))
	t.Logf("Chromium, %d photos: %s", len(paths), status)
	p.run("open the map", chromedp.Click("#tab-map", chromedp.ByQuery))
	var seconds string
	p.run("wait for the map", chromedp.Poll(`document.querySelector("#map").dataset.seconds || null`, &seconds, chromedp.WithPollingTimeout(5*time.Minute)))
	var said string
	p.eval(`document.querySelector("#explore-status").textContent`, &said)
	t.Logf("Chromium, %d photos: map in %s s, with the groups the frames show: %s", len(paths), seconds, said)
}

// TestBrowserKNNTiming times the evaluation while training in Chromium
// (PRETEXT_KNN_TIMING=1; skipped without it): 200 synthetic photos of two
// kinds (internal/testphotos), all named in step 4, then rotation at its
// default batch (64) for 130 steps on one worker and on two, so that the
// default interval (125 steps: wasm/app/knn.go) measures at steps 125
// and 130. It logs each evaluation's time against a step's and the share
// of a run's time the evaluations take at the default interval
// (docs/GUIDE.md quotes them); it asserts only that they were made.
func TestBrowserKNNTiming(t *testing.T) {
	if os.Getenv("PRETEXT_KNN_TIMING") != "1" {
		t.Skip("PRETEXT_KNN_TIMING=1 times the k-NN evaluation in Chromium")
	}
	dir := t.TempDir()
	var paths []string
	for _, ph := range testphotos.Kinds(100, 1) {
		path := filepath.Join(dir, fmt.Sprintf("%s-%03d.png", ph.Kind, ph.Index))
		if err := os.WriteFile(path, ph.PNG, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	p := openPage(t, t.TempDir())
	p.addFiles(paths)
	p.train(map[string]string{"task": "rotation", "steps": "2", "batch": "16", "workers": "1"})
	p.run("embed", chromedp.Click("#explore-start", chromedp.ByQuery))
	p.run("wait for the embeddings", chromedp.Poll(`document.querySelector("#explore-status").textContent.includes("embedded")`, nil, chromedp.WithPollingTimeout(time.Minute)))
	p.run("open the labels", chromedp.Click("#tab-label", chromedp.ByQuery))
	for _, kind := range []string{"red", "blue"} {
		p.eval(fmt.Sprintf(`(() => { const figs = Array.from(document.querySelectorAll("#label-grid .explore-photo"))
			.filter(f => f.querySelector("canvas").title.startsWith(%q)); figs.forEach(f => f.click()); return figs.length })()`, kind), nil)
		p.set(map[string]string{"label-text": kind})
		p.run("name", chromedp.Click("#label-apply", chromedp.ByQuery))
		p.run("wait for the names", chromedp.Poll(`document.querySelector("#label-summary").textContent.includes("named")`, nil, chromedp.WithPollingTimeout(time.Minute)))
	}
	for _, workers := range []int{1, 2} {
		// The default interval: 125 steps a worker (wasm/app's
		// TestKNNEvery), and after the last step.
		every := 125 * workers
		p.set(map[string]string{"task": "rotation"})
		p.set(map[string]string{"task": "rotation", "steps": "130", "batch": "64", "workers": fmt.Sprint(workers)})
		p.run("click train", chromedp.Click("#train", chromedp.ByQuery))
		p.waitState(10*time.Second, "training")
		p.run("wait for the run", chromedp.Poll(`document.querySelector("#status").dataset.state === "done"`, nil, chromedp.WithPollingTimeout(10*time.Minute)))
		var hist []point
		p.eval(view(`page.history`), &hist)
		knn := knnPoints(hist)
		if len(knn) == 0 || knn[len(knn)-1].Step != 130 || knn[0].KNNImages != 200 || len(knn) != 1+130/every {
			t.Errorf("%d workers: k-NN accuracy at %+v", workers, knn)
			continue
		}
		var res struct {
			ImagesPerSec float64 `json:"imagesPerSec"`
		}
		p.eval(view(`page.lastResult`), &res)
		step := 64 / res.ImagesPerSec
		var eval float64
		for _, q := range knn {
			eval += q.KNNSeconds / float64(len(knn))
		}
		t.Logf("Chromium, %s: k-NN accuracy on %d named photos %.2f at step %d; an evaluation %.2f s, a step of 64 %.3f s (an evaluation costs %.1f steps); every %d steps, evaluating takes %.1f%% of the time",
			map[int]string{1: "one worker", 2: "two workers"}[workers], knn[0].KNNImages, *knn[len(knn)-1].KNN, 130, eval, step, eval/step, every, 100*eval/(eval+float64(every)*step))
	}
}
