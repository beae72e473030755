//go:build ignore

// gen writes the bad and unusual image files of core/testdata/intake, the
// corpus that core's, the app's and the browser's intake tests feed
// through intake. Every file is made here from code (no file is copied
// from elsewhere); what each must become is asserted by the tests
// (core/intake_test.go TestIntakeCorpus), not here.
//
//	cd core/testdata/intake && go run gen.go
package main

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"log"
	"os"
)

var (
	red  = color.NRGBA{220, 20, 20, 255}
	blue = color.NRGBA{20, 20, 220, 255}
)

// halves is a w x h image, its left half a and right half b, so colours
// and orientation can be checked from a few pixels.
func halves(w, h int, a, b color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := a
			if x >= w/2 {
				c = b
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func encode(img image.Image, f func(*bytes.Buffer, image.Image) error) []byte {
	var b bytes.Buffer
	if err := f(&b, img); err != nil {
		log.Fatal(err)
	}
	return b.Bytes()
}

func pngOf(img image.Image) []byte {
	return encode(img, func(b *bytes.Buffer, img image.Image) error { return png.Encode(b, img) })
}

func jpegOf(img image.Image) []byte {
	return encode(img, func(b *bytes.Buffer, img image.Image) error { return jpeg.Encode(b, img, &jpeg.Options{Quality: 95}) })
}

// withEXIFOrientation inserts an APP1 EXIF segment holding only the
// orientation tag (0x0112) right after the JPEG's SOI marker.
func withEXIFOrientation(jpg []byte, orientation uint16) []byte {
	var tiff bytes.Buffer
	tiff.WriteString("II*\x00")
	binary.Write(&tiff, binary.LittleEndian, uint32(8))                // IFD0 offset
	binary.Write(&tiff, binary.LittleEndian, uint16(1))                // one entry
	binary.Write(&tiff, binary.LittleEndian, []uint16{0x0112, 3})      // tag, SHORT
	binary.Write(&tiff, binary.LittleEndian, uint32(1))                // count
	binary.Write(&tiff, binary.LittleEndian, []uint16{orientation, 0}) // value, padding
	binary.Write(&tiff, binary.LittleEndian, uint32(0))                // no next IFD
	payload := append([]byte("Exif\x00\x00"), tiff.Bytes()...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	out = append(out, payload...)
	return append(out, jpg[2:]...)
}

// pngChunks splits a PNG after its signature into chunks (length, type,
// data, CRC each).
func pngChunks(b []byte) (sig []byte, chunks [][]byte) {
	sig, b = b[:8], b[8:]
	for len(b) > 0 {
		n := 12 + int(binary.BigEndian.Uint32(b))
		chunks, b = append(chunks, b[:n]), b[n:]
	}
	return sig, chunks
}

// hugeHeader is a PNG whose IHDR (CRC fixed) claims w x h pixels, followed
// by a 40x40 image's data and end: the file is tiny, only its header says
// it is huge.
func hugeHeader(w, h uint32) []byte {
	b := pngOf(halves(40, 40, red, blue))
	ihdr := b[8 : 8+12+13]
	binary.BigEndian.PutUint32(ihdr[8:], w)
	binary.BigEndian.PutUint32(ihdr[12:], h)
	binary.BigEndian.PutUint32(ihdr[8+13:], crc32.ChecksumIEEE(ihdr[4:8+13]))
	return b
}

// badCRC is a good PNG whose IDAT chunk's CRC is off by one bit.
func badCRC() []byte {
	sig, chunks := pngChunks(pngOf(halves(64, 48, red, blue)))
	out := append([]byte{}, sig...)
	for _, c := range chunks {
		c = append([]byte{}, c...)
		if string(c[4:8]) == "IDAT" {
			c[len(c)-1] ^= 1
		}
		out = append(out, c...)
	}
	return out
}

// cmykJPEG assembles a baseline JPEG of four components marked CMYK by an
// Adobe APP14 segment (transform 0), which no Go encoder writes: every 8x8
// block is flat, so each is its DC coefficient alone (Q = 1), Huffman coded
// with the DC table of ITU-T T.81 Annex K.3 and an AC table holding only
// end-of-block. Adobe CMYK stores 255 minus the ink. The left half is red
// (no cyan, full magenta and yellow), the right half blue (full cyan and
// magenta, no yellow); no black.
func cmykJPEG(w, h int) []byte {
	seg := func(out *bytes.Buffer, marker byte, body []byte) {
		out.Write([]byte{0xFF, marker})
		binary.Write(out, binary.BigEndian, uint16(len(body)+2))
		out.Write(body)
	}
	var out bytes.Buffer
	out.Write([]byte{0xFF, 0xD8})                                         // SOI
	seg(&out, 0xEE, []byte("Adobe\x00\x64\x00\x00\x00\x00\x00"))          // APP14: version 100, flags, transform 0
	seg(&out, 0xDB, append([]byte{0x00}, bytes.Repeat([]byte{1}, 64)...)) // DQT 0: all ones
	sof := []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 4}
	for id := byte(1); id <= 4; id++ {
		sof = append(sof, id, 0x11, 0) // no subsampling, table 0
	}
	seg(&out, 0xC0, sof)
	dcBits := []byte{0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0} // T.81 Table K.3
	dht := append([]byte{0x00}, dcBits...)
	dht = append(dht, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
	dht = append(dht, 0x10)
	dht = append(dht, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) // one code of 1 bit:
	dht = append(dht, 0x00)                                           // end of block
	seg(&out, 0xC4, dht)
	seg(&out, 0xDA, []byte{4, 1, 0x00, 2, 0x00, 3, 0x00, 4, 0x00, 0, 63, 0})

	// Canonical codes of the DC table (T.81 Annex C).
	type code struct{ bits, n uint32 }
	var dc [12]code
	next, sym := uint32(0), 0
	for l, n := range dcBits {
		for range n {
			dc[sym] = code{next, uint32(l + 1)}
			next++
			sym++
		}
		next <<= 1
	}
	var bw struct {
		acc  uint64
		n    uint32
		data []byte
	}
	put := func(v, n uint32) {
		bw.acc = bw.acc<<n | uint64(v&(1<<n-1))
		bw.n += n
		for bw.n >= 8 {
			b := byte(bw.acc >> (bw.n - 8))
			bw.data = append(bw.data, b)
			if b == 0xFF {
				bw.data = append(bw.data, 0) // byte stuffing
			}
			bw.n -= 8
		}
	}
	stored := func(x int) [4]int { // 255 minus the ink of C, M, Y, K
		if x < w/2 {
			return [4]int{255, 0, 0, 255}
		}
		return [4]int{0, 0, 255, 255}
	}
	var prev [4]int
	for by := 0; by < h/8; by++ {
		for bx := 0; bx < w/8; bx++ {
			v := stored(bx * 8)
			for c := range 4 {
				// A flat block of value v has DC 8*(v-128) (T.81 A.3.3).
				d := 8*(v[c]-128) - prev[c]
				prev[c] += d
				s, m := uint32(0), d
				if m < 0 {
					m = -m
				}
				for ; m > 0; m >>= 1 {
					s++
				}
				put(dc[s].bits, dc[s].n)
				if d < 0 {
					d += 1<<s - 1
				}
				put(uint32(d), s)
				put(0, 1) // end of block
			}
		}
	}
	if bw.n > 0 {
		put(1<<(8-bw.n)-1, 8-bw.n) // pad with ones
	}
	out.Write(bw.data)
	out.Write([]byte{0xFF, 0xD9}) // EOI
	return out.Bytes()
}

// animated is a two-frame GIF: red-left first, then all blue.
func animated() []byte {
	first := image.NewPaletted(image.Rect(0, 0, 64, 48), palette.Plan9)
	second := image.NewPaletted(image.Rect(0, 0, 64, 48), palette.Plan9)
	for y := range 48 {
		for x := range 64 {
			first.Set(x, y, halves(64, 48, red, blue).At(x, y))
			second.Set(x, y, blue)
		}
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, &gif.GIF{Image: []*image.Paletted{first, second}, Delay: []int{50, 50}}); err != nil {
		log.Fatal(err)
	}
	return b.Bytes()
}

// transparent is a 64x48 PNG, red on the left, and on the right fully
// transparent pixels whose stored colour is green (which must not show).
func transparent() []byte {
	img := halves(64, 48, red, color.NRGBA{0, 255, 0, 0})
	return pngOf(img)
}

// deep is a 16-bit RGB PNG: red-left, blue-right, with low bytes set.
func deep() []byte {
	img := image.NewNRGBA64(image.Rect(0, 0, 64, 48))
	for y := range 48 {
		for x := range 64 {
			c := color.NRGBA64{220<<8 | 0x55, 20<<8 | 0x55, 20<<8 | 0x55, 0xFFFF}
			if x >= 32 {
				c = color.NRGBA64{20<<8 | 0x55, 20<<8 | 0x55, 220<<8 | 0x55, 0xFFFF}
			}
			img.SetNRGBA64(x, y, c)
		}
	}
	return pngOf(img)
}

func paletted() []byte {
	src := halves(64, 48, red, blue)
	img := image.NewPaletted(src.Rect, palette.Plan9)
	for y := range 48 {
		for x := range 64 {
			img.Set(x, y, src.At(x, y))
		}
	}
	return pngOf(img)
}

// grey is a greyscale photo stand-in: a diagonal ramp with a dark
// square, stored as a one-component JPEG.
func grey() []byte {
	img := image.NewGray(image.Rect(0, 0, 96, 64))
	for y := range 64 {
		for x := range 96 {
			v := uint8(40 + 2*(x+y))
			if x > 20 && x < 50 && y > 10 && y < 40 {
				v = 30
			}
			img.SetGray(x, y, color.Gray{v})
		}
	}
	return jpegOf(img)
}

func main() {
	truncated := jpegOf(halves(256, 192, red, blue))
	files := map[string][]byte{
		"animated.gif":      animated(),
		"bad-crc.png":       badCRC(),
		"cmyk.jpg":          cmykJPEG(64, 48),
		"deep-16bit.png":    deep(),
		"empty.jpg":         {},
		"grey.jpg":          grey(),
		"huge-header.png":   hugeHeader(20000, 20000),
		"notes.jpg":         []byte("These are my holiday notes, not a photo.\n"),
		"one-pixel.png":     pngOf(halves(1, 1, red, red)),
		"paletted.png":      paletted(),
		"rotated-exif6.jpg": withEXIFOrientation(jpegOf(halves(64, 48, red, blue)), 6),
		"small-40.png":      pngOf(halves(40, 40, red, blue)),
		"transparent.png":   transparent(),
		"truncated.jpg":     truncated[:len(truncated)*7/10],
	}
	for name, b := range files {
		if err := os.WriteFile(name, b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
