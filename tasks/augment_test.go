package tasks

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/disintegration/imaging"
)

// The augmentations' documented bounds, checked by recovering what each
// draw did from images made to show it: a crop of coordImage shows where it
// was cut, a jitter of jitterImage its level mapping, saturation and hue.
// core's augment_test.go checks RandomResizedCrop and ColorJitter the same
// way; these check what the tasks ask of them.

// cropSpan recovers, from one line of a resized crop of coordImage (red
// along a row, or green along a column), where the crop began and how
// long it was on that axis of a side-pixel image: the span whose ramp,
// cut out and resized by imaging.Linear to len(vals) as core's crops are,
// gives vals exactly. A line fitted to the middle half of vals (away from
// the edges, where the filter's support is cut) gives the guess that is
// searched around; ok is false unless exactly one span matches.
func cropSpan(vals []uint8, side int) (start, length int, ok bool) {
	n := len(vals)
	var sx, sy, sxx, sxy, m float64
	for i := n / 4; i < 3*n/4; i++ {
		x, y := float64(i), float64(vals[i])
		sx, sy, sxx, sxy, m = sx+x, sy+y, sxx+x*x, sxy+x*y, m+1
	}
	slope := (m*sxy - sx*sy) / (m*sxx - sx*sx)
	icpt := (sy - slope*sx) / m
	// vals[i] = start + (i+0.5)·length/n - 0.5 in the interior.
	l0, s0 := int(math.Round(slope*float64(n))), int(math.Round(icpt+0.5-0.5*slope))
	matches := 0
	for l := max(1, l0-2); l <= min(side, l0+2); l++ {
		for s := max(0, s0-2); s <= min(side-l, s0+2); s++ {
			ramp := image.NewNRGBA(image.Rect(0, 0, l, 1))
			for x := range l {
				ramp.SetNRGBA(x, 0, color.NRGBA{uint8(s + x), 0, 0, 255})
			}
			got := ramp
			if l != n {
				got = imaging.Resize(ramp, n, 1, imaging.Linear)
			}
			same := true
			for i, v := range vals {
				same = same && got.Pix[4*i] == v
			}
			if same {
				start, length, matches = s, l, matches+1
			}
		}
	}
	return start, length, matches == 1
}

// cropRect recovers the rectangle of coordImage(side) that out, a square
// crop resized and perhaps mirrored, was cut from (see cropSpan).
func cropRect(t *testing.T, out *image.NRGBA, side int) image.Rectangle {
	t.Helper()
	n := out.Bounds().Dx()
	if out.NRGBAAt(0, n/2).R > out.NRGBAAt(n-1, n/2).R {
		out = imaging.FlipH(out)
	}
	row, col := make([]uint8, n), make([]uint8, n)
	for i := range n {
		row[i] = out.NRGBAAt(i, n/2).R
		col[i] = out.NRGBAAt(n/2, i).G
	}
	x0, cw, okX := cropSpan(row, side)
	y0, ch, okY := cropSpan(col, side)
	if !okX || !okY {
		t.Fatalf("cannot tell where the crop was cut: row %v, column %v", row, col)
	}
	return image.Rect(x0, y0, x0+cw, y0+ch)
}

// TestViewCropBounds recovers the rectangle of many seeded crops of the
// tasks' views, distortions off but for the flip: the crop's area, as a
// fraction of the photo's, lies in the scale range the settings document
// (up to the rounding of each side to whole pixels) and the draws reach
// both ends of it.
func TestViewCropBounds(t *testing.T) {
	t.Parallel()
	const side, draws = 200, 150
	img := coordImage(side)
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
				r := cropRect(t, tc.view(rng), side)
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

// jitterImage is a one-pixel-wide column (so a flip leaves it as it is):
// the 256 greys, then every colour of jitterLevels levels a channel.
func jitterImage() *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, 1, 256+jitterColours))
	for g := range 256 {
		img.SetNRGBA(0, g, color.NRGBA{uint8(g), uint8(g), uint8(g), 255})
	}
	for i := range jitterColours {
		c := jitterImageColour(i)
		img.SetNRGBA(0, 256+i, color.NRGBA{c[0], c[1], c[2], 255})
	}
	return img
}

// jitterImageColour is colour i of jitterImage, after the greys.
func jitterImageColour(i int) [3]uint8 {
	const n = jitterLevels
	level := func(j int) uint8 { return uint8(j * 255 / (n - 1)) }
	return [3]uint8{level(i / (n * n)), level(i / n % n), level(i % n)}
}

// jitterLevels is the number of levels a channel of jitterImage's colours
// take, evenly spread over [0, 255]; jitterColours their number.
const (
	jitterLevels  = 12
	jitterColours = jitterLevels * jitterLevels * jitterLevels
)

// jitterDraw is what a colour jitter did to jitterImage: brightness,
// contrast and saturation in the percentages of imaging's Adjust functions
// (core.ColorJitter's), and the hue's turn. Brightness shifts every level
// by p·255/100; Contrast scales the distance from mid-grey by 1+p/100 for
// p <= 0 and by 1/(1-p/100) above; Saturation multiplies HSL saturation
// by 1+p/100; Hue turns the colour circle by that fraction.
type jitterDraw struct{ Brightness, Contrast, Saturation, Hue float64 }

// recoverJitter reads the jitter applied to jitterImage from out. The
// greys give the level mapping L (they have no hue, so saturation and hue
// leave them alone): a line fitted where L is clamped at neither end gives
// the contrast's slope and the brightness shift. Each colour's levels
// before saturation are then known (L of each channel); the colours with a
// chroma of at least 60 levels there give the saturation (their HSL
// saturation after over before, where it stays far from 1, its clamp) and
// the hue's turn (a hue turn keeps the largest and smallest channel, and
// so HSL saturation).
func recoverJitter(t *testing.T, out *image.NRGBA) jitterDraw {
	t.Helper()
	var lut [256]float64
	for g := range 256 {
		c := out.NRGBAAt(0, g)
		if c.R != c.G || c.G != c.B {
			t.Fatalf("grey %d came out %v, not grey", g, c)
		}
		lut[g] = float64(c.R)
	}
	var sx, sy, sxx, sxy, m float64
	for g := range 256 {
		if lut[g] > lut[0] && lut[g] < lut[255] {
			x, y := float64(g), lut[g]
			sx, sy, sxx, sxy, m = sx+x, sy+y, sxx+x*x, sxy+x*y, m+1
		}
	}
	if m < 40 {
		t.Fatalf("only %v greys are not clamped: %v", m, lut)
	}
	k := (m*sxy - sx*sy) / (m*sxx - sx*sx)
	icpt := (sy - k*sx) / m
	var d jitterDraw
	// lut[g] = 127.5 + (g + shift - 127.5)·k.
	d.Brightness = ((icpt-127.5)/k + 127.5) / 255 * 100
	if k <= 1 {
		d.Contrast = (k - 1) * 100
	} else {
		d.Contrast = (1 - 1/k) * 100
	}
	var before, after, turnSum, turnWeight float64
	for i := range jitterColours {
		c := jitterImageColour(i)
		p := [3]uint8{uint8(lut[c[0]]), uint8(lut[c[1]]), uint8(lut[c[2]])}
		q := out.NRGBAAt(0, 256+i)
		sb, cb := hslSat(p[0], p[1], p[2])
		sa, ca := hslSat(q.R, q.G, q.B)
		if cb < 60 {
			continue
		}
		if sb < 0.6 {
			before, after = before+sb, after+sa
		}
		if ca >= 30 {
			turn := math.Mod(hueTurns(q.R, q.G, q.B)-hueTurns(p[0], p[1], p[2])+1.5, 1) - 0.5
			turnSum, turnWeight = turnSum+ca*turn, turnWeight+ca
		}
	}
	if before == 0 || turnWeight == 0 {
		t.Fatal("no colour is saturated enough to measure saturation and hue")
	}
	d.Saturation = (after/before - 1) * 100
	d.Hue = turnSum / turnWeight
	return d
}

// hslSat returns the HSL saturation of an 8-bit colour and its chroma in
// levels.
func hslSat(r, g, b uint8) (float64, float64) {
	hi, lo := float64(max(r, g, b)), float64(min(r, g, b))
	if hi == lo {
		return 0, 0
	}
	return (hi - lo) / (255 - math.Abs(hi+lo-255)), hi - lo
}

// hueTurns is the hue of a (not grey) 8-bit colour in turns, [0, 1).
func hueTurns(r, g, b uint8) float64 {
	rf, gf, bf := float64(r), float64(g), float64(b)
	hi, lo := max(rf, gf, bf), min(rf, gf, bf)
	var h float64
	switch hi {
	case rf:
		h = (gf - bf) / (hi - lo)
	case gf:
		h = (bf-rf)/(hi-lo) + 2
	default:
		h = (rf-gf)/(hi-lo) + 4
	}
	return math.Mod(h/6+1, 1)
}

// TestRecoverJitter checks the recovery itself on jitters applied by hand.
func TestRecoverJitter(t *testing.T) {
	t.Parallel()
	img := jitterImage()
	for _, want := range []jitterDraw{{}, {30, -25, 35, 0.1}, {-38, 38, -38, -0.09}, {12, 20, -10, 0.03}} {
		out := imaging.AdjustBrightness(img, want.Brightness)
		out = imaging.AdjustContrast(out, want.Contrast)
		out = imaging.AdjustSaturation(out, want.Saturation)
		got := recoverJitter(t, shiftHue(out, want.Hue))
		if math.Abs(got.Brightness-want.Brightness) > 1 || math.Abs(got.Contrast-want.Contrast) > 1.5 ||
			math.Abs(got.Saturation-want.Saturation) > 3 || math.Abs(got.Hue-want.Hue) > 0.005 {
			t.Errorf("jitter %+v recovered as %+v", want, got)
		}
	}
}

// TestViewJitterBounds recovers the colour jitter of many seeded views
// (ViewConfig.distort, always jittered, never grey): brightness, contrast
// and saturation change by at most 0.8·Jitter (as imaging's percentages,
// core.ColorJitter's), the hue turns by at most 0.2·Jitter of the circle,
// as ViewConfig documents, and the draws reach near both ends of each.
func TestViewJitterBounds(t *testing.T) {
	t.Parallel()
	img := jitterImage()
	for _, jitter := range []float64{0.5, 0.25} {
		c := ViewConfig{Jitter: jitter, JitterProb: 1, GreyProb: -1}.withDefaults()
		rng := testRNG(uint64(100 * jitter))
		lim, hueLim := 0.8*jitter*100, 0.2*jitter
		lo := jitterDraw{math.Inf(1), math.Inf(1), math.Inf(1), math.Inf(1)}
		hi := jitterDraw{math.Inf(-1), math.Inf(-1), math.Inf(-1), math.Inf(-1)}
		for i := range 150 {
			d := recoverJitter(t, c.distort(img, rng))
			// Rounding to 8 bits: brightness and contrast are recovered to
			// within 1.5 percent, saturation 3, the hue 0.005 turns.
			if math.Abs(d.Brightness) > lim+1 || math.Abs(d.Contrast) > lim+1.5 || math.Abs(d.Saturation) > lim+3 || math.Abs(d.Hue) > hueLim+0.005 {
				t.Fatalf("jitter %v, draw %d: %+v, want brightness, contrast and saturation within ±%v percent, hue within ±%v turns", jitter, i, d, lim, hueLim)
			}
			lo = jitterDraw{min(lo.Brightness, d.Brightness), min(lo.Contrast, d.Contrast), min(lo.Saturation, d.Saturation), min(lo.Hue, d.Hue)}
			hi = jitterDraw{max(hi.Brightness, d.Brightness), max(hi.Contrast, d.Contrast), max(hi.Saturation, d.Saturation), max(hi.Hue, d.Hue)}
		}
		t.Logf("jitter %v: from %+v to %+v", jitter, lo, hi)
		if lo.Brightness > -0.8*lim || lo.Contrast > -0.8*lim || lo.Saturation > -0.8*lim || lo.Hue > -0.8*hueLim ||
			hi.Brightness < 0.8*lim || hi.Contrast < 0.8*lim || hi.Saturation < 0.8*lim || hi.Hue < 0.8*hueLim {
			t.Errorf("jitter %v: draws from %+v to %+v, want near ±%v percent and ±%v turns", jitter, lo, hi, lim, hueLim)
		}
	}
}
