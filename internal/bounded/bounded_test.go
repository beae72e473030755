package bounded

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestReadFull(t *testing.T) {
	data := bytes.Repeat([]byte{7}, 200_000)
	got, err := ReadFull(bytes.NewReader(data), len(data))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("full read: %d bytes, %v", len(got), err)
	}
	// A file that claims a gigabyte but holds 100 bytes: a short read,
	// and the buffer never grew past what arrived plus one chunk.
	var allocs testing.BenchmarkResult
	allocs = testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			if _, err := ReadFull(bytes.NewReader(data[:100]), 1<<30); !errors.Is(err, io.ErrUnexpectedEOF) {
				b.Fatalf("short read error %v", err)
			}
		}
	})
	if per := allocs.AllocedBytesPerOp(); per > 1<<17 {
		t.Errorf("a 100-byte file claiming 1 GiB allocated %d bytes", per)
	}
	if got, err := ReadFull(bytes.NewReader(nil), 0); err != nil || len(got) != 0 {
		t.Errorf("empty read: %v, %v", got, err)
	}
}
