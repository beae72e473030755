// Command pretext trains, evaluates and benchmarks Pretext models natively,
// with the same code the browser runs.
//
//	pretext train [-task rotation|jigsaw|colorization] [-images DIR | -data fashion-mnist] [-steps N] [-batch B] [-seed S] [-out FILE.ckpt] [-json]
//	pretext predict -ckpt FILE.ckpt -in PHOTO -out OUT.png
//	pretext eval -ckpt FILE.ckpt | -random | -supervised [-data fashion-mnist | photos:DIR] [-json]
//	pretext report [-fashion DIR] [-photos DIR]
//	pretext export -ckpt FILE.ckpt -format safetensors -out FILE.safetensors
//	pretext import -in FILE.safetensors -out FILE.ckpt
//	pretext tasks
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
	"fmt"
	"io"
	"os"

	"github.com/pretextlab/pretext/core"
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
}

func listTasks(_ []string, stdout io.Writer) error {
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

Run "pretext <command> -h" for a command's flags.`)
}

func main() {
	if len(os.Args) < 2 {
		usage(os.Stderr)
		os.Exit(2)
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		if os.Args[1] != "-h" && os.Args[1] != "help" {
			fmt.Fprintf(os.Stderr, "pretext: unknown command %q\n", os.Args[1])
		}
		usage(os.Stderr)
		os.Exit(2)
	}
	if err := cmd(os.Args[2:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pretext:", err)
		os.Exit(1)
	}
}
