//go:build js && wasm

// Package jsmem hands Go slices to JavaScript (and to the wasm modules that
// share this module's memory) by their byte offset in that memory, with no
// copy.
//
// Heap memory stays put (Go's collector does not move objects), but a
// goroutine's stack is copied elsewhere when it grows, which a call into
// JavaScript can make happen, or shrinks while the goroutine waits for a
// Promise: a small slice the compiler kept on the caller's stack would then
// be read or written at its old place. Offset makes its argument escape, so
// the compiler puts every slice passed to it on the heap.
package jsmem

import "unsafe"

var (
	sink  any  // never written: its assignment below only makes x escape
	never bool // always false
)

// Offset returns the byte offset of x's first element in this module's
// memory (0 for an empty slice). The caller keeps x alive
// (runtime.KeepAlive) until JavaScript is done with it.
func Offset[T float32 | float64](x []T) uintptr {
	if never {
		sink = x
	}
	return uintptr(unsafe.Pointer(unsafe.SliceData(x)))
}
