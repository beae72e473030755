package main

import (
	"io"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/profiler"
	"github.com/chromedp/cdproto/runtime"
)

// TestFlags checks that bad flags are refused before Chromium starts (the
// test runs outside the repository root, where a good run could not serve
// the page).
func TestFlags(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"too many workers", []string{"-workers", "9"}, "-workers 9 out of range"},
		{"negative workers", []string{"-workers", "-1"}, "-workers -1 out of range"},
		{"no timed steps", []string{"-steps", "0"}, "-steps must be positive"},
		{"negative warm-up", []string{"-warmup", "-1"}, "-warmup not negative"},
		{"reference beside js", []string{"-workload", "js", "-reference", "anchors"}, "workload rs only"},
		{"stray argument", []string{"rs"}, "unexpected arguments"},
		{"good flags, wrong folder", []string{"-workers", "2"}, "repository root"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := run(c.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("run(%q) = %v, want an error with %q", c.args, err, c.want)
			}
		})
	}
}

// TestProfileTop sums a function's samples over all its nodes.
func TestProfileTop(t *testing.T) {
	p := &profiler.Profile{
		Nodes: []*profiler.ProfileNode{
			{ID: 1, CallFrame: &runtime.CallFrame{FunctionName: "block"}},
			{ID: 2, CallFrame: &runtime.CallFrame{FunctionName: "pack"}},
			{ID: 3, CallFrame: &runtime.CallFrame{FunctionName: "block"}}, // block again, called from elsewhere
			{ID: 4, CallFrame: &runtime.CallFrame{URL: "worker.js"}},
		},
		Samples: []int64{1, 3, 3, 2, 4, 1, 2, 1},
	}
	got := profileTop(p)
	want := []profileEntry{{"block", 5.0 / 8}, {"pack", 2.0 / 8}, {"(anonymous worker.js)", 1.0 / 8}}
	if len(got) != len(want) {
		t.Fatalf("profileTop = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d = %v, want %v", i, got[i], want[i])
		}
	}
}
