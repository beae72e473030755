package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoChromedp checks that what users build leaves out chromedp, which
// drives headless Chromium for the browser test and cmd/browserbench: this
// command, and the page's server (serve.go at the repository root) with its
// package web. internal/chromium holds the only non-test import of it.
func TestNoChromedp(t *testing.T) {
	// go test puts the go command that runs it first on PATH.
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH to list the dependencies with")
	}
	for _, target := range []string{"./cmd/pretext", "./web", "serve.go"} {
		// Each line: a package the target links, then what it imports.
		cmd := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", target)
		cmd.Dir = "../.."
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if e, ok := err.(*exec.ExitError); ok {
				stderr = e.Stderr
			}
			t.Fatalf("go list -deps %s: %v\n%s", target, err, stderr)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			pkg, imports, _ := strings.Cut(line, " ")
			if strings.Contains(pkg, "chromedp") {
				continue // its importer is the one to blame
			}
			for _, imp := range strings.Fields(imports) {
				if strings.Contains(imp, "chromedp") {
					t.Errorf("%s links chromedp: %s imports %s", target, pkg, imp)
				}
			}
		}
	}
}
