//go:build js && wasm

package jsmem

import (
	"testing"
	"unsafe"
)

// TestOffset: the offset is the address of the first element, and of an
// element further in for a subslice.
func TestOffset(t *testing.T) {
	x := make([]float32, 10)
	if Offset(x) != uintptr(unsafe.Pointer(&x[0])) || Offset(x[3:]) != Offset(x)+12 {
		t.Errorf("offsets %d, %d of %p", Offset(x), Offset(x[3:]), &x[0])
	}
	y := make([]float64, 4)
	if Offset(y[1:]) != uintptr(unsafe.Pointer(&y[1])) {
		t.Error("float64 offset")
	}
}
