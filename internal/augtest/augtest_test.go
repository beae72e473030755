package augtest

import (
	"image"
	"math"
	"testing"

	"github.com/disintegration/imaging"
)

// TestCropSpan checks the crop recovery itself on crops cut by hand (cut
// out and resized by imaging.Linear, as core's crops are), mirrored or not.
func TestCropSpan(t *testing.T) {
	t.Parallel()
	img := CoordImage(240, 180)
	for _, r := range []image.Rectangle{
		image.Rect(0, 0, 240, 180), image.Rect(17, 30, 130, 101), image.Rect(100, 2, 148, 50), image.Rect(200, 150, 240, 180),
	} {
		out := imaging.Resize(imaging.Crop(img, r), 48, 48, imaging.Linear)
		if got := CropRect(t, out, 240, 180); got != r {
			t.Errorf("crop %v recovered as %v", r, got)
		}
		if got := CropRect(t, imaging.FlipH(out), 240, 180); got != r {
			t.Errorf("mirrored crop %v recovered as %v", r, got)
		}
	}
}

// TestRecoverJitter checks the recovery itself on jitters applied by hand.
func TestRecoverJitter(t *testing.T) {
	t.Parallel()
	img := JitterImage()
	for _, want := range []JitterDraw{{}, {30, -25, 35, 0.1}, {-38, 38, -38, -0.09}, {12, 20, -10, 0.03}} {
		out := imaging.AdjustBrightness(img, want.Brightness)
		out = imaging.AdjustContrast(out, want.Contrast)
		out = imaging.AdjustSaturation(out, want.Saturation)
		got := RecoverJitter(t, turnHue(out, want.Hue))
		if math.Abs(got.Brightness-want.Brightness) > 1 || math.Abs(got.Contrast-want.Contrast) > 1.5 ||
			math.Abs(got.Saturation-want.Saturation) > 3 || math.Abs(got.Hue-want.Hue) > 0.005 {
			t.Errorf("jitter %+v recovered as %+v", want, got)
		}
	}
}

// turnHue turns the HSV hue of every pixel of img by turns of the colour
// circle, keeping HSV saturation and value (and so each pixel's largest
// and smallest channel).
func turnHue(img *image.NRGBA, turns float64) *image.NRGBA {
	out := imaging.Clone(img)
	for i := 0; i+3 < len(out.Pix); i += 4 {
		r, g, b := out.Pix[i], out.Pix[i+1], out.Pix[i+2]
		if r == g && g == b {
			continue
		}
		h := HueTurns(r, g, b) + turns
		hi, lo := float64(max(r, g, b)), float64(min(r, g, b))
		// HSV to RGB: channel n's level is hi - (hi-lo)·clamp(k, 4-k)
		// with k = n + 6h mod 6.
		for j, n := range []float64{5, 3, 1} {
			k := math.Mod(math.Mod(n+6*h, 6)+6, 6)
			out.Pix[i+j] = uint8(math.Round(hi - (hi-lo)*max(0, min(k, 4-k, 1))))
		}
	}
	return out
}
