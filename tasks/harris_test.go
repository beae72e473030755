package tasks

import (
	"image"
	"image/color"
	"math"
	"testing"

	"github.com/disintegration/imaging"
)

// square returns a black size x size image with a white square covering
// pixels [lo, hi) on both axes.
func square(size, lo, hi int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for y := range size {
		for x := range size {
			c := color.NRGBA{A: 255}
			if x >= lo && x < hi && y >= lo && y < hi {
				c = color.NRGBA{255, 255, 255, 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// TestHarrisSquare finds the four corners of a white square on black, each
// within 2 pixels, and nothing stronger.
func TestHarrisSquare(t *testing.T) {
	t.Parallel()
	g, w, h := greyPlane(square(64, 20, 44))
	kps := harris(g, w, h, harrisConfig{N: 10, Margin: 4})
	if len(kps) < 4 {
		t.Fatalf("%d keypoints, want at least 4", len(kps))
	}
	// The corners lie between pixels 19|20 and 43|44.
	corners := [][2]float64{{19.5, 19.5}, {43.5, 19.5}, {19.5, 43.5}, {43.5, 43.5}}
	found := make([]bool, 4)
	for _, kp := range kps[:4] {
		ok := false
		for c, p := range corners {
			if math.Hypot(float64(kp.X)-p[0], float64(kp.Y)-p[1]) <= 2 {
				found[c], ok = true, true
			}
		}
		if !ok {
			t.Errorf("keypoint (%d, %d) is not within 2 px of a corner", kp.X, kp.Y)
		}
	}
	for c, f := range found {
		if !f {
			t.Errorf("corner %v not found among the 4 strongest: %v", corners[c], kps[:4])
		}
	}
	for _, kp := range kps[4:] {
		if kp.R > 0.05*kps[3].R {
			t.Errorf("a fifth keypoint (%d, %d) with response %v, the fourth corner's %v", kp.X, kp.Y, kp.R, kps[3].R)
		}
	}
	// The margin drops corners near the border; a flat image gives its
	// centre.
	if kps := harris(g, w, h, harrisConfig{N: 10, Margin: 25}); len(kps) != 1 || kps[0] != (keypoint{X: 32, Y: 32}) {
		t.Errorf("corners all in the margin: %v, want the centre", kps)
	}
	flat := make([]float64, 30*20)
	if kps := harris(flat, 30, 20, harrisConfig{N: 5}); len(kps) != 1 || kps[0].X != 15 || kps[0].Y != 10 {
		t.Errorf("flat image: %v, want its centre", kps)
	}
}

// TestDescribeEdge checks a known orientation: a vertical step from dark to
// bright (gradient along +x) puts all of every cell's mass in bin 0.
func TestDescribeEdge(t *testing.T) {
	t.Parallel()
	w, h := 20, 20
	g := make([]float64, w*h)
	for y := range h {
		for x := 10; x < w; x++ {
			g[y*w+x] = 1
		}
	}
	gx, gy := sobel(g, w, h)
	d := describe(gx, gy, w, 2, 2, 16)
	var total float64
	for i, v := range d {
		total += v * v
		if i%descBins != 0 && v != 0 {
			t.Errorf("entry %d (cell %d, bin %d) is %v, want 0", i, i/descBins, i%descBins, v)
		}
	}
	if math.Abs(total-1) > 1e-12 {
		t.Errorf("descriptor length² %v, want 1", total)
	}
	// The edge runs through the middle cells' columns 1 and 2 only.
	for cell := range descCells * descCells {
		col := cell % descCells
		if v := d[cell*descBins]; (col == 1 || col == 2) != (v > 0) {
			t.Errorf("cell %d (column %d) bin 0 is %v", cell, col, v)
		}
	}
}

// TestDescribeRotation turns a photo 90° counter-clockwise with
// imaging.Rotate90: the descriptor of the turned window is the original's
// with the cell grid turned and every histogram shifted by -2 bins (-90°).
func TestDescribeRotation(t *testing.T) {
	t.Parallel()
	img := testPhotos(t)[0]
	rot := imaging.Rotate90(img)
	g, w, h := greyPlane(img)
	gr, wr, _ := greyPlane(rot)
	gx, gy := sobel(g, w, h)
	rgx, rgy := sobel(gr, wr, w)
	const side = 16
	for _, c := range [][2]int{{40, 30}, {60, 50}, {25, 45}} {
		cx, cy := c[0], c[1]
		d := describe(gx, gy, w, cx-side/2, cy-side/2, side)
		// Pixel (x, y) goes to (y, w-1-x), the window centred on (cx, cy)
		// (between pixels) to the one centred on (cy, w-cx).
		dr := describe(rgx, rgy, wr, cy-side/2, w-cx-side/2, side)
		for cv := range descCells {
			for cu := range descCells {
				ru, rv := cv, descCells-1-cu
				for b := range descBins {
					want := d[(cv*descCells+cu)*descBins+b]
					got := dr[(rv*descCells+ru)*descBins+(b+descBins-2)%descBins]
					if math.Abs(got-want) > 1e-9 {
						t.Fatalf("window (%d, %d) cell (%d, %d) bin %d: turned %v, want %v", cx, cy, cu, cv, b, got, want)
					}
				}
			}
		}
		// Without the bin shift the descriptors differ: it is not rotation
		// invariant.
		var diff float64
		for i := range d {
			diff += math.Abs(d[i] - dr[i])
		}
		if diff < 1e-3 {
			t.Errorf("window (%d, %d): the turned descriptor equals the original", cx, cy)
		}
	}
}

// TestGaussianBlur compares the separable blur with a direct 2-D sum over
// the clamped plane, and Sobel with its kernels applied by hand.
func TestGaussianBlur(t *testing.T) {
	t.Parallel()
	rng := testRNG(3)
	w, h := 17, 11
	p := make([]float64, w*h)
	for i := range p {
		p[i] = rng.Float64()
	}
	sigma := 1.2
	r := 4 // ⌈3σ⌉
	got := gaussianBlur(p, w, h, sigma)
	var norm float64
	for dy := -r; dy <= r; dy++ {
		for dx := -r; dx <= r; dx++ {
			norm += math.Exp(-float64(dx*dx+dy*dy) / (2 * sigma * sigma))
		}
	}
	gx, gy := sobel(p, w, h)
	for y := range h {
		for x := range w {
			var want float64
			for dy := -r; dy <= r; dy++ {
				for dx := -r; dx <= r; dx++ {
					want += math.Exp(-float64(dx*dx+dy*dy)/(2*sigma*sigma)) * at(p, w, h, x+dx, y+dy)
				}
			}
			if want /= norm; math.Abs(got[y*w+x]-want) > 1e-12 {
				t.Fatalf("blur at (%d, %d) = %v, want %v", x, y, got[y*w+x], want)
			}
			var sx, sy float64
			kx := [3][3]float64{{-1, 0, 1}, {-2, 0, 2}, {-1, 0, 1}}
			for j := range 3 {
				for i := range 3 {
					v := at(p, w, h, x+i-1, y+j-1)
					sx += kx[j][i] * v
					sy += kx[i][j] * v
				}
			}
			if math.Abs(gx[y*w+x]-sx) > 1e-12 || math.Abs(gy[y*w+x]-sy) > 1e-12 {
				t.Fatalf("sobel at (%d, %d) = (%v, %v), want (%v, %v)", x, y, gx[y*w+x], gy[y*w+x], sx, sy)
			}
		}
	}
}
