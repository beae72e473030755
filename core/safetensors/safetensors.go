// Package safetensors reads and writes the safetensors format
// (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length, a JSON header naming each tensor's dtype, shape and byte
// range, then the tensors' raw little-endian bytes.
//
// Only F32 and I64 tensors are supported: Pretext's parameters are float32,
// and PyTorch's batch-norm counts its updates in an int64 scalar. Read
// bounds every allocation by the bytes actually present, so a corrupt or
// hostile file cannot ask for gigabytes; it does no I/O beyond its reader.
package safetensors

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/pretextlab/pretext/internal/bounded"
)

// Dtypes this package reads and writes, as the format names them.
const (
	F32 = "F32"
	I64 = "I64"
)

// Limits on what Read accepts.
const (
	// MaxHeader bounds the JSON header: 16 MB, not less than the
	// reference implementation's limit (100 MB would be its ceiling; a
	// Pretext model's header is a few kilobytes).
	MaxHeader = 1 << 24
	// MaxTensors bounds the number of tensors of one file.
	MaxTensors = 1 << 16
	// MaxBytes bounds the tensors' data: 1 GB.
	MaxBytes = 1 << 30
)

// Tensor is one named tensor. F32 holds the values of an F32 tensor, I64
// those of an I64 tensor, row-major; the other is nil. A scalar has an empty
// Shape and one value.
type Tensor struct {
	Name  string
	DType string
	Shape []int
	F32   []float32
	I64   []int64
}

// File is a safetensors file: its tensors in data order and its
// "__metadata__" string map (nil when absent).
type File struct {
	Tensors  []Tensor
	Metadata map[string]string
}

// Tensor returns the named tensor, or nil.
func (f *File) Tensor(name string) *Tensor {
	for i := range f.Tensors {
		if f.Tensors[i].Name == name {
			return &f.Tensors[i]
		}
	}
	return nil
}

// Size is the number of values of shape (1 for a scalar).
func Size(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// ErrFormat is wrapped by every error about malformed data.
var ErrFormat = errors.New("safetensors: malformed file")

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

type entry struct {
	DType   string `json:"dtype"`
	Shape   []int  `json:"shape"`
	Offsets [2]int `json:"data_offsets"`
}

// Write writes f to w: tensors in the order given, the header padded with
// spaces so the data starts at a multiple of 8 bytes (as the format
// allows, so that readers may map the tensors in place).
func Write(w io.Writer, f *File) error {
	header := make(map[string]any, len(f.Tensors)+1)
	if f.Metadata != nil {
		header["__metadata__"] = f.Metadata
	}
	offset := 0
	for i, t := range f.Tensors {
		if err := t.check(); err != nil {
			return fmt.Errorf("safetensors: tensor %d: %w", i, err)
		}
		if _, dup := header[t.Name]; dup {
			return fmt.Errorf("safetensors: tensor name %q used twice", t.Name)
		}
		n := 8 * Size(t.Shape)
		if t.DType == F32 {
			n = 4 * Size(t.Shape)
		}
		header[t.Name] = entry{DType: t.DType, Shape: nonNil(t.Shape), Offsets: [2]int{offset, offset + n}}
		offset += n
	}
	js, err := json.Marshal(header) // sorted keys: the same model, the same bytes
	if err != nil {
		return fmt.Errorf("safetensors: header: %w", err)
	}
	if pad := (8 - len(js)%8) % 8; pad > 0 {
		js = append(js, strings.Repeat(" ", pad)...)
	}
	bw := bufio.NewWriter(w)
	var u64 [8]byte
	binary.LittleEndian.PutUint64(u64[:], uint64(len(js)))
	bw.Write(u64[:])
	bw.Write(js)
	for _, t := range f.Tensors {
		if t.DType == F32 {
			for _, v := range t.F32 {
				binary.LittleEndian.PutUint32(u64[:4], math.Float32bits(v))
				bw.Write(u64[:4])
			}
			continue
		}
		for _, v := range t.I64 {
			binary.LittleEndian.PutUint64(u64[:], uint64(v))
			bw.Write(u64[:])
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("safetensors: writing: %w", err)
	}
	return nil
}

func nonNil(shape []int) []int {
	if shape == nil {
		return []int{}
	}
	return shape
}

// check reports a tensor Write cannot store.
func (t *Tensor) check() error {
	if t.Name == "" || t.Name == "__metadata__" {
		return fmt.Errorf("bad name %q", t.Name)
	}
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("%s has shape %v", t.Name, t.Shape)
		}
	}
	n := Size(t.Shape)
	switch {
	case t.DType == F32 && len(t.F32) == n && t.I64 == nil:
	case t.DType == I64 && len(t.I64) == n && t.F32 == nil:
	default:
		return fmt.Errorf("%s: dtype %q with %d F32 and %d I64 values for shape %v", t.Name, t.DType, len(t.F32), len(t.I64), t.Shape)
	}
	return nil
}

// Read reads a whole safetensors file from r, refusing tensor data of more
// than limit bytes (at most, and for limit <= 0, [MaxBytes]). Tensors come back in the
// order of their data. A file that is truncated, has trailing bytes, a
// header that is not the format's, overlapping or gapped data ranges, a
// dtype other than F32 and I64, or sizes past the limits is refused with an
// error wrapping [ErrFormat]; memory grows only with the bytes actually
// read.
func Read(r io.Reader, limit int) (*File, error) {
	if limit <= 0 || limit > MaxBytes {
		limit = MaxBytes
	}
	br := bufio.NewReader(r)
	var u64 [8]byte
	if _, err := io.ReadFull(br, u64[:]); err != nil {
		return nil, truncated(err)
	}
	n := binary.LittleEndian.Uint64(u64[:])
	if n < 2 || n > MaxHeader {
		return nil, formatErr("header length %d outside [2, %d] (not a safetensors file?)", n, MaxHeader)
	}
	js, err := readGrowing(br, int(n))
	if err != nil {
		return nil, err
	}
	if js[0] != '{' {
		return nil, formatErr("header does not start with '{' (not a safetensors file?)")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(js, &raw); err != nil {
		return nil, formatErr("header: %v", err)
	}
	f := &File{}
	if m, ok := raw["__metadata__"]; ok {
		if err := json.Unmarshal(m, &f.Metadata); err != nil {
			return nil, formatErr("__metadata__ is not a map of strings: %v", err)
		}
		delete(raw, "__metadata__")
	}
	if len(raw) > MaxTensors {
		return nil, formatErr("%d tensors, at most %d allowed", len(raw), MaxTensors)
	}
	type placed struct {
		name string
		entry
	}
	entries := make([]placed, 0, len(raw))
	for name, m := range raw {
		if name == "" {
			return nil, formatErr("empty tensor name")
		}
		var e entry
		dec := json.NewDecoder(strings.NewReader(string(m)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, formatErr("tensor %q: %v", name, err)
		}
		width := 0
		switch e.DType {
		case F32:
			width = 4
		case I64:
			width = 8
		default:
			return nil, formatErr("tensor %q has dtype %q; only F32 and I64 are read (save float32 tensors)", name, e.DType)
		}
		size := 1
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && size > limit/width/d) {
				return nil, formatErr("tensor %q has shape %v: negative or more than %d bytes", name, e.Shape, limit)
			}
			size *= d
		}
		if e.Offsets[1]-e.Offsets[0] != size*width || e.Offsets[0] < 0 {
			return nil, formatErr("tensor %q: data_offsets %v hold %d bytes, its %s shape %v needs %d", name, e.Offsets, e.Offsets[1]-e.Offsets[0], e.DType, e.Shape, size*width)
		}
		entries = append(entries, placed{name, e})
	}
	// The data must be covered exactly, in some order, without overlap.
	slices.SortFunc(entries, func(a, b placed) int {
		if c := a.Offsets[0] - b.Offsets[0]; c != 0 {
			return c
		}
		return a.Offsets[1] - b.Offsets[1]
	})
	end := 0
	for _, e := range entries {
		if e.Offsets[0] != end {
			return nil, formatErr("tensor %q starts at byte %d of the data, want %d (overlap or gap)", e.name, e.Offsets[0], end)
		}
		end = e.Offsets[1]
		if end > limit {
			return nil, formatErr("tensor data exceeds %d bytes", limit)
		}
	}
	data, err := readGrowing(br, end)
	if err != nil {
		return nil, err
	}
	if _, err := br.ReadByte(); err == nil {
		return nil, formatErr("unexpected bytes after the last tensor")
	}
	for _, e := range entries {
		t := Tensor{Name: e.name, DType: e.DType, Shape: e.Shape}
		if t.Shape == nil {
			t.Shape = []int{}
		}
		b := data[e.Offsets[0]:e.Offsets[1]]
		if e.DType == F32 {
			t.F32 = make([]float32, len(b)/4)
			for i := range t.F32 {
				t.F32[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
		} else {
			t.I64 = make([]int64, len(b)/8)
			for i := range t.I64 {
				t.I64[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
			}
		}
		f.Tensors = append(f.Tensors, t)
	}
	return f, nil
}

// readGrowing reads n bytes of an untrusted length (bounded.ReadFull).
func readGrowing(r io.Reader, n int) ([]byte, error) {
	b, err := bounded.ReadFull(r, n)
	if err != nil {
		return nil, truncated(err)
	}
	return b, nil
}

func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: truncated: %w", ErrFormat, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("safetensors: reading: %w", err)
}
