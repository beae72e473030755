// Package augtest is for tests only: it recovers what an augmentation did
// from images made to show it, so core's and tasks' tests can check the
// augmentations' documented bounds. A crop of [CoordImage] shows where it
// was cut ([CropRect]); a jitter of [JitterImage] its level mapping,
// saturation and hue ([RecoverJitter]). It depends only on the standard
// library and imaging, so core's own tests can import it.
package augtest

import (
	"image"
	"image/color"
	"math"
	"testing"

	"github.com/disintegration/imaging"
)

// CoordImage is a w x h image (sides at most 256) whose red is x and green
// y: a crop of it, however resized, shows where it was cut.
func CoordImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y), 0, 255})
		}
	}
	return img
}

// CropSpan recovers, from one line of a resized crop of CoordImage (red
// along a row, or green along a column), where the crop began and how
// long it was on that axis of a side-pixel image: the span whose ramp,
// cut out and resized by imaging.Linear to len(vals) as core's crops are,
// gives vals exactly. A line fitted to the middle half of vals (away from
// the edges, where the filter's support is cut) gives the guess that is
// searched around; ok is false unless exactly one span matches.
func CropSpan(vals []uint8, side int) (start, length int, ok bool) {
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

// CropRect recovers the rectangle of CoordImage(w, h) that out, a square
// crop resized and perhaps mirrored, was cut from (see CropSpan).
func CropRect(tb testing.TB, out *image.NRGBA, w, h int) image.Rectangle {
	tb.Helper()
	n := out.Bounds().Dx()
	if out.NRGBAAt(0, n/2).R > out.NRGBAAt(n-1, n/2).R {
		out = imaging.FlipH(out)
	}
	row, col := make([]uint8, n), make([]uint8, n)
	for i := range n {
		row[i] = out.NRGBAAt(i, n/2).R
		col[i] = out.NRGBAAt(n/2, i).G
	}
	x0, cw, okX := CropSpan(row, w)
	y0, ch, okY := CropSpan(col, h)
	if !okX || !okY {
		tb.Fatalf("cannot tell where the crop was cut: row %v, column %v", row, col)
	}
	return image.Rect(x0, y0, x0+cw, y0+ch)
}

// JitterImage is a one-pixel-wide column (so a flip leaves it as it is):
// the 256 greys, then every colour of JitterLevels levels a channel.
func JitterImage() *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, 1, 256+JitterColours))
	for g := range 256 {
		img.SetNRGBA(0, g, color.NRGBA{uint8(g), uint8(g), uint8(g), 255})
	}
	for i := range JitterColours {
		c := JitterImageColour(i)
		img.SetNRGBA(0, 256+i, color.NRGBA{c[0], c[1], c[2], 255})
	}
	return img
}

// JitterImageColour is colour i of JitterImage, after the greys.
func JitterImageColour(i int) [3]uint8 {
	const n = JitterLevels
	level := func(j int) uint8 { return uint8(j * 255 / (n - 1)) }
	return [3]uint8{level(i / (n * n)), level(i / n % n), level(i % n)}
}

// JitterLevels is the number of levels a channel of JitterImage's colours
// take, evenly spread over [0, 255]; JitterColours their number.
const (
	JitterLevels  = 12
	JitterColours = JitterLevels * JitterLevels * JitterLevels
)

// JitterDraw is what a colour jitter did to JitterImage: brightness,
// contrast and saturation in the percentages of imaging's Adjust functions
// (core.ColorJitter's), and the hue's turn. Brightness shifts every level
// by p·255/100; Contrast scales the distance from mid-grey by 1+p/100 for
// p <= 0 and by 1/(1-p/100) above; Saturation multiplies HSL saturation
// by 1+p/100; Hue turns the colour circle by that fraction.
type JitterDraw struct{ Brightness, Contrast, Saturation, Hue float64 }

// RecoverJitter reads the jitter applied to JitterImage from out. The
// greys give the level mapping L (they have no hue, so saturation and hue
// leave them alone): a line fitted where L is clamped at neither end gives
// the contrast's slope and the brightness shift. Each colour's levels
// before saturation are then known (L of each channel); the colours with a
// chroma of at least 60 levels there give the saturation (their HSL
// saturation after over before, where it stays far from 1, its clamp) and
// the hue's turn (a hue turn keeps the largest and smallest channel, and
// so HSL saturation).
func RecoverJitter(tb testing.TB, out *image.NRGBA) JitterDraw {
	tb.Helper()
	var lut [256]float64
	for g := range 256 {
		c := out.NRGBAAt(0, g)
		if c.R != c.G || c.G != c.B {
			tb.Fatalf("grey %d came out %v, not grey", g, c)
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
		tb.Fatalf("only %v greys are not clamped: %v", m, lut)
	}
	k := (m*sxy - sx*sy) / (m*sxx - sx*sx)
	icpt := (sy - k*sx) / m
	var d JitterDraw
	// lut[g] = 127.5 + (g + shift - 127.5)·k.
	d.Brightness = ((icpt-127.5)/k + 127.5) / 255 * 100
	if k <= 1 {
		d.Contrast = (k - 1) * 100
	} else {
		d.Contrast = (1 - 1/k) * 100
	}
	var before, after, turnSum, turnWeight float64
	for i := range JitterColours {
		c := JitterImageColour(i)
		p := [3]uint8{uint8(lut[c[0]]), uint8(lut[c[1]]), uint8(lut[c[2]])}
		q := out.NRGBAAt(0, 256+i)
		sb, cb := HSLSat(p[0], p[1], p[2])
		sa, ca := HSLSat(q.R, q.G, q.B)
		if cb < 60 {
			continue
		}
		if sb < 0.6 {
			before, after = before+sb, after+sa
		}
		if ca >= 30 {
			turn := math.Mod(HueTurns(q.R, q.G, q.B)-HueTurns(p[0], p[1], p[2])+1.5, 1) - 0.5
			turnSum, turnWeight = turnSum+ca*turn, turnWeight+ca
		}
	}
	if before == 0 || turnWeight == 0 {
		tb.Fatal("no colour is saturated enough to measure saturation and hue")
	}
	d.Saturation = (after/before - 1) * 100
	d.Hue = turnSum / turnWeight
	return d
}

// HSLSat returns the HSL saturation of an 8-bit colour and its chroma in
// levels.
func HSLSat(r, g, b uint8) (float64, float64) {
	hi, lo := float64(max(r, g, b)), float64(min(r, g, b))
	if hi == lo {
		return 0, 0
	}
	return (hi - lo) / (255 - math.Abs(hi+lo-255)), hi - lo
}

// HueTurns is the hue of a (not grey) 8-bit colour in turns, [0, 1).
func HueTurns(r, g, b uint8) float64 {
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
