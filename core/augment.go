package core

import (
	"image"
	"math"
	"math/rand/v2"

	"github.com/disintegration/imaging"
)

// CropConfig sets RandomResizedCrop. The zero value is the default.
type CropConfig struct {
	// MinScale and MaxScale bound the crop's area as a fraction of the
	// image's (default 0.25 and 1).
	MinScale, MaxScale float64
	// MaxAspect bounds the crop's aspect ratio to [1/MaxAspect, MaxAspect]
	// (default 4/3, as torchvision's RandomResizedCrop).
	MaxAspect float64
}

// RandomResizedCrop cuts a random rectangle of random area and aspect ratio
// (Szegedy et al. 2015, the Inception crop) from img and resizes it to size
// x size. All randomness comes from rng.
func RandomResizedCrop(img *image.NRGBA, size int, cfg CropConfig, rng *rand.Rand) *image.NRGBA {
	if cfg.MinScale <= 0 {
		cfg.MinScale = 0.25
	}
	if cfg.MaxScale <= 0 || cfg.MaxScale > 1 {
		cfg.MaxScale = 1
	}
	if cfg.MaxAspect < 1 {
		cfg.MaxAspect = 4.0 / 3
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	area := float64(w * h)
	for range 10 {
		a := area * (cfg.MinScale + rng.Float64()*(cfg.MaxScale-cfg.MinScale))
		logR := math.Log(cfg.MaxAspect)
		r := math.Exp((2*rng.Float64() - 1) * logR)
		cw, ch := int(math.Round(math.Sqrt(a*r))), int(math.Round(math.Sqrt(a/r)))
		if cw >= 1 && ch >= 1 && cw <= w && ch <= h {
			x, y := rng.IntN(w-cw+1), rng.IntN(h-ch+1)
			return cropResize(img, image.Rect(x, y, x+cw, y+ch).Add(b.Min), size, size)
		}
	}
	// Fallback: the largest centred square.
	return CenterCrop(img, size)
}

// CenterCrop resizes the largest centred square of img to size x size.
func CenterCrop(img *image.NRGBA, size int) *image.NRGBA {
	b := img.Bounds()
	s := min(b.Dx(), b.Dy())
	x, y := (b.Dx()-s)/2, (b.Dy()-s)/2
	return cropResize(img, image.Rect(x, y, x+s, y+s).Add(b.Min), size, size)
}

func cropResize(img *image.NRGBA, r image.Rectangle, w, h int) *image.NRGBA {
	c := imaging.Crop(img, r)
	if c.Bounds().Dx() == w && c.Bounds().Dy() == h {
		return c
	}
	// Linear filtering with imaging's support scaling avoids aliasing when
	// shrinking and is cheap; these are small crops.
	return imaging.Resize(c, w, h, imaging.Linear)
}

// RandomFlip mirrors img left-right with probability 1/2.
func RandomFlip(img *image.NRGBA, rng *rand.Rand) *image.NRGBA {
	if rng.IntN(2) == 0 {
		return img
	}
	return imaging.FlipH(img)
}

// ColorJitter shifts brightness and changes contrast and saturation by random
// amounts of up to ±strength·100 percent each (imaging's Adjust functions;
// strength 0.4 is torchvision's common ColorJitter setting).
func ColorJitter(img *image.NRGBA, strength float64, rng *rand.Rand) *image.NRGBA {
	if strength <= 0 {
		return img
	}
	pct := func() float64 { return (2*rng.Float64() - 1) * strength * 100 }
	out := imaging.AdjustBrightness(img, pct())
	out = imaging.AdjustContrast(out, pct())
	return imaging.AdjustSaturation(out, pct())
}
