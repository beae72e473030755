package tasks

import (
	"math"
	"testing"
)

// TestLabKnownValues checks sRGB -> L*a*b* against published values (D65;
// e.g. Bruce Lindbloom's calculator and colormine.org).
func TestLabKnownValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		r, g, b  uint8
		l, a, bb float64
	}{
		{255, 255, 255, 100, 0, 0},
		{0, 0, 0, 0, 0, 0},
		{255, 0, 0, 53.24, 80.09, 67.20},
		{0, 255, 0, 87.73, -86.18, 83.18},
		{0, 0, 255, 32.30, 79.19, -107.86},
		{128, 128, 128, 53.59, 0, 0},
		{255, 255, 0, 97.14, -21.55, 94.48},
		{0, 255, 255, 91.11, -48.09, -14.13},
		{255, 0, 255, 60.32, 98.23, -60.82},
	} {
		l, a, b := rgbToLab(tc.r, tc.g, tc.b)
		if math.Abs(l-tc.l) > 0.01 || math.Abs(a-tc.a) > 0.02 || math.Abs(b-tc.bb) > 0.02 {
			t.Errorf("rgbToLab(%d, %d, %d) = (%.3f, %.3f, %.3f), want (%.2f, %.2f, %.2f)",
				tc.r, tc.g, tc.b, l, a, b, tc.l, tc.a, tc.bb)
		}
	}
}

// TestLabRoundTrip checks RGB -> Lab -> RGB returns every sampled 8-bit
// colour exactly (within 1/255 allowed, none expected).
func TestLabRoundTrip(t *testing.T) {
	t.Parallel()
	worst := 0
	for r := 0; r < 256; r += 3 {
		for g := 0; g < 256; g += 5 {
			for b := 0; b < 256; b += 7 {
				l, a, bb := rgbToLab(uint8(r), uint8(g), uint8(b))
				r2, g2, b2 := labToRGB(l, a, bb)
				for _, d := range []int{int(r2) - r, int(g2) - g, int(b2) - b} {
					worst = max(worst, d, -d)
				}
			}
		}
	}
	if worst > 1 {
		t.Errorf("round trip is off by up to %d/255", worst)
	}
	t.Logf("round trip: worst error %d/255", worst)
	// Out-of-gamut Lab is clipped, not wrapped.
	if r, g, b := labToRGB(50, 127, 127); r != 255 || b != 0 || g > 128 {
		t.Errorf("labToRGB(50, 127, 127) = (%d, %d, %d), want a clipped red", r, g, b)
	}
	if r, g, b := labToRGB(110, 0, 0); r != 255 || g != 255 || b != 255 {
		t.Errorf("labToRGB(110, 0, 0) = (%d, %d, %d), want white", r, g, b)
	}
}

// TestGreyFromL checks the grey levels' lightness lookup.
func TestGreyFromL(t *testing.T) {
	t.Parallel()
	for i := range 256 {
		l, _, _ := rgbToLab(uint8(i), uint8(i), uint8(i))
		if g := greyFromL(l); int(g) != i {
			t.Errorf("greyFromL(L* of grey %d) = %d", i, g)
		}
		if g := greyFromL(l + 0.01); i < 255 && int(g) != i {
			t.Errorf("greyFromL(L* of grey %d + 0.01) = %d", i, g)
		}
	}
	if greyFromL(-5) != 0 || greyFromL(105) != 255 {
		t.Errorf("greyFromL out of range: %d %d", greyFromL(-5), greyFromL(105))
	}
}

// gamutAB calls fn with the ab of 8-bit sRGB colours: every colour on the
// RGB cube's faces (the gamut's boundary) and its interior on a grid of
// step 3, dense enough for bins of side 10.
func gamutAB(fn func(a, b float64)) {
	for r := range 256 {
		for g := range 256 {
			step := 255 // the b = 0 and b = 255 faces
			switch {
			case r == 0 || r == 255 || g == 0 || g == 255:
				step = 1
			case r%3 == 0 && g%3 == 0:
				step = 3
			}
			for b := 0; b < 256; b += step {
				_, A, B := rgbToLab(uint8(r), uint8(g), uint8(b))
				fn(A, B)
			}
		}
	}
}

// TestABBins checks the 313 bins against the sRGB gamut: they hold every
// bin an sRGB colour rounds to, and equal the grid points whose
// neighbourhood (Chebyshev distance < 10) holds an sRGB colour, plus 4
// edge bins (see abBins).
func TestABBins(t *testing.T) {
	t.Parallel()
	if len(abBins) != 313 {
		t.Fatalf("%d ab bins, want 313", len(abBins))
	}
	in := map[[2]int]bool{}
	for i, c := range abBins {
		if c[0]%10 != 0 || c[1]%10 != 0 {
			t.Errorf("bin %d = %v is not on the grid of 10", i, c)
		}
		if in[c] {
			t.Errorf("bin %v repeated", c)
		}
		in[c] = true
		if i > 0 {
			p := abBins[i-1]
			if p[0] > c[0] || p[0] == c[0] && p[1] >= c[1] {
				t.Errorf("bins %v, %v out of order", p, c)
			}
		}
	}
	rounded := map[[2]int]bool{}
	near := map[[2]int]bool{}
	gamutAB(func(a, b float64) {
		rounded[[2]int{10 * int(math.Round(a/10)), 10 * int(math.Round(b/10))}] = true
		for _, fa := range []func(float64) float64{math.Floor, math.Ceil} {
			for _, fb := range []func(float64) float64{math.Floor, math.Ceil} {
				near[[2]int{10 * int(fa(a/10)), 10 * int(fb(b/10))}] = true
			}
		}
	})
	for c := range rounded {
		if !in[c] {
			t.Errorf("sRGB colours round to bin %v, which is not in the table", c)
		}
	}
	extra := map[[2]int]bool{{40, 90}: true, {100, 0}: true, {100, -10}: true, {100, -90}: true}
	for c := range near {
		if !in[c] {
			t.Errorf("grid point %v is near the sRGB gamut but not in the table", c)
		}
		if extra[c] {
			t.Errorf("grid point %v is near the sRGB gamut, not an extra", c)
		}
	}
	for c := range in {
		if !near[c] && !extra[c] {
			t.Errorf("bin %v is neither near the sRGB gamut nor a listed extra", c)
		}
	}
	t.Logf("bins: %d in the table, %d near the gamut, %d reached by rounding", len(in), len(near), len(rounded))
	if len(near) != 309 || len(rounded) != 261 {
		t.Errorf("near %d, rounded %d; want 309 and 261", len(near), len(rounded))
	}
}
