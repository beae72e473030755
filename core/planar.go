package core

import (
	"fmt"
	"image"

	"github.com/disintegration/imaging"
)

// Planar is one image as float32 planes: channel c, row y, column x is
// Pix[(c*H+y)*W+x]. It is the unit a task emits and a batch is made of.
type Planar struct {
	C, H, W int
	Pix     []float32
}

// NewPlanar returns a zeroed c x h x w planar image.
func NewPlanar(c, h, w int) Planar {
	return Planar{C: c, H: h, W: w, Pix: make([]float32, c*h*w)}
}

// Normalization maps 8-bit channel values v to (v/255 - Mean[c]) / Std[c].
type Normalization struct {
	Mean, Std [3]float32
}

// ImageNetNorm is the per-channel mean and standard deviation of ImageNet's
// training set as used by torchvision's pretrained models (source: the
// torchvision documentation), a neutral choice for photographs.
var ImageNetNorm = Normalization{
	Mean: [3]float32{0.485, 0.456, 0.406},
	Std:  [3]float32{0.229, 0.224, 0.225},
}

// GreyNorm scales grey values to [0, 1] and nothing more (Fashion-MNIST's
// usual input: pixel/255).
var GreyNorm = Normalization{Std: [3]float32{1, 1, 1}}

// TrunkInput converts img to the input of a trunk with the given number of
// input channels: 3, colour normalised by [ImageNetNorm]; 1, luminance
// (ITU-R BT.601 weights; a grey image's own values) normalised by
// [GreyNorm]. Every task makes its views with it.
func TrunkInput(img image.Image, channels int) Planar {
	if channels != 1 {
		return PlanarFromImage(img, ImageNetNorm)
	}
	src := imaging.Clone(img)
	h, w := src.Rect.Dy(), src.Rect.Dx()
	p := NewPlanar(1, h, w)
	for y := range h {
		row := src.Pix[y*src.Stride : y*src.Stride+4*w]
		for x := range w {
			l := (299*float32(row[4*x]) + 587*float32(row[4*x+1]) + 114*float32(row[4*x+2])) / 1000
			p.Pix[y*w+x] = (l/255 - GreyNorm.Mean[0]) / GreyNorm.Std[0]
		}
	}
	return p
}

// PlanarFromImage converts img to a 3-channel planar image normalised by
// norm. Alpha is ignored (colours are taken as stored, not premultiplied
// onto a background).
func PlanarFromImage(img image.Image, norm Normalization) Planar {
	src := imaging.Clone(img) // *image.NRGBA with Min at (0,0)
	h, w := src.Rect.Dy(), src.Rect.Dx()
	p := NewPlanar(3, h, w)
	var scale, shift [3]float32
	for c := range 3 {
		scale[c] = 1 / (255 * norm.Std[c])
		shift[c] = -norm.Mean[c] / norm.Std[c]
	}
	plane := h * w
	r, g, b := p.Pix[:plane], p.Pix[plane:2*plane], p.Pix[2*plane:]
	for y := range h {
		row := src.Pix[y*src.Stride : y*src.Stride+4*w]
		o := y * w
		for x := range w {
			r[o+x] = float32(row[4*x])*scale[0] + shift[0]
			g[o+x] = float32(row[4*x+1])*scale[1] + shift[1]
			b[o+x] = float32(row[4*x+2])*scale[2] + shift[2]
		}
	}
	return p
}

// Image converts a 3-channel (or 1-channel, grey) planar image back to 8-bit
// colour, inverting norm and clamping to [0, 255].
func (p Planar) Image(norm Normalization) *image.NRGBA {
	dst := image.NewNRGBA(image.Rect(0, 0, p.W, p.H))
	plane := p.H * p.W
	for i := range plane {
		for c := range 3 {
			src := min(c, p.C-1)
			v := (p.Pix[src*plane+i]*norm.Std[src] + norm.Mean[src]) * 255
			dst.Pix[4*i+c] = uint8(max(0, min(255, v+0.5)))
		}
		dst.Pix[4*i+3] = 255
	}
	return dst
}

// Stack copies same-sized planar images into one [C, N*H*W] batch matrix
// (see the package doc for the layout) and returns its shape.
func Stack(images []Planar) ([]float32, Shape, error) {
	if len(images) == 0 {
		return nil, Shape{}, fmt.Errorf("core: cannot stack an empty batch")
	}
	s := Shape{N: len(images), C: images[0].C, H: images[0].H, W: images[0].W}
	plane := s.H * s.W
	for i, im := range images {
		if im.C != s.C || im.H != s.H || im.W != s.W {
			return nil, Shape{}, fmt.Errorf("core: batch image %d is %dx%dx%d, want %dx%dx%d (CxHxW)", i, im.C, im.H, im.W, s.C, s.H, s.W)
		}
		if len(im.Pix) != s.C*plane {
			return nil, Shape{}, fmt.Errorf("core: batch image %d holds %d values, want %d", i, len(im.Pix), s.C*plane)
		}
	}
	out := make([]float32, s.Size())
	for n, im := range images {
		for c := range s.C {
			copy(out[(c*s.N+n)*plane:(c*s.N+n+1)*plane], im.Pix[c*plane:(c+1)*plane])
		}
	}
	return out, s, nil
}
