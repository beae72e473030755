package tasks

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"runtime"
	"strings"
	"testing"

	"github.com/pretextlab/pretext/core"
)

// TestResolveRefusesAbsurdHeads: task settings a checkpoint's header could
// carry, each within its own range but together asking for hundreds of
// megabytes to gigabytes of head, are refused with a clear error before
// the head is allocated (under 4 MB allocated per case).
func TestResolveRefusesAbsurdHeads(t *testing.T) {
	wide, err := core.NewTrunk(core.TrunkConfig{Widths: []int{4096}}, testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	// One pooling stage before 4096 channels, for the decoders.
	pooled, err := core.NewTrunk(core.TrunkConfig{Widths: []int{8, 4096}}, testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, kind, config string
		trunk              *core.Trunk
		want               string
	}{
		{"jigsaw of 2^31 permutations", "jigsaw", `{"perms":2147483648}`, wide, "perms"},
		{"jigsaw of 2^62 permutations", "jigsaw", `{"perms":4611686018427387904}`, wide, "perms"},
		{"jigsaw of 16384 hidden units", "jigsaw", `{"hidden":16384,"cell":8,"tile":8}`, wide, "parameters"},
		{"jigsaw-positions of 16384 hidden units", "jigsaw-positions", `{"hidden":16384,"cell":8,"tile":8}`, wide, "parameters"},
		{"relative-position of 16384 hidden units", "relative-position", `{"hidden":16384,"patch":8}`, wide, "parameters"},
		{"simclr of 16384 by 16384", "simclr", `{"hidden":16384,"proj":16384,"size":8}`, wide, "parameters"},
		{"colorization of 4096 hidden units", "colorization", `{"hidden":4096,"size":8}`, wide, "parameters"},
		{"exemplar of 8000 classes", "exemplar", `{"classes":8000,"size":8}`, wide, "parameters"},
		{"deepcluster of 4096 clusters", "deepcluster", `{"k":4096,"size":8}`, wide, "parameters"},
		{"keypoint-clusters of 4096 clusters", "keypoint-clusters", `{"k":4096}`, wide, "parameters"},
		{"sela of 16 heads of 4096 classes", "sela", `{"k":4096,"heads":16,"size":8}`, wide, "parameters"},
		{"inpainting decoder of 1024 hidden units", "inpainting", `{"hidden":1024,"size":16}`, pooled, "parameters"},
		{"super-resolution decoder of 1024 hidden units", "super-resolution", `{"hidden":1024,"size":16}`, pooled, "parameters"},
		{"multi-task of a jigsaw too large", "multi-task", `{"tasks":[{"name":"rotation","weight":1,"config":{"size":8}},{"name":"jigsaw","weight":1,"config":{"hidden":16384,"cell":8,"tile":8}}]}`, wide, "parameters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err = Resolve(core.HeadSpec{Kind: tc.kind, Config: json.RawMessage(tc.config)}, tc.trunk)
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
				t.Errorf("Resolve allocated %d bytes before refusing", n)
			}
			t.Log(err)
		})
	}
}

// fuzzSeeds are checkpoints of a tiny trunk with some of the tasks' heads,
// after one step each: the valid seeds of FuzzResolve.
func fuzzSeeds(t testing.TB) [][]byte {
	trunk := func() *core.Trunk {
		tr, err := core.NewTrunk(core.TrunkConfig{Widths: []int{2, 4}}, testRNG(3))
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	specs := []struct{ kind, config string }{
		{"rotation", `{"size":8}`},
		{"jigsaw", `{"cell":4,"tile":4,"hidden":4,"perms":4}`},
		{"relative-position", `{"patch":4,"hidden":4}`},
		{"multi-task", `{"tasks":[{"name":"rotation","weight":1,"config":{"size":8}},{"name":"simclr","weight":0.5,"config":{"size":8,"hidden":4,"proj":4}}]}`},
	}
	photos := testPhotos(t)[:2]
	var out [][]byte
	for _, s := range specs {
		tk := trunk()
		task, err := New(s.kind, json.RawMessage(s.config), tk, testRNG(4))
		if err != nil {
			t.Fatalf("%s: %v", s.kind, err)
		}
		tr, err := core.NewTrainer(tk, task, core.TrainConfig{Optimizer: "adam"})
		if err != nil {
			t.Fatal(err)
		}
		batch, err := Batch(task, photos, 4, testRNG(5))
		if err != nil {
			t.Fatalf("%s: %v", s.kind, err)
		}
		if _, err := tr.Step(context.Background(), batch); err != nil {
			t.Fatalf("%s: %v", s.kind, err)
		}
		var buf bytes.Buffer
		if err := tr.Save(&buf); err != nil {
			t.Fatal(err)
		}
		out = append(out, buf.Bytes())
	}
	return out
}

// FuzzResolve loads arbitrary bytes as a checkpoint with the registry's
// heads, as they are and with their checksum recomputed (so that mutated
// task settings reach the constructors). It must never panic; what loads
// must save to a checkpoint that loads again. testdata/fuzz/FuzzResolve is
// the corpus of a 10-minute run (go test -run '^$' -fuzz '^FuzzResolve$'
// -fuzztime 10m -fuzzminimizetime 2s -parallel 1: 261,561 executions, no
// failure), replayed by every go test.
func FuzzResolve(f *testing.F) {
	for _, raw := range fuzzSeeds(f) {
		f.Add(raw)
		f.Add(raw[:len(raw)*2/3])
		damaged := append([]byte(nil), raw...)
		damaged[len(damaged)/3] ^= 0x20
		f.Add(damaged)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		try := func(b []byte) {
			tr, err := core.LoadTrainer(bytes.NewReader(b), Resolve)
			if err != nil {
				return
			}
			var buf bytes.Buffer
			if err := tr.Save(&buf); err != nil {
				t.Fatal(err)
			}
			if _, err := core.LoadTrainer(&buf, Resolve); err != nil {
				t.Fatalf("a loaded checkpoint saved again does not load: %v", err)
			}
		}
		try(b)
		if len(b) >= 4 {
			sealed := append([]byte(nil), b...)
			binary.LittleEndian.PutUint32(sealed[len(sealed)-4:], crc32.Checksum(sealed[:len(sealed)-4], crc32.MakeTable(crc32.Castagnoli)))
			try(sealed)
		}
	})
}

// TestRegistryFacts: every registry entry carries what the shells read
// (summary with its paper, training defaults, preview captions), its
// instances answer to its name, and Lookup describes the default task.
func TestRegistryFacts(t *testing.T) {
	t.Parallel()
	images := map[string]bool{"original": true, "input": true, "image": true}
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			info, err := Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			if info.Name != name || !strings.Contains(info.Summary, "20") || !strings.HasSuffix(info.Summary, ")") {
				t.Errorf("name %q, summary %q: want the name and a summary citing its paper", info.Name, info.Summary)
			}
			d := info.Defaults
			if (d.Optimizer != "sgd" && d.Optimizer != "adam") || !(d.LR > 0 && d.LR < 1) || d.Steps < 1 || d.Batch < 1 {
				t.Errorf("defaults %+v", d)
			}
			if len(info.Captions) == 0 {
				t.Error("no preview captions")
			}
			for _, c := range info.Captions {
				if !images[c.Image] || c.Text == "" {
					t.Errorf("caption %+v", c)
				}
			}
			task, err := New(name, nil, smallTrunk(t, 1), testRNG(1))
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Config) > 0 {
				if _, err := New(name, d.Config, smallTrunk(t, 1), testRNG(1)); err != nil {
					t.Errorf("the default run's config %s: %v", d.Config, err)
				}
			}
			if task.Name() != name || task.Spec().Kind != name {
				t.Errorf("task built by %q is named %q, spec kind %q", name, task.Name(), task.Spec().Kind)
			}
			if info.InputSize < 1 || info.Needs.MinSide < 1 {
				t.Errorf("input size %d, needs %+v", info.InputSize, info.Needs)
			}
		})
	}
	if _, err := Lookup("nope"); err == nil || !strings.Contains(err.Error(), "rotation") {
		t.Errorf("Lookup of an unknown task: %v, want an error listing the tasks", err)
	}
}

// TestNeeds: colour needs follow the tasks that learn colour, also inside
// a multi-task, and size needs follow the settings.
func TestNeeds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, kind, config string
		want               Needs
	}{
		{"rotation", "rotation", "", Needs{MinSide: 1}},
		{"colorization", "colorization", "", Needs{Colour: true, MinSide: 1}},
		{"jigsaw of 20-pixel cells", "jigsaw", `{"cell":20,"tile":16}`, Needs{MinSide: 20}},
		{"relative-position of 24-pixel patches", "relative-position", `{"patch":24}`, Needs{MinSide: 24}},
		{"multi-task with colorization", "multi-task", `{"tasks":[{"name":"rotation"},{"name":"colorization"}]}`, Needs{Colour: true, MinSide: 1}},
		{"multi-task without colorization", "multi-task", `{"tasks":[{"name":"rotation"},{"name":"jigsaw","config":{"cell":20,"tile":16}}]}`, Needs{MinSide: 20}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			task, err := New(tc.kind, json.RawMessage(tc.config), smallTrunk(t, 1), testRNG(1))
			if err != nil {
				t.Fatal(err)
			}
			if got := task.Needs(); got != tc.want {
				t.Errorf("needs %+v, want %+v", got, tc.want)
			}
		})
	}
}
