// Package testphotos makes synthetic photos for tests of the
// representation at work: two kinds, reddish stripes and bluish rings,
// with noise, which even an untrained trunk's features tell apart. Only
// tests import it.
package testphotos

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
)

// Photo is one synthetic photo, PNG-encoded, 64x64.
type Photo struct {
	Kind  string // "red" or "blue"
	Index int    // 0 to n-1 within its kind
	PNG   []byte
}

// Kinds returns n photos of each kind, the red ones first, drawn with a
// generator seeded by seed: the same seed gives the same bytes.
func Kinds(n int, seed uint64) []Photo {
	rng := rand.New(rand.NewPCG(seed, 3))
	var out []Photo
	for _, kind := range []string{"red", "blue"} {
		for i := range n {
			img := image.NewNRGBA(image.Rect(0, 0, 64, 64))
			for y := range 64 {
				for x := range 64 {
					v := uint8(rng.IntN(60))
					c := color.NRGBA{200 + v/2, 40 + v, 30, 255}
					if (y/(4+i%3))%2 == 0 {
						c = color.NRGBA{120 + v, 20, 20, 255}
					}
					if kind == "blue" {
						c = color.NRGBA{30, 60 + v, 210, 255}
						if ((x-32)*(x-32)+(y-32)*(y-32))%(150+10*i) < 60 {
							c = color.NRGBA{240, 240, 250 - v, 255}
						}
					}
					img.SetNRGBA(x, y, c)
				}
			}
			var b bytes.Buffer
			if err := png.Encode(&b, img); err != nil {
				panic(err) // an in-memory NRGBA always encodes
			}
			out = append(out, Photo{Kind: kind, Index: i, PNG: b.Bytes()})
		}
	}
	return out
}
