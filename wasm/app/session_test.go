package app

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/pretextlab/pretext/recipe"
)

// withKinds returns an app holding ten tiny photos (testphotos.Kinds, 64x64
// pixels, five of each kind), for runs cheaper than the samples'.
func withKinds(t testing.TB) *App {
	t.Helper()
	a := New()
	files := kindFiles(t, 5, 1)
	if res := a.AddImages(files); len(res.Rejected) > 0 || res.Count != len(files) {
		t.Fatalf("photos: %d added, rejected %v", res.Count, res.Rejected)
	}
	return a
}

// trace is what a run reported: each step's loss (index i is step i+1),
// the 0-based steps before which the photos were relabelled, and the
// sessions saved with their steps.
type trace struct {
	losses    []float64
	refreshes []int
	sessions  [][]byte
	savedAt   []int
}

// record trains s on a, stopping after step stopAt when it is positive,
// and returns what the run reported. A warning (photos the task cannot
// use) fails the test: every photo must count.
func record(t *testing.T, a *App, s Settings, stopAt int) trace {
	t.Helper()
	var tr trace
	res, err := a.Train(context.Background(), s, func(e Event) {
		switch e.Type {
		case "step":
			tr.losses = append(tr.losses, e.Loss)
			if e.Step == stopAt {
				a.Stop()
			}
		case "refresh":
			tr.refreshes = append(tr.refreshes, e.Step)
		case "session":
			if e.Message != "" {
				t.Errorf("session event: %s", e.Message)
			}
			tr.sessions, tr.savedAt = append(tr.sessions, e.Session), append(tr.savedAt, e.Step)
		case "warning", "diverged":
			t.Errorf("%s at step %d: %s", e.Type, e.Step, e.Message)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if stopAt > 0 && (!res.Stopped || res.Step != stopAt) {
		t.Fatalf("run stopped at step %d (stopped %v), want %d", res.Step, res.Stopped, stopAt)
	}
	return tr
}

// TestSessionResumesExactly: a run stopped, saved as a session, restored
// into a fresh app (the page after a reload) and resumed takes the steps
// an uninterrupted run takes: the same losses (so the same batches, the
// optimizer's state carried over, and for the clustering tasks the same
// relabelling at the same steps) and the same predictions at the end.
// A clustering task relabels its photos when restored, so its runs stop
// where the uninterrupted run relabels too (every 3 steps).
func TestSessionResumesExactly(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		s             Settings
		samples       bool // the sample photos, else the tiny ones
		heavy         bool // trains for seconds: not in the quick tier (-short)
		steps, stopAt int
		relabels      []int // the steps the photos are relabelled before, from the stop on
	}{
		{"rotation", quick("rotation", 10), true, false, 10, 5, nil},
		{"rotation with adam", withOptimizer(quick("rotation", 6), "adam"), false, false, 6, 3, nil},
		{"deepcluster", withConfig(quick("deepcluster", 7), `{"every":3,"k":4}`), false, false, 7, 3, []int{3, 6}},
		{"sela", withConfig(quick("sela", 7), `{"every":3,"k":4}`), false, false, 7, 3, []int{3, 6}},
		// Jigsaw needs photos of 96 pixels: the samples.
		{"multi-task", withBatch(quick("multi-task", 4), 6), true, true, 4, 2, nil},
		{"multi-task with deepcluster", withConfig(quick("multi-task", 7),
			`{"tasks":[{"name":"rotation"},{"name":"deepcluster","config":{"every":3,"k":4}}]}`), false, false, 7, 3, []int{3, 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if testing.Short() && tc.heavy {
				t.Skip("a multi-task with jigsaw on the sample photos: not in the quick tier")
			}
			photos := withKinds
			if tc.samples {
				photos = withSamples
			}
			s := tc.s
			whole := photos(t)
			want := record(t, whole, s, 0)
			if len(want.losses) != tc.steps {
				t.Fatalf("the uninterrupted run took %d steps, want %d", len(want.losses), tc.steps)
			}

			s.SaveEvery = 3
			stopped := record(t, photos(t), s, tc.stopAt)
			// Every 3 steps, and at the stop (a second time on a stop at
			// a multiple of 3).
			var wantSaved []int
			for st := 3; st <= tc.stopAt; st += 3 {
				wantSaved = append(wantSaved, st)
			}
			if wantSaved = append(wantSaved, tc.stopAt); !slices.Equal(stopped.savedAt, wantSaved) {
				t.Fatalf("sessions saved at steps %v, want %v", stopped.savedAt, wantSaved)
			}

			b := photos(t)
			info, err := b.RestoreSession(stopped.sessions[len(stopped.sessions)-1])
			if err != nil {
				t.Fatal(err)
			}
			if info.Step != tc.stopAt || info.Task != s.Task || info.Train.Optimizer != whole.current().run.Settings.Optimizer {
				t.Fatalf("restored %+v", info)
			}
			got := record(t, b, Settings{Settings: recipe.Settings{Steps: tc.steps}, Resume: true}, 0)
			if len(got.losses) != tc.steps-tc.stopAt {
				t.Fatalf("resumed for %d steps, want %d", len(got.losses), tc.steps-tc.stopAt)
			}
			for i, l := range got.losses {
				if w := want.losses[tc.stopAt+i]; math.Abs(l-w) > 1e-6*max(1, math.Abs(w)) {
					t.Errorf("step %d: loss %.7f after the restore, %.7f uninterrupted", tc.stopAt+i+1, l, w)
				}
			}
			var wantRefresh []int
			for _, st := range want.refreshes {
				if st >= tc.stopAt {
					wantRefresh = append(wantRefresh, st)
				}
			}
			if !slices.Equal(got.refreshes, wantRefresh) || !slices.Equal(got.refreshes, tc.relabels) {
				t.Errorf("relabelled before steps %v after the restore, %v uninterrupted, want %v", got.refreshes, wantRefresh, tc.relabels)
			}
			pw, err := whole.Previews()
			if err != nil {
				t.Fatal(err)
			}
			pg, err := b.Previews()
			if err != nil {
				t.Fatal(err)
			}
			if len(pg) != len(pw) || len(pw) == 0 {
				t.Fatalf("%d previews after the restore, %d uninterrupted", len(pg), len(pw))
			}
			// A multi-task's sub-task heads send the trunk gradients that
			// spago's backward pass, which runs operators concurrently,
			// adds in the order they arrive: the same run differs from
			// itself in float32 rounding, about 1e-6 in these predictions.
			tol := 1e-6
			if s.Task == "multi-task" {
				tol = 1e-5
			}
			for i := range pw {
				if !closeAll(pg[i].Probs, pw[i].Probs, tol) {
					t.Errorf("%s: predicts %v after the restore, %v uninterrupted", pw[i].Name, pg[i].Probs, pw[i].Probs)
				}
			}
		})
	}
}

// withOptimizer, withBatch and withConfig return s with one field set.
func withOptimizer(s Settings, opt string) Settings { s.Optimizer = opt; return s }
func withBatch(s Settings, n int) Settings          { s.Batch = n; return s }
func withConfig(s Settings, cfg string) Settings {
	s.Config = json.RawMessage(cfg)
	return s
}

// closeAll reports whether a and b have the same length and values within
// tol (relative above 1).
func closeAll(a, b []float64, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > tol*max(1, math.Abs(b[i])) {
			return false
		}
	}
	return true
}

// Where a session keeps its header (recipe/session.go): magic, version,
// length and CRC-32 of the JSON header, then the header.
const (
	sessionLenAt = 12
	sessionCRCAt = 16
	sessionHdrAt = 20
)

// reheader returns the session b with its JSON header's settings edited
// by edit and the header's length and checksum made right again, so that
// the edit is the only thing wrong with it.
func reheader(t testing.TB, b []byte, edit func(settings map[string]any)) []byte {
	t.Helper()
	n := int(binary.LittleEndian.Uint32(b[sessionLenAt:]))
	dec := json.NewDecoder(bytes.NewReader(b[sessionHdrAt : sessionHdrAt+n]))
	dec.UseNumber() // the seed is a uint64
	var hdr map[string]any
	if err := dec.Decode(&hdr); err != nil {
		t.Fatal(err)
	}
	settings, ok := hdr["settings"].(map[string]any)
	if !ok {
		t.Fatalf("the session's header has no settings: %v", hdr)
	}
	edit(settings)
	h, err := json.Marshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	return seal(slices.Concat(b[:sessionHdrAt], h, b[sessionHdrAt+n:]), len(h))
}

// seal writes the header length n and its checksum into the session b.
func seal(b []byte, n int) []byte {
	binary.LittleEndian.PutUint32(b[sessionLenAt:], uint32(n))
	binary.LittleEndian.PutUint32(b[sessionCRCAt:], crc32.ChecksumIEEE(b[sessionHdrAt:sessionHdrAt+n]))
	return b
}

// tinySession trains rotation two steps on the tiny photos and returns
// the app and its saved session.
func tinySession(t testing.TB) (*App, []byte) {
	t.Helper()
	a := withKinds(t)
	if _, err := a.Train(context.Background(), quick("rotation", 2), nil); err != nil {
		t.Fatal(err)
	}
	b, err := a.SaveSession()
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

// TestSessionRefusesDamage: a damaged session, or a sound one whose header
// does not describe its model or holds settings no run may have, is
// refused with a clear error and leaves the current model alone, usable:
// the good session restores afterwards and trains on.
func TestSessionRefusesDamage(t *testing.T) {
	t.Parallel()
	a, good := tinySession(t)
	flip := func(i int) []byte {
		b := append([]byte(nil), good...)
		b[i] ^= 0x40
		return b
	}
	set := func(key string, v any) []byte {
		return reheader(t, good, func(s map[string]any) { s[key] = v })
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a saved Pretext session"},
		{"a checkpoint", good[sessionHdrAt+int(binary.LittleEndian.Uint32(good[sessionLenAt:])):], "not a saved Pretext session"},
		{"newer version", flip(8), "version"},
		{"header bit", flip(25), "checksum"},
		{"checkpoint bit", flip(len(good) - 50), "checksum"},
		{"truncated", good[:len(good)/2], "truncated"},
		{"header too long", flip(15), "does not fit"},
		{"another task than its model's", set("task", "jigsaw"), `the saved session's model is not its "jigsaw" task`},
		{"an unknown task", set("task", "sudoku"), `the saved session's model is not its "sudoku" task`},
		{"a negative learning rate", set("lr", -0.5), "the saved session's settings: recipe: learning rate -0.5 is not a finite positive number"},
		{"an unknown optimizer", set("optimizer", "rmsprop"), `the saved session's settings: recipe: optimizer "rmsprop", want sgd or adam`},
		{"a negative batch", set("batch", -8), "the saved session's settings: recipe: batch -8 out of range"},
		{"a held-back fraction of 1", set("holdout", 1), "the saved session's settings: recipe: held-back fraction outside [0, 1)"},
		{"an unknown trunk", set("width", "huge"), "huge"},
		{"a header that is not JSON settings", seal(slices.Concat(good[:sessionHdrAt], []byte(`{"settings":7}`), good[sessionHdrAt+int(binary.LittleEndian.Uint32(good[sessionLenAt:])):]), len(`{"settings":7}`)), "the saved session is damaged"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := a.RestoreSession(tc.data); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.want)
			}
			if st := a.Status(); st.Step != 2 || st.Task != "rotation" || st.Training {
				t.Errorf("after the refused session the model is %+v", st)
			}
		})
	}
	if _, err := a.RestoreSession(good); err != nil {
		t.Fatalf("the good session after the damaged ones: %v", err)
	}
	if res, err := a.Train(context.Background(), Settings{Settings: recipe.Settings{Steps: 3}, Resume: true}, nil); err != nil || res.Step != 3 {
		t.Fatalf("resuming after the refusals: %+v, %v", res, err)
	}
}

// TestSessionRefusedWhileTraining: a session restored while a run trains
// is refused as busy; the run goes on untouched, and once it has stopped
// the session restores.
func TestSessionRefusedWhileTraining(t *testing.T) {
	t.Parallel()
	_, saved := tinySession(t)
	a := withKinds(t)
	var busy error
	busyInfo := ModelInfo{Task: "unset"}
	res, err := a.Train(context.Background(), quick("jigsaw-positions", 20), func(e Event) {
		if e.Type == "step" && e.Step == 2 {
			busyInfo, busy = a.RestoreSession(saved)
			a.Stop()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(busy, ErrBusy) || busyInfo.Task != "" {
		t.Errorf("a restore while training: %+v, %v; want %v", busyInfo, busy, ErrBusy)
	}
	if st := a.Status(); !res.Stopped || st.Step != 2 || st.Task != "jigsaw-positions" || st.Training {
		t.Errorf("after the refused restore: result %+v, status %+v", res, st)
	}
	info, err := a.RestoreSession(saved)
	if err != nil || info.Task != "rotation" || info.Step != 2 {
		t.Fatalf("the restore after the stop: %+v, %v", info, err)
	}
	if st := a.Status(); st.Task != "rotation" || st.Step != 2 {
		t.Errorf("the restored model is %+v", st)
	}
}

// FuzzRestoreSession restores arbitrary bytes as a session, as they are
// and with the header's length and checksum and the checkpoint's checksum
// made right (so that mutated settings reach the checks behind them). It
// must never panic and must either refuse with an error or restore a model
// that saves a session that restores again to the same step. The seeds, a
// real session and damaged ones, run with every go test. A 30-second run
// (go test -run '^$' -fuzz '^FuzzRestoreSession$' -fuzztime 30s
// -fuzzminimizetime 2s -parallel 1; the default minimizing time stalls on
// these 750 kB inputs) made 57,589 executions without a failure.
func FuzzRestoreSession(f *testing.F) {
	_, good := tinySession(f)
	n := int(binary.LittleEndian.Uint32(good[sessionLenAt:]))
	f.Add(good)
	f.Add(good[:len(good)*2/3])
	f.Add(good[:sessionHdrAt+n])
	f.Add(good[:sessionHdrAt])
	for _, i := range []int{8, 13, 25, len(good) / 2, len(good) - 3} {
		b := append([]byte(nil), good...)
		b[i] ^= 0x21
		f.Add(b)
	}
	for _, edit := range []func(map[string]any){
		func(s map[string]any) { s["task"] = "jigsaw" },
		func(s map[string]any) { s["lr"] = -1 },
		func(s map[string]any) { s["optimizer"] = "rmsprop" },
		func(s map[string]any) { s["steps"] = 1 },
		func(s map[string]any) { s["config"] = map[string]any{"size": -4} },
		func(s map[string]any) { delete(s, "task") },
	} {
		f.Add(reheader(f, good, edit))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		try := func(b []byte) {
			a := New()
			info, err := a.RestoreSession(b)
			if err != nil {
				return
			}
			again, err := a.SaveSession()
			if err != nil {
				t.Fatalf("a restored session (%+v) does not save: %v", info, err)
			}
			info2, err := New().RestoreSession(again)
			if err != nil {
				t.Fatalf("a restored session (%+v) saved again does not restore: %v", info, err)
			}
			if info2.Step != info.Step || info2.Task != info.Task {
				t.Fatalf("restored %+v, saved and restored again %+v", info, info2)
			}
		}
		try(b)
		if len(b) < sessionHdrAt+4 {
			return
		}
		hn := int(binary.LittleEndian.Uint32(b[sessionLenAt:]))
		if hn > len(b)-sessionHdrAt-4 {
			return
		}
		sealed := seal(append([]byte(nil), b...), hn)
		// The checkpoint's own checksum: CRC-32C of all before its last 4 bytes.
		ck := sealed[sessionHdrAt+hn:]
		binary.LittleEndian.PutUint32(ck[len(ck)-4:], crc32.Checksum(ck[:len(ck)-4], crc32.MakeTable(crc32.Castagnoli)))
		try(sealed)
	})
}
