// Package web serves the browser page in this folder (index.html, the
// worker and the wasm module built from ../wasm) and builds the module when
// it is missing or older than its sources. serve.go at the repository root
// is the command; the browser test uses the same handler.
package web

import (
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// Policy is the Content-Security-Policy of every response: the page may
// load scripts, styles, images, workers and fetches from its own origin
// only (blob: and data: images are the page's own thumbnails and
// downloads), may compile WebAssembly, and nothing else. It is what keeps
// photos on the machine.
const Policy = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; " +
	"style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; font-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the files of dir with the page's security headers:
// cross-origin isolation (COOP and COEP, so SharedArrayBuffer is
// available), the Content-Security-Policy above, and no caching, so a
// rebuilt module is picked up on reload.
func Handler(dir string) http.Handler { return handler(dir, true) }

// UnisolatedHandler is Handler without the cross-origin isolation headers:
// the page as a static host that does not send them serves it, where the
// workers exchange values by messages instead of shared memory.
func UnisolatedHandler(dir string) http.Handler { return handler(dir, false) }

func handler(dir string, isolated bool) http.Handler {
	files := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if ext := path.Ext(r.URL.Path); !strings.HasSuffix(r.URL.Path, "/") && !served[ext] {
			http.NotFound(w, r) // the Go files and tests beside the page are not part of it
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", Policy)
		if isolated {
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			h.Set("Cross-Origin-Embedder-Policy", "require-corp")
		}
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		if strings.HasSuffix(r.URL.Path, ".wasm") {
			h.Set("Content-Type", "application/wasm")
		}
		files.ServeHTTP(w, r)
	})
}

// served are the extensions of the page's files.
var served = map[string]bool{".html": true, ".js": true, ".css": true, ".wasm": true, ".png": true, ".svg": true, ".ico": true, ".txt": true}

// MetaPolicy is Policy as index.html's <meta http-equiv> tag carries it, so
// that it holds on a static host that sends no headers: the same but for
// frame-ancestors, which browsers do not take from a <meta> tag.
const MetaPolicy = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; " +
	"style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; font-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'none'"

// Dist builds the page if needed (EnsureBuilt) and copies the files it
// serves from root's web/ into dir: a folder any static host can serve
// (HOSTING.txt, among them, says how).
func Dist(root, dir string) error {
	if _, err := EnsureBuilt(root); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(filepath.Join(root, "web"))
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() || !served[path.Ext(e.Name())] {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, "web", e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Module is the wasm file the page loads, relative to the repository root.
const Module = "web/pretext.wasm"

// GemmSource is the simd128 matrix kernel that Module calls when the
// browser runs it, in WebAssembly text; Build assembles it into GemmModule
// with wat2wasm (Debian: apt-get install wabt).
const (
	GemmSource = "web/gemm.wat"
	GemmModule = "web/gemm.wasm"
)

// Stale reports whether root's web/pretext.wasm or web/wasm_exec.js is
// missing, or the module is older than go.mod, go.sum or a Go file of the
// packages it is built from (core/, tasks/, wasm/); or whether
// web/gemm.wasm is older than web/gemm.wat, or missing while wat2wasm is
// on PATH (without it, Build cannot make it and the page does without).
func Stale(root string) (bool, error) {
	wasm, err := os.Stat(filepath.Join(root, Module))
	if err != nil {
		return true, nil
	}
	if _, err := os.Stat(filepath.Join(root, "web", "wasm_exec.js")); err != nil {
		return true, nil
	}
	if _, err := exec.LookPath("wat2wasm"); err == nil {
		// Without wat2wasm the committed gemm.wasm stands (TestGemmModule
		// keeps it the assembly of gemm.wat).
		src, err := os.Stat(filepath.Join(root, GemmSource))
		gemm, gerr := os.Stat(filepath.Join(root, GemmModule))
		if err == nil && (gerr != nil || src.ModTime().After(gemm.ModTime())) {
			return true, nil
		}
	}
	built := wasm.ModTime()
	for _, f := range []string{"go.mod", "go.sum"} {
		if info, err := os.Stat(filepath.Join(root, f)); err == nil && info.ModTime().After(built) {
			return true, nil
		}
	}
	newer := false
	for _, dir := range []string{"core", "tasks", "wasm"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(d.Name(), ".go") {
				info, err := d.Info()
				if err != nil {
					return err
				}
				if info.ModTime().After(built) {
					newer = true
					return filepath.SkipAll
				}
			}
			return nil
		})
		if err != nil || newer {
			return newer, err
		}
	}
	return false, nil
}

// Build compiles ../wasm for GOOS=js GOARCH=wasm into root's
// web/pretext.wasm with the go command on PATH, copies that toolchain's
// wasm_exec.js beside it (the two must match), and assembles web/gemm.wat
// into web/gemm.wasm. Without wat2wasm it keeps the committed web/gemm.wasm,
// so the fast kernel never depends on the builder's machine.
func Build(root string) error {
	if err := buildGemm(root); err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", Module, "./wasm")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %v\n%s", Module, err, out)
	}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return fmt.Errorf("finding GOROOT: %v", err)
	}
	src := filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js")
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "web", "wasm_exec.js"), b, 0o644); err != nil {
		return err
	}
	return nil
}

// EnsureBuilt builds the module if Stale says so.
func EnsureBuilt(root string) (built bool, err error) {
	stale, err := Stale(root)
	if err != nil || !stale {
		return false, err
	}
	return true, Build(root)
}

// buildGemm runs wat2wasm on web/gemm.wat, if there is a wat2wasm (else
// the committed web/gemm.wasm stays).
func buildGemm(root string) error {
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		return nil
	}
	// --debug-names keeps the functions' names, for profiles.
	cmd := exec.Command("wat2wasm", "--debug-names", GemmSource, "-o", GemmModule)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("assembling %s: %v\n%s", GemmSource, err, out)
	}
	return nil
}
