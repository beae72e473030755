package tasks

import (
	"image"
	"image/color"
	"image/draw"
)

// tileGap is the gap between tiles on a board, in pixels.
const tileGap = 4

// board lays imgs out row by row, cols to a row, in side x side cells on
// white with tileGap between and around them: the one layout of every
// task's strips, galleries and puzzle boards. A nil image leaves its cell
// white; with no images the board is one empty cell.
func board(imgs []*image.NRGBA, cols, side int) *image.NRGBA {
	cols = max(1, cols)
	rows := max(1, (len(imgs)+cols-1)/cols)
	if len(imgs) < cols {
		cols = max(1, len(imgs))
	}
	out := image.NewNRGBA(image.Rect(0, 0, cols*side+(cols+1)*tileGap, rows*side+(rows+1)*tileGap))
	draw.Draw(out, out.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	for i, img := range imgs {
		if img == nil {
			continue
		}
		at := image.Pt(tileGap+i%cols*(side+tileGap), tileGap+i/cols*(side+tileGap))
		draw.Draw(out, image.Rectangle{Min: at, Max: at.Add(image.Pt(side, side))}, img, img.Bounds().Min, draw.Src)
	}
	return out
}
