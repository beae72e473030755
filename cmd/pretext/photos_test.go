package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pretextlab/pretext/core"
)

// TestLoadPhotosCorpus reads core's corpus of bad and unusual files: the
// good ones are loaded, and the log names each bad one with its reason.
func TestLoadPhotosCorpus(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := filepath.Join("..", "..", "core", "testdata", "intake")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "gen.go" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var log bytes.Buffer
	photos, err := loadPhotos(dir, core.IntakeConfig{}, &log)
	if err != nil {
		t.Fatal(err)
	}
	if len(photos) != 8 {
		t.Errorf("loaded %d photos, want the corpus's 8 good ones", len(photos))
	}
	for _, line := range []string{
		"skipping truncated.jpg: corrupt image",
		"skipping bad-crc.png: corrupt image: png: invalid format: invalid checksum",
		"skipping empty.jpg: the file is empty",
		"passing over notes.jpg: not an image",
		"skipping huge-header.png: 20000x20000 pixels is more than the limit of 50000000",
		"skipping one-pixel.png: 1x1 is smaller than 32 pixels on a side",
	} {
		if !strings.Contains(log.String(), line) {
			t.Errorf("no %q in the log:\n%s", line, log.String())
		}
	}

	// The flags' limits hold.
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	limits := intakeFlags(fs)
	if err := fs.Parse([]string{"-max-photos", "3"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := limits()
	if err != nil {
		t.Fatal(err)
	}
	log.Reset()
	photos, err = loadPhotos(dir, cfg, &log)
	if err != nil || len(photos) != 3 || !strings.Contains(log.String(), "skipping transparent.png: the limit of 3 photos is reached") {
		t.Errorf("-max-photos 3: %d photos, %v, log:\n%s", len(photos), err, log.String())
	}
	fs = flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	limits = intakeFlags(fs)
	if err := fs.Parse([]string{"-max-megapixels", "0.002"}); err != nil {
		t.Fatal(err)
	}
	if cfg, err = limits(); err != nil {
		t.Fatal(err)
	}
	log.Reset()
	photos, err = loadPhotos(dir, cfg, &log)
	// 2000 pixels: 40x40 is taken, 64x48 is not.
	if err != nil || len(photos) != 1 || photos[0].Name != "small-40.png" || !strings.Contains(log.String(), "skipping cmyk.jpg: 64x48 pixels is more than the limit of 2000") {
		t.Errorf("-max-megapixels 0.002: %d photos, %v, log:\n%s", len(photos), err, log.String())
	}
	fs = flag.NewFlagSet("test", flag.ContinueOnError)
	limits = intakeFlags(fs)
	if err := fs.Parse([]string{"-max-memory", "2"}); err != nil {
		t.Fatal(err)
	}
	if cfg, err = limits(); err != nil || cfg.MaxBytes != 2<<20 || cfg.MaxPhotos != core.DefaultMaxPhotos {
		t.Errorf("-max-memory 2 gives %+v, %v", cfg, err)
	}
	if err := train([]string{"-max-memory", "0"}, io.Discard); err == nil || !strings.Contains(err.Error(), "must be positive") {
		t.Errorf("train -max-memory 0: %v", err)
	}
}

// TestIntakeFlagsRefuseAbsurd: limits that are NaN, infinite, negative or
// too large to convert to pixels and bytes are refused, each with the
// message naming the flags, never turned into a wrapped-around limit.
func TestIntakeFlagsRefuseAbsurd(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-max-megapixels", "NaN"}, "must be positive"},
		{[]string{"-max-megapixels", "-1"}, "must be positive"},
		{[]string{"-max-megapixels", "+Inf"}, "too large"},
		{[]string{"-max-megapixels", "1e30"}, "too large"},
		{[]string{"-max-megapixels", "4295"}, "too large"},
		{[]string{"-max-memory", "-5"}, "must be positive"},
		{[]string{"-max-memory", "9223372036854775807"}, "too large"},
		{[]string{"-max-photos", "-1"}, "must be positive"},
	} {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		limits := intakeFlags(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		cfg, err := limits()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %+v, %v; want an error saying %q", tc.args, cfg, err, tc.want)
		}
	}
	// The largest limits taken convert without wrapping around.
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	limits := intakeFlags(fs)
	if err := fs.Parse([]string{"-max-megapixels", "4294", "-max-memory", "1099511627776"}); err != nil {
		t.Fatal(err)
	}
	if cfg, err := limits(); err != nil || cfg.MaxPixels != 4_294_000_000 || cfg.MaxBytes != 1<<60 {
		t.Errorf("the largest limits give %+v, %v", cfg, err)
	}
}
