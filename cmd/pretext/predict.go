package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"io"
	"math/rand/v2"
	"os"

	"github.com/pretextlab/pretext/core/safetensors"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/tasks"
)

// predict runs a trained checkpoint's task on one photo and writes its
// visual output (the network's input beside its result) as a PNG.
func predict(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	ckpt := fs.String("ckpt", "", "checkpoint written by pretext train (required)")
	in := fs.String("in", "", "photo to run the task on (required)")
	out := fs.String("out", "", "PNG to write: input and result side by side (required)")
	seed := fs.Uint64("seed", 1, "seed for the task's random choices (e.g. the jigsaw shuffle)")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if *ckpt == "" || *in == "" || *out == "" {
		return usagef("predict: -ckpt, -in and -out are required")
	}
	f, err := os.Open(*ckpt)
	if err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	r := bufio.NewReader(f)
	start, _ := r.Peek(9)
	start = bytes.Clone(start) // LoadTrainer reads on through r's buffer
	tr, err := core.LoadTrainer(r, tasks.Resolve)
	f.Close()
	if err != nil {
		return fmt.Errorf("predict: %s: %w%s", *ckpt, err, notCheckpointHint(start))
	}
	task, ok := tr.Head.(tasks.Task)
	if !ok {
		return fmt.Errorf("predict: %s holds a %s head, not a pretext task", *ckpt, tr.Head.Spec().Kind)
	}
	b, err := os.ReadFile(*in)
	if err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	img, err := core.Decode(*in, b, core.IntakeConfig{})
	var refused *core.IntakeError
	if errors.As(err, &refused) {
		// Decode's message says the photo is skipped, as in a folder of
		// them; here it is the one photo asked for.
		return fmt.Errorf("predict: %s: %w", *in, refused.Err)
	}
	if err != nil {
		return err
	}
	pred, err := task.Predict(tr.Trunk, img, rand.New(rand.NewPCG(*seed, 0)))
	if err != nil {
		return err
	}
	if err := writePNG(*out, sideBySide(pred.Input, pred.Image)); err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	fmt.Fprintf(stdout, "%s: %s\nwrote %s\n", task.Name(), pred.Summary, *out)
	return nil
}

// notCheckpointHint says what to do with a file that is not a checkpoint
// but, by its first 9 bytes, a safetensors file (a little-endian header
// length, then the JSON header) such as pretext export writes; otherwise
// it is "".
func notCheckpointHint(start []byte) string {
	if len(start) < 9 || start[8] != '{' {
		return ""
	}
	// 2 is the shortest header ({}).
	if n := binary.LittleEndian.Uint64(start); n >= 2 && n <= safetensors.MaxHeader {
		return " (it is a safetensors file: pretext import -in FILE -out FILE.ckpt turns an export into a checkpoint)"
	}
	return ""
}

// sideBySide lays the images out left to right with an 8-pixel white gap.
func sideBySide(imgs ...*image.NRGBA) *image.NRGBA {
	const gap = 8
	w, h := 0, 0
	var list []*image.NRGBA
	for _, im := range imgs {
		if im == nil {
			continue
		}
		list = append(list, im)
		w += im.Bounds().Dx() + gap
		h = max(h, im.Bounds().Dy())
	}
	dst := image.NewNRGBA(image.Rect(0, 0, max(1, w-gap), max(1, h)))
	draw.Draw(dst, dst.Bounds(), image.White, image.Point{}, draw.Src)
	x := 0
	for _, im := range list {
		draw.Draw(dst, im.Bounds().Sub(im.Bounds().Min).Add(image.Pt(x, 0)), im, im.Bounds().Min, draw.Src)
		x += im.Bounds().Dx() + gap
	}
	return dst
}

func writePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
