package web

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMetaPolicy: the pages carry the Content-Security-Policy in a <meta>
// tag, MetaPolicy, which is Policy without frame-ancestors (which browsers
// do not take from a tag), so it holds on any static host.
func TestMetaPolicy(t *testing.T) {
	if MetaPolicy+"; frame-ancestors 'none'" != Policy {
		t.Errorf("MetaPolicy is not Policy less frame-ancestors:\n%s\n%s", MetaPolicy, Policy)
	}
	for _, page := range []string{"index.html", "bench.html"} {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		tag := `<meta http-equiv="Content-Security-Policy" content="` + MetaPolicy + `">`
		if !bytes.Contains(b, []byte(tag)) {
			t.Errorf("%s lacks %s", page, tag)
		}
	}
}

// TestGemmModule: the committed gemm.wasm, which the page loads where
// wat2wasm is missing, is what wat2wasm makes of gemm.wat, byte for byte.
func TestGemmModule(t *testing.T) {
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		if os.Getenv("PRETEXT_BROWSER") != "" {
			t.Fatal("no wat2wasm (apt-get install wabt)")
		}
		t.Skip("no wat2wasm")
	}
	out := filepath.Join(t.TempDir(), "gemm.wasm")
	if b, err := exec.Command("wat2wasm", "--debug-names", "gemm.wat", "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("gemm.wasm")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("web/gemm.wasm is not the assembly of web/gemm.wat: run ./build.sh and commit web/gemm.wasm")
	}
}

// TestDist: Dist copies the page's files, and nothing else, into a folder.
func TestDist(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the wasm module")
	}
	dir := t.TempDir()
	if err := Dist("..", dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"index.html", "bench.html", "worker.js", "wasm_exec.js", "pretext.wasm", "gemm.wasm", "style.css", "HOSTING.txt"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("dist lacks %s", f)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), ".wat") {
			t.Errorf("dist has %s, which is not part of the page", e.Name())
		}
	}
}
