package main

import (
	"errors"
	"fmt"
	"image"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pretextlab/pretext/core"
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

// splitPhotos shuffles photos with a seeded rng and holds back a fraction
// (at least one photo when there are two or more) for measuring the pretext
// task on photos never trained on.
func splitPhotos(photos []photo, holdout float64, seed uint64) (train, held []photo) {
	shuffled := slices.Clone(photos)
	rng := rand.New(rand.NewPCG(seed, 0x11d))
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	n := int(float64(len(shuffled))*holdout + 0.5)
	if holdout > 0 && n == 0 && len(shuffled) >= 2 {
		n = 1
	}
	n = min(n, len(shuffled)-1)
	return shuffled[n:], shuffled[:n]
}

func images(ps []photo) []*image.NRGBA {
	out := make([]*image.NRGBA, len(ps))
	for i, p := range ps {
		out[i] = p.img
	}
	return out
}
