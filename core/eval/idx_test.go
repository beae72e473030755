package eval

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// idxFile builds an IDX stream: the magic, the sizes, the data.
func idxFile(magic uint32, sizes []uint32, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, magic)
	binary.Write(&b, binary.BigEndian, sizes)
	b.Write(data)
	return b.Bytes()
}

func gzipped(b []byte) []byte {
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(b)
	w.Close()
	return z.Bytes()
}

func TestReadIDX(t *testing.T) {
	// Three 2x4 images whose pixels count up, and their labels.
	pix := make([]byte, 24)
	for i := range pix {
		pix[i] = byte(10 * i)
	}
	images := idxFile(0x803, []uint32{3, 2, 4}, pix)
	labels := idxFile(0x801, []uint32{3}, []byte{7, 0, 9})
	// The header, spelled out: magic 00 00 08 03, then 3, 2 and 4.
	if want := []byte{0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 4, 0, 10}; !bytes.HasPrefix(images, want) {
		t.Fatalf("test file starts % x", images[:18])
	}
	for _, form := range []struct {
		name string
		wrap func([]byte) []byte
	}{{"raw", func(b []byte) []byte { return b }}, {"gzip", gzipped}} {
		t.Run(form.name, func(t *testing.T) {
			n, rows, cols, got, err := ReadIDXImages(bytes.NewReader(form.wrap(images)))
			if err != nil || n != 3 || rows != 2 || cols != 4 || !slices.Equal(got, pix) {
				t.Errorf("images: %d x %d x %d %v (%v)", n, rows, cols, got, err)
			}
			l, err := ReadIDXLabels(bytes.NewReader(form.wrap(labels)))
			if err != nil || !slices.Equal(l, []uint8{7, 0, 9}) {
				t.Errorf("labels: %v (%v)", l, err)
			}
		})
	}
}

func TestReadIDXErrors(t *testing.T) {
	pix := make([]byte, 24)
	good := idxFile(0x803, []uint32{3, 2, 4}, pix)
	badCRC := gzipped(good)
	badCRC[len(badCRC)-8] ^= 0xff // the CRC-32 is the trailer's first 4 bytes
	tests := []struct {
		name   string
		data   []byte
		labels bool
		is     error
		want   string
	}{
		{"empty", nil, false, ErrTruncated, "ends inside the header"},
		{"short header", good[:10], false, ErrTruncated, "ends inside the header"},
		{"truncated data", good[:len(good)-1], false, ErrTruncated, "23 of 24 bytes"},
		{"truncated gzip", gzipped(good)[:30], false, ErrTruncated, "ends inside the gzip trailer"},
		{"trailing data", append(slices.Clone(good), 0), false, nil, "more data than the header's 24 bytes"},
		{"labels as images", idxFile(0x801, []uint32{3}, []byte{1, 2, 3}), false, ErrNotIDX, "magic 0x00000801, want 0x00000803"},
		{"images as labels", good, true, ErrNotIDX, "magic 0x00000803, want 0x00000801"},
		{"PNG", []byte("\x89PNG\r\n\x1a\n...."), false, ErrNotIDX, "magic 0x89504e47"},
		{"float data", idxFile(0x0d03, []uint32{1, 1, 1}, []byte{0, 0, 0, 0}), false, ErrNotIDX, "magic 0x00000d03"},
		{"zero size", idxFile(0x803, []uint32{0, 28, 28}, nil), false, nil, "dimension 0 has size 0"},
		{"absurd count", idxFile(0x803, []uint32{0xffffffff, 28, 28}, pix), false, nil, "sizes 4294967295 x 28 x 28 make more than the limit"},
		{"absurd labels", idxFile(0x801, []uint32{0xffffffff}, pix), true, nil, "more than the limit of 2147483647 bytes"},
		{"bad gzip checksum", badCRC, false, nil, "reading the gzip trailer: gzip: invalid checksum"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.labels {
				_, err = ReadIDXLabels(bytes.NewReader(tc.data))
			} else {
				_, _, _, _, err = ReadIDXImages(bytes.NewReader(tc.data))
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "eval: ") {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
}

// TestReadIDXClaimCostsLittle checks that a header claiming a gigabyte over
// a stream of a few bytes is refused as truncated without a gigabyte of
// memory.
func TestReadIDXClaimCostsLittle(t *testing.T) {
	data := idxFile(0x803, []uint32{1 << 20, 32, 32}, make([]byte, 100)) // claims 1 GiB
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, _, _, err := ReadIDXImages(bytes.NewReader(data))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTruncated) {
		t.Errorf("error %v, want truncated", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 2*idxBlock {
		t.Errorf("allocated %d bytes for 100 bytes of data", got)
	}
}

// TestReadAtMost checks the growing buffer across several blocks.
func TestReadAtMost(t *testing.T) {
	data := make([]byte, 2*idxBlock+5)
	for i := 0; i < len(data); i += 4097 {
		data[i] = byte(i/4097 + 1)
	}
	got, err := readAtMost(io.MultiReader(bytes.NewReader(data[:3]), bytes.NewReader(data[3:])), len(data))
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("read %d bytes (%v), want %d", len(got), err, len(data))
	}
	got, err = readAtMost(bytes.NewReader(data), len(data)+1)
	if err != io.ErrUnexpectedEOF || len(got) != len(data) {
		t.Errorf("short stream: %d bytes, %v", len(got), err)
	}
}
