//go:build js && wasm

package core

import (
	"os"
	"testing"

	"github.com/pretextlab/pretext/internal/kernel"
	"github.com/pretextlab/pretext/internal/kernel/jshost"
)

// simdErr installs web/gemm.wat's simd128 kernels before any test runs,
// as wasm/main.go does, when the host loaded them (PRETEXT_SIMD=1 with
// wasm/exec_node.js, in ./build.sh test): core's tests then run on them.
var simdErr = jshost.Install()

// TestSIMDKernels makes that run fail, rather than silently test the Go
// kernels, when the simd128 kernels are not in use.
func TestSIMDKernels(t *testing.T) {
	if os.Getenv("PRETEXT_SIMD") != "1" {
		t.Skipf("no simd128 kernels (%v); PRETEXT_SIMD=1 with -exec=wasm/exec_node.js loads them", simdErr)
	}
	if simdErr != nil {
		t.Fatalf("PRETEXT_SIMD=1 but the simd128 kernels are not installed: %v", simdErr)
	}
	if kernels, err := kernel.SelfCheck(); err != nil || kernels[0] != "simd4x8" {
		t.Fatalf("PRETEXT_SIMD=1 but the kernel check gives %v, %v; want simd4x8 first", kernels, err)
	}
}
