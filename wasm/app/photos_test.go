package app

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/recipe"
	"github.com/pretextlab/pretext/tasks/samples"
)

// corpusDir holds the bad and unusual files of core/testdata/intake.
var corpusDir = filepath.Join("..", "..", "core", "testdata", "intake")

// corpusRefused is each file of the corpus intake refuses, with its reason
// (core's TestIntakeCorpus checks the files taken pixel by pixel).
var corpusRefused = map[string]string{
	"truncated.jpg":   "corrupt image",
	"bad-crc.png":     "corrupt image: png: invalid format: invalid checksum",
	"empty.jpg":       "the file is empty",
	"notes.jpg":       "not a JPEG, PNG, GIF or WebP image",
	"huge-header.png": "20000x20000 pixels is more than the limit of 50000000",
	"one-pixel.png":   "1x1 is smaller than 32 pixels on a side",
}

// corpusTaken is each file of the corpus intake takes, with its size.
var corpusTaken = map[string]image.Point{
	"small-40.png": {40, 40}, "cmyk.jpg": {64, 48}, "deep-16bit.png": {64, 48}, "paletted.png": {64, 48},
	"transparent.png": {64, 48}, "animated.gif": {64, 48}, "grey.jpg": {96, 64}, "rotated-exif6.jpg": {48, 64},
}

func readCorpus(t *testing.T) []File {
	t.Helper()
	entries, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	var files []File
	for _, e := range entries {
		if e.Name() == "gen.go" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(corpusDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, File{Name: e.Name(), Bytes: b})
	}
	if len(files) != len(corpusRefused)+len(corpusTaken) {
		t.Fatalf("%s holds %d files, the tables %d", corpusDir, len(files), len(corpusRefused)+len(corpusTaken))
	}
	return files
}

// TestAddImagesCorpus adds the whole corpus with the sample photos: each
// bad file is refused with its reason, each good one is taken at its size,
// and training goes on with them, among them the 40x40 photo that is
// smaller than jigsaw's 96-pixel puzzle.
func TestAddImagesCorpus(t *testing.T) {
	t.Parallel()
	a := New()
	files := readCorpus(t)
	res := a.AddImages(files)
	got := map[string]string{}
	for _, r := range res.Rejected {
		got[r.Name] = r.Reason
	}
	for name, want := range corpusRefused {
		if !strings.Contains(got[name], want) {
			t.Errorf("%s: rejected with %q, want %q", name, got[name], want)
		}
	}
	if len(got) != len(corpusRefused) {
		t.Errorf("rejected %v, want only %d files", got, len(corpusRefused))
	}
	for _, p := range res.Added {
		if want, ok := corpusTaken[p.Name]; !ok || (image.Point{p.Width, p.Height}) != want {
			t.Errorf("added %s at %dx%d, want %v (taken: %v)", p.Name, p.Width, p.Height, want, ok)
		}
	}
	if len(res.Added) != len(corpusTaken) || res.Count != len(corpusTaken) {
		t.Fatalf("added %d photos (count %d), want %d", len(res.Added), res.Count, len(corpusTaken))
	}
	// The bad files are remembered: added again, they are named once more.
	again := a.AddImages(files[:1])
	if len(again.Rejected) != 1 || again.Rejected[0].Reason != "already added" {
		t.Errorf("adding %s again gives %+v", files[0].Name, again)
	}
	for _, task := range []string{"rotation", "jigsaw", "colorization"} {
		r, err := a.Train(context.Background(), Settings{Settings: recipe.Settings{Task: task, Steps: 2, Batch: 6}}, nil)
		if err != nil {
			t.Fatalf("%s on the corpus: %v", task, err)
		}
		if r.Step != 2 || len(r.Warnings) != 0 {
			t.Errorf("%s on the corpus: %d steps, warnings %q; want 2, none (one photo of %d is grey)", task, r.Step, r.Warnings, len(corpusTaken))
		}
	}
	// Jigsaw cuts its puzzle from a 96-pixel crop (3x3 cells of 32): a
	// 40x40 photo alone is scaled up to it, and trains.
	small := New()
	for _, f := range files {
		if f.Name == "small-40.png" {
			small.AddImages([]File{f})
		}
	}
	none := 0.0
	if r, err := small.Train(context.Background(), Settings{Settings: recipe.Settings{Task: "jigsaw", Steps: 1, Batch: 2, Holdout: &none}}, nil); err != nil || r.Step != 1 {
		t.Errorf("jigsaw on the 40x40 photo alone: step %d, %v", r.Step, err)
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	photos := samples.Photos()
	files := make([]File, len(photos))
	for i, p := range photos {
		files[i] = File{Name: p.Name, Bytes: p.Data}
	}
	names := func(rs []Rejected) (out []string) {
		for _, r := range rs {
			out = append(out, r.Name+": "+r.Reason)
		}
		return out
	}

	t.Run("photos", func(t *testing.T) {
		t.Parallel()
		a := New()
		if err := a.SetLimits(Limits{MaxPhotos: 3}); err != nil {
			t.Fatal(err)
		}
		res := a.AddImages(files[:5])
		want := []string{files[3].Name + ": the limit of 3 photos is reached", files[4].Name + ": the limit of 3 photos is reached"}
		if res.Count != 3 || !slices.Equal(names(res.Rejected), want) {
			t.Fatalf("count %d, rejected %q; want 3, %q", res.Count, names(res.Rejected), want)
		}
		// Raised, the limit lets the same files in: they were not
		// remembered as refused.
		if err := a.SetLimits(Limits{MaxPhotos: 5}); err != nil {
			t.Fatal(err)
		}
		if res := a.AddImages(files[:5]); res.Count != 5 || len(res.Added) != 2 {
			t.Errorf("after raising the limit: count %d, added %d, rejected %q", res.Count, len(res.Added), names(res.Rejected))
		}
	})

	t.Run("megapixels", func(t *testing.T) {
		t.Parallel()
		a := New()
		// A sample photo's size from its header, and a limit just below.
		hdr, _, err := image.DecodeConfig(bytes.NewReader(files[0].Bytes))
		if err != nil {
			t.Fatal(err)
		}
		px := hdr.Width * hdr.Height
		if err := a.SetLimits(Limits{MaxMegapixels: float64(px-1) / 1e6}); err != nil {
			t.Fatal(err)
		}
		res := a.AddImages(files[:1])
		want := fmt.Sprintf("%s: %dx%d pixels is more than the limit of %d", files[0].Name, hdr.Width, hdr.Height, px-1)
		if res.Count != 0 || !slices.Equal(names(res.Rejected), []string{want}) {
			t.Errorf("rejected %q, want %q", names(res.Rejected), want)
		}
	})

	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		// A 1024x768 photo needs 6 MiB to decode (8 bytes a pixel,
		// core's bound): over 4 MB it is refused before decoding.
		a := New()
		if err := a.SetLimits(Limits{MaxMegabytes: 4}); err != nil {
			t.Fatal(err)
		}
		big := File{Name: "big.jpg", Bytes: jpegOf(t, imaging.Resize(mustDecode(t, files[0]), 1024, 768, imaging.Linear))}
		res := a.AddImages([]File{big})
		if want := "big.jpg: decoding 1024x768 pixels needs 6.0 MB, more than the memory limit of 4.0 MB"; res.Count != 0 || !slices.Equal(names(res.Rejected), []string{want}) {
			t.Fatalf("count %d, rejected %q; want %q", res.Count, names(res.Rejected), want)
		}
		if err := a.SetLimits(Limits{MaxMegabytes: 1}); err != nil {
			t.Fatal(err)
		}
		// Small photos fit until the set holds too much.
		var small []File
		for i := range 24 {
			small = append(small, File{Name: fmt.Sprintf("small%02d.jpg", i), Bytes: jpegOf(t, imaging.Resize(mustDecode(t, files[i%len(files)]), 128, 96, imaging.Linear))})
		}
		res = a.AddImages(small)
		// Each holds 128*96*4 = 48 KiB and needs 96 KiB to decode: with n
		// held, 1 MiB takes one more while 48n + 96 <= 1024, up to 20.
		if res.Count != 20 || len(res.Rejected) != 4 || !strings.Contains(res.Rejected[0].Reason, "the 20 photos taken hold 0.9 MB and decoding this 128x96 one needs 0.1 MB more: over the memory limit of 1.0 MB") {
			t.Errorf("count %d, rejected %q", res.Count, names(res.Rejected))
		}
		// Cleared, the set takes photos again.
		a.ClearImages()
		if res := a.AddImages(small[:3]); res.Count != 3 {
			t.Errorf("after clearing: count %d, rejected %q", res.Count, names(res.Rejected))
		}
	})

	t.Run("defaults and bad values", func(t *testing.T) {
		t.Parallel()
		cfg, err := Limits{}.Config()
		if err != nil || cfg != (core.IntakeConfig{}) {
			t.Errorf("zero limits give %+v, %v; want the zero config (the defaults)", cfg, err)
		}
		for _, l := range []Limits{{MaxPhotos: -1}, {MaxMegapixels: -2}, {MaxMegabytes: -1}, {MaxMegabytes: 5000}} {
			if err := New().SetLimits(l); err == nil {
				t.Errorf("%+v: no error", l)
			}
		}
	})
}

func mustDecode(t *testing.T, f File) *image.NRGBA {
	t.Helper()
	img, err := core.Decode(f.Name, f.Bytes, core.IntakeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func jpegOf(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestGreyWarning trains colorization, a multi-task with it, and rotation
// on grey photos: the colour-learning ones warn, once, as an event and in
// the result; on colour photos nothing warns.
func TestGreyWarning(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("trains eight runs on the sample photos: not in the quick tier")
	}
	var grey, colour []File
	for _, p := range samples.Photos()[:6] {
		f := File{Name: p.Name, Bytes: p.Data}
		colour = append(colour, f)
		grey = append(grey, File{Name: "grey-" + p.Name, Bytes: jpegOf(t, imaging.Grayscale(mustDecode(t, f)))})
	}
	none := 0.0
	cases := []struct {
		name   string
		photos []File
		task   string
		config string
		want   string
	}{
		{"colorization, grey", grey, "colorization", "", "all 6 training photos are greyscale: grey photos teach colorization no colour"},
		{"colorization, mostly grey", append(slices.Clone(grey[:4]), colour[4:]...), "colorization", "", "4 of the 6 training photos are greyscale"},
		{"colorization, half grey", append(slices.Clone(grey[:3]), colour[3:]...), "colorization", "", ""},
		{"colorization, colour", colour, "colorization", "", ""},
		{"multi-task default, grey", grey, "multi-task", "", "grey photos teach multi-task no colour"},
		{"multi-task with colorization, grey", grey, "multi-task", `{"tasks":[{"name":"rotation"},{"name":"colorization"}]}`, "all 6 training photos are greyscale"},
		{"multi-task without colorization, grey", grey, "multi-task", `{"tasks":[{"name":"rotation"},{"name":"jigsaw"}]}`, ""},
		{"rotation, grey", grey, "rotation", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := New()
			if res := a.AddImages(tc.photos); res.Count != len(tc.photos) {
				t.Fatalf("added %d of %d: %+v", res.Count, len(tc.photos), res.Rejected)
			}
			s := Settings{Settings: recipe.Settings{Task: tc.task, Steps: 1, Batch: 6, Holdout: &none}}
			if tc.config != "" {
				s.Config = []byte(tc.config)
			}
			var events []string
			res, err := a.Train(context.Background(), s, func(e Event) {
				if e.Type == "warning" {
					events = append(events, e.Message)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if len(events) != 0 || len(res.Warnings) != 0 {
					t.Errorf("warned %q (result %q), want nothing", events, res.Warnings)
				}
				return
			}
			if len(events) != 1 || !strings.Contains(events[0], tc.want) || !slices.Equal(res.Warnings, events) {
				t.Errorf("warning events %q, result %q; want one saying %q", events, res.Warnings, tc.want)
			}
		})
	}
}

func TestAddImagesKeepsGoodRejectsBad(t *testing.T) {
	t.Parallel()
	a := New()
	good := samples.Photos()[0]
	res := a.AddImages([]File{
		{Name: "notes.jpg", Bytes: []byte("shopping list: eggs")},
		{Name: good.Name, Bytes: good.Data},
		{Name: "empty.png"},
		{Name: "cut.jpg", Bytes: good.Data[:len(good.Data)/3]},
	})
	if res.Count != 1 || len(res.Added) != 1 || res.Added[0].Name != good.Name {
		t.Fatalf("added %+v (count %d), want only %s", res.Added, res.Count, good.Name)
	}
	th := res.Added[0].Thumb
	if th == nil || max(th.Width, th.Height) != thumbSide || len(th.Pix) != 4*th.Width*th.Height {
		t.Fatalf("thumbnail %+v", th)
	}
	var names []string
	for _, r := range res.Rejected {
		names = append(names, r.Name)
		if r.Reason == "" || strings.HasPrefix(r.Reason, "core:") {
			t.Errorf("%s: reason %q", r.Name, r.Reason)
		}
	}
	if !slices.Equal(names, []string{"notes.jpg", "empty.png", "cut.jpg"}) {
		t.Errorf("rejected %v", names)
	}
	again := a.AddImages([]File{{Name: good.Name, Bytes: good.Data}})
	if again.Count != 1 || len(again.Rejected) != 1 || again.Rejected[0].Reason != "already added" {
		t.Errorf("the same photo twice: %+v", again)
	}
	if a.ClearImages() != 0 || a.Status().Photos != 0 {
		t.Error("clear left photos")
	}
	if res := a.AddImages([]File{{Name: good.Name, Bytes: good.Data}}); res.Count != 1 {
		t.Errorf("after clearing, the photo was refused: %+v", res.Rejected)
	}
}
