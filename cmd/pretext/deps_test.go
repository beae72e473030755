package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies checks the import rules of docs/ARCHITECTURE.md with go
// list -deps: what users build leaves out chromedp (which drives headless
// Chromium for the browser test and cmd/browserbench; internal/chromium
// holds its only non-test import); core knows nothing of the tasks, the
// recipe, the shells or JavaScript (also when built for js/wasm); tasks does
// not embed the sample photos; the recipe knows no shell; explore knows no
// task, recipe or shell.
func TestDependencies(t *testing.T) {
	t.Parallel()
	// go test puts the go command that runs it first on PATH.
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH to list the dependencies with")
	}
	const mod = "github.com/pretextlab/pretext/"
	cases := []struct {
		target    string
		js        bool // list for GOOS=js GOARCH=wasm
		forbidden []string
	}{
		{"./cmd/pretext", false, []string{"chromedp"}},
		{"./web", false, []string{"chromedp"}},
		{"serve.go", false, []string{"chromedp"}},
		{"./core/...", false, []string{mod + "tasks", mod + "recipe", mod + "wasm", "chromedp"}},
		{"./core/...", true, []string{mod + "tasks", mod + "recipe", mod + "wasm", "syscall/js"}},
		{"./tasks", true, []string{mod + "tasks/samples", mod + "recipe", mod + "wasm", "syscall/js"}},
		{"./recipe", true, []string{mod + "wasm", mod + "cmd", mod + "tasks/samples", "syscall/js"}},
		{"./explore", true, []string{mod + "tasks", mod + "recipe", mod + "wasm", mod + "cmd", "syscall/js"}},
	}
	for _, tc := range cases {
		// Each line: a package the target links, then what it imports.
		cmd := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", tc.target)
		cmd.Dir = "../.."
		if tc.js {
			cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
		}
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if e, ok := err.(*exec.ExitError); ok {
				stderr = e.Stderr
			}
			t.Fatalf("go list -deps %s: %v\n%s", tc.target, err, stderr)
		}
		bad := func(pkg string) string {
			for _, f := range tc.forbidden {
				if pkg == f || strings.HasPrefix(pkg, f+"/") || (!strings.Contains(f, "/") && strings.Contains(pkg, f)) {
					return f
				}
			}
			return ""
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			pkg, imports, _ := strings.Cut(line, " ")
			if bad(pkg) != "" {
				continue // its importer is the one to blame
			}
			if tc.js && !strings.HasPrefix(pkg, mod) {
				continue // the standard library's own use of syscall/js
			}
			for _, imp := range strings.Fields(imports) {
				if f := bad(imp); f != "" {
					t.Errorf("%s (js %v) links %s: %s imports %s", tc.target, tc.js, f, pkg, imp)
				}
			}
		}
	}
}
