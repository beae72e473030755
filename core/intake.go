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
}

func (c IntakeConfig) withDefaults() IntakeConfig {
	if c.MaxSide <= 0 {
		c.MaxSide = 512
	}
	if c.MinSide <= 0 {
		c.MinSide = 32
	}
	if c.MaxPixels <= 0 {
		c.MaxPixels = 50_000_000
	}
	return c
}

// ErrNotImage marks data that is not an image in a supported format.
var ErrNotImage = errors.New("not a JPEG, PNG, GIF or WebP image")

// IntakeError says which photo was refused and why.
type IntakeError struct {
	Name string
	Err  error
}

func (e *IntakeError) Error() string { return fmt.Sprintf("core: skipping %s: %v", e.Name, e.Err) }
func (e *IntakeError) Unwrap() error { return e.Err }

// Decode turns the bytes of a photo file into an image ready for the tasks:
// decoded (JPEG, PNG, GIF's first frame, WebP), turned upright by its EXIF
// orientation, and downscaled so its longer side is at most cfg.MaxSide.
// name only labels errors, which are *IntakeError.
func Decode(name string, b []byte, cfg IntakeConfig) (*image.NRGBA, error) {
	cfg = cfg.withDefaults()
	fail := func(err error) (*image.NRGBA, error) { return nil, &IntakeError{Name: name, Err: err} }
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
	if hdr.Width <= 0 || hdr.Height <= 0 || hdr.Width*hdr.Height > cfg.MaxPixels || hdr.Width > 1<<16 || hdr.Height > 1<<16 {
		return fail(fmt.Errorf("%dx%d pixels is more than the limit of %d", hdr.Width, hdr.Height, cfg.MaxPixels))
	}
	img, err := imaging.Decode(bytes.NewReader(b), imaging.AutoOrientation(true))
	if err != nil {
		return fail(fmt.Errorf("corrupt image: %v", err))
	}
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	var out *image.NRGBA
	switch {
	// Lanczos keeps photos sharp when shrinking; done once per photo.
	case w >= h && w > cfg.MaxSide:
		out = imaging.Resize(img, cfg.MaxSide, 0, imaging.Lanczos)
	case h > w && h > cfg.MaxSide:
		out = imaging.Resize(img, 0, cfg.MaxSide, imaging.Lanczos)
	default:
		out = imaging.Clone(img)
	}
	if s := out.Bounds().Size(); min(s.X, s.Y) < cfg.MinSide {
		return fail(fmt.Errorf("%dx%d is smaller than %d pixels on a side (after fitting in %d)", s.X, s.Y, cfg.MinSide, cfg.MaxSide))
	}
	return out, nil
}
