package core

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // register decoders: GIF, JPEG, PNG, WebP
	_ "image/jpeg"
	_ "image/png"

	"github.com/disintegration/imaging"
	_ "golang.org/x/image/webp"
)

// IntakeConfig sets the limits of photo intake. The zero value is the
// default.
type IntakeConfig struct {
	// MaxSide downscales photos whose longer side exceeds it, once, on
	// intake (default 512): the tasks crop far smaller, and it bounds
	// memory per photo.
	MaxSide int
	// MinSide rejects photos whose shorter side is below it (default 32).
	MinSide int
	// MaxPixels refuses photos with more pixels than this before decoding
	// them, from the header alone (default 50 megapixels).
	MaxPixels int
	// MaxPhotos refuses photos past this many in one set (default 1000).
	MaxPhotos int
	// MaxBytes bounds the memory of a photo set (default 512 MiB): a photo
	// is refused, from its header before decoding, when the decoded photos
	// already held plus what decoding it needs at full size
	// (decodeBytesPerPixel a pixel) would pass it.
	MaxBytes int64
}

// Defaults of IntakeConfig.
const (
	DefaultMaxSide   = 512
	DefaultMinSide   = 32
	DefaultMaxPixels = 50_000_000
	DefaultMaxPhotos = 1000
	DefaultMaxBytes  = 512 << 20
)

// decodeBytesPerPixel bounds what decoding allocates a pixel of the
// header's size: the decoder's image (4 bytes a pixel for RGBA PNGs, 1.5 to
// 3 for YCbCr JPEGs) and at most one 4-byte NRGBA copy of it (for EXIF
// orientation). TestDecodeAllocation measures it: 2000x1500 pixels allocate
// 3.0 (JPEG), 5.5 (PNG) and 7.0 (turned JPEG) bytes a pixel.
const decodeBytesPerPixel = 8

// maxHeaderSide bounds either side from the header, whatever MaxPixels
// says: no camera makes a photo 65536 pixels long, and it keeps
// width*height far from overflowing.
const maxHeaderSide = 1 << 16

func (c IntakeConfig) withDefaults() IntakeConfig {
	if c.MaxSide <= 0 {
		c.MaxSide = DefaultMaxSide
	}
	if c.MinSide <= 0 {
		c.MinSide = DefaultMinSide
	}
	if c.MaxPixels <= 0 {
		c.MaxPixels = DefaultMaxPixels
	}
	if c.MaxPhotos <= 0 {
		c.MaxPhotos = DefaultMaxPhotos
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	return c
}

// ErrNotImage marks data that is not an image in a supported format.
var ErrNotImage = errors.New("not a JPEG, PNG, GIF or WebP image")

// ErrLimit marks a photo refused by a limit of IntakeConfig (too many
// photos, pixels or bytes), not for what it holds.
var ErrLimit = errors.New("over a limit")

// IntakeError says which photo was refused and why.
type IntakeError struct {
	Name string
	Err  error
}

func (e *IntakeError) Error() string { return fmt.Sprintf("core: skipping %s: %v", e.Name, e.Err) }
func (e *IntakeError) Unwrap() error { return e.Err }

// limitError is a refusal by a limit: it reads as its message and is
// ErrLimit.
type limitError struct{ msg string }

func (e limitError) Error() string        { return e.msg }
func (e limitError) Is(target error) bool { return target == ErrLimit }

func limitf(format string, args ...any) error { return limitError{fmt.Sprintf(format, args...)} }

// Decode turns the bytes of a photo file into an image ready for the tasks:
// decoded (JPEG, PNG, GIF's first frame, WebP), turned upright by its EXIF
// orientation, downscaled so its longer side is at most cfg.MaxSide, and
// made opaque: transparent parts become white (see flatten). name only
// labels errors, which are *IntakeError. It is one photo taken into an empty
// Intake.
func Decode(name string, b []byte, cfg IntakeConfig) (*image.NRGBA, error) {
	in := Intake{Config: cfg}
	return in.Add(name, b)
}

// Intake takes photos into a set within the limits of Config: every photo
// as Decode makes it, and none past MaxPhotos or MaxBytes. Photos and Bytes
// count what it took; set them to start from a set already held.
type Intake struct {
	Config IntakeConfig
	Photos int   // photos taken
	Bytes  int64 // their decoded bytes (4 a pixel)
}

// Add decodes a photo as Decode does and counts it, or refuses it with an
// *IntakeError naming it and saying why. Limits are checked from the
// header, before anything large is allocated.
func (in *Intake) Add(name string, b []byte) (*image.NRGBA, error) {
	cfg := in.Config.withDefaults()
	fail := func(err error) (*image.NRGBA, error) { return nil, &IntakeError{Name: name, Err: err} }
	if in.Photos >= cfg.MaxPhotos {
		return fail(limitf("the limit of %d photos is reached", cfg.MaxPhotos))
	}
	if len(b) == 0 {
		return fail(errors.New("the file is empty"))
	}
	hdr, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return fail(ErrNotImage)
		}
		return fail(fmt.Errorf("unreadable image header: %v", err))
	}
	w, h := hdr.Width, hdr.Height
	if w <= 0 || h <= 0 {
		return fail(fmt.Errorf("the header says %dx%d pixels", w, h))
	}
	if w > maxHeaderSide || h > maxHeaderSide {
		return fail(limitf("%dx%d pixels: a side is longer than the limit of %d", w, h, maxHeaderSide))
	}
	if w*h > cfg.MaxPixels {
		return fail(limitf("%dx%d pixels is more than the limit of %d", w, h, cfg.MaxPixels))
	}
	need := decodeBytesPerPixel * int64(w) * int64(h)
	// Compared without adding, which could pass the largest int64 when
	// Bytes and MaxBytes are near it.
	if in.Bytes > cfg.MaxBytes-need {
		if in.Bytes == 0 {
			return fail(limitf("decoding %dx%d pixels needs %s, more than the memory limit of %s", w, h, mb(need), mb(cfg.MaxBytes)))
		}
		return fail(limitf("the %d photos taken hold %s and decoding this %dx%d one needs %s more: over the memory limit of %s",
			in.Photos, mb(in.Bytes), w, h, mb(need), mb(cfg.MaxBytes)))
	}
	img, err := imaging.Decode(bytes.NewReader(b), imaging.AutoOrientation(true))
	if err != nil {
		return fail(fmt.Errorf("corrupt image: %v", err))
	}
	iw, ih := img.Bounds().Dx(), img.Bounds().Dy()
	var out *image.NRGBA
	switch {
	// Lanczos keeps photos sharp when shrinking; done once per photo.
	case iw >= ih && iw > cfg.MaxSide:
		out = imaging.Resize(img, cfg.MaxSide, 0, imaging.Lanczos)
	case ih > iw && ih > cfg.MaxSide:
		out = imaging.Resize(img, 0, cfg.MaxSide, imaging.Lanczos)
	default:
		out = imaging.Clone(img)
	}
	if s := out.Bounds().Size(); min(s.X, s.Y) < cfg.MinSide {
		return fail(fmt.Errorf("%dx%d is smaller than %d pixels on a side (after fitting in %d)", s.X, s.Y, cfg.MinSide, cfg.MaxSide))
	}
	flatten(out)
	in.Photos++
	in.Bytes += int64(len(out.Pix))
	return out, nil
}

// flatten composites img over white in place, leaving it opaque. The tasks
// read only red, green and blue, so without it a transparent pixel would
// show whatever colour its file stored under alpha 0 (often black, at
// times anything); white is what a page behind the photo shows, and what
// most image editors flatten onto.
func flatten(img *image.NRGBA) {
	for i := 0; i < len(img.Pix); i += 4 {
		a := uint32(img.Pix[i+3])
		if a == 255 {
			continue
		}
		for c := range 3 {
			// Rounded: (v*a + 255*(255-a)) / 255.
			img.Pix[i+c] = uint8((uint32(img.Pix[i+c])*a + 255*(255-a) + 127) / 255)
		}
		img.Pix[i+3] = 255
	}
}

// greySpread is the mean spread (largest minus smallest of red, green and
// blue, out of 255) below which a photo counts as grey. Grey images through
// image/jpeg as colour JPEGs keep a mean spread of 0.00 at quality 75 and 95
// (TestIsGrey logs it); 3 leaves room for other encoders' rounding, while a
// tint of 5 on every pixel counts as colour (TestIsGrey).
const greySpread = 3

// IsGrey reports whether a photo has (almost) no colour: a colorization
// task learns no colour from it.
func IsGrey(img *image.NRGBA) bool {
	b := img.Bounds()
	if b.Empty() {
		return true
	}
	var sum uint64
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := img.Pix[img.PixOffset(b.Min.X, y):img.PixOffset(b.Max.X, y)]
		for i := 0; i < len(row); i += 4 {
			r, g, bl := row[i], row[i+1], row[i+2]
			sum += uint64(max(r, g, bl) - min(r, g, bl))
		}
	}
	return sum < greySpread*uint64(b.Dx()*b.Dy())
}

// mb writes a byte count in megabytes (MiB) for messages: to a tenth
// below 10, whole above.
func mb(n int64) string {
	if n < 10<<20 {
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d MB", (n>>19+1)>>1) // rounded; n+(1<<19) could overflow
}
