// Command pretext trains, evaluates and benchmarks Pretext models natively,
// with the same code the browser runs.
//
//	pretext bench [-workload rs] [-threads N] [-json]
package main

import (
	"fmt"
	"io"
	"os"
)

var commands = map[string]func(args []string, stdout io.Writer) error{
	"bench": bench,
}

func usage(w io.Writer) {
	fmt.Fprintln(w, `usage: pretext <command> [flags]

commands:
  bench   time training steps of a reference workload (default: rs)

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
