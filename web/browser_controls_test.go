package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pretextlab/pretext/recipe"
	"github.com/pretextlab/pretext/tasks/samples"
	"github.com/pretextlab/pretext/wasm/app"
)

// The page's controls that the walk-through of browser_test.go leaves
// alone: the advanced settings, a garbage import, drag and drop, the
// folder picker, a damaged saved session, and the benchmark page.

// skipShort skips a browser test under -short.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("the browser test is not short")
	}
}

// addSamples clicks "Use sample photos" and waits for their thumbnails.
func (p *page) addSamples() {
	p.t.Helper()
	p.run("add the samples", chromedp.Click("#samples", chromedp.ByQuery))
	p.waitThumbs(len(samples.Photos()))
}

// waitThumbs waits until the page shows n thumbnails.
func (p *page) waitThumbs(n int) {
	p.t.Helper()
	p.run(fmt.Sprintf("wait for %d thumbnails", n), chromedp.Poll(fmt.Sprintf(`document.querySelectorAll("#thumbs canvas").length === %d`, n),
		nil, chromedp.WithPollingTimeout(30*time.Second)))
}

// waitAdded waits for the intake note of photos just read ("Added ...")
// and returns it.
func (p *page) waitAdded() string {
	p.t.Helper()
	var note string
	p.run("wait for the photos to be read", chromedp.Poll(`(() => { const t = document.querySelector("#intake-note").textContent; return t.startsWith("Added") ? t : null })()`,
		&note, chromedp.WithPollingTimeout(60*time.Second)))
	return note
}

// text is the text content of the element selector names.
func (p *page) text(selector string) string {
	p.t.Helper()
	var s string
	p.eval(fmt.Sprintf(`document.querySelector(%q).textContent`, selector), &s)
	return s
}

// waitMessage waits for a message that contains want and returns all the
// messages' text.
func (p *page) waitMessage(want string) string {
	p.t.Helper()
	var msgs string
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, chromedp.Poll(fmt.Sprintf(`(() => { const t = document.querySelector("#messages").textContent; return t.includes(%q) ? t : null })()`, want),
		&msgs, chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		p.t.Fatalf("no message %q: %v (messages %q)\nproblems: %v", want, err, p.text("#messages"), p.problems)
	}
	return msgs
}

// TestBrowserAdvancedSettings trains with every advanced control of the
// form away from its default (Adam, seed 7, the wide network, a preview
// every 2 steps): the losses are those of the native run of the same
// settings, and the previews come at the native run's steps.
func TestBrowserAdvancedSettings(t *testing.T) {
	skipShort(t)
	p := openPage(t, t.TempDir())
	p.addSamples()
	// Record the step of every preview the panel shows.
	p.eval(`(() => { const steps = window.previewStepsForTest = [];
		new MutationObserver(() => { const m = /after step (\d+)/.exec(document.querySelector("#predictions-note").textContent); if (m) steps.push(Number(m[1])) })
			.observe(document.querySelector("#predictions-note"), {childList: true, characterData: true, subtree: true});
		return true })()`, nil)
	hist := p.train(map[string]string{"task": "rotation", "steps": "5", "batch": "8", "workers": "1",
		"optimizer": "adam", "seed": "7", "width": "wide", "preview-every": "2"})
	var pageSteps []int
	p.eval(`window.previewStepsForTest`, &pageSteps)

	// Adam moves every weight by about its rate whatever the size of its
	// gradient, so the rounding of the page's simd128 kernel against the
	// native one grows faster than with SGD: 3e-4 by step 5 here, against
	// 1e-6 at step 3. A control the page ignored costs far more (seed,
	// width: the first loss; optimizer: the second).
	_, native, nativeSteps := nativeTrain(t, app.Settings{Settings: recipe.Settings{Task: "rotation", Steps: 5, Batch: 8,
		Optimizer: "adam", Seed: 7, Trunk: "wide"}, Every: 2})
	if len(hist) != len(native) {
		t.Fatalf("%d steps in the page, %d native", len(hist), len(native))
	}
	for i, q := range hist {
		if !closeTo(q.Loss, native[i], 2e-3) {
			t.Errorf("step %d: loss %.6f in Chromium, %.6f native (Adam, seed 7, wide)", q.Step, q.Loss, native[i])
		}
	}
	if pageSteps, nativeSteps = slices.Compact(pageSteps), slices.Compact(nativeSteps); !slices.Equal(pageSteps, nativeSteps) {
		t.Errorf("previews at steps %v in the page, %v natively", pageSteps, nativeSteps)
	}
	p.checkPrivate()
}

// TestBrowserGarbageImport imports files that are neither a checkpoint nor
// safetensors: the page names each with the reason, keeps the model it
// had, and trains on two workers afterwards.
func TestBrowserGarbageImport(t *testing.T) {
	skipShort(t)
	p := openPage(t, t.TempDir())
	p.addSamples()
	p.train(map[string]string{"task": "rotation", "steps": "2", "batch": "8", "workers": "1"})
	dir := t.TempDir()
	for name, data := range map[string]string{
		"garbage.ckpt": "this is not a checkpoint",
		// A plausible safetensors header length, then no JSON.
		"garbage.safetensors": "\x10\x00\x00\x00\x00\x00\x00\x00{not json at all",
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		p.run("import "+name, chromedp.SetUploadFiles("#import", []string{path}, chromedp.ByQuery))
		p.waitMessage("Could not import " + name + ": ")
		if info := p.text("#model-info"); !strings.HasPrefix(info, "Could not import "+name) {
			t.Errorf("after importing %s the model info says %q", name, info)
		}
		var state string
		var exportable bool
		p.eval(`document.querySelector("#status").dataset.state`, &state)
		p.eval(`!document.querySelector("#export").disabled && !document.querySelector("#import").disabled`, &exportable)
		if state != "done" || !exportable {
			t.Errorf("after importing %s: state %q, export and import enabled %v; want done, true", name, state, exportable)
		}
	}
	if hist := p.train(map[string]string{"task": "rotation", "steps": "2", "batch": "8", "workers": "2"}); len(hist) != 2 {
		t.Errorf("after the failed imports a run of 2 steps drew %d", len(hist))
	}
	p.checkPrivate()
}

// TestBrowserDrop drops photos on the drop zone, as a person drags them
// from a file manager: a DataTransfer made in the page from the bytes of
// three sample photos, a file that is not a photo, and a hidden file. The
// photos appear, the bad file is named, the hidden one is passed over.
func TestBrowserDrop(t *testing.T) {
	skipShort(t)
	p := openPage(t, t.TempDir())
	type file struct {
		Name string `json:"name"`
		B64  string `json:"b64"`
	}
	files := []file{{".DS_Store", base64.StdEncoding.EncodeToString([]byte("hidden"))}, {"notes.txt", base64.StdEncoding.EncodeToString([]byte("not a photo"))}}
	for _, ph := range samples.Photos()[:3] {
		files = append(files, file{ph.Name, base64.StdEncoding.EncodeToString(ph.Data)})
	}
	b, _ := json.Marshal(files)
	p.eval(fmt.Sprintf(`(() => {
		const dt = new DataTransfer();
		for (const f of %s) dt.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name));
		const zone = document.querySelector("#dropzone");
		for (const type of ["dragenter", "dragover", "drop"]) zone.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: dt}));
		return true })()`, b), nil)
	if note := p.waitAdded(); !strings.HasPrefix(note, "Added 3 photos; 1 skipped") {
		t.Errorf("after the drop the intake note says %q", note)
	}
	if r := p.rejected(); len(r) != 1 || !strings.Contains(r["notes.txt"], "not a JPEG, PNG, GIF or WebP image") {
		t.Errorf("after the drop the skipped files are %v, want notes.txt alone", r)
	}
	if count := p.text("#photo-count"); count != "3 photos loaded" {
		t.Errorf("after the drop the photo count says %q", count)
	}
	p.checkPrivate()
}

// TestBrowserFolder chooses a folder with the folder picker: the photos
// in it and in its subfolder are read, named by their path in the folder;
// the file that is not a photo is named, the hidden ones are passed over.
func TestBrowserFolder(t *testing.T) {
	skipShort(t)
	root := t.TempDir()
	dir := filepath.Join(root, "trip")
	write := func(rel string, data []byte) {
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ph := samples.Photos()
	write(ph[0].Name, ph[0].Data)
	write(filepath.Join("day2", ph[1].Name), ph[1].Data)
	write(filepath.Join(".thumbnails", ph[2].Name), ph[2].Data)
	write(".hidden.jpg", ph[2].Data)
	write("notes.txt", []byte("not a photo"))

	p := openPage(t, t.TempDir())
	p.run("choose a folder", chromedp.SetUploadFiles("#folder", []string{dir}, chromedp.ByQuery))
	if note := p.waitAdded(); !strings.HasPrefix(note, "Added 2 photos; 1 skipped") {
		t.Errorf("after choosing the folder the intake note says %q", note)
	}
	var names []string
	p.eval(`Array.from(document.querySelectorAll("#thumbs canvas"), (c) => c.title)`, &names)
	slices.Sort(names)
	if want := []string{"trip/" + ph[0].Name, "trip/day2/" + ph[1].Name}; !slices.Equal(names, want) {
		t.Errorf("thumbnails of %v, want %v", names, want)
	}
	if r := p.rejected(); len(r) != 1 || !strings.Contains(r["trip/notes.txt"], "not a JPEG, PNG, GIF or WebP image") {
		t.Errorf("the skipped files are %v, want trip/notes.txt alone", r)
	}
	p.checkPrivate()
}

// TestBrowserDamagedSession: a saved session whose model bytes are
// damaged is offered after a reload; restoring it brings the photos back,
// says that the run could not be restored, and leaves a page that trains.
func TestBrowserDamagedSession(t *testing.T) {
	skipShort(t)
	p := openPage(t, t.TempDir())
	// What store.js keeps, with model bytes that are no session.
	p.eval(`new Promise((resolve, reject) => {
		const r = indexedDB.open("pretext", 1);
		r.onerror = () => reject(r.error);
		r.onsuccess = () => {
			const tx = r.result.transaction(["state"], "readwrite");
			const state = tx.objectStore("state");
			state.put({bytes: new TextEncoder().encode("PRETEXT but damaged"), task: "rotation", step: 3, steps: 10,
				config: {batch: 8}, history: [], savedAt: Date.now()}, "session");
			state.put(true, "samples");
			tx.oncomplete = () => { r.result.close(); resolve(true) };
			tx.onerror = () => reject(tx.error);
		};
	})`, nil)
	p.run("reload", chromedp.Reload())
	p.waitState(30*time.Second, "idle")
	var offer string
	p.run("wait for the offer", chromedp.Poll(`!document.querySelector("#saved-box").hidden && document.querySelector("#saved-text").textContent`,
		&offer, chromedp.WithPollingTimeout(30*time.Second)))
	if !strings.Contains(offer, "the rotation model at step 3 of 10") {
		t.Errorf("the offer says %q", offer)
	}
	p.run("restore", chromedp.Click("#saved-restore", chromedp.ByQuery))
	p.waitMessage("Could not restore the saved run: ")
	p.waitThumbs(len(samples.Photos()))
	p.waitState(time.Second, "idle") // not "error": the page carries on
	if hist := p.train(map[string]string{"task": "rotation", "steps": "2", "batch": "8", "workers": "2"}); len(hist) != 2 {
		t.Errorf("after the failed restore a run of 2 steps drew %d", len(hist))
	}
	p.checkPrivate()
}

// TestBrowserBench runs the benchmark page (bench.html) on its smallest
// workload, RS, for two timed steps: its result names the workload, the
// steps, the batch and the workers, a positive speed, the wasm runtime and
// the kernels, and the page's frames meanwhile.
func TestBrowserBench(t *testing.T) {
	skipShort(t)
	p := openPath(t, t.TempDir(), Handler("."), "/bench.html?workload=rs&steps=2&warmup=1&workers=1")
	var state string
	p.run("wait for the benchmark", chromedp.Poll(`(() => { const s = document.querySelector("#bench-status").dataset.state; return s === "done" || s === "error" ? s : null })()`,
		&state, chromedp.WithPollingTimeout(2*time.Minute)))
	if state != "done" {
		t.Fatalf("the benchmark page says %q", p.text("#bench-status"))
	}
	var res struct {
		Workload     string   `json:"workload"`
		ImagesPerSec float64  `json:"images_per_sec"`
		Steps        int      `json:"steps"`
		Batch        int      `json:"batch"`
		Runtime      string   `json:"runtime"`
		Workers      int      `json:"workers"`
		Isolated     bool     `json:"cross_origin_isolated"`
		Kernel       []string `json:"kernel"`
		FrameGaps    *struct {
			Frames int     `json:"frames"`
			Max    float64 `json:"max"`
			Median float64 `json:"median"`
		} `json:"frame_gaps"`
	}
	out := p.text("#bench-result")
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("the benchmark's result %q: %v", out, err)
	}
	if res.Workload != "rs" || res.Steps != 2 || res.Batch != 64 || res.Workers != 1 || !res.Isolated {
		t.Errorf("the benchmark's result %s: want workload rs, 2 steps of 64 on 1 worker, cross-origin isolated", out)
	}
	if !(res.ImagesPerSec > 0) || math.IsInf(res.ImagesPerSec, 0) || !strings.HasPrefix(res.Runtime, "js/wasm go") || len(res.Kernel) == 0 {
		t.Errorf("the benchmark's result %s: want a finite positive speed, the js/wasm runtime and the kernels", out)
	}
	if g := res.FrameGaps; g == nil || g.Frames < 1 || g.Max < g.Median {
		t.Errorf("the benchmark's frame gaps in %s", out)
	}
	if !strings.Contains(p.text("#bench-status"), "rs: ") {
		t.Errorf("the benchmark page says %q", p.text("#bench-status"))
	}
	p.checkPrivate()
}
