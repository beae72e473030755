package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/tasks"
	"github.com/pretextlab/pretext/tasks/samples"
)

// writeCheckpoint writes an untrained checkpoint of the task (nil config:
// its defaults) on a trunk drawn from seed, or of a bare classifier head
// when task is core.ClassifierKind.
func writeCheckpoint(t *testing.T, path, task string, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 0))
	trunk, err := core.NewTrunk(core.TrunkConfig{}, rng)
	if err != nil {
		t.Fatal(err)
	}
	var head core.Objective
	if task == core.ClassifierKind {
		head, err = core.NewClassifier(trunk.Features(), 4, rng)
	} else {
		head, err = tasks.New(task, nil, trunk, rng)
	}
	if err != nil {
		t.Fatal(err)
	}
	tr, err := core.NewTrainer(trunk, head, core.TrainConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := writeAtomic(path, tr.Save); err != nil {
		t.Fatal(err)
	}
}

// patternPhoto is a w x h photo whose every pixel differs from the others
// and from its mirror images, so that a crop, a shift or a rotation of it
// shows.
func patternPhoto(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(4 * x), uint8(7 * y), uint8(x*y + 3*x + 11), 255})
		}
	}
	return img
}

// readPNG decodes the PNG at path as NRGBA.
func readPNG(t *testing.T, path string) *image.NRGBA {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return imaging.Clone(img)
}

// samePixels reports the first pixel where got, from (x0, y0), differs
// from want, or "" if none does.
func samePixels(got *image.NRGBA, x0, y0 int, want *image.NRGBA) string {
	b := want.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if g, w := got.NRGBAAt(x0+x-b.Min.X, y0+y-b.Min.Y), want.NRGBAAt(x, y); g != w {
				return fmt.Sprintf("(%d, %d) is %v, want %v", x0+x-b.Min.X, y0+y-b.Min.Y, g, w)
			}
		}
	}
	return ""
}

// TestPredictLayout: predict writes the network's input and the task's
// result side by side with an 8-pixel white gap, on a white ground. For
// rotation the input panel is the photo's centre crop at the task's 32
// pixels (a 56x32 photo: columns 12 to 43, not resized), and the result
// panel is the whole photo turned by the rotation the summary names, as
// imaging turns it.
func TestPredictLayout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "rotation.ckpt")
	// Seed 1's untrained model calls the photo rotated by 270 degrees (on
	// amd64), so that the result panel stands on its side; any answer is
	// checked.
	writeCheckpoint(t, ckpt, "rotation", 1)
	photo := patternPhoto(56, 32)
	in, out := filepath.Join(dir, "photo.png"), filepath.Join(dir, "out.png")
	var b bytes.Buffer
	if err := png.Encode(&b, photo); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"predict", "-ckpt", ckpt, "-in", in, "-out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit status %d: %s", code, stderr.String())
	}
	m := regexp.MustCompile(`^rotation: (upright|rotated (\d+)° counter-clockwise) \(p=0\.\d\d\)\nwrote ` + regexp.QuoteMeta(out) + "\n$").FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("stdout %q, want the task, its summary and the file written", stdout.String())
	}
	degrees, _ := strconv.Atoi(m[2])
	// The photo was rotated counter-clockwise by degrees, so the result
	// turns it back: counter-clockwise by 360-degrees.
	result := map[int]*image.NRGBA{0: photo, 90: imaging.Rotate270(photo), 180: imaging.Rotate180(photo), 270: imaging.Rotate90(photo)}[degrees]
	if result == nil {
		t.Fatalf("summary %q names no quarter turn", m[1])
	}
	t.Logf("summary %q", m[1])
	const side, gap = 32, 8
	rw, rh := result.Bounds().Dx(), result.Bounds().Dy()
	got := readPNG(t, out)
	if want := image.Rect(0, 0, side+gap+rw, max(side, rh)); got.Bounds() != want {
		t.Fatalf("the picture is %v, want %v: the %dx%d input, a gap of %d, the %dx%d result", got.Bounds(), want, side, side, gap, rw, rh)
	}
	if d := samePixels(got, 0, 0, photo.SubImage(image.Rect(12, 0, 12+side, side)).(*image.NRGBA)); d != "" {
		t.Errorf("the input panel is not the photo's centre crop: %s", d)
	}
	if d := samePixels(got, side+gap, 0, result); d != "" {
		t.Errorf("the result panel is not the photo turned as %q says: %s", m[1], d)
	}
	// The gap, and the ground below the shorter panel, are white.
	white := color.NRGBA{255, 255, 255, 255}
	for y := range got.Bounds().Dy() {
		for x := range got.Bounds().Dx() {
			if (x >= side && x < side+gap || x < side && y >= side || x >= side+gap && y >= rh) && got.NRGBAAt(x, y) != white {
				t.Fatalf("(%d, %d) is %v, want the white ground", x, y, got.NRGBAAt(x, y))
			}
		}
	}
}

// TestSideBySide: panels left to right, 8 pixels apart, top-aligned on
// white; nil panels are left out.
func TestSideBySide(t *testing.T) {
	t.Parallel()
	fill := func(w, h int, c uint8) *image.NRGBA {
		return imaging.New(w, h, color.NRGBA{c, 0, 0, 255})
	}
	for _, c := range []struct {
		name   string
		panels []*image.NRGBA
		want   image.Rectangle
		at     []int // each non-nil panel's left edge
	}{
		{"two", []*image.NRGBA{fill(10, 20, 1), fill(5, 30, 2)}, image.Rect(0, 0, 23, 30), []int{0, 18}},
		{"nil input", []*image.NRGBA{nil, fill(7, 4, 3)}, image.Rect(0, 0, 7, 4), []int{0}},
		{"three", []*image.NRGBA{fill(3, 3, 4), fill(3, 3, 5), fill(3, 3, 6)}, image.Rect(0, 0, 25, 3), []int{0, 11, 22}},
		{"none", []*image.NRGBA{nil}, image.Rect(0, 0, 1, 1), nil},
	} {
		got := sideBySide(c.panels...)
		if got.Bounds() != c.want {
			t.Errorf("%s: %v, want %v", c.name, got.Bounds(), c.want)
			continue
		}
		i := 0
		for _, p := range c.panels {
			if p == nil {
				continue
			}
			if d := samePixels(got, c.at[i], 0, p); d != "" {
				t.Errorf("%s: panel %d: %s", c.name, i, d)
			}
			if x, y := c.at[i]+p.Bounds().Dx(), p.Bounds().Dy(); x < c.want.Dx() && got.NRGBAAt(x, 0) != (color.NRGBA{255, 255, 255, 255}) || y < c.want.Dy() && got.NRGBAAt(c.at[i], y) != (color.NRGBA{255, 255, 255, 255}) {
				t.Errorf("%s: panel %d is not bordered by white", c.name, i)
			}
			i++
		}
	}
}

// TestPredictErrors: a mistake in the call exits with status 2 and one
// message saying what to give; a photo or checkpoint that cannot be used
// (not a photo, a cut one, no file, not a checkpoint, a safetensors export,
// a checkpoint of a head that is no pretext task) or a picture that cannot
// be written exits with 1 and one message from predict naming the file and
// what is wrong with it, and no picture is written.
func TestPredictErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ckpt, classifier := filepath.Join(dir, "rotation.ckpt"), filepath.Join(dir, "classifier.ckpt")
	writeCheckpoint(t, ckpt, "rotation", 1)
	writeCheckpoint(t, classifier, core.ClassifierKind, 1)
	var st bytes.Buffer
	if err := exportCmd([]string{"-ckpt", ckpt, "-out", filepath.Join(dir, "rotation.safetensors")}, &st); err != nil {
		t.Fatal(err)
	}
	safet := filepath.Join(dir, "rotation.safetensors")
	photo := file("photo.jpg", samples.Photos()[0].Data)
	notes := file("notes.jpg", []byte("just some notes, not a photo"))
	cut := file("cut.jpg", samples.Photos()[0].Data[:400])
	garbage := file("garbage.ckpt", []byte("PK\x03\x04 a zip file, say"))
	out := filepath.Join(dir, "out.png")
	missing := filepath.Join(dir, "missing")
	for _, c := range []struct {
		name   string
		args   []string
		status int
		stderr []string // each in the one message
	}{
		{"no flags", nil, 2, []string{"-ckpt, -in and -out are required"}},
		{"no -in", []string{"-ckpt", ckpt, "-out", out}, 2, []string{"-ckpt, -in and -out are required"}},
		{"no -out", []string{"-ckpt", ckpt, "-in", photo}, 2, []string{"-ckpt, -in and -out are required"}},
		{"extra", []string{"-ckpt", ckpt, "-in", photo, "-out", out, "more.jpg"}, 2, []string{"unexpected arguments", "more.jpg"}},
		{"not a photo", []string{"-ckpt", ckpt, "-in", notes, "-out", out}, 1, []string{notes, "not a JPEG, PNG, GIF or WebP image"}},
		{"cut photo", []string{"-ckpt", ckpt, "-in", cut, "-out", out}, 1, []string{cut, "corrupt image"}},
		{"no photo", []string{"-ckpt", ckpt, "-in", missing + ".jpg", "-out", out}, 1, []string{missing + ".jpg", "no such file"}},
		{"no checkpoint", []string{"-ckpt", missing + ".ckpt", "-in", photo, "-out", out}, 1, []string{missing + ".ckpt", "no such file"}},
		{"garbage", []string{"-ckpt", garbage, "-in", photo, "-out", out}, 1, []string{garbage, "not a Pretext checkpoint"}},
		{"safetensors", []string{"-ckpt", safet, "-in", photo, "-out", out}, 1, []string{safet, "not a Pretext checkpoint", "pretext import"}},
		{"classifier", []string{"-ckpt", classifier, "-in", photo, "-out", out}, 1, []string{classifier, "classifier head, not a pretext task"}},
		{"no folder", []string{"-ckpt", ckpt, "-in", photo, "-out", filepath.Join(missing, "out.png")}, 1, []string{filepath.Join(missing, "out.png")}},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"predict"}, c.args...), &stdout, &stderr)
		msg := stderr.String()
		t.Logf("%s: %d %s", c.name, code, strings.TrimSpace(msg))
		if code != c.status || !strings.HasPrefix(msg, "pretext: predict: ") || strings.Count(msg, "pretext:") != 1 || strings.Count(msg, "\n") != 1 {
			t.Errorf("%s: exit status %d, stderr %q; want %d and one line from predict", c.name, code, msg, c.status)
		}
		if strings.Contains(msg, "skipping") { // as if one of many photos
			t.Errorf("%s: stderr %q", c.name, msg)
		}
		for _, want := range c.stderr {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: stderr %q, want it to say %q", c.name, msg, want)
			}
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%s: a refused prediction wrote %s", c.name, out)
		}
	}
}
