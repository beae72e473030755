package core

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"runtime"
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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

// near reports whether c is within tol of want in each of R, G, B.
func near(c, want color.NRGBA, tol int) bool {
	d := func(a, b uint8) bool { return int(a)-int(b) <= tol && int(b)-int(a) <= tol }
	return d(c.R, want.R) && d(c.G, want.G) && d(c.B, want.B) && c.A == want.A
}

// Colours of the corpus (testdata/intake/gen.go).
var (
	corpusRed   = color.NRGBA{220, 20, 20, 255}
	corpusBlue  = color.NRGBA{20, 20, 220, 255}
	corpusWhite = color.NRGBA{255, 255, 255, 255}
)

// CorpusCase is what intake must make of one file of testdata/intake:
// refused with a reason containing Refused, or taken at Size with the
// colours of Pixels.
type corpusCase struct {
	Refused string
	Limit   bool // refused by a limit (ErrLimit), not for its contents
	Size    image.Point
	Pixels  map[image.Point]color.NRGBA
	Grey    bool
}

// corpus is the expectation for every file of testdata/intake. Tolerances
// in TestIntakeCorpus allow for JPEG's loss.
var corpus = map[string]corpusCase{
	"truncated.jpg":   {Refused: "corrupt image"},
	"bad-crc.png":     {Refused: "corrupt image: png: invalid format: invalid checksum"},
	"empty.jpg":       {Refused: "the file is empty"},
	"notes.jpg":       {Refused: "not a JPEG, PNG, GIF or WebP image"},
	"huge-header.png": {Refused: "20000x20000 pixels is more than the limit of 50000000", Limit: true},
	"one-pixel.png":   {Refused: "1x1 is smaller than 32 pixels on a side"},
	// Larger than MinSide, smaller than jigsaw's 96-pixel puzzle (3x3
	// cells of 32): taken, and the tasks' crops scale it up.
	"small-40.png": {Size: image.Pt(40, 40), Pixels: map[image.Point]color.NRGBA{{5, 20}: corpusRed, {35, 20}: corpusBlue}},
	"cmyk.jpg":     {Size: image.Pt(64, 48), Pixels: map[image.Point]color.NRGBA{{5, 20}: {255, 0, 0, 255}, {60, 20}: {0, 0, 255, 255}}},
	// 16 bits a channel: the high byte is kept.
	"deep-16bit.png": {Size: image.Pt(64, 48), Pixels: map[image.Point]color.NRGBA{{5, 20}: corpusRed, {60, 20}: corpusBlue}},
	"paletted.png":   {Size: image.Pt(64, 48), Pixels: map[image.Point]color.NRGBA{{5, 20}: {221, 0, 0, 255}, {60, 20}: {0, 0, 221, 255}}},
	// The transparent right half stores green under alpha 0: it becomes
	// white, not green or black.
	"transparent.png": {Size: image.Pt(64, 48), Pixels: map[image.Point]color.NRGBA{{5, 20}: corpusRed, {60, 20}: corpusWhite}},
	// The first frame (red and blue), not the second (all blue).
	"animated.gif": {Size: image.Pt(64, 48), Pixels: map[image.Point]color.NRGBA{{5, 20}: {221, 0, 0, 255}, {60, 20}: {0, 0, 221, 255}}},
	// Usable, but grey: colorization must warn (IsGrey).
	"grey.jpg": {Size: image.Pt(96, 64), Pixels: map[image.Point]color.NRGBA{{35, 25}: {30, 30, 30, 255}}, Grey: true},
	// Stored 64x48 red-left with orientation 6: upright 48x64, red on top.
	"rotated-exif6.jpg": {Size: image.Pt(48, 64), Pixels: map[image.Point]color.NRGBA{{24, 4}: corpusRed, {24, 60}: corpusBlue}},
}

// readCorpus reads every file of testdata/intake but gen.go, by name.
func readCorpus(tb testing.TB) map[string][]byte {
	tb.Helper()
	entries, err := os.ReadDir(filepath.Join("testdata", "intake"))
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if e.Name() == "gen.go" {
			continue
		}
		b, err := os.ReadFile(filepath.Join("testdata", "intake", e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func TestIntakeCorpus(t *testing.T) {
	t.Parallel()
	files := readCorpus(t)
	if len(files) != len(corpus) {
		t.Errorf("testdata/intake holds %d files, the table %d: regenerate it or update the table", len(files), len(corpus))
	}
	for name, want := range corpus {
		t.Run(name, func(t *testing.T) {
			b, ok := files[name]
			if !ok {
				t.Fatalf("testdata/intake/%s is missing", name)
			}
			img, err := Decode(name, b, IntakeConfig{})
			if want.Refused != "" {
				var ie *IntakeError
				if !errors.As(err, &ie) || ie.Name != name || !strings.Contains(err.Error(), want.Refused) {
					t.Fatalf("error %v, want an IntakeError naming %s and saying %q", err, name, want.Refused)
				}
				if errors.Is(err, ErrLimit) != want.Limit {
					t.Errorf("errors.Is(err, ErrLimit) = %v, want %v", !want.Limit, want.Limit)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if img.Rect != image.Rect(0, 0, want.Size.X, want.Size.Y) {
				t.Fatalf("bounds %v, want %v", img.Rect, want.Size)
			}
			for i := 3; i < len(img.Pix); i += 4 {
				if img.Pix[i] != 255 {
					t.Fatalf("pixel %d has alpha %d: intake must make photos opaque", i/4, img.Pix[i])
				}
			}
			for p, c := range want.Pixels {
				if got := img.NRGBAAt(p.X, p.Y); !near(got, c, 12) {
					t.Errorf("pixel %v is %v, want %v", p, got, c)
				}
			}
			if IsGrey(img) != want.Grey {
				t.Errorf("IsGrey = %v, want %v", !want.Grey, want.Grey)
			}
		})
	}
}

func TestIntakeLimits(t *testing.T) {
	t.Parallel()
	photo := encodePNG(t, testPhoto(64, 48)) // 12 KB decoded, 24 KB to decode
	t.Run("photos", func(t *testing.T) {
		in := Intake{Config: IntakeConfig{MaxPhotos: 3}}
		for i := range 4 {
			_, err := in.Add(fmt.Sprintf("p%d.png", i), photo)
			if i < 3 && err != nil {
				t.Fatalf("photo %d: %v", i, err)
			}
			if i == 3 && (!errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "p3.png: the limit of 3 photos is reached")) {
				t.Fatalf("the fourth photo gives %v", err)
			}
		}
		if in.Photos != 3 || in.Bytes != 3*64*48*4 {
			t.Errorf("counted %d photos, %d bytes; want 3, %d", in.Photos, in.Bytes, 3*64*48*4)
		}
	})
	t.Run("pixels", func(t *testing.T) {
		_, err := Decode("big.png", photo, IntakeConfig{MaxPixels: 64*48 - 1})
		if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "big.png: 64x48 pixels is more than the limit of 3071") {
			t.Errorf("got %v", err)
		}
		if _, err := Decode("ok.png", photo, IntakeConfig{MaxPixels: 64 * 48}); err != nil {
			t.Errorf("at the limit: %v", err)
		}
	})
	t.Run("memory", func(t *testing.T) {
		// Room for the two photos held (24 KB) and one decoding (24 KB),
		// not two: the third is refused from its header.
		in := Intake{Config: IntakeConfig{MaxBytes: 2*64*48*4 + 64*48*decodeBytesPerPixel}}
		for i := range 2 {
			if _, err := in.Add(fmt.Sprintf("p%d.png", i), photo); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := in.Add("p2.png", photo); err != nil {
			t.Fatalf("the third photo fits: %v", err)
		}
		_, err := in.Add("p3.png", photo)
		if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "p3.png: the 3 photos taken hold 0.0 MB and decoding this 64x48 one needs 0.0 MB more: over the memory limit of 0.0 MB") {
			t.Errorf("got %v", err)
		}
		if in.Photos != 3 {
			t.Errorf("counted %d photos, want 3", in.Photos)
		}
		_, err = Decode("alone.png", photo, IntakeConfig{MaxBytes: 64*48*decodeBytesPerPixel - 1})
		if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "alone.png: decoding 64x48 pixels needs 0.0 MB, more than the memory limit of 0.0 MB") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("default memory", func(t *testing.T) {
		// The default holds the largest photo the pixel limit lets through.
		cfg := IntakeConfig{}.withDefaults()
		if need := int64(cfg.MaxPixels) * decodeBytesPerPixel; need > cfg.MaxBytes {
			t.Errorf("decoding %d pixels needs %d bytes, over the default memory limit %d", cfg.MaxPixels, need, cfg.MaxBytes)
		}
	})
}

// TestIsGrey checks the grey threshold against grey images through
// image/jpeg (whose chroma rounding leaves a small spread) and faint
// colour.
func TestIsGrey(t *testing.T) {
	t.Parallel()
	ramp := image.NewGray(image.Rect(0, 0, 64, 64))
	for i := range ramp.Pix {
		ramp.Pix[i] = uint8(i * 7)
	}
	asNRGBA := func(img image.Image) *image.NRGBA {
		out := image.NewNRGBA(img.Bounds())
		for y := range img.Bounds().Dy() {
			for x := range img.Bounds().Dx() {
				out.Set(x, y, img.At(x, y))
			}
		}
		return out
	}
	for _, q := range []int{75, 95} {
		var b bytes.Buffer
		// As a colour JPEG: the grey goes through YCbCr.
		if err := jpeg.Encode(&b, asNRGBA(ramp), &jpeg.Options{Quality: q}); err != nil {
			t.Fatal(err)
		}
		img, err := Decode("grey.jpg", b.Bytes(), IntakeConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if !IsGrey(img) {
			t.Errorf("a grey ramp through a quality %d colour JPEG is not grey", q)
		}
		t.Logf("quality %d: mean spread %.2f", q, meanSpread(img))
	}
	if IsGrey(testPhoto(64, 48)) {
		t.Error("red and blue is grey")
	}
	// A faint tint: every pixel's red 5 above its blue and green.
	faint := asNRGBA(ramp)
	for i := 0; i < len(faint.Pix); i += 4 {
		faint.Pix[i+1] = min(faint.Pix[i+1], 250)
		faint.Pix[i], faint.Pix[i+2] = faint.Pix[i+1]+5, faint.Pix[i+1]
	}
	if IsGrey(faint) {
		t.Error("a faint red tint is grey")
	}
}

func TestFlatten(t *testing.T) {
	t.Parallel()
	img := image.NewNRGBA(image.Rect(0, 0, 3, 1))
	img.SetNRGBA(0, 0, color.NRGBA{200, 0, 0, 255})
	img.SetNRGBA(1, 0, color.NRGBA{200, 0, 0, 128}) // half over white
	img.SetNRGBA(2, 0, color.NRGBA{0, 255, 0, 0})
	flatten(img)
	want := []color.NRGBA{{200, 0, 0, 255}, {227, 127, 127, 255}, {255, 255, 255, 255}}
	for x, w := range want {
		if got := img.NRGBAAt(x, 0); got != w {
			t.Errorf("pixel %d: %v, want %v", x, got, w)
		}
	}
}

// FuzzDecode feeds intake any bytes: it must never panic, and what it
// takes must be an opaque image within the limits. Seeds: the corpus of
// testdata/intake and the formats of TestDecodeFormats; testdata/fuzz
// holds what earlier runs found.
func FuzzDecode(f *testing.F) {
	for _, b := range readCorpus(f) {
		f.Add(b)
	}
	photo := testPhoto(64, 48)
	var gifBuf bytes.Buffer
	if err := gif.Encode(&gifBuf, photo, nil); err != nil {
		f.Fatal(err)
	}
	webp, err := os.ReadFile(filepath.Join("testdata", "blue-purple-pink.lossy.webp"))
	if err != nil {
		f.Fatal(err)
	}
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, photo, nil); err != nil {
		f.Fatal(err)
	}
	f.Add(jpg.Bytes())
	f.Add(gifBuf.Bytes())
	f.Add(webp)
	// Limits smaller than the defaults keep each run fast (a megapixel
	// at most), so the fuzzer tries more inputs; the code is the same.
	cfg := IntakeConfig{MaxSide: 128, MaxPixels: 1 << 20}
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := Decode("fuzz", b, cfg)
		if err != nil {
			var ie *IntakeError
			if !errors.As(err, &ie) || ie.Name != "fuzz" {
				t.Fatalf("error %v is not an IntakeError naming the file", err)
			}
			return
		}
		s := img.Rect.Size()
		if img.Rect.Min != (image.Point{}) || max(s.X, s.Y) > cfg.MaxSide || min(s.X, s.Y) < DefaultMinSide || len(img.Pix) != 4*s.X*s.Y {
			t.Fatalf("took a %v image with %d bytes", img.Rect, len(img.Pix))
		}
		for i := 3; i < len(img.Pix); i += 4 {
			if img.Pix[i] != 255 {
				t.Fatalf("pixel %d has alpha %d", i/4, img.Pix[i])
			}
		}
	})
}

// meanSpread is the mean of max(R,G,B)-min(R,G,B) over img, for logs.
func meanSpread(img *image.NRGBA) float64 {
	sum := 0
	for i := 0; i < len(img.Pix); i += 4 {
		r, g, b := img.Pix[i], img.Pix[i+1], img.Pix[i+2]
		sum += int(max(r, g, b) - min(r, g, b))
	}
	return float64(sum) / float64(len(img.Pix)/4)
}

// TestDecodeAllocation checks the bound the memory limit is checked with:
// decoding allocates at most decodeBytesPerPixel bytes a pixel of the
// header's size, for the decoders whose images are largest (PNG's RGBA)
// and for a turned JPEG (an NRGBA copy more).
func TestDecodeAllocation(t *testing.T) {
	p := testPhoto(2000, 1500)
	cases := map[string][]byte{
		"jpeg":         encodeJPEG(t, p),
		"png":          encodePNG(t, p),
		"rotated jpeg": withEXIFOrientation(encodeJPEG(t, p), 6),
	}
	for name, b := range cases {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, err := Decode(name, b, IntakeConfig{}); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		perPixel := float64(after.TotalAlloc-before.TotalAlloc) / (2000 * 1500)
		t.Logf("%s: %.2f bytes allocated a pixel", name, perPixel)
		if perPixel > decodeBytesPerPixel {
			t.Errorf("%s: decoding allocated %.2f bytes a pixel, more than the %d the memory limit counts", name, perPixel, decodeBytesPerPixel)
		}
	}
}

// jpegHeight0 is a JPEG whose frame header says its height is 0 (which
// JPEG allows, leaving it to a later DNL marker that image/jpeg does not
// read).
func jpegHeight0(t *testing.T) []byte {
	b := encodeJPEG(t, testPhoto(64, 48))
	i := bytes.Index(b, []byte{0xFF, 0xC0}) // SOF0: length, precision, height, width
	if i < 0 {
		t.Fatal("no SOF0 marker")
	}
	b[i+5], b[i+6] = 0, 0
	return b
}

// TestIntakeHeaders covers what intake makes of a header it cannot use
// and of limits set out of range. The limits are integers, so NaN and
// infinities cannot be asked for; zero or negative means the default, and
// a huge one is still bounded by the side limit and the memory limit.
func TestIntakeHeaders(t *testing.T) {
	t.Parallel()
	photo := encodePNG(t, testPhoto(64, 48))
	// A 0x0 logical screen, no colour table, then the trailer.
	gif0 := []byte("GIF89a\x00\x00\x00\x00\x00\x00\x00;")
	cases := []struct {
		name  string
		data  []byte
		in    Intake
		want  string
		limit bool
	}{
		{"truncated png header", photo[:20], Intake{}, "unreadable image header: unexpected EOF", false},
		{"truncated gif header", []byte("GIF89a\x40"), Intake{}, "unreadable image header: gif: reading header: unexpected EOF", false},
		{"0x0 gif", gif0, Intake{}, "the header says 0x0 pixels", false},
		{"jpeg of height 0", jpegHeight0(t), Intake{}, "the header says 64x0 pixels", false},
		{"side limit", pngClaiming(t, 70000, 10), Intake{}, "70000x10 pixels: a side is longer than the limit of 65536", true},
		{"side limit, any pixel limit", pngClaiming(t, 10, 65537), Intake{Config: IntakeConfig{MaxPixels: math.MaxInt}}, "10x65537 pixels: a side is longer than the limit of 65536", true},
		// At the side limit the header passes; the data, 40x40, does not.
		{"side at the limit", pngClaiming(t, 65536, 1), Intake{Config: IntakeConfig{MaxPixels: math.MaxInt}}, "corrupt image", false},
		{"negative pixel limit", pngClaiming(t, 8000, 8000), Intake{Config: IntakeConfig{MaxPixels: -1}}, "8000x8000 pixels is more than the limit of 50000000", true},
		{"huge pixel limit", pngClaiming(t, 60000, 60000), Intake{Config: IntakeConfig{MaxPixels: math.MaxInt}}, "decoding 60000x60000 pixels needs 27466 MB, more than the memory limit of 512 MB", true},
		{"memory in MB", pngClaiming(t, 2000, 2000), Intake{Config: IntakeConfig{MaxBytes: 20 << 20}}, "decoding 2000x2000 pixels needs 31 MB, more than the memory limit of 20 MB", true},
		// Bytes plus what decoding needs passes the largest int64.
		{"huge memory limit, nearly full", photo, Intake{Config: IntakeConfig{MaxBytes: math.MaxInt64}, Bytes: math.MaxInt64 - 1000}, "over the memory limit of 8796093022208 MB", true},
		{"negative photo limit", photo, Intake{Config: IntakeConfig{MaxPhotos: -1}, Photos: DefaultMaxPhotos}, "the limit of 1000 photos is reached", true},
		{"negative min side", encodePNG(t, testPhoto(20, 20)), Intake{Config: IntakeConfig{MinSide: -3}}, "20x20 is smaller than 32 pixels on a side", false},
		{"huge min side", photo, Intake{Config: IntakeConfig{MinSide: math.MaxInt}}, fmt.Sprintf("64x48 is smaller than %d pixels on a side", math.MaxInt), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			img, err := in.Add(tc.name, tc.data)
			var ie *IntakeError
			if img != nil || !errors.As(err, &ie) || ie.Name != tc.name || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, %v; want an IntakeError naming %q and saying %q", img != nil, err, tc.name, tc.want)
			}
			if errors.Is(err, ErrLimit) != tc.limit {
				t.Errorf("errors.Is(%v, ErrLimit) = %v, want %v", err, !tc.limit, tc.limit)
			}
			if in.Photos != tc.in.Photos || in.Bytes != tc.in.Bytes {
				t.Errorf("a refused photo was counted: %d photos, %d bytes", in.Photos, in.Bytes)
			}
		})
	}
	// Out-of-range sides mean the defaults: a photo is fitted in 512.
	img, err := Decode("big.png", encodePNG(t, testPhoto(1000, 600)), IntakeConfig{MaxSide: -1, MinSide: -1, MaxPixels: -1, MaxPhotos: -1, MaxBytes: -1})
	if err != nil {
		t.Errorf("negative limits: %v; want the defaults", err)
	} else if s := img.Bounds().Size(); s != image.Pt(512, 307) {
		t.Errorf("negative limits: %v, want the defaults' 512x307", s)
	}
}
