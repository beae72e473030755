package main

import (
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/tasks"
	"github.com/pretextlab/pretext/tasks/samples"
)

// photo is one decoded photo and the file it came from.
type photo struct {
	name string
	img  *image.NRGBA
}

// loadPhotos decodes every image file in dir (not recursing), or the
// embedded sample photos when dir is empty. Files that are not images, or
// images that cannot be used, are passed over with a note on log.
func loadPhotos(dir string, cfg core.IntakeConfig, log io.Writer) ([]photo, error) {
	type file struct {
		name string
		data []byte
	}
	var files []file
	if dir == "" {
		for _, p := range samples.Photos() {
			files = append(files, file{p.Name, p.Data})
		}
	} else {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				fmt.Fprintf(log, "skipping %s: %v\n", e.Name(), err)
				continue
			}
			files = append(files, file{e.Name(), b})
		}
	}
	slices.SortFunc(files, func(a, b file) int { return strings.Compare(a.name, b.name) })
	var out []photo
	for _, f := range files {
		img, err := core.Decode(f.name, f.data, cfg)
		if err != nil {
			if errors.Is(err, core.ErrNotImage) {
				fmt.Fprintf(log, "passing over %s: not an image\n", f.name)
			} else {
				fmt.Fprintln(log, strings.TrimPrefix(err.Error(), "core: "))
			}
			continue
		}
		out = append(out, photo{f.name, img})
	}
	if len(out) == 0 {
		where := dir
		if where == "" {
			where = "the embedded samples"
		}
		return nil, fmt.Errorf("no usable photos in %s", where)
	}
	return out, nil
}

// splitPhotos holds back a fraction of photos by [tasks.Split].
func splitPhotos(photos []photo, holdout float64, seed uint64) (train, held []photo) {
	ti, hi := tasks.Split(len(photos), holdout, seed)
	for _, i := range ti {
		train = append(train, photos[i])
	}
	for _, i := range hi {
		held = append(held, photos[i])
	}
	return train, held
}

func images(ps []photo) []*image.NRGBA {
	out := make([]*image.NRGBA, len(ps))
	for i, p := range ps {
		out[i] = p.img
	}
	return out
}
