//go:build js && wasm

package kernel_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pretextlab/pretext/internal/kernel"
	"github.com/pretextlab/pretext/internal/kernel/jshost"
)

// installErr installs web/gemm.wat's simd128 kernels, when the host loaded
// them (PRETEXT_SIMD=1 with wasm/exec_node.js, in ./build.sh test), before
// any test runs, as wasm/main.go does: every GEMM test then runs them too,
// and the tests of host_test.go check them, bit for bit against their Go
// twins, instead of the Go host that stands in for them elsewhere.
var installErr = jshost.Install()

// TestSIMDActive makes the simd128 run fail rather than silently test the
// Go kernels alone when the simd128 kernels did not load.
func TestSIMDActive(t *testing.T) {
	if os.Getenv("PRETEXT_SIMD") != "1" {
		t.Skipf("no simd128 kernels (%v); PRETEXT_SIMD=1 with -exec=wasm/exec_node.js loads them", installErr)
	}
	// Look at the kernels' file (wasm/exec_node.js loads the same) so that
	// go test's cache notices a rebuilt one.
	file := os.Getenv("PRETEXT_GEMM_WASM")
	if file == "" {
		file = filepath.Join("..", "..", "web", "gemm.wasm")
	}
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("PRETEXT_SIMD=1: %v (./build.sh builds it)", err)
	}
	if installErr != nil {
		t.Fatalf("PRETEXT_SIMD=1 but the simd128 kernels are not installed: %v (run the tests with -exec=wasm/exec_node.js after ./build.sh)", installErr)
	}
	kernels, err := kernel.SelfCheck()
	if err != nil {
		t.Fatal(err)
	}
	if kernels[0] != "simd4x8" {
		t.Errorf("the simd128 kernels are installed but Gemm uses %s", kernels[0])
	}
}
