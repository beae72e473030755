package recipe

import (
	"fmt"
	"image"
	"slices"
	"strings"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/tasks"
)

// Photo is a decoded photo and the name it is known by (a file name, or
// empty for images that came without one, such as Fashion-MNIST's).
type Photo struct {
	Name  string
	Image *image.NRGBA
}

// Split sorts photos by name (stably, so that unnamed ones keep their
// order) and holds back the fraction holdout of them, chosen by seed
// (tasks.Split): the same photos and seed hold back the same ones,
// whatever order they were added in. It does not modify photos.
func Split(photos []Photo, holdout float64, seed uint64) (train, held []Photo) {
	sorted := slices.Clone(photos)
	slices.SortStableFunc(sorted, func(a, b Photo) int { return strings.Compare(a.Name, b.Name) })
	ti, hi := tasks.Split(len(sorted), holdout, seed)
	for _, i := range ti {
		train = append(train, sorted[i])
	}
	for _, i := range hi {
		held = append(held, sorted[i])
	}
	return train, held
}

// Images returns the photos' images.
func Images(photos []Photo) []*image.NRGBA {
	out := make([]*image.NRGBA, len(photos))
	for i, p := range photos {
		out[i] = p.Image
	}
	return out
}

// usable returns the photos task can use (tasks.Needs: the smallest side)
// and a warning naming the others, or "".
func usable(task tasks.Task, photos []Photo) ([]Photo, string) {
	minSide := task.Needs().MinSide
	var ok []Photo
	var small []string
	for _, p := range photos {
		if b := p.Image.Bounds(); min(b.Dx(), b.Dy()) < minSide {
			name := p.Name
			if name == "" {
				name = fmt.Sprintf("%dx%d photo", b.Dx(), b.Dy())
			}
			small = append(small, name)
			continue
		}
		ok = append(ok, p)
	}
	if len(small) == 0 {
		return ok, ""
	}
	const shown = 5
	list := strings.Join(small[:min(len(small), shown)], ", ")
	if len(small) > shown {
		list += fmt.Sprintf(" and %d more", len(small)-shown)
	}
	return ok, fmt.Sprintf("%s needs photos at least %d pixels on a side; left out: %s", task.Name(), minSide, list)
}

// greyWarning is the warning for a task that learns colour when most (more
// than half) of its training photos are greyscale, or "".
func greyWarning(task tasks.Task, photos []Photo) string {
	if !task.Needs().Colour || len(photos) == 0 {
		return ""
	}
	grey := 0
	for _, p := range photos {
		if core.IsGrey(p.Image) {
			grey++
		}
	}
	if 2*grey <= len(photos) {
		return ""
	}
	which := fmt.Sprintf("%d of the %d training photos are", grey, len(photos))
	if grey == len(photos) {
		which = fmt.Sprintf("all %d training photos are", grey)
		if grey == 1 {
			which = "the training photo is"
		}
	}
	return fmt.Sprintf("%s greyscale: grey photos teach %s no colour, so the colours it gives are guesses. Add colour photos to train it.", which, task.Name())
}
