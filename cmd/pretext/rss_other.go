//go:build !unix

package main

// peakRSS is 0 where the system does not report it (js/wasm, Windows).
func peakRSS() int64 { return 0 }
