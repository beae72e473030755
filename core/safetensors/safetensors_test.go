package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"
)

func sample() *File {
	return &File{
		Metadata: map[string]string{"format": "test", "k": `{"a":[1,2]}`},
		Tensors: []Tensor{
			{Name: "w", DType: F32, Shape: []int{2, 3}, F32: []float32{1, -2, 3.5, float32(math.Pi), 0, -0}},
			{Name: "count", DType: I64, Shape: []int{}, I64: []int64{-7}},
			{Name: "empty", DType: F32, Shape: []int{0, 4}, F32: []float32{}},
			{Name: "b", DType: F32, Shape: []int{1}, F32: []float32{42}},
		},
	}
}

func encode(t testing.TB, f *File) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, f); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestRoundTrip writes and reads back every dtype, a scalar and an empty
// tensor, and checks the layout the format prescribes: the header length,
// a JSON header padded to 8 bytes, then the raw little-endian data.
func TestRoundTrip(t *testing.T) {
	raw := encode(t, sample())
	n := binary.LittleEndian.Uint64(raw)
	if n%8 != 0 || raw[8] != '{' {
		t.Fatalf("header length %d, first byte %q", n, raw[8])
	}
	data := raw[8+n:]
	if len(data) != 4*6+8+0+4 {
		t.Fatalf("data holds %d bytes, want 36", len(data))
	}
	if got := math.Float32frombits(binary.LittleEndian.Uint32(data[8:])); got != 3.5 {
		t.Fatalf("w[0,2] stored as %v", got)
	}
	f, err := Read(bytes.NewReader(raw), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := sample()
	if f.Metadata["k"] != want.Metadata["k"] || len(f.Tensors) != len(want.Tensors) {
		t.Fatalf("read %+v", f)
	}
	for i, w := range want.Tensors {
		g := f.Tensors[i] // data order is write order
		if g.Name != w.Name || g.DType != w.DType || len(g.Shape) != len(w.Shape) || len(g.F32) != len(w.F32) || len(g.I64) != len(w.I64) {
			t.Fatalf("tensor %d: got %+v, want %+v", i, g, w)
		}
		for j := range w.F32 {
			if g.F32[j] != w.F32[j] {
				t.Fatalf("%s[%d] = %v, want %v", w.Name, j, g.F32[j], w.F32[j])
			}
		}
		for j := range w.I64 {
			if g.I64[j] != w.I64[j] {
				t.Fatalf("%s[%d] = %v, want %v", w.Name, j, g.I64[j], w.I64[j])
			}
		}
	}
	if !bytes.Equal(encode(t, f), raw) {
		t.Fatal("read and written again, the bytes differ")
	}
}

// withHeader builds a file from a raw header and data.
func withHeader(h string, data []byte) []byte {
	var out []byte
	out = binary.LittleEndian.AppendUint64(out, uint64(len(h)))
	return append(append(out, h...), data...)
}

func TestReadRefuses(t *testing.T) {
	good := encode(t, sample())
	four := make([]byte, 4)
	cases := []struct {
		name, want string
		raw        []byte
	}{
		{"empty", "truncated", nil},
		{"short length", "truncated", good[:5]},
		{"truncated header", "truncated", good[:20]},
		{"truncated data", "truncated", good[:len(good)-1]},
		{"trailing byte", "after the last tensor", append(append([]byte(nil), good...), 0)},
		{"huge header length", "header length", binary.LittleEndian.AppendUint64(nil, 1<<40)},
		{"not json", "header", withHeader("{nope", nil)},
		{"not an object", "'{'", withHeader("[1,2,3]", nil)},
		{"bf16", `dtype "BF16"`, withHeader(`{"x":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}`, four)},
		{"short range", "needs 8", withHeader(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, four)},
		{"gap", "starts at byte 4", withHeader(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, append(four, four...))},
		{"overlap", "starts at byte 0", withHeader(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"y":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, four)},
		{"negative shape", "negative", withHeader(`{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, four)},
		{"absurd shape", "more than", withHeader(`{"x":{"dtype":"F32","shape":[1048576,1048576],"data_offsets":[0,4]}}`, four)},
		{"unknown field", "unknown field", withHeader(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}}`, four)},
		{"empty name", "empty tensor name", withHeader(`{"":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, four)},
		{"metadata not strings", "__metadata__", withHeader(`{"__metadata__":{"a":1}}`, nil)},
		{"absent data", "truncated", withHeader(`{"x":{"dtype":"F32","shape":[268435456],"data_offsets":[0,1073741824]}}`, four)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(c.raw), 0)
			if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one wrapping ErrFormat mentioning %q", err, c.want)
			}
		})
	}
	if _, err := Read(bytes.NewReader(good), 16); err == nil || !strings.Contains(err.Error(), "16 bytes") {
		t.Fatalf("limit 16: %v", err)
	}
}

// TestWriteRefuses: tensors whose values do not match their shape and
// dtype are a programming error Write reports rather than writes.
func TestWriteRefuses(t *testing.T) {
	for _, tt := range []Tensor{
		{Name: "x", DType: F32, Shape: []int{2}, F32: []float32{1}},
		{Name: "x", DType: "F16", Shape: []int{1}, F32: []float32{1}},
		{Name: "", DType: F32, Shape: []int{1}, F32: []float32{1}},
		{Name: "x", DType: I64, Shape: []int{1}, F32: []float32{1}},
	} {
		if err := Write(&bytes.Buffer{}, &File{Tensors: []Tensor{tt}}); err == nil {
			t.Errorf("%+v written", tt)
		}
	}
	dup := []Tensor{{Name: "x", DType: F32, Shape: []int{}, F32: []float32{1}}, {Name: "x", DType: F32, Shape: []int{}, F32: []float32{1}}}
	if err := Write(&bytes.Buffer{}, &File{Tensors: dup}); err == nil {
		t.Error("a name used twice was written")
	}
}

// FuzzRead: no input makes Read panic or allocate much more than its own
// size, and whatever it accepts writes and reads back to the same tensors.
func FuzzRead(f *testing.F) {
	good := encode(f, sample())
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(withHeader(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(withHeader(`{"__metadata__":{"a":"b"}}`, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		var file *File
		var err error
		if n := allocated(func() { file, err = Read(bytes.NewReader(b), 1<<20) }); n > 1<<20+64*uint64(len(b)) {
			t.Fatalf("reading %d bytes allocated %d", len(b), n)
		}
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := Write(&buf, file); err != nil {
			t.Fatalf("accepted file does not write: %v", err)
		}
		again, err := Read(&buf, 1<<20)
		if err != nil {
			t.Fatalf("written again, it does not read: %v", err)
		}
		if len(again.Tensors) != len(file.Tensors) {
			t.Fatalf("%d tensors, then %d", len(file.Tensors), len(again.Tensors))
		}
	})
}

func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
