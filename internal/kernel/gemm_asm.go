//go:build (amd64 || arm64) && !purego

package kernel

import "unsafe"

// unsafeData returns the address of x's first value, or nil for an empty
// slice (the kernels read nothing then: kc is 0).
func unsafeData(x []float32) *float32 { return unsafe.SliceData(x) }
