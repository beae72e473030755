package tasks

import (
	"fmt"
	"image"
	"math"

	"github.com/pretextlab/pretext/core"
)

// Checks and pixel helpers shared by the tasks: the photos and settings a
// task is given.

// maxTaskSide bounds the input sides the tasks accept in their configs.
const maxTaskSide = 512

// fitsTrunk reports whether trunk takes 3-channel size x size images.
func fitsTrunk(trunk *core.Trunk, size int) error {
	_, err := trunk.OutShape(core.Shape{N: 1, C: trunk.Config.InChannels, H: size, W: size})
	return err
}

// needPhoto reports an error for a nil or empty photo.
func needPhoto(img *image.NRGBA) error {
	if img == nil {
		return fmt.Errorf("tasks: no photo")
	}
	if b := img.Bounds(); b.Dx() < 1 || b.Dy() < 1 {
		return fmt.Errorf("tasks: empty photo (%dx%d)", b.Dx(), b.Dy())
	}
	return nil
}

// samePhotos reports whether a and b list the same photos in the same
// order.
func samePhotos(a, b []*image.NRGBA) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// clamp8 rounds v to the nearest 8-bit value, clipped to [0, 255].
func clamp8(v float64) uint8 { return uint8(max(0, min(255, math.Round(v)))) }
