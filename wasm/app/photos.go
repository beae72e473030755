package app

import (
	"errors"
	"hash/crc32"
	"image"
	"maps"
	"strings"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/recipe"
	"github.com/pretextlab/pretext/tasks/samples"
)

// fileKey identifies a file's contents under its name.
type fileKey struct {
	name string
	crc  uint32
	size int
}

// photo is a photo the app holds: its id for the page, its name and its
// decoded image.
type photo struct {
	id int
	recipe.Photo
}

// AddImages decodes files (EXIF orientation honoured, downscaled) and keeps
// the usable ones; the others are listed with the reason. Files past the
// limits (SetLimits) are refused from their headers, before decoding, and
// may be added again once the limits allow them.
func (a *App) AddImages(files []File) Added {
	var res Added
	var decoded []photo
	a.mu.Lock()
	seen := maps.Clone(a.seen)
	in := core.Intake{Config: a.intake, Photos: len(a.photos), Bytes: a.heldBytes()}
	a.mu.Unlock()
	if seen == nil {
		seen = map[fileKey]bool{}
	}
	for _, f := range files {
		key := fileKey{f.Name, crc32.ChecksumIEEE(f.Bytes), len(f.Bytes)}
		if seen[key] {
			res.Rejected = append(res.Rejected, Rejected{Name: f.Name, Reason: "already added"})
			continue
		}
		img, err := in.Add(f.Name, f.Bytes)
		if err != nil {
			res.Rejected = append(res.Rejected, Rejected{Name: f.Name, Reason: reason(err)})
			if !errors.Is(err, core.ErrLimit) {
				seen[key] = true
			}
			continue
		}
		seen[key] = true
		decoded = append(decoded, photo{Photo: recipe.Photo{Name: f.Name, Image: img}})
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen = seen
	for _, p := range decoded {
		a.nextID++
		p.id = a.nextID
		a.photos = append(a.photos, p)
		b := p.Image.Bounds()
		res.Added = append(res.Added, Photo{ID: p.id, Name: p.Name, Width: b.Dx(), Height: b.Dy(), Thumb: toImage(p.Image, thumbSide)})
	}
	res.Count = len(a.photos)
	return res
}

// reason is an intake error's message for people, without the file name
// (the page shows it beside the reason) or package prefix.
func reason(err error) string {
	var ie *core.IntakeError
	if errors.As(err, &ie) {
		err = ie.Err
	}
	return strings.TrimPrefix(err.Error(), "core: ")
}

// AddSamples adds the embedded sample photos.
func (a *App) AddSamples() Added {
	var files []File
	for _, p := range samples.Photos() {
		files = append(files, File{Name: p.Name, Bytes: p.Data})
	}
	res := a.AddImages(files)
	res.Credits = samples.Credits()
	return res
}

// ClearImages forgets every photo. A running training goes on with the
// photos it started with.
func (a *App) ClearImages() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.photos, a.seen = nil, nil
	return 0
}

// split divides the photos as a run of s does (recipe.Split: by name, so
// the order they were added in does not matter, and pretext train, which
// reads a folder, holds back the same ones). Callers hold a.mu.
func (a *App) split(s recipe.Settings) (train, held []photo) {
	byImage := make(map[*image.NRGBA]photo, len(a.photos))
	all := make([]recipe.Photo, len(a.photos))
	for i, p := range a.photos {
		byImage[p.Image] = p
		all[i] = p.Photo
	}
	holdout := recipe.DefaultHoldout
	if s.Holdout != nil {
		holdout = *s.Holdout
	}
	rt, rh := recipe.Split(all, holdout, s.Seed)
	for _, p := range rt {
		train = append(train, byImage[p.Image])
	}
	for _, p := range rh {
		held = append(held, byImage[p.Image])
	}
	return train, held
}

// recipePhotos returns the photos as the recipe takes them.
func recipePhotos(ps []photo) []recipe.Photo {
	out := make([]recipe.Photo, len(ps))
	for i, p := range ps {
		out[i] = p.Photo
	}
	return out
}
