package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/tasks"
)

// exportCmd converts a checkpoint to another format: safetensors, named for
// the PyTorch twin (interop/pytorch).
func exportCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	ckpt := fs.String("ckpt", "", "checkpoint written by pretext train or the page (required)")
	format := fs.String("format", "safetensors", "output format: safetensors")
	out := fs.String("out", "", "file to write (required)")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if *ckpt == "" || *out == "" {
		return usagef("export: -ckpt and -out are required")
	}
	if *format != "safetensors" {
		return fmt.Errorf("export: unknown format %q (safetensors)", *format)
	}
	f, err := os.Open(*ckpt)
	if err != nil {
		return err
	}
	tr, err := core.LoadTrainer(f, tasks.Resolve)
	f.Close()
	if err != nil {
		return fmt.Errorf("export: %s: %w", *ckpt, err)
	}
	var buf bytes.Buffer
	if err := tr.ExportSafetensors(&buf); err != nil {
		return err
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s model at step %d, %d bytes\n", *out, tr.Head.Spec().Kind, tr.Steps(), buf.Len())
	return nil
}

// importCmd converts a safetensors export (from pretext export, the page or
// the PyTorch twin's save) back to a checkpoint that train, predict and eval
// read. The optimiser state starts afresh.
func importCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	in := fs.String("in", "", "safetensors file to read (required)")
	out := fs.String("out", "", "checkpoint to write (required)")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if *in == "" || *out == "" {
		return usagef("import: -in and -out are required")
	}
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	tr, err := core.ImportSafetensors(f, tasks.Resolve)
	f.Close()
	if err != nil {
		return fmt.Errorf("import: %s: %w", *in, err)
	}
	var buf bytes.Buffer
	if err := tr.Save(&buf); err != nil {
		return err
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s model at step %d, %d bytes\n", *out, tr.Head.Spec().Kind, tr.Steps(), buf.Len())
	return nil
}
