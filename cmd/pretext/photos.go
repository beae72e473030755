package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/recipe"
	"github.com/pretextlab/pretext/tasks/samples"
)

// loadPhotos decodes every image file in dir and its subfolders (hidden
// files and folders skipped, as the page skips them; names are paths
// relative to dir, with '/'), or the embedded sample photos when dir is
// empty, in name order, within the
// limits of cfg (core.Intake: photos past MaxPhotos or MaxBytes are
// refused from their headers, before decoding). Files that are not images,
// or images that cannot be used, are passed over with a note on log. Files
// are read one at a time, so only the decoded photos stay in memory.
func loadPhotos(dir string, cfg core.IntakeConfig, log io.Writer) ([]recipe.Photo, error) {
	type file struct {
		name string
		data []byte // nil: read from dir
	}
	var files []file
	if dir == "" {
		for _, p := range samples.Photos() {
			files = append(files, file{p.Name, p.Data})
		}
	} else {
		if _, err := os.ReadDir(dir); err != nil {
			return nil, err
		}
		err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				fmt.Fprintf(log, "skipping %s: %v\n", path, err)
				return nil
			}
			if path == dir {
				return nil
			}
			if strings.HasPrefix(e.Name(), ".") {
				if e.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !e.IsDir() {
				rel, err := filepath.Rel(dir, path)
				if err != nil {
					return err
				}
				files = append(files, file{name: filepath.ToSlash(rel)})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(files, func(a, b file) int { return strings.Compare(a.name, b.name) })
	in := core.Intake{Config: cfg}
	var out []recipe.Photo
	for _, f := range files {
		if f.data == nil {
			b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.name)))
			if err != nil {
				fmt.Fprintf(log, "skipping %s: %v\n", f.name, err)
				continue
			}
			f.data = b
		}
		img, err := in.Add(f.name, f.data)
		if err != nil {
			if errors.Is(err, core.ErrNotImage) {
				fmt.Fprintf(log, "passing over %s: not an image\n", f.name)
			} else {
				fmt.Fprintln(log, strings.TrimPrefix(err.Error(), "core: "))
			}
			continue
		}
		out = append(out, recipe.Photo{Name: f.name, Image: img})
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

// The largest -max-megapixels and -max-memory taken: a photo of 65536 by
// 65536 pixels (the longest side intake reads), and a mebibyte count whose
// bytes fit in an int64 with room to spare.
const (
	maxFlagMegapixels = 1 << 32 / 1_000_000
	maxFlagMegabytes  = 1 << 40
)

// intakeFlags adds the photo limits' flags to fs; the function returned
// gives the limits parsed.
func intakeFlags(fs *flag.FlagSet) func() (core.IntakeConfig, error) {
	maxPhotos := fs.Int("max-photos", core.DefaultMaxPhotos, "most photos read; those past it are skipped")
	maxMP := fs.Float64("max-megapixels", core.DefaultMaxPixels/1e6, "largest photo read, in megapixels (from its header, before decoding)")
	maxMB := fs.Int("max-memory", core.DefaultMaxBytes>>20, "memory for the photos, in MB: decoded photos and the one being decoded")
	return func() (core.IntakeConfig, error) {
		if *maxPhotos < 1 || !(*maxMP > 0) || *maxMB < 1 {
			return core.IntakeConfig{}, fmt.Errorf("-max-photos %d, -max-megapixels %v and -max-memory %d must be positive", *maxPhotos, *maxMP, *maxMB)
		}
		// Beyond these the conversions to pixels and bytes would overflow
		// (intake refuses a side over 65536 pixels anyway).
		if *maxMP > maxFlagMegapixels || *maxMB > maxFlagMegabytes {
			return core.IntakeConfig{}, fmt.Errorf("-max-megapixels %v or -max-memory %d is too large (at most %d and %d)", *maxMP, *maxMB, maxFlagMegapixels, maxFlagMegabytes)
		}
		return core.IntakeConfig{MaxPhotos: *maxPhotos, MaxPixels: int(*maxMP * 1e6), MaxBytes: int64(*maxMB) << 20}, nil
	}
}
