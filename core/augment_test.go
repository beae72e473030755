package core

import (
	"image"
	"math/rand/v2"
	"testing"

	"github.com/disintegration/imaging"
)

func TestRandomResizedCropSeeded(t *testing.T) {
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
