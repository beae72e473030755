// Package samples embeds a small set of real photos (public domain or CC0,
// credits in SOURCES.md) so that training, tests and the page work with no
// data of the user's.
package samples

import (
	"embed"
	"io/fs"
	"path"
	"slices"
)

//go:embed *.jpg SOURCES.md
var files embed.FS

// Photo is one embedded photo file.
type Photo struct {
	Name string
	Data []byte
}

// Photos returns the embedded photos sorted by name.
func Photos() []Photo {
	var out []Photo
	names, _ := fs.Glob(files, "*.jpg")
	slices.Sort(names)
	for _, n := range names {
		b, _ := files.ReadFile(n)
		out = append(out, Photo{Name: path.Base(n), Data: b})
	}
	return out
}

// Credits returns SOURCES.md: the source, license and credit of each photo.
func Credits() string {
	b, _ := files.ReadFile("SOURCES.md")
	return string(b)
}
