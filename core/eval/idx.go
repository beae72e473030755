package eval

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// IDX is the format of the MNIST and Fashion-MNIST files (LeCun et al.,
// http://yann.lecun.com/exdb/mnist/): a big-endian header, the magic 0x0000
// then a type byte (0x08: unsigned bytes) and the number of dimensions, one
// uint32 size per dimension, then the values, row-major.
const (
	idxImagesMagic = 0x00000803 // unsigned bytes, 3 dimensions: count, rows, cols
	idxLabelsMagic = 0x00000801 // unsigned bytes, 1 dimension: count
)

// MaxIDXBytes is the most data ReadIDXImages and ReadIDXLabels accept
// (2 GiB - 1, so that it fits an int everywhere); Fashion-MNIST's training
// images are 47 MB.
const MaxIDXBytes = 1<<31 - 1

var (
	// ErrNotIDX marks data whose header is not the expected IDX magic.
	ErrNotIDX = errors.New("eval: not an IDX file of the expected kind")
	// ErrTruncated marks an IDX stream that ends before its header says.
	ErrTruncated = errors.New("eval: IDX file truncated")
)

// ReadIDXImages reads an IDX file of images (magic 0x00000803): count images
// of rows x cols bytes, image after image, each row-major. A gzip stream
// (starting with 0x1f 0x8b, as the distributed .gz files do) is
// decompressed on the way. A wrong magic, a size of 0, more than
// MaxIDXBytes of pixels, a stream shorter or longer than its header says,
// or a bad gzip checksum is an error; memory grows with the data actually
// read, never with the header's claim alone.
func ReadIDXImages(r io.Reader) (count, rows, cols int, pix []byte, err error) {
	dims, data, err := readIDX(r, idxImagesMagic, 3)
	if err != nil {
		return 0, 0, 0, nil, err
	}
	return dims[0], dims[1], dims[2], data, nil
}

// ReadIDXLabels reads an IDX file of labels (magic 0x00000801), one byte per
// item, gzipped or not, with the checks of ReadIDXImages.
func ReadIDXLabels(r io.Reader) ([]uint8, error) {
	_, data, err := readIDX(r, idxLabelsMagic, 1)
	return data, err
}

// readIDX reads an IDX stream of unsigned bytes with the given magic and
// number of dimensions, returning the sizes and the data.
func readIDX(r io.Reader, magic uint32, ndim int) ([]int, []byte, error) {
	what := "images"
	if ndim == 1 {
		what = "labels"
	}
	br := bufio.NewReader(r)
	tail := "end of the data"
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("eval: IDX %s: bad gzip header: %v", what, err)
		}
		defer zr.Close()
		r = zr
		tail = "gzip trailer"
	} else {
		r = br
	}
	hdr := make([]byte, 4+4*ndim)
	if _, err := io.ReadFull(r, hdr[:4]); err != nil {
		return nil, nil, idxReadErr(what, "header", err)
	}
	if got := binary.BigEndian.Uint32(hdr); got != magic {
		return nil, nil, fmt.Errorf("%w: %s: magic 0x%08x, want 0x%08x", ErrNotIDX, what, got, magic)
	}
	if _, err := io.ReadFull(r, hdr[4:]); err != nil {
		return nil, nil, idxReadErr(what, "header", err)
	}
	dims := make([]int, ndim)
	total := uint64(1)
	for i := range dims {
		n := binary.BigEndian.Uint32(hdr[4+4*i:])
		if n == 0 {
			return nil, nil, fmt.Errorf("eval: IDX %s: dimension %d has size 0", what, i)
		}
		// Each size is below 2^32 and total stays at most MaxIDXBytes
		// before each product, so total*n cannot overflow uint64.
		total *= uint64(n)
		if total > MaxIDXBytes {
			return nil, nil, fmt.Errorf("eval: IDX %s: sizes %s make more than the limit of %d bytes", what, hdrSizes(hdr[4:]), MaxIDXBytes)
		}
		dims[i] = int(n)
	}
	data, err := readAtMost(r, int(total))
	if err != nil {
		return nil, nil, idxReadErr(what, fmt.Sprintf("data (%d of %d bytes read)", len(data), total), err)
	}
	// Nothing may follow the data; reading to the end also makes gzip
	// check its CRC and length.
	var extra [1]byte
	if n, err := io.ReadFull(r, extra[:]); n > 0 {
		return nil, nil, fmt.Errorf("eval: IDX %s: more data than the header's %d bytes", what, total)
	} else if err != io.EOF {
		return nil, nil, idxReadErr(what, tail, err)
	}
	return dims, data, nil
}

// hdrSizes formats the big-endian uint32 sizes of an IDX header as
// "a x b x c".
func hdrSizes(b []byte) string {
	var s []string
	for ; len(b) >= 4; b = b[4:] {
		s = append(s, strconv.FormatUint(uint64(binary.BigEndian.Uint32(b)), 10))
	}
	return strings.Join(s, " x ")
}

// idxReadErr describes a failed read of part of an IDX stream; an early end
// is ErrTruncated.
func idxReadErr(what, part string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s: the stream ends inside the %s", ErrTruncated, what, part)
	}
	return fmt.Errorf("eval: IDX %s: reading the %s: %v", what, part, err)
}

// idxBlock is readAtMost's first buffer size.
const idxBlock = 1 << 24

// readAtMost reads exactly n bytes into a buffer that starts at idxBlock
// and at most doubles as data arrives, so that a header claiming gigabytes
// over a short stream costs little memory. It returns what it read and the error that
// stopped it.
func readAtMost(r io.Reader, n int) ([]byte, error) {
	buf := make([]byte, 0, min(n, idxBlock))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(n-len(buf), max(len(buf), idxBlock)))
		}
		m, err := io.ReadFull(r, buf[len(buf):min(cap(buf), n)])
		buf = buf[:len(buf)+m]
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}
