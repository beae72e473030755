package tasks

import (
	"cmp"
	"image"
	"math"
	"slices"
)

// Keypoints and their descriptors for the keypoint-clusters task: a Harris
// corner detector and a SIFT-like gradient-orientation histogram. Planes are
// []float64 of w*h values, row-major; borders are handled by repeating the
// edge pixels.

// greyPlane is img's luminance in [0, 1] (ITU-R BT.601 weights, as
// core.TrunkInput's grey input).
func greyPlane(img *image.NRGBA) (g []float64, w, h int) {
	b := img.Bounds()
	w, h = b.Dx(), b.Dy()
	g = make([]float64, w*h)
	for y := range h {
		row := img.Pix[(y+b.Min.Y-img.Rect.Min.Y)*img.Stride+(b.Min.X-img.Rect.Min.X)*4:]
		for x := range w {
			g[y*w+x] = (0.299*float64(row[4*x]) + 0.587*float64(row[4*x+1]) + 0.114*float64(row[4*x+2])) / 255
		}
	}
	return g, w, h
}

// at is p(x, y) with coordinates clamped to the plane.
func at(p []float64, w, h, x, y int) float64 {
	return p[min(max(y, 0), h-1)*w+min(max(x, 0), w-1)]
}

// padded returns p with r pixels of border on every side, the edge pixels
// repeated, as a (w+2r) x (h+2r) plane.
func padded(p []float64, w, h, r int) []float64 {
	pw := w + 2*r
	out := make([]float64, pw*(h+2*r))
	for y := range h + 2*r {
		for x := range pw {
			out[y*pw+x] = at(p, w, h, x-r, y-r)
		}
	}
	return out
}

// sobel returns the horizontal and vertical Sobel derivatives of g
// (x to the right, y down).
func sobel(g []float64, w, h int) (gx, gy []float64) {
	gx, gy = make([]float64, w*h), make([]float64, w*h)
	pw := w + 2
	q := padded(g, w, h, 1)
	for y := range h {
		up, mid, down := q[y*pw:(y+1)*pw], q[(y+1)*pw:(y+2)*pw], q[(y+2)*pw:(y+3)*pw]
		for x := range w {
			tl, t, tr := up[x], up[x+1], up[x+2]
			l, r := mid[x], mid[x+2]
			bl, b, br := down[x], down[x+1], down[x+2]
			gx[y*w+x] = (tr + 2*r + br) - (tl + 2*l + bl)
			gy[y*w+x] = (bl + 2*b + br) - (tl + 2*t + tr)
		}
	}
	return gx, gy
}

// gaussianBlur smooths p by a Gaussian of standard deviation sigma,
// separably, truncated at 3 sigma and normalised.
func gaussianBlur(p []float64, w, h int, sigma float64) []float64 {
	r := max(1, int(math.Ceil(3*sigma)))
	k := make([]float64, 2*r+1)
	var s float64
	for i := range k {
		d := float64(i - r)
		k[i] = math.Exp(-d * d / (2 * sigma * sigma))
		s += k[i]
	}
	for i := range k {
		k[i] /= s
	}
	// Clamped reads only within r of a border; direct ones inside.
	tmp := make([]float64, w*h)
	for y := range h {
		row := p[y*w : (y+1)*w]
		for x := range w {
			var v float64
			if x >= r && x < w-r {
				for i, kv := range k {
					v += kv * row[x-r+i]
				}
			} else {
				for i, kv := range k {
					v += kv * row[min(max(x-r+i, 0), w-1)]
				}
			}
			tmp[y*w+x] = v
		}
	}
	out := make([]float64, w*h)
	for y := range h {
		o := out[y*w : (y+1)*w]
		for i, kv := range k {
			src := tmp[min(max(y-r+i, 0), h-1)*w:][:w]
			for x, v := range src {
				o[x] += kv * v
			}
		}
	}
	return out
}

// harrisConfig sets the corner detector. The zero value is the default but
// for N.
type harrisConfig struct {
	// N is the most keypoints returned, strongest first.
	N int
	// Margin keeps keypoints at least this many pixels from every border.
	Margin int
	// K is Harris & Stephens' k in det - k·tr² (default 0.04, their usual
	// value; 0.04-0.06 is the common range).
	K float64
	// Sigma is the standard deviation of the Gaussian window the gradient
	// products are summed over (default 1.5).
	Sigma float64
	// Radius is the non-maximum suppression radius (default 3): a keypoint
	// is the strongest response in its (2·Radius+1)² neighbourhood.
	Radius int
	// Threshold drops responses below this fraction of the image's
	// strongest (default 0.01, OpenCV's customary choice).
	Threshold float64
}

// keypoint is a detected corner at pixel (X, Y) with Harris response R.
type keypoint struct {
	X, Y int
	R    float64
}

// harris finds corners in the grey plane g (Harris & Stephens 1988, "A
// Combined Corner and Edge Detector"): Sobel gradients, their products
// summed over a Gaussian window into the structure tensor M, the response
// det M - k·(tr M)², non-maximum suppression, and the N strongest kept
// (ties in reading order). A plane without any corner (no positive
// response) gives its centre, so every photo has a keypoint.
func harris(g []float64, w, h int, cfg harrisConfig) []keypoint {
	if cfg.K == 0 {
		cfg.K = 0.04
	}
	if cfg.Sigma == 0 {
		cfg.Sigma = 1.5
	}
	if cfg.Radius == 0 {
		cfg.Radius = 3
	}
	if cfg.Threshold == 0 {
		cfg.Threshold = 0.01
	}
	gx, gy := sobel(g, w, h)
	xx, yy, xy := make([]float64, w*h), make([]float64, w*h), make([]float64, w*h)
	for i := range gx {
		xx[i], yy[i], xy[i] = gx[i]*gx[i], gy[i]*gy[i], gx[i]*gy[i]
	}
	xx, yy, xy = gaussianBlur(xx, w, h, cfg.Sigma), gaussianBlur(yy, w, h, cfg.Sigma), gaussianBlur(xy, w, h, cfg.Sigma)
	resp := make([]float64, w*h)
	top := 0.0
	for i := range resp {
		tr := xx[i] + yy[i]
		resp[i] = xx[i]*yy[i] - xy[i]*xy[i] - cfg.K*tr*tr
		top = max(top, resp[i])
	}
	m := cfg.Margin
	if top <= 0 {
		return []keypoint{{X: w / 2, Y: h / 2}}
	}
	var out []keypoint
	for y := m; y < h-m; y++ {
		for x := m; x < w-m; x++ {
			r := resp[y*w+x]
			if r <= 0 || r < cfg.Threshold*top || !isPeak(resp, w, h, x, y, cfg.Radius) {
				continue
			}
			out = append(out, keypoint{X: x, Y: y, R: r})
		}
	}
	if len(out) == 0 { // every corner lies in the margin
		return []keypoint{{X: w / 2, Y: h / 2}}
	}
	slices.SortStableFunc(out, func(a, b keypoint) int { return cmp.Compare(b.R, a.R) })
	return out[:min(len(out), cfg.N)]
}

// isPeak reports whether resp at (x, y) beats its neighbours within radius:
// strictly those before it in reading order, at least equals those after
// (so a plateau yields one peak).
func isPeak(resp []float64, w, h, x, y, radius int) bool {
	r := resp[y*w+x]
	for yy := max(0, y-radius); yy <= min(h-1, y+radius); yy++ {
		for xx := max(0, x-radius); xx <= min(w-1, x+radius); xx++ {
			v := resp[yy*w+xx]
			before := yy < y || (yy == y && xx < x)
			if v > r || (before && v == r) {
				return false
			}
		}
	}
	return true
}

// Descriptor layout: descCells x descCells cells of descBins orientation
// bins (SIFT's 4x4x8, Lowe 2004).
const (
	descCells = 4
	descBins  = 8
	descLen   = descCells * descCells * descBins
	// descClip caps each normalised entry before renormalising (Lowe 2004's
	// 0.2), so a few strong edges do not dominate.
	descClip = 0.2
)

// describe returns the SIFT-like descriptor of the side x side window of
// the gradient planes gx, gy whose top-left pixel is (x0, y0) (side a
// multiple of descCells, window inside the planes): each pixel's gradient
// magnitude, weighted by a Gaussian of σ = side/2 around the window's centre,
// is added to its cell's histogram over orientation atan2(gy, gx), split
// linearly between the two nearest of descBins bins. The vector is L2
// normalised, clipped at descClip and normalised again. The window is not
// turned to a dominant orientation, unlike SIFT: the descriptor is
// rotation-sensitive (turning the image 90° counter-clockwise turns the
// cell grid with it and shifts every histogram by -2 bins).
func describe(gx, gy []float64, w, x0, y0, side int) []float64 {
	d := make([]float64, descLen)
	c := float64(side-1) / 2
	sigma := float64(side) / 2
	for v := range side {
		for u := range side {
			i := (y0+v)*w + x0 + u
			mag := math.Hypot(gx[i], gy[i])
			if mag == 0 {
				continue
			}
			du, dv := float64(u)-c, float64(v)-c
			mag *= math.Exp(-(du*du + dv*dv) / (2 * sigma * sigma))
			b := math.Atan2(gy[i], gx[i]) / (2 * math.Pi) * descBins
			if b < 0 {
				b += descBins
			}
			lo := int(math.Floor(b))
			f := b - float64(lo)
			lo %= descBins
			hi := (lo + 1) % descBins
			cell := (v*descCells/side*descCells + u*descCells/side) * descBins
			d[cell+lo] += mag * (1 - f)
			d[cell+hi] += mag * f
		}
	}
	normalize(d)
	for i, v := range d {
		d[i] = min(v, descClip)
	}
	normalize(d)
	return d
}

// normalize scales v to unit length (a zero vector stays zero).
func normalize(v []float64) {
	var s float64
	for _, x := range v {
		s += x * x
	}
	if s == 0 {
		return
	}
	inv := 1 / math.Sqrt(s)
	for i := range v {
		v[i] *= inv
	}
}
