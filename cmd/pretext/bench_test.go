package main

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	workloads "github.com/pretextlab/pretext/internal/workload"
)

// TestBenchJSON: pretext bench -steps 1 -json prints one line of type
// bench with every field present and sane: the workload, threads, steps
// and batch asked for, a positive speed whose GFLOP/s is the workload's
// FLOPs per image times images/s, this runtime, the bytes allocated a step
// and (on Unix) the peak resident set. Without -json the same figures make
// one line for people. Under -short only RS, on random data, is run.
func TestBenchJSON(t *testing.T) {
	t.Parallel()
	names := []string{"rs", "js", "cs"}
	if testing.Short() {
		names = names[:1] // one step on random data
	}
	// The operators' goroutines as they are: bench sets GOMAXPROCS.
	threads := strconv.Itoa(runtime.GOMAXPROCS(0))
	keys := []string{"type", "workload", "threads", "images_per_sec", "gflops", "runtime", "steps", "batch", "alloc_bytes_per_step"}
	if !slices.Contains([]string{"js", "wasip1", "windows", "plan9"}, runtime.GOOS) { // unix: rss_unix.go
		keys = append(keys, "peak_rss_bytes")
	}
	slices.Sort(keys)
	for _, name := range names {
		w, err := workloads.New(name, 4, rand.New(rand.NewPCG(1, 0)))
		if err != nil {
			t.Fatal(err)
		}
		args := []string{"bench", "-workload", name, "-steps", "1", "-warmup", "0", "-batch", "4", "-threads", threads}
		var stdout, stderr bytes.Buffer
		if code := run(append(args, "-json"), &stdout, &stderr); code != 0 || stderr.Len() > 0 {
			t.Fatalf("%s: exit status %d, stderr %q", name, code, stderr.String())
		}
		if n := strings.Count(stdout.String(), "\n"); n != 1 {
			t.Fatalf("%s: %d lines %q, want one", name, n, stdout.String())
		}
		var m map[string]any
		if err := json.Unmarshal(stdout.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v: %q", name, err, stdout.String())
		}
		var got []string
		for k := range m {
			got = append(got, k)
		}
		slices.Sort(got)
		if !slices.Equal(got, keys) {
			t.Errorf("%s: fields %v, want %v", name, got, keys)
		}
		var r struct {
			Type string `json:"type"`
			benchResult
		}
		if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		ips := r.ImagesPerSec
		if r.Type != "bench" || r.Workload != name || strconv.Itoa(r.Threads) != threads || r.Steps != 1 || r.Batch != 4 {
			t.Errorf("%s: %+v, want type bench, the workload, %s threads, 1 step of 4", name, r, threads)
		}
		// No machine trains a hundred million images a second.
		if !(ips > 0 && ips < 1e8) || math.Abs(r.GFLOPS-ips*w.FLOPsPerImage/1e9) > 1e-9*r.GFLOPS {
			t.Errorf("%s: %v images/s and %v GFLOP/s, want a speed and %g FLOPs an image", name, ips, r.GFLOPS, w.FLOPsPerImage)
		}
		if want := runtime.GOOS + "/" + runtime.GOARCH + " " + runtime.Version(); r.Runtime != want {
			t.Errorf("%s: runtime %q, want %q", name, r.Runtime, want)
		}
		// A step of 4 images allocates at least its batch of 32x32 RGB
		// activations; the process holds more than a megabyte.
		if !(r.AllocBytesPerStep >= 4*3*32*32*4) || slices.Contains(keys, "peak_rss_bytes") && r.PeakRSSBytes < 1<<20 {
			t.Errorf("%s: %v bytes allocated a step, peak resident set %d", name, r.AllocBytesPerStep, r.PeakRSSBytes)
		}
		stdout.Reset()
		if code := run(args, &stdout, &stderr); code != 0 {
			t.Fatalf("%s: exit status %d, stderr %q", name, code, stderr.String())
		}
		line := regexp.MustCompile(`^` + name + `: (\d+\.\d) images/s, (\d+\.\d\d) GFLOP/s, (\d+\.\d) MB allocated a step \(` + threads + ` threads, ` + regexp.QuoteMeta(runtime.GOOS+"/"+runtime.GOARCH+" "+runtime.Version()) + `, median of 1 steps of 4\)\n$`)
		if m := line.FindStringSubmatch(stdout.String()); m == nil {
			t.Errorf("%s: %q, want %s", name, stdout.String(), line)
		} else if v, _ := strconv.ParseFloat(m[1], 64); !(v > 0) {
			t.Errorf("%s: %q, want a positive speed", name, stdout.String())
		}
	}
}

// TestBenchRefuses: flags bench cannot run with exit with status 2 and
// one message, before anything is built or timed.
func TestBenchRefuses(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string // in the one message; "" where the flag package prints it
	}{
		{[]string{"-workload", "nope"}, `bench: unknown workload "nope" (rs, js, cs)`},
		{[]string{"-workload", "RS"}, `unknown workload "RS"`},
		{[]string{"-steps", "0"}, "-threads, -steps and -batch must be positive"},
		{[]string{"-steps", "-3"}, "must be positive"},
		{[]string{"-threads", "-1"}, "must be positive"},
		{[]string{"-batch", "0"}, "must be positive"},
		{[]string{"-warmup", "-1"}, "-warmup not negative"},
		{[]string{"-json", "rs"}, `unexpected arguments ["rs"]`},
		{[]string{"-steps", "many"}, ""},
		{[]string{"-bogus"}, ""},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"bench"}, c.args...), &stdout, &stderr)
		msg := stderr.String()
		if code != 2 || stdout.Len() > 0 {
			t.Errorf("bench %q: exit status %d, stdout %q; want 2 and nothing", c.args, code, stdout.String())
		}
		if c.want == "" {
			// The flag package printed it (to the process's stderr).
			if msg != "" {
				t.Errorf("bench %q: printed %q again after the flag package", c.args, msg)
			}
			continue
		}
		if !strings.HasPrefix(msg, "pretext: bench: ") || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, c.want) {
			t.Errorf("bench %q: stderr %q, want one line saying %q", c.args, msg, c.want)
		}
	}
}
