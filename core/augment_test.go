package core

import (
	"image"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/pretextlab/pretext/internal/augtest"
)

func TestRandomResizedCropSeeded(t *testing.T) {
	t.Parallel()
	img := testPhoto(200, 120)
	a := RandomResizedCrop(img, 32, CropConfig{}, rand.New(rand.NewPCG(4, 2)))
	b := RandomResizedCrop(img, 32, CropConfig{}, rand.New(rand.NewPCG(4, 2)))
	if a.Bounds().Size() != image.Pt(32, 32) {
		t.Fatalf("crop size %v", a.Bounds().Size())
	}
	if string(a.Pix) != string(b.Pix) {
		t.Error("the same seed gave different crops")
	}
	// A crop of the whole image at full scale keeps red on the left.
	full := RandomResizedCrop(img, 40, CropConfig{MinScale: 1, MaxScale: 1, MaxAspect: 1}, rand.New(rand.NewPCG(1, 1)))
	if l, r := full.NRGBAAt(2, 20), full.NRGBAAt(37, 20); l.R < 150 || r.B < 150 {
		t.Errorf("left %v right %v", l, r)
	}
}

func TestCenterCropAndFlip(t *testing.T) {
	t.Parallel()
	img := testPhoto(90, 30)
	c := CenterCrop(img, 30)
	// The centred 30x30 square spans x 30..59: red up to 44, blue after.
	if l, r := c.NRGBAAt(5, 15), c.NRGBAAt(25, 15); l.R < 150 || r.B < 150 {
		t.Errorf("centre crop left %v right %v", l, r)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	flipped := 0
	for range 200 {
		f := RandomFlip(c, rng)
		if f.NRGBAAt(0, 0) == imaging.FlipH(c).NRGBAAt(0, 0) {
			flipped++
		}
	}
	if flipped < 70 || flipped > 130 {
		t.Errorf("flipped %d of 200 times, want about half", flipped)
	}
}

func TestColorJitter(t *testing.T) {
	t.Parallel()
	img := imaging.Blur(testPhoto(40, 40), 3)
	if out := ColorJitter(img, 0, rand.New(rand.NewPCG(1, 1))); out != img {
		t.Error("strength 0 changed the image")
	}
	a := ColorJitter(img, 0.4, rand.New(rand.NewPCG(5, 5)))
	b := ColorJitter(img, 0.4, rand.New(rand.NewPCG(5, 5)))
	if string(a.Pix) != string(b.Pix) {
		t.Error("the same seed gave different jitter")
	}
	if string(a.Pix) == string(img.Pix) {
		t.Error("jitter left the image unchanged")
	}
}

// TestRandomResizedCropBounds cuts many seeded crops of a coordinate
// image (augtest.CoordImage) and recovers each one's rectangle: its area,
// as a fraction of the image's, lies in [MinScale, MaxScale] and its
// aspect ratio in [1/MaxAspect, MaxAspect] (up to the rounding of each
// side to whole pixels, ±0.5), and the draws reach both ends of each range.
func TestRandomResizedCropBounds(t *testing.T) {
	t.Parallel()
	const w, h, size, draws = 240, 180, 48, 150
	img := augtest.CoordImage(w, h)
	cases := []struct {
		name             string
		cfg              CropConfig
		lo, hi, maxRatio float64 // the documented bounds
	}{
		{"default", CropConfig{}, 0.25, 1, 4.0 / 3},
		{"set", CropConfig{MinScale: 0.1, MaxScale: 0.5, MaxAspect: 2}, 0.1, 0.5, 2},
		{"square", CropConfig{MinScale: 0.3, MaxScale: 0.6, MaxAspect: 1}, 0.3, 0.6, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(21, 7))
			area := float64(w * h)
			minA, maxA, minR, maxR := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
			for i := range draws {
				r := augtest.CropRect(t, RandomResizedCrop(img, size, tc.cfg, rng), w, h)
				cw, ch := float64(r.Dx()), float64(r.Dy())
				// Each side is rounded from the sampled one: the sampled
				// area and ratio lie within these.
				if (cw+0.5)*(ch+0.5) < tc.lo*area || (cw-0.5)*(ch-0.5) > tc.hi*area {
					t.Fatalf("draw %d: crop %v covers %.3f of the image, want [%v, %v]", i, r, cw*ch/area, tc.lo, tc.hi)
				}
				if (cw+0.5)/(ch-0.5) < 1/tc.maxRatio || (cw-0.5)/(ch+0.5) > tc.maxRatio {
					t.Fatalf("draw %d: crop %v has aspect ratio %.3f, want [%.3f, %.3f]", i, r, cw/ch, 1/tc.maxRatio, tc.maxRatio)
				}
				minA, maxA = min(minA, cw*ch/area), max(maxA, cw*ch/area)
				minR, maxR = min(minR, cw/ch), max(maxR, cw/ch)
			}
			t.Logf("area %.3f to %.3f, aspect ratio %.3f to %.3f", minA, maxA, minR, maxR)
			if span := tc.hi - tc.lo; minA > tc.lo+span/10 || maxA < tc.hi-span/10 {
				t.Errorf("areas %.3f to %.3f of %d draws, want near both ends of [%v, %v]", minA, maxA, draws, tc.lo, tc.hi)
			}
			// Sides of 60 and more pixels: rounding moves the ratio by
			// under 2%.
			if minR > math.Pow(tc.maxRatio, -0.8)*1.02 || maxR < math.Pow(tc.maxRatio, 0.8)/1.02 {
				t.Errorf("aspect ratios %.3f to %.3f of %d draws, want near both ends of [%.3f, %.3f]", minR, maxR, draws, 1/tc.maxRatio, tc.maxRatio)
			}
		})
	}
}

// TestColorJitterBounds recovers the brightness, contrast and saturation
// changes of many seeded ColorJitter draws (the hue, which ColorJitter
// leaves alone, is not checked): each lies within ±strength·100 percent
// (imaging's percentages, see augtest.JitterDraw), and the draws reach near
// both ends.
func TestColorJitterBounds(t *testing.T) {
	t.Parallel()
	img := augtest.JitterImage()
	for _, strength := range []float64{0.4, 0.2} {
		rng := rand.New(rand.NewPCG(21, uint64(100*strength)))
		lim := strength * 100
		lo := augtest.JitterDraw{Brightness: math.Inf(1), Contrast: math.Inf(1), Saturation: math.Inf(1)}
		hi := augtest.JitterDraw{Brightness: math.Inf(-1), Contrast: math.Inf(-1), Saturation: math.Inf(-1)}
		for i := range 150 {
			d := augtest.RecoverJitter(t, ColorJitter(img, strength, rng))
			// Rounding to 8 bits: brightness and contrast are recovered to
			// within a percent, saturation within 3.
			if math.Abs(d.Brightness) > lim+1 || math.Abs(d.Contrast) > lim+1.5 || math.Abs(d.Saturation) > lim+3 {
				t.Fatalf("strength %v, draw %d: %+v, want each within ±%v percent", strength, i, d, lim)
			}
			lo = augtest.JitterDraw{Brightness: min(lo.Brightness, d.Brightness), Contrast: min(lo.Contrast, d.Contrast), Saturation: min(lo.Saturation, d.Saturation)}
			hi = augtest.JitterDraw{Brightness: max(hi.Brightness, d.Brightness), Contrast: max(hi.Contrast, d.Contrast), Saturation: max(hi.Saturation, d.Saturation)}
		}
		t.Logf("strength %v: from %+v to %+v", strength, lo, hi)
		if lo.Brightness > -0.8*lim || lo.Contrast > -0.8*lim || lo.Saturation > -0.8*lim ||
			hi.Brightness < 0.8*lim || hi.Contrast < 0.8*lim || hi.Saturation < 0.8*lim {
			t.Errorf("strength %v: draws from %+v to %+v, want near ±%v percent each", strength, lo, hi, lim)
		}
	}
}
