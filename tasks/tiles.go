package tasks

import (
	"image"
	"math"
	"math/rand/v2"

	"github.com/disintegration/imaging"

	"github.com/pretextlab/pretext/core"
)

// Tiles and patches of the context tasks (jigsaw, jigsaw-positions,
// relative-position): cutting, shuffling, per-tile normalisation, colour
// dropping and the board their predictions are shown on.

// jigsawGrid is the side of the puzzle in tiles; the paper's 3x3.
const jigsawGrid = 3

// jigsawTiles is the number of tiles of one puzzle.
const jigsawTiles = jigsawGrid * jigsawGrid

// cutTiles cuts the tile of every grid position of crop (Grid*Cell on a
// side), in grid order: tile p comes from cell (row p/Grid, column p%Grid)
// at offset off[p] (x, y) inside the cell.
func cutTiles(crop *image.NRGBA, cell, tile int, off [jigsawTiles]image.Point) [jigsawTiles]*image.NRGBA {
	var out [jigsawTiles]*image.NRGBA
	b := crop.Bounds()
	for p := range jigsawTiles {
		at := b.Min.Add(image.Pt(p%jigsawGrid*cell, p/jigsawGrid*cell)).Add(off[p])
		out[p] = imaging.Crop(crop, image.Rectangle{Min: at, Max: at.Add(image.Pt(tile, tile))})
	}
	return out
}

// shuffleTiles returns the views of class c's permutation: view i is
// tiles[perm[c][i]].
func shuffleTiles[T any](tiles [jigsawTiles]T, c int) [jigsawTiles]T {
	var out [jigsawTiles]T
	for i, p := range jigsawPerms[c] {
		out[i] = tiles[p]
	}
	return out
}

// normalizeTile normalises each channel of p in place to zero mean and unit
// standard deviation; a constant channel becomes zeros.
func normalizeTile(p core.Planar) {
	plane := p.H * p.W
	for c := range p.C {
		ch := p.Pix[c*plane : (c+1)*plane]
		var s, ss float64
		for _, v := range ch {
			s += float64(v)
		}
		mean := s / float64(plane)
		for _, v := range ch {
			d := float64(v) - mean
			ss += d * d
		}
		std := math.Sqrt(ss / float64(plane))
		inv := 0.0
		if std > 1e-6 {
			inv = 1 / std
		}
		for i, v := range ch {
			ch[i] = float32((float64(v) - mean) * inv)
		}
	}
}

// tileBoard lays out tiles on a white 3x3 board with gaps: tile i at grid
// position at[i].
func tileBoard(tiles [jigsawTiles]*image.NRGBA, at [jigsawTiles]int, tile int) *image.NRGBA {
	placed := make([]*image.NRGBA, jigsawTiles)
	for i, t := range tiles {
		placed[at[i]] = t
	}
	return board(placed, jigsawGrid, tile)
}

// dropChannels keeps channel keep of p and replaces the others by Gaussian
// noise with 1/100 of the kept channel's standard deviation (Doersch et
// al. 2015's colour dropping).
func dropChannels(p core.Planar, keep int, rng *rand.Rand) {
	plane := p.H * p.W
	kept := p.Pix[keep*plane : (keep+1)*plane]
	var s, ss float64
	for _, v := range kept {
		s += float64(v)
	}
	mean := s / float64(plane)
	for _, v := range kept {
		ss += (float64(v) - mean) * (float64(v) - mean)
	}
	std := 0.01 * math.Sqrt(ss/float64(plane))
	for c := range p.C {
		if c == keep {
			continue
		}
		for k := range plane {
			p.Pix[c*plane+k] = float32(rng.NormFloat64() * std)
		}
	}
}
