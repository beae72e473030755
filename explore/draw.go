package explore

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/pretextlab/pretext/core"
)

// Palette colours groups and labels, the same on the page (web/explore.js)
// and in the command's pictures; it repeats past its length.
var Palette = []color.NRGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x2c, 0xa0, 0x2c, 0xff}, {0xd6, 0x27, 0x28, 0xff},
	{0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff}, {0xe3, 0x77, 0xc2, 0xff}, {0x7f, 0x7f, 0x7f, 0xff},
	{0xbc, 0xbd, 0x22, 0xff}, {0x17, 0xbe, 0xcf, 0xff},
}

// MapPicture draws a map: each photo's thumbnail (thumb pixels on a side)
// centred on its point, the points scaled to fill a size x size white
// picture less a margin of half a thumbnail and its frame. Photos are drawn in order, so
// later ones lie on top. If groups is not nil, each thumbnail gets a frame
// in its group's Palette colour (a negative group: none).
func MapPicture(points [][2]float64, photos []*image.NRGBA, groups []int, size, thumb int) (*image.NRGBA, error) {
	if len(points) != len(photos) || (groups != nil && len(groups) != len(points)) {
		return nil, fmt.Errorf("explore: %d points, %d photos and %d groups", len(points), len(photos), len(groups))
	}
	if thumb < 4 || size < 2*thumb || size > 16384 {
		return nil, fmt.Errorf("explore: a %d-pixel map of %d-pixel thumbnails", size, thumb)
	}
	pic := image.NewNRGBA(image.Rect(0, 0, size, size))
	draw.Draw(pic, pic.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	lo := [2]float64{math.Inf(1), math.Inf(1)}
	hi := [2]float64{math.Inf(-1), math.Inf(-1)}
	for _, p := range points {
		for a := range 2 {
			lo[a], hi[a] = min(lo[a], p[a]), max(hi[a], p[a])
		}
	}
	span := max(hi[0]-lo[0], hi[1]-lo[1])
	if !(span > 0) || math.IsInf(span, 0) {
		span = 1
	}
	const frame = 2
	inner := float64(size - thumb - 2*frame)
	for i, p := range points {
		// Centred in both axes; y grows downwards as in a picture.
		x := (p[0]-lo[0]+(span-(hi[0]-lo[0]))/2)/span*inner + float64(thumb)/2 + frame
		y := (p[1]-lo[1]+(span-(hi[1]-lo[1]))/2)/span*inner + float64(thumb)/2 + frame
		r := image.Rect(0, 0, thumb, thumb).Add(image.Pt(int(x)-thumb/2, int(y)-thumb/2))
		if groups != nil && groups[i] >= 0 {
			draw.Draw(pic, r.Inset(-frame), image.NewUniform(Palette[groups[i]%len(Palette)]), image.Point{}, draw.Src)
		}
		draw.Draw(pic, r, core.CenterCrop(photos[i], thumb), image.Point{}, draw.Src)
	}
	return pic, nil
}

// Montage draws a query photo and its neighbours in a row of tile-pixel
// squares, each neighbour captioned with its similarity, the query framed.
func Montage(query *image.NRGBA, neighbours []*image.NRGBA, similarity []float64, tile int) (*image.NRGBA, error) {
	if len(neighbours) != len(similarity) {
		return nil, fmt.Errorf("explore: %d neighbours and %d similarities", len(neighbours), len(similarity))
	}
	if tile < 16 || tile > 1024 {
		return nil, fmt.Errorf("explore: montage tiles of %d pixels, want 16 to 1024", tile)
	}
	const gap, caption = 8, 18
	w := (len(neighbours)+1)*(tile+gap) + gap
	h := tile + 2*gap + caption
	pic := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.Draw(pic, pic.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	d := font.Drawer{Dst: pic, Src: image.NewUniform(color.Black), Face: basicfont.Face7x13}
	put := func(k int, img *image.NRGBA, text string) {
		r := image.Rect(0, 0, tile, tile).Add(image.Pt(gap+k*(tile+gap), gap))
		draw.Draw(pic, r, core.CenterCrop(img, tile), image.Point{}, draw.Src)
		d.Dot = fixed.P(r.Min.X, r.Max.Y+caption-4)
		d.DrawString(text)
	}
	r := image.Rect(0, 0, tile, tile).Add(image.Pt(gap, gap))
	draw.Draw(pic, r.Inset(-3), image.NewUniform(Palette[0]), image.Point{}, draw.Src)
	put(0, query, "query")
	for k, n := range neighbours {
		put(k+1, n, fmt.Sprintf("%.3f", similarity[k]))
	}
	return pic, nil
}
