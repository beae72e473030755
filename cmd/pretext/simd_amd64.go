//go:build goexperiment.simd && amd64 && unix

package main

import (
	"os"
	"strings"
	"syscall"
)

// quietPreemption re-executes the command with asynchronous preemption off
// when it was built with GOEXPERIMENT=simd. In that build the runtime's
// preemption leaves the vector registers' upper halves dirty on the
// interrupted thread, after which Go's scalar (legacy SSE) float code ran
// about 100x slower on this project's Xeon until the next VZEROUPPER: the
// colorization workload went from 10 to 78 images/s on one thread with
// GODEBUG=asyncpreemptoff=1. Training loops reach preemption points often
// enough without it.
func quietPreemption() {
	debug := os.Getenv("GODEBUG")
	if strings.Contains(debug, "asyncpreemptoff=") {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	if debug != "" {
		debug += ","
	}
	env := append(os.Environ(), "GODEBUG="+debug+"asyncpreemptoff=1")
	syscall.Exec(exe, os.Args, env) // returns only on failure: carry on as is
}
