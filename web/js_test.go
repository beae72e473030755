package web

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestJSModules runs the page's JavaScript unit tests (jstest/*.test.mjs:
// the settings' validation, the chart's scaling, the curve's, the
// workers' and the storage's bookkeeping) with Node's own test runner, on
// the page's modules as they are, without a bundler. It skips where there
// is no node, unless PRETEXT_BROWSER=1 (./build.sh test, CI) asks for the
// page's tests to run. It takes a second or two, so it runs under -short.
func TestJSModules(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("PRETEXT_BROWSER") == "1" {
			t.Fatal("PRETEXT_BROWSER=1 but no node on PATH for the page's JavaScript tests (apt-get install nodejs)")
		}
		t.Skip("no node on PATH; the page's JavaScript tests need it (apt-get install nodejs)")
	}
	// The files by name: Node 20 takes a folder, later versions globs.
	files, err := filepath.Glob(filepath.Join("jstest", "*.test.mjs"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no jstest/*.test.mjs (%v)", err)
	}
	// The spec reporter ends with the failing tests, when there are some.
	args := append([]string{"--test", "--test-reporter=spec"}, files...)
	// Node 20 before 20.19 loads web/*.js, ES modules without a
	// package.json saying so, only with --experimental-detect-module;
	// later versions detect them without it and accept it all the same.
	if exec.Command(node, "--experimental-detect-module", "-e", "0").Run() == nil {
		args = append([]string{"--experimental-detect-module"}, args...)
	}
	cmd := exec.Command(node, args...)
	cmd.Env = append(os.Environ(), "NODE_NO_WARNINGS=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node %v: %v\n%s", args, err, out)
	}
	if testing.Verbose() {
		t.Logf("%s", out)
	}
}
