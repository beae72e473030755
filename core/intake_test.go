package core

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testPhoto is a w x h image whose left half is red and right half blue, so
// orientation can be checked from two pixels.
func testPhoto(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{220, 20, 20, 255}
			if x >= w/2 {
				c = color.NRGBA{20, 20, 220, 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func encodeJPEG(t *testing.T, img image.Image) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodePNG(t *testing.T, img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
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

// pngClaiming rewrites a PNG's IHDR to claim w x h pixels (CRC fixed), so
// only its header says it is huge.
func pngClaiming(t *testing.T, w, h uint32) []byte {
	b := encodePNG(t, testPhoto(40, 40))
	ihdr := b[8+8 : 8+8+13] // after signature, length and type
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	binary.BigEndian.PutUint32(b[8+8+13:], crc32.ChecksumIEEE(b[8+4:8+8+13]))
	return b
}

func TestDecodeFormats(t *testing.T) {
	photo := testPhoto(64, 48)
	var gifBuf bytes.Buffer
	if err := gif.Encode(&gifBuf, photo, &gif.Options{NumColors: 256, Quantizer: nil, Drawer: nil}); err != nil {
		t.Fatal(err)
	}
	webp, err := os.ReadFile(filepath.Join("testdata", "blue-purple-pink.lossy.webp"))
	if err != nil {
		t.Fatal(err)
	}
	paletted := image.NewPaletted(photo.Rect, palette.Plan9)
	for y := range 48 {
		for x := range 64 {
			paletted.Set(x, y, photo.At(x, y))
		}
	}
	cases := map[string][]byte{
		"jpeg":           encodeJPEG(t, photo),
		"png":            encodePNG(t, photo),
		"paletted png":   encodePNG(t, paletted),
		"gif":            gifBuf.Bytes(),
		"webp":           webp,
		"grey png 16bit": encodePNG(t, image.NewGray16(image.Rect(0, 0, 40, 40))),
	}
	for name, b := range cases {
		img, err := Decode(name, b, IntakeConfig{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if img.Bounds().Min != (image.Point{}) || img.Bounds().Dx() < 32 {
			t.Errorf("%s: bounds %v", name, img.Bounds())
		}
	}
}

func TestDecodeEXIFOrientation(t *testing.T) {
	// Stored 64x48 with red on the left; orientation 6 means the camera was
	// turned: upright, the photo is 48x64 with red on top.
	jpg := withEXIFOrientation(encodeJPEG(t, testPhoto(64, 48)), 6)
	img, err := Decode("rotated.jpg", jpg, IntakeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if s := img.Bounds().Size(); s != image.Pt(48, 64) {
		t.Fatalf("upright size %v, want 48x64", s)
	}
	top, bottom := img.NRGBAAt(24, 4), img.NRGBAAt(24, 60)
	if top.R < 150 || bottom.B < 150 {
		t.Errorf("top %v, bottom %v: want red on top, blue below", top, bottom)
	}
}

func TestDecodeDownscales(t *testing.T) {
	img, err := Decode("big.png", encodePNG(t, testPhoto(1000, 600)), IntakeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if s := img.Bounds().Size(); s != image.Pt(512, 307) {
		t.Errorf("downscaled to %v, want 512x307", s)
	}
	img, err = Decode("tall.png", encodePNG(t, testPhoto(60, 100)), IntakeConfig{MaxSide: 50, MinSide: 20})
	if err != nil {
		t.Fatal(err)
	}
	if s := img.Bounds().Size(); s != image.Pt(30, 50) {
		t.Errorf("downscaled to %v, want 30x50", s)
	}
}

func TestDecodeRefuses(t *testing.T) {
	jpg := encodeJPEG(t, testPhoto(256, 192))
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty.jpg", nil, "empty"},
		{"notes.jpg", []byte("these are my holiday notes, not a photo"), "not a JPEG"},
		{"truncated.jpg", jpg[:len(jpg)*7/10], "corrupt"},
		{"tiny.png", encodePNG(t, testPhoto(10, 10)), "smaller than 32"},
		{"sliver.png", encodePNG(t, testPhoto(2000, 40)), "smaller than 32"},
		{"huge.png", pngClaiming(t, 20000, 20000), "more than the limit"},
	}
	for _, tc := range cases {
		_, err := Decode(tc.name, tc.data, IntakeConfig{})
		var ie *IntakeError
		if !errors.As(err, &ie) || ie.Name != tc.name || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want an IntakeError naming the file and saying %q", tc.name, err, tc.want)
		}
	}
	if _, err := Decode("notes.txt", []byte("hello"), IntakeConfig{}); !errors.Is(err, ErrNotImage) {
		t.Errorf("a text file gives %v, want ErrNotImage", err)
	}
}
