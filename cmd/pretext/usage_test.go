package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pretextlab/pretext/core"
)

// TestExitStatus checks the command line's Go and Unix habits: help exits
// 0 (its text on stdout), a usage mistake 2 with its message printed once,
// a failure of the work 1.
func TestExitStatus(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing.ckpt")
	for _, c := range []struct {
		args   []string
		status int
		stdout string // a part of stdout, if any
		stderr string // a part of what run itself prints to stderr
	}{
		{[]string{"-h"}, 0, "commands:", ""},
		{[]string{"help"}, 0, "commands:", ""},
		{[]string{"help", "train"}, 0, "-steps", ""},
		{[]string{"train", "-h"}, 0, "-steps", ""},
		{[]string{"bench", "-help"}, 0, "-workload", ""},
		{[]string{"version"}, 0, "pretext " + core.Version + " (", ""},
		{nil, 2, "", "usage: pretext"},
		{[]string{"nope"}, 2, "", `unknown command "nope"`},
		{[]string{"help", "nope"}, 2, "", `unknown command "nope"`},
		{[]string{"train", "-bogus"}, 2, "", ""}, // the flag package printed it
		{[]string{"tasks", "extra"}, 2, "", "unexpected arguments"},
		{[]string{"export"}, 2, "", "-ckpt and -out are required"},
		{[]string{"bench", "-threads", "0"}, 2, "", "must be positive"},
		{[]string{"train", "-task", "nope"}, 2, "", "nope"},
		{[]string{"train", "-config", "{bad"}, 2, "", "is not JSON"},
		{[]string{"export", "-ckpt", missing, "-out", filepath.Join(t.TempDir(), "x.safetensors")}, 1, "", "missing.ckpt"},
	} {
		var stdout, stderr bytes.Buffer
		got := run(c.args, &stdout, &stderr)
		if got != c.status {
			t.Errorf("pretext %q: exit status %d, want %d (stderr %q)", c.args, got, c.status, stderr.String())
		}
		if !strings.Contains(stdout.String(), c.stdout) {
			t.Errorf("pretext %q: stdout %q, want it to contain %q", c.args, stdout.String(), c.stdout)
		}
		if c.stderr == "" && c.status == 2 && stderr.Len() > 0 {
			t.Errorf("pretext %q: printed %q again after the flag package", c.args, stderr.String())
		}
		if !strings.Contains(stderr.String(), c.stderr) || strings.Count(stderr.String(), "pretext:") > 1 {
			t.Errorf("pretext %q: stderr %q, want one message containing %q", c.args, stderr.String(), c.stderr)
		}
	}
}

// TestEmit checks that every JSON line says what it is.
func TestEmit(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	emit(&b, "step", struct {
		Step int `json:"step"`
	}{3})
	emit(&b, "empty", struct{}{})
	emit(&b, "map", []int{1, 2})
	want := `{"type":"step","step":3}` + "\n" + `{"type":"empty"}` + "\n" + `{"type":"map","value":[1,2]}` + "\n"
	if b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}
