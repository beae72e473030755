//go:build !(goexperiment.simd && amd64 && unix)

package main

// quietPreemption is needed only in the GOEXPERIMENT=simd build (see
// simd_amd64.go).
func quietPreemption() {}
