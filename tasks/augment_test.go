package tasks

import (
	"image"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/pretextlab/pretext/internal/augtest"
)

// The augmentations' documented bounds, checked by recovering what each
// draw did from images made to show it (package augtest): a crop of
// augtest.CoordImage shows where it was cut, a jitter of augtest.JitterImage
// its level mapping, saturation and hue. core's augment_test.go checks
// RandomResizedCrop and ColorJitter the same way; these check what the
// tasks ask of them.

// TestViewCropBounds recovers the rectangle of many seeded crops of the
// tasks' views, distortions off but for the flip: the crop's area, as a
// fraction of the photo's, lies in the scale range the settings document
// (up to the rounding of each side to whole pixels) and the draws reach
// both ends of it.
func TestViewCropBounds(t *testing.T) {
	t.Parallel()
	const side, draws = 200, 150
	img := augtest.CoordImage(side, side)
	plain := ViewConfig{Size: 48, Jitter: -1, GreyProb: -1}
	multi := MultiCropConfig{ViewConfig: plain, LocalSize: 32}.withDefaults()
	cases := []struct {
		name   string
		view   func(*rand.Rand) *image.NRGBA
		lo, hi float64
	}{
		{"two views, default min_scale", func(r *rand.Rand) *image.NRGBA { return plain.withDefaults().augment(img, r) }, 0.2, 1},
		{"two views, min_scale 0.5", func(r *rand.Rand) *image.NRGBA {
			v := plain
			v.MinScale = 0.5
			return v.withDefaults().augment(img, r)
		}, 0.5, 1},
		{"multi-crop global", func(r *rand.Rand) *image.NRGBA { return multi.augment(img, r) }, 0.4, 1},
		{"multi-crop local", func(r *rand.Rand) *image.NRGBA { return multi.local(img, r) }, 0.05, 0.4},
		{"multi-crop local, set", func(r *rand.Rand) *image.NRGBA {
			m := multi
			m.LocalMinScale, m.LocalMaxScale = 0.1, 0.2
			return m.local(img, r)
		}, 0.1, 0.2},
		{"augmented crop", func(r *rand.Rand) *image.NRGBA { return augmentedCrop(img, 48, 0.3, 0, r) }, 0.3, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rng := testRNG(21)
			area := float64(side * side)
			minA, maxA := math.Inf(1), math.Inf(-1)
			for i := range draws {
				r := augtest.CropRect(t, tc.view(rng), side, side)
				cw, ch := float64(r.Dx()), float64(r.Dy())
				if (cw+0.5)*(ch+0.5) < tc.lo*area || (cw-0.5)*(ch-0.5) > tc.hi*area {
					t.Fatalf("draw %d: crop %v covers %.3f of the photo, want [%v, %v]", i, r, cw*ch/area, tc.lo, tc.hi)
				}
				minA, maxA = min(minA, cw*ch/area), max(maxA, cw*ch/area)
			}
			t.Logf("area %.3f to %.3f", minA, maxA)
			if span := tc.hi - tc.lo; minA > tc.lo+span/10 || maxA < tc.hi-span/10 {
				t.Errorf("areas %.3f to %.3f of %d draws, want near both ends of [%v, %v]", minA, maxA, draws, tc.lo, tc.hi)
			}
		})
	}
}

// TestViewJitterBounds recovers the colour jitter of many seeded views
// (ViewConfig.distort, always jittered, never grey): brightness, contrast
// and saturation change by at most 0.8·Jitter (as imaging's percentages,
// core.ColorJitter's), the hue turns by at most 0.2·Jitter of the circle,
// as ViewConfig documents, and the draws reach near both ends of each.
func TestViewJitterBounds(t *testing.T) {
	t.Parallel()
	img := augtest.JitterImage()
	for _, jitter := range []float64{0.5, 0.25} {
		c := ViewConfig{Jitter: jitter, JitterProb: 1, GreyProb: -1}.withDefaults()
		rng := testRNG(uint64(100 * jitter))
		lim, hueLim := 0.8*jitter*100, 0.2*jitter
		lo := augtest.JitterDraw{Brightness: math.Inf(1), Contrast: math.Inf(1), Saturation: math.Inf(1), Hue: math.Inf(1)}
		hi := augtest.JitterDraw{Brightness: math.Inf(-1), Contrast: math.Inf(-1), Saturation: math.Inf(-1), Hue: math.Inf(-1)}
		for i := range 150 {
			d := augtest.RecoverJitter(t, c.distort(img, rng))
			// Rounding to 8 bits: brightness and contrast are recovered to
			// within 1.5 percent, saturation 3, the hue 0.005 turns.
			if math.Abs(d.Brightness) > lim+1 || math.Abs(d.Contrast) > lim+1.5 || math.Abs(d.Saturation) > lim+3 || math.Abs(d.Hue) > hueLim+0.005 {
				t.Fatalf("jitter %v, draw %d: %+v, want brightness, contrast and saturation within ±%v percent, hue within ±%v turns", jitter, i, d, lim, hueLim)
			}
			lo = augtest.JitterDraw{Brightness: min(lo.Brightness, d.Brightness), Contrast: min(lo.Contrast, d.Contrast), Saturation: min(lo.Saturation, d.Saturation), Hue: min(lo.Hue, d.Hue)}
			hi = augtest.JitterDraw{Brightness: max(hi.Brightness, d.Brightness), Contrast: max(hi.Contrast, d.Contrast), Saturation: max(hi.Saturation, d.Saturation), Hue: max(hi.Hue, d.Hue)}
		}
		t.Logf("jitter %v: from %+v to %+v", jitter, lo, hi)
		if lo.Brightness > -0.8*lim || lo.Contrast > -0.8*lim || lo.Saturation > -0.8*lim || lo.Hue > -0.8*hueLim ||
			hi.Brightness < 0.8*lim || hi.Contrast < 0.8*lim || hi.Saturation < 0.8*lim || hi.Hue < 0.8*hueLim {
			t.Errorf("jitter %v: draws from %+v to %+v, want near ±%v percent and ±%v turns", jitter, lo, hi, lim, hueLim)
		}
	}
}
