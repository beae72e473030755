package core

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/disintegration/imaging"
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

// coordImage is a w x h image (sides at most 256) whose red is x and green
// y: a crop of it, however resized, shows where it was cut.
func coordImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y), 0, 255})
		}
	}
	return img
}

// cropSpan recovers, from one line of a resized crop of coordImage (red
// along a row, or green along a column), where the crop began and how
// long it was on that axis of a side-pixel image: the span whose ramp,
// cut out and resized by imaging.Linear to len(vals) as cropResize does,
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

// cropRect recovers the rectangle of img = coordImage(w, h) that out, a
// square crop resized, was cut from (see cropSpan).
func cropRect(t *testing.T, out *image.NRGBA, w, h int) image.Rectangle {
	t.Helper()
	n := out.Bounds().Dx()
	row, col := make([]uint8, n), make([]uint8, n)
	for i := range n {
		row[i] = out.NRGBAAt(i, n/2).R
		col[i] = out.NRGBAAt(n/2, i).G
	}
	x0, cw, okX := cropSpan(row, w)
	y0, ch, okY := cropSpan(col, h)
	if !okX || !okY {
		t.Fatalf("cannot tell where the crop was cut: row %v, column %v", row, col)
	}
	return image.Rect(x0, y0, x0+cw, y0+ch)
}

// TestCropSpan checks the crop recovery itself on crops cut by hand.
func TestCropSpan(t *testing.T) {
	t.Parallel()
	img := coordImage(240, 180)
	for _, r := range []image.Rectangle{
		image.Rect(0, 0, 240, 180), image.Rect(17, 30, 130, 101), image.Rect(100, 2, 148, 50), image.Rect(200, 150, 240, 180),
	} {
		if got := cropRect(t, cropResize(img, r, 48, 48), 240, 180); got != r {
			t.Errorf("crop %v recovered as %v", r, got)
		}
	}
}

// TestRandomResizedCropBounds cuts many seeded crops of a coordinate
// image and recovers each one's rectangle: its area, as a fraction of the
// image's, lies in [MinScale, MaxScale] and its aspect ratio in
// [1/MaxAspect, MaxAspect] (up to the rounding of each side to whole
// pixels, ±0.5), and the draws reach both ends of each range.
func TestRandomResizedCropBounds(t *testing.T) {
	t.Parallel()
	const w, h, size, draws = 240, 180, 48, 150
	img := coordImage(w, h)
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
				r := cropRect(t, RandomResizedCrop(img, size, tc.cfg, rng), w, h)
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

// jitterDraw is what a colour jitter did to jitterImage, in the
// percentages of imaging's Adjust functions: Brightness shifts every level
// by p·255/100; Contrast scales the distance from mid-grey by 1+p/100 for
// p <= 0 and by 1/(1-p/100) above; Saturation multiplies HSL saturation by
// 1+p/100.
type jitterDraw struct{ Brightness, Contrast, Saturation float64 }

// recoverJitter reads the jitter applied to in = jitterImage() from out.
// The greys give the level mapping L (they keep no hue, so saturation
// leaves them alone): a line fitted where L is clamped at neither end
// gives the contrast's slope and the brightness shift. Each colour's level
// mapping is then known, so the colours give saturation: their HSL
// saturation after over before (chroma at least 60 levels before, and far
// from 1 after, where it is clamped).
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
	var before, after float64
	for i := range jitterColours {
		c := jitterImageColour(i)
		p := [3]uint8{uint8(lut[c[0]]), uint8(lut[c[1]]), uint8(lut[c[2]])}
		q := out.NRGBAAt(0, 256+i)
		sb, cb := hslSat(p[0], p[1], p[2])
		sa, _ := hslSat(q.R, q.G, q.B)
		if cb >= 60 && sb < 0.6 {
			before, after = before+sb, after+sa
		}
	}
	if before == 0 {
		t.Fatal("no colour is saturated enough to measure saturation")
	}
	d.Saturation = (after/before - 1) * 100
	return d
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

// hslSat returns the HSL saturation of an 8-bit colour and its chroma in
// levels.
func hslSat(r, g, b uint8) (float64, float64) {
	hi, lo := float64(max(r, g, b)), float64(min(r, g, b))
	if hi == lo {
		return 0, 0
	}
	return (hi - lo) / (255 - math.Abs(hi+lo-255)), hi - lo
}

// TestRecoverJitter checks the recovery itself on jitters applied by hand.
func TestRecoverJitter(t *testing.T) {
	t.Parallel()
	img := jitterImage()
	for _, want := range []jitterDraw{{0, 0, 0}, {30, -25, 35}, {-38, 38, -38}, {12, 20, -10}} {
		out := imaging.AdjustBrightness(img, want.Brightness)
		out = imaging.AdjustContrast(out, want.Contrast)
		out = imaging.AdjustSaturation(out, want.Saturation)
		got := recoverJitter(t, out)
		if math.Abs(got.Brightness-want.Brightness) > 1 || math.Abs(got.Contrast-want.Contrast) > 1.5 || math.Abs(got.Saturation-want.Saturation) > 3 {
			t.Errorf("jitter %+v recovered as %+v", want, got)
		}
	}
}

// TestColorJitterBounds recovers the brightness, contrast and saturation
// changes of many seeded ColorJitter draws: each lies within ±strength·100
// percent (imaging's percentages, see jitterDraw), and the draws reach
// near both ends.
func TestColorJitterBounds(t *testing.T) {
	t.Parallel()
	img := jitterImage()
	for _, strength := range []float64{0.4, 0.2} {
		rng := rand.New(rand.NewPCG(21, uint64(100*strength)))
		lim := strength * 100
		lo := jitterDraw{math.Inf(1), math.Inf(1), math.Inf(1)}
		hi := jitterDraw{math.Inf(-1), math.Inf(-1), math.Inf(-1)}
		for i := range 150 {
			d := recoverJitter(t, ColorJitter(img, strength, rng))
			// Rounding to 8 bits: brightness and contrast are recovered to
			// within a percent, saturation within 3.
			if math.Abs(d.Brightness) > lim+1 || math.Abs(d.Contrast) > lim+1.5 || math.Abs(d.Saturation) > lim+3 {
				t.Fatalf("strength %v, draw %d: %+v, want each within ±%v percent", strength, i, d, lim)
			}
			lo = jitterDraw{min(lo.Brightness, d.Brightness), min(lo.Contrast, d.Contrast), min(lo.Saturation, d.Saturation)}
			hi = jitterDraw{max(hi.Brightness, d.Brightness), max(hi.Contrast, d.Contrast), max(hi.Saturation, d.Saturation)}
		}
		t.Logf("strength %v: from %+v to %+v", strength, lo, hi)
		if lo.Brightness > -0.8*lim || lo.Contrast > -0.8*lim || lo.Saturation > -0.8*lim ||
			hi.Brightness < 0.8*lim || hi.Contrast < 0.8*lim || hi.Saturation < 0.8*lim {
			t.Errorf("strength %v: draws from %+v to %+v, want near ±%v percent each", strength, lo, hi, lim)
		}
	}
}
