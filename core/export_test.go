package core

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pretextlab/pretext/core/safetensors"
)

func exportBytes(t testing.TB, tr *Trainer) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := tr.ExportSafetensors(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestExportImport: an exported trainer imports with the same
// configuration, step and evaluation logits, and exports again to the
// same bytes; the tensors carry PyTorch's names and shapes.
func TestExportImport(t *testing.T) {
	t.Parallel()
	tr, batch := smallTrainer(t)
	raw := exportBytes(t, tr)
	f, err := safetensors.Read(bytes.NewReader(raw), 0)
	if err != nil {
		t.Fatal(err)
	}
	for name, shape := range map[string][]int{
		"trunk.layers.0.conv.weight":            {8, 3, 3, 3},
		"trunk.layers.2.conv.weight":            {32, 16, 3, 3},
		"trunk.layers.1.bn.running_var":         {16},
		"trunk.layers.1.bn.num_batches_tracked": {},
		"head.fc.weight":                        {4, 32},
		"head.fc.bias":                          {4},
	} {
		if st := f.Tensor(name); st == nil || !slices.Equal(st.Shape, shape) {
			t.Errorf("tensor %s: %+v, want shape %v", name, st, shape)
		}
	}
	if got := f.Tensor("trunk.layers.1.bn.num_batches_tracked").I64[0]; got != 3 {
		t.Errorf("num_batches_tracked %d, want the 3 steps", got)
	}
	if m := f.Metadata; m["head_layout"] != LayoutLinear || m["task"] != ClassifierKind || m["step"] != "3" || !strings.Contains(m["trunk"], `"widths":[8,16,32]`) || !strings.Contains(m["normalization"], "0.485") {
		t.Errorf("metadata %v", m)
	}
	back, err := ImportSafetensors(bytes.NewReader(raw), nil)
	if err != nil {
		t.Fatal(err)
	}
	if back.Steps() != 3 || back.Config != tr.Config {
		t.Fatalf("imported step %d config %+v, want 3 %+v", back.Steps(), back.Config, tr.Config)
	}
	if a, b := evalLogits(t, tr, batch), evalLogits(t, back, batch); !slices.Equal(a, b) {
		t.Fatalf("logits %v, imported %v", a, b)
	}
	if !bytes.Equal(exportBytes(t, back), raw) {
		t.Fatal("imported and exported again, the bytes differ")
	}
}

// rewrite reads an export, lets edit change it, and writes it again.
func rewrite(t *testing.T, raw []byte, edit func(f *safetensors.File)) []byte {
	t.Helper()
	f, err := safetensors.Read(bytes.NewReader(raw), 0)
	if err != nil {
		t.Fatal(err)
	}
	edit(f)
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, f); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestImportRefuses(t *testing.T) {
	t.Parallel()
	tr, _ := smallTrainer(t)
	raw := exportBytes(t, tr)
	drop := func(name string) func(*safetensors.File) {
		return func(f *safetensors.File) {
			f.Tensors = slices.DeleteFunc(f.Tensors, func(t safetensors.Tensor) bool { return t.Name == name })
		}
	}
	meta := func(k, v string) func(*safetensors.File) {
		return func(f *safetensors.File) { f.Metadata[k] = v }
	}
	cases := []struct {
		name, want string
		edit       func(*safetensors.File)
	}{
		{"missing tensor", "head.fc.bias is missing", drop("head.fc.bias")},
		{"extra tensor", "extra is not part", func(f *safetensors.File) {
			f.Tensors = append(f.Tensors, safetensors.Tensor{Name: "extra", DType: safetensors.F32, Shape: []int{1}, F32: []float32{1}})
		}},
		{"wrong shape", "want F32 [8 3 3 3]", func(f *safetensors.File) {
			f.Tensor("trunk.layers.0.conv.weight").Shape = []int{8, 27}
		}},
		{"NaN", "holds NaN at index 5", func(f *safetensors.File) {
			f.Tensor("trunk.layers.1.bn.weight").F32[5] = float32(math.NaN())
		}},
		{"bad counter", "non-negative I64 scalar", func(f *safetensors.File) {
			f.Tensor("trunk.layers.0.bn.num_batches_tracked").I64[0] = -1
		}},
		{"no metadata", "no __metadata__", func(f *safetensors.File) { f.Metadata = nil }},
		{"other format", `format is "x"`, meta("format", "x")},
		{"newer", "newer than this build", meta("format_version", strconv.Itoa(ExportVersion+1))},
		{"bad trunk", "trunk width", meta("trunk", `{"widths":[0]}`)},
		{"unknown trunk field", "unknown field", meta("trunk", `{"widths":[8],"bias":true}`)},
		{"huge trunk", "parameters, at most", meta("trunk", `{"widths":[4096,4096,4096],"depth":16}`)},
		{"trunk past the data", "the trunk it describes alone has", meta("trunk", `{"widths":[1024,1024]}`)},
		{"unknown head", "unknown here", meta("head", `{"kind":"nope"}`)},
		{"negative step", "step", meta("step", "-1")},
		{"layout", `head layout is "mlp"`, meta("head_layout", "mlp")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ImportSafetensors(bytes.NewReader(rewrite(t, raw, c.edit)), nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
	// The counters may be absent, as in a state_dict saved without them.
	noCounters := rewrite(t, raw, func(f *safetensors.File) {
		f.Tensors = slices.DeleteFunc(f.Tensors, func(t safetensors.Tensor) bool { return strings.HasSuffix(t.Name, "num_batches_tracked") })
	})
	if _, err := ImportSafetensors(bytes.NewReader(noCounters), nil); err != nil {
		t.Fatalf("without num_batches_tracked: %v", err)
	}
}

// FuzzImportSafetensors: no input makes ImportSafetensors panic, and a
// file it accepts evaluates, exports and imports again.
func FuzzImportSafetensors(f *testing.F) {
	tr, err := LoadTrainer(bytes.NewReader(tinyCheckpoint(f)), nil)
	if err != nil {
		f.Fatal(err)
	}
	raw := exportBytes(f, tr)
	f.Add(raw)
	f.Add(raw[:len(raw)/2])
	f.Add(bytes.Replace(raw, []byte(`\"widths\":[2,4]`), []byte(`\"widths\":[2,4,8]`), 1))
	f.Add(bytes.Replace(raw, []byte(`"F32"`), []byte(`"F16"`), 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		var err error
		var tr *Trainer
		n := allocated(func() { tr, err = ImportSafetensors(bytes.NewReader(b), nil) })
		if errors.Is(err, safetensors.ErrFormat) && n > 4<<20+64*uint64(len(b)) {
			// Refused before any model was built: the cost is the data's.
			t.Fatalf("refusing %d bytes (%v) allocated %d", len(b), err, n)
		}
		if err != nil {
			return
		}
		img := NewPlanar(tr.Trunk.Config.InChannels, 16, 16)
		tr.Evaluate([]Example{{Views: []Planar{img}, Class: 1}, {Views: []Planar{img}}})
		again := exportBytes(t, tr)
		if _, err := ImportSafetensors(bytes.NewReader(again), nil); err != nil {
			t.Fatalf("an imported file exported again does not import: %v", err)
		}
	})
}
