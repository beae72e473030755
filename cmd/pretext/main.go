// Command pretext trains, evaluates and benchmarks Pretext models natively,
// with the same code the browser runs.
//
//	pretext train [-task rotation|jigsaw|colorization] [-images DIR | -data fashion-mnist] [-steps N] [-batch B] [-seed S] [-knn-every N] [-out FILE.ckpt] [-json]
//	pretext predict -ckpt FILE.ckpt -in PHOTO -out OUT.png
//	pretext eval -ckpt FILE.ckpt | -random | -supervised [-data fashion-mnist | photos:DIR] [-json]
//	pretext report [-fashion DIR] [-photos DIR]
//	pretext export -ckpt FILE.ckpt -format safetensors -out FILE.safetensors
//	pretext import -in FILE.safetensors -out FILE.ckpt
//	pretext tasks
//	pretext version
//	pretext help [COMMAND]
//	pretext bench [-workload rs|js|cs] [-threads N] [-json]
//	pretext embed -ckpt FILE.ckpt|-random [-images DIR] -out emb.csv|emb.npy
//	pretext similar -ckpt FILE.ckpt|-random [-images DIR] -query PHOTO [-k 8] [-json] [-out montage.png]
//	pretext classify -ckpt FILE.ckpt|-random [-images DIR] -labels labels.csv [-probe linear|knn] -out predictions.csv [-json]
//	pretext map -ckpt FILE.ckpt|-random [-images DIR] -out map.png [-method tsne|pca] [-json]
//	pretext cluster -ckpt FILE.ckpt|-random [-images DIR] [-k K] -out clusters.csv [-json]
//
// The same workloads in headless Chromium: go run ./cmd/browserbench.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/internal/kernel"
	"github.com/pretextlab/pretext/tasks"
)

var commands = map[string]func(args []string, stdout io.Writer) error{
	"bench":    bench,
	"classify": classifyCmd,
	"cluster":  clusterCmd,
	"embed":    embedCmd,
	"eval":     evalCmd,
	"export":   exportCmd,
	"import":   importCmd,
	"map":      mapCmd,
	"train":    train,
	"predict":  predict,
	"report":   report,
	"similar":  similarCmd,
	"tasks":    listTasks,
	"version":  version,
}

func init() {
	// help refers to commands, so it joins the map after it is built.
	commands["help"] = help
}

// help prints the commands (to stdout), or runs COMMAND -h.
func help(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		usage(stdout)
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok || args[0] == "help" {
		return usagef("help: unknown command %q", args[0])
	}
	return cmd([]string{"-h"}, stdout)
}

// version prints the release, the Go toolchain and platform, and the
// matrix kernel this machine runs.
func version(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: pretext version\n\nPrints the release, the Go toolchain and the matrix kernel in use.\n")
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	kernels, err := kernel.SelfCheck()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "pretext %s (%s %s/%s, kernel %s)\n", core.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH, kernels[0])
	return err
}

func listTasks(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("tasks", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: pretext tasks\n\nLists the pretext tasks with their training defaults.\n")
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	all, err := tasks.All()
	if err != nil {
		return err
	}
	for _, t := range all {
		d := t.Defaults
		needs := fmt.Sprintf("photos at least %d px on a side", max(t.Needs.MinSide, core.DefaultMinSide))
		if t.Needs.Colour {
			needs = "colour " + needs
		}
		config := ""
		if len(d.Config) > 0 {
			config = " -config '" + string(d.Config) + "'"
		}
		fmt.Fprintf(stdout, "%-18s %s\n%-18s defaults: %d steps of %d, %s at %g%s; input %dx%d; %s\n",
			t.Name, t.Summary, "", d.Steps, d.Batch, d.Optimizer, d.LR, config, t.InputSize, t.InputSize, needs)
	}
	return nil
}

func usage(w io.Writer) {
	fmt.Fprintln(w, `usage: pretext <command> [flags]

commands:
  train    train a pretext task on photos (default: rotation on the embedded samples)
  predict  show a trained task's output on one photo
  eval     probe a trunk's frozen features on labelled data (linear probe, k-NN)
  report   run the evaluation protocol end to end and write docs/RESULTS.md
  export   write a checkpoint as safetensors, for PyTorch (interop/pytorch)
  import   read a safetensors export back into a checkpoint
  tasks    list the pretext tasks
  embed    write every photo's embedding (CSV or .npy) from a trained trunk
  similar  list (and draw) the photos most like a photo
  classify name every photo from a few named ones (labels.csv)
  map      lay the photos out in 2-D (t-SNE or PCA) and draw the map
  cluster  group the photos (k-means)
  bench    time training steps of a reference workload natively (default: rs;
           in headless Chromium: go run ./cmd/browserbench)
  version  print the release, the Go toolchain and the matrix kernel
  help     print this, or a command's flags (pretext help train)

Run "pretext <command> -h" for a command's flags. Exit status: 0 on
success, 1 when the work failed, 2 for a usage mistake.`)
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command line without os.Exit: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "pretext: unknown command %q (pretext help lists them)\n", args[0])
		return 2
	}
	return exitCode(cmd(args[1:], stdout), stderr)
}
