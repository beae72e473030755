package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
)

// usageError is a mistake in how the command was called: a bad flag, a
// missing one, a value out of range. The command exits with status 2 (a
// runtime failure exits with 1), printing its message once.
type usageError struct {
	msg   string
	shown bool // the flag package printed it already, with the flags
}

func (e *usageError) Error() string { return e.msg }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// parseFlags parses args into fs. -h and -help print the command's usage to
// stdout and return flag.ErrHelp (exit status 0); any other
// mistake has been printed by fs, with its flags, and comes back as a
// usageError.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	if slices.ContainsFunc(args, func(a string) bool {
		return a == "-h" || a == "-help" || a == "--help" || a == "--h"
	}) {
		fs.SetOutput(stdout)
	}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return flag.ErrHelp
	case err != nil:
		return &usageError{msg: err.Error(), shown: true}
	case fs.NArg() > 0:
		return usagef("%s: unexpected arguments %q (see pretext %s -h)", fs.Name(), fs.Args(), fs.Name())
	}
	return nil
}

// exitCode reports what err means for the command's exit status (0 for a
// help request, 2 for a usage error, 130 for a run stopped by a signal, 1
// for anything else) and prints its
// message to stderr unless it was printed already.
func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var stopped *interruptedError
	if errors.As(err, &stopped) {
		fmt.Fprintln(stderr, "pretext:", err)
		return 130
	}
	var u *usageError
	if errors.As(err, &u) {
		if !u.shown {
			fmt.Fprintln(stderr, "pretext:", err)
		}
		return 2
	}
	fmt.Fprintln(stderr, "pretext:", err)
	return 1
}
