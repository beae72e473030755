package tasks

import "math"

// CIE L*a*b* conversions of 8-bit sRGB (IEC 61966-2-1, D65 white), in
// float64: sRGB -> linear RGB (the sRGB transfer function) -> CIE XYZ (the
// sRGB primaries' D65 matrix) -> L*a*b* relative to the D65 white
// (Xn, Yn, Zn) = (0.95047, 1, 1.08883), with the CIE's exact constants
// epsilon = 216/24389 and kappa = 24389/27. L is in [0, 100]; a and b are
// roughly in [-128, 127] for sRGB colours.

const (
	labXn    = 0.95047
	labYn    = 1.0
	labZn    = 1.08883
	labEps   = 216.0 / 24389
	labKappa = 24389.0 / 27
)

// srgbLinear maps each 8-bit sRGB value to linear light in [0, 1].
var srgbLinear = func() (t [256]float64) {
	for i := range t {
		t[i] = srgbToLinear(float64(i) / 255)
	}
	return t
}()

// srgbToLinear is the sRGB decoding (electro-optical) transfer function on
// [0, 1].
func srgbToLinear(v float64) float64 {
	if v <= 0.04045 {
		return v / 12.92
	}
	return math.Pow((v+0.055)/1.055, 2.4)
}

// linearToSRGB is the sRGB encoding transfer function on [0, 1].
func linearToSRGB(v float64) float64 {
	if v <= 0.0031308 {
		return 12.92 * v
	}
	return 1.055*math.Pow(v, 1/2.4) - 0.055
}

// labF is the CIE L*a*b* companding function f(t).
func labF(t float64) float64 {
	if t > labEps {
		return math.Cbrt(t)
	}
	return (labKappa*t + 16) / 116
}

// labFInv inverts labF.
func labFInv(f float64) float64 {
	if t := f * f * f; t > labEps {
		return t
	}
	return (116*f - 16) / labKappa
}

// linearToLab converts linear RGB (each in [0, 1] for in-gamut colours) to
// L*a*b*.
func linearToLab(r, g, b float64) (l, a, bb float64) {
	x := 0.4124564*r + 0.3575761*g + 0.1804375*b
	y := 0.2126729*r + 0.7151522*g + 0.0721750*b
	z := 0.0193339*r + 0.1191920*g + 0.9503041*b
	fx, fy, fz := labF(x/labXn), labF(y/labYn), labF(z/labZn)
	return 116*fy - 16, 500 * (fx - fy), 200 * (fy - fz)
}

// labToLinear converts L*a*b* to linear RGB; out-of-gamut colours give
// values outside [0, 1].
func labToLinear(l, a, b float64) (r, g, bb float64) {
	fy := (l + 16) / 116
	fx, fz := fy+a/500, fy-b/200
	x, y, z := labXn*labFInv(fx), labYn*labFInv(fy), labZn*labFInv(fz)
	r = 3.2404542*x - 1.5371385*y - 0.4985314*z
	g = -0.9692660*x + 1.8760108*y + 0.0415560*z
	bb = 0.0556434*x - 0.2040259*y + 1.0572252*z
	return r, g, bb
}

// rgbToLab converts an 8-bit sRGB colour to L*a*b*.
func rgbToLab(r, g, b uint8) (l, a, bb float64) {
	return linearToLab(srgbLinear[r], srgbLinear[g], srgbLinear[b])
}

// labToRGB converts L*a*b* to 8-bit sRGB, clipping out-of-gamut channels to
// [0, 255] and rounding to nearest.
func labToRGB(l, a, b float64) (r, g, bb uint8) {
	lr, lg, lb := labToLinear(l, a, b)
	return to8(lr), to8(lg), to8(lb)
}

// to8 encodes a linear value as the nearest 8-bit sRGB value, clipped.
func to8(v float64) uint8 {
	v = linearToSRGB(max(0, min(1, v)))
	return uint8(math.Round(255 * v))
}

// abBins are the Q = 313 in-gamut bins of the ab plane at grid size 10 that
// the colourisation head classifies into: the bin centres of Zhang, Isola &
// Efros (2016), the authors' released pts_in_hull.npy (derived from
// ImageNet's gamut), ordered by a, then b, as there. Each column of
// constant a holds one contiguous run of b.
//
// Rule: these are the grid points (multiples of 10) within Chebyshev
// distance 10 (strictly) of the ab of some 8-bit sRGB colour — the points
// whose four surrounding 10x10 grid cells hold an sRGB colour, 309 of them
// — plus 4 points at the gamut's edge that rule misses: (40, 90), (100, 0),
// (100, -10) and (100, -90). The plainer rules give fewer bins: rounding
// every sRGB colour's ab to its nearest grid point reaches 261, and grid
// points whose own (a, b) is an sRGB colour at some L reach about 230.
// lab_test.go checks all of this against the conversion above.
var abBins = func() [][2]int {
	cols := [...]struct{ a, lo, hi int }{
		{-90, 50, 90}, {-80, 20, 90}, {-70, 0, 90}, {-60, -20, 90},
		{-50, -30, 100}, {-40, -40, 100}, {-30, -50, 100}, {-20, -50, 100},
		{-10, -60, 100}, {0, -70, 100}, {10, -80, 90}, {20, -80, 90},
		{30, -90, 90}, {40, -100, 90}, {50, -100, 80}, {60, -110, 80},
		{70, -110, 80}, {80, -110, 70}, {90, -110, 70}, {100, -90, 0},
	}
	var bins [][2]int
	for _, c := range cols {
		for b := c.lo; b <= c.hi; b += 10 {
			bins = append(bins, [2]int{c.a, b})
		}
	}
	return bins
}()
