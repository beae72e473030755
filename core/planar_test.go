package core

import (
	"image"
	"image/color"
	"testing"
)

func TestPlanarRoundTrip(t *testing.T) {
	t.Parallel()
	img := image.NewNRGBA(image.Rect(10, 20, 15, 23)) // offset origin on purpose
	for y := 20; y < 23; y++ {
		for x := 10; x < 15; x++ {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x * 10), uint8(y * 5), uint8(x + y), 255})
		}
	}
	p := PlanarFromImage(img, ImageNetNorm)
	if p.C != 3 || p.H != 3 || p.W != 5 {
		t.Fatalf("planar %dx%dx%d, want 3x3x5", p.C, p.H, p.W)
	}
	// Channel 1 at (x=2, y=1) is green of source pixel (12, 21), normalised.
	want := (float32(21*5)/255 - ImageNetNorm.Mean[1]) / ImageNetNorm.Std[1]
	if got := p.Pix[(1*3+1)*5+2]; abs32(got-want) > 1e-6 {
		t.Errorf("G(2,1) = %v, want %v", got, want)
	}
	back := p.Image(ImageNetNorm)
	for y := range 3 {
		for x := range 5 {
			if got, want := back.NRGBAAt(x, y), img.NRGBAAt(x+10, y+20); got != want {
				t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, got, want)
			}
		}
	}
}

func TestStackLayout(t *testing.T) {
	t.Parallel()
	a, b := NewPlanar(2, 1, 3), NewPlanar(2, 1, 3)
	for i := range a.Pix {
		a.Pix[i], b.Pix[i] = float32(i), float32(10+i)
	}
	x, s, err := Stack([]Planar{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if s != (Shape{N: 2, C: 2, H: 1, W: 3}) {
		t.Fatalf("shape %v", s)
	}
	// Row c holds channel c of image 0, then of image 1.
	want := []float32{0, 1, 2, 10, 11, 12, 3, 4, 5, 13, 14, 15}
	for i := range want {
		if x[i] != want[i] {
			t.Fatalf("stacked %v, want %v", x, want)
		}
	}
	if _, _, err := Stack([]Planar{a, NewPlanar(2, 3, 1)}); err == nil {
		t.Error("stacked images of different sizes")
	}
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}
