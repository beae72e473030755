// Package bounded reads lengths that come from untrusted files.
package bounded

import (
	"io"
	"slices"
)

// ReadFull reads exactly n bytes from r, growing its buffer only as the
// bytes arrive (64 KiB at a time): a length from a corrupt or crafted file
// costs memory only as far as the file really goes. Its errors are
// io.ReadFull's (io.ErrUnexpectedEOF or io.EOF for a short read).
func ReadFull(r io.Reader, n int) ([]byte, error) {
	const chunk = 1 << 16
	buf := make([]byte, 0, min(n, chunk))
	for len(buf) < n {
		k := min(n-len(buf), chunk)
		buf = slices.Grow(buf, k)
		got, err := io.ReadFull(r, buf[len(buf):len(buf)+k])
		buf = buf[:len(buf)+got]
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}
