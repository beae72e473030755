package main

import (
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/disintegration/imaging"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/core/eval"
)

// FashionDir is where Debian's dataset-fashion-mnist puts the IDX files.
const FashionDir = "/usr/share/datasets/fashion-mnist"

// labelled is a set of images with class ids.
type labelled struct {
	imgs   []*image.NRGBA
	labels []int
	names  []string // file names, when the images came from files
}

// dataSource is a parsed -data value: fashion-mnist[:DIR] or photos:DIR.
type dataSource struct {
	kind string // "fashion-mnist" or "photos"
	dir  string
}

func (d dataSource) String() string {
	if d.kind == "fashion-mnist" && d.dir == FashionDir {
		return d.kind
	}
	return d.kind + ":" + d.dir
}

// channels is the trunk input the data needs: 1 for Fashion-MNIST's grey.
func (d dataSource) channels() int {
	if d.kind == "fashion-mnist" {
		return 1
	}
	return 3
}

func parseData(s string) (dataSource, error) {
	kind, dir, _ := strings.Cut(s, ":")
	switch kind {
	case "fashion-mnist":
		if dir == "" {
			dir = FashionDir
		}
		return dataSource{kind, dir}, nil
	case "photos":
		if dir == "" {
			return dataSource{}, errors.New("-data photos:DIR needs the folder")
		}
		return dataSource{kind, dir}, nil
	}
	return dataSource{}, fmt.Errorf("unknown -data %q (fashion-mnist[:DIR] or photos:DIR)", s)
}

// loadFashion reads Fashion-MNIST's training and test sets from dir (the
// gzipped IDX files of Debian's dataset-fashion-mnist). Each 28x28 image is
// zero-padded to 32x32, grey.
func loadFashion(dir string) (train, test labelled, err error) {
	read := func(prefix string) (labelled, error) {
		var out labelled
		f, err := os.Open(filepath.Join(dir, prefix+"-images-idx3-ubyte.gz"))
		if errors.Is(err, os.ErrNotExist) {
			return out, fmt.Errorf("Fashion-MNIST is not in %s: install it with apt-get install dataset-fashion-mnist, or give its folder as -data fashion-mnist:DIR", dir)
		}
		if err != nil {
			return out, err
		}
		n, rows, cols, pix, err := eval.ReadIDXImages(f)
		f.Close()
		if err != nil {
			return out, fmt.Errorf("%s images: %w", prefix, err)
		}
		f, err = os.Open(filepath.Join(dir, prefix+"-labels-idx1-ubyte.gz"))
		if err != nil {
			return out, err
		}
		labels, err := eval.ReadIDXLabels(f)
		f.Close()
		if err != nil {
			return out, fmt.Errorf("%s labels: %w", prefix, err)
		}
		if len(labels) != n {
			return out, fmt.Errorf("%s: %d images but %d labels", prefix, n, len(labels))
		}
		out.imgs = make([]*image.NRGBA, n)
		out.labels = make([]int, n)
		for i := range n {
			out.imgs[i] = padGrey(pix[i*rows*cols:(i+1)*rows*cols], rows, cols, 32)
			out.labels[i] = int(labels[i])
		}
		return out, nil
	}
	if train, err = read("train"); err != nil {
		return
	}
	test, err = read("t10k")
	return
}

// padGrey centres a rows x cols grey image on a black side x side one.
func padGrey(pix []byte, rows, cols, side int) *image.NRGBA {
	side = max(side, rows, cols)
	img := image.NewNRGBA(image.Rect(0, 0, side, side))
	for i := 3; i < len(img.Pix); i += 4 {
		img.Pix[i] = 255
	}
	oy, ox := (side-rows)/2, (side-cols)/2
	for y := range rows {
		for x := range cols {
			v := pix[y*cols+x]
			o := img.PixOffset(ox+x, oy+y)
			img.Pix[o], img.Pix[o+1], img.Pix[o+2] = v, v, v
		}
	}
	return img
}

// loadLabelledPhotos reads dir/labels.csv (file,label) and the photos it
// names, each filled to side x side (resized so the shorter side fits,
// centre-cropped). Files that cannot be used are reported on log and left
// out. It returns the class names (sorted) and each photo's fold: within a
// class, files sorted by name, fold = rank mod folds (no randomness).
func loadLabelledPhotos(dir string, side, folds int, log io.Writer) (set labelled, classes []string, fold []int, err error) {
	f, err := os.Open(filepath.Join(dir, "labels.csv"))
	if err != nil {
		return set, nil, nil, fmt.Errorf("a labelled photo folder needs labels.csv (file,label): %w", err)
	}
	items, err := eval.ReadLabelsCSV(f)
	f.Close()
	if err != nil {
		return set, nil, nil, fmt.Errorf("%s: %w", filepath.Join(dir, "labels.csv"), err)
	}
	var kept []eval.Labelled
	for _, it := range items {
		b, err := os.ReadFile(filepath.Join(dir, it.File))
		if err != nil {
			fmt.Fprintf(log, "skipping %s: %v\n", it.File, err)
			continue
		}
		img, err := core.Decode(it.File, b, core.IntakeConfig{})
		if err != nil {
			fmt.Fprintln(log, strings.TrimPrefix(err.Error(), "core: "))
			continue
		}
		set.imgs = append(set.imgs, imaging.Fill(img, side, side, imaging.Center, imaging.Linear))
		set.names = append(set.names, it.File)
		kept = append(kept, it)
	}
	if len(kept) == 0 {
		return set, nil, nil, fmt.Errorf("no usable labelled photos in %s", dir)
	}
	classes, set.labels = eval.ClassIndex(kept)
	return set, classes, eval.Folds(kept, folds), nil
}

// subset returns the items of set at the indices idx, in their order.
func (set labelled) subset(idx []int) labelled {
	var out labelled
	for _, i := range idx {
		out.imgs = append(out.imgs, set.imgs[i])
		out.labels = append(out.labels, set.labels[i])
		if set.names != nil {
			out.names = append(out.names, set.names[i])
		}
	}
	return out
}

// flag is the command-line flag that names d again (" -images DIR"), or ""
// for the embedded samples.
func (d dataSource) flag() string {
	switch {
	case d.kind == "fashion-mnist":
		return " -data " + d.String()
	case d.dir != "":
		return " -images " + d.dir
	}
	return ""
}
