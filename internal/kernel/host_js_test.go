//go:build js && wasm

package core

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestGemmSIMDActive makes the simd128 run (PRETEXT_SIMD=1 with
// wasm/exec_node.js, in ./build.sh test) fail rather than silently test
// gemmPortable alone when the kernel did not load. The kernel's results
// are checked with every other kernel's, bit for bit, in
// gemm_correct_test.go.
func TestGemmSIMDActive(t *testing.T) {
	if os.Getenv("PRETEXT_SIMD") == "1" {
		// Look at the kernel's file (wasm/exec_node.js loads the same) so
		// that go test's cache notices a rebuilt kernel.
		file := os.Getenv("PRETEXT_GEMM_WASM")
		if file == "" {
			file = filepath.Join("..", "web", "gemm.wasm")
		}
		if _, err := os.Stat(file); err != nil {
			t.Fatalf("PRETEXT_SIMD=1: %v (./build.sh builds it)", err)
		}
	}
	if gemmSIMDLoaded() {
		if gemmSelect() != &gemmWasmSIMD {
			t.Errorf("the simd128 kernel is loaded but Gemm uses %s", gemmSelect().name)
		}
		return
	}
	if os.Getenv("PRETEXT_SIMD") == "1" {
		t.Fatal("PRETEXT_SIMD=1 but the simd128 kernel is not loaded (run the tests with -exec=wasm/exec_node.js after ./build.sh)")
	}
	t.Skip("no simd128 kernel (PRETEXT_SIMD=1 with -exec=wasm/exec_node.js loads it)")
}

// TestGemmSIMDSteadyStateAllocs checks that a call into the kernel does not
// allocate (arguments to JavaScript are converted on the stack).
func TestGemmSIMDSteadyStateAllocs(t *testing.T) {
	if !gemmSIMDLoaded() {
		t.Skip("no simd128 kernel")
	}
	a, b, c := gemmRand(4*16, 1), gemmRand(8*16, 2), make([]float32, 4*8)
	if n := testing.AllocsPerRun(100, func() { gemmSIMDBlock(16, a, b, c, 8, 1, 1, false) }); n != 0 {
		t.Errorf("a block call allocates %v times", n)
	}
}

// TestGemmSIMDPack: the simd128 packing writes what gemmPack writes, for
// both layouts, panel widths 4 and 8, k not a multiple of 4 and a partial
// last panel, from inside a larger matrix.
func TestGemmSIMDPack(t *testing.T) {
	if !gemmSIMDLoaded() || !gemmSIMD.pack {
		if os.Getenv("PRETEXT_SIMD") == "1" {
			t.Fatal("PRETEXT_SIMD=1 but the simd128 kernel has no packing functions")
		}
		t.Skip("no simd128 packing")
	}
	for _, w := range []int{4, 8} {
		for _, alongX := range []bool{true, false} {
			for _, kc := range []int{1, 3, 4, 7, 16, 29} {
				for _, nx := range []int{w, 2*w + 3, 5 * w} {
					const p0, x0 = 2, 5
					ld := 70
					src := gemmRand(ld*80, uint32(kc*nx+w))
					want := make([]float32, kc*gemmRoundUp(nx, w))
					got := make([]float32, len(want))
					for i := range got {
						got[i] = float32(i) // garbage the pack must overwrite
					}
					gemmPack(want, src, ld, alongX, p0, kc, x0, nx, w)
					gemmSIMDPack(got, src, ld, alongX, p0, kc, x0, nx, w)
					for i := range want {
						if got[i] != want[i] {
							t.Fatalf("w=%d alongX=%v kc=%d nx=%d: value %d is %v, gemmPack wrote %v", w, alongX, kc, nx, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
	dst, src := make([]float32, 8*16), gemmRand(16*16, 3)
	if n := testing.AllocsPerRun(100, func() { gemmSIMDPack(dst, src, 16, true, 0, 16, 0, 8, 8) }); n != 0 {
		t.Errorf("a pack call allocates %v times", n)
	}
}

// TestBNSIMD: the simd128 batch-norm loops give their Go twins' bits, for
// rows of every length modulo 4, with and without the fused ReLU, on
// values that include zeros of both signs.
func TestBNSIMD(t *testing.T) {
	if !bnSIMDLoaded() {
		if os.Getenv("PRETEXT_SIMD") == "1" {
			t.Fatal("PRETEXT_SIMD=1 but the simd128 kernel has no batch-norm loops")
		}
		t.Skip("no simd128 batch-norm loops")
	}
	same32 := func(a, b []float32) int {
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				return i
			}
		}
		return -1
	}
	for _, n := range []int{64, 65, 66, 67, 1000, 4099} {
		x, dy := gemmRand(n, uint32(n)), gemmRand(n, uint32(n+1))
		x[3], x[5] = 0, float32(math.Copysign(0, -1))
		y := make([]float32, n)
		bnNormalizeGo(y, x, 0.1, 1.5, -0.2, true) // a ReLU output: zeros where masked
		for _, relu := range []bool{false, true} {
			got, want := make([]float32, n), make([]float32, n)
			if !bnSIMDNormalize(got, x, 0.1, 1.5, -0.2, relu) {
				t.Fatal("bnSIMDNormalize declined")
			}
			bnNormalizeGo(want, x, 0.1, 1.5, -0.2, relu)
			if i := same32(got, want); i >= 0 {
				t.Errorf("n=%d relu=%v: normalize[%d] = %v, Go %v", n, relu, i, got[i], want[i])
			}
			if !bnSIMDGradX(got, x, dy, y, 0.1, 1.3, 0.02, -0.01, relu) {
				t.Fatal("bnSIMDGradX declined")
			}
			bnGradXGo(want, x, dy, y, 0.1, 1.3, 0.02, -0.01, relu)
			if i := same32(got, want); i >= 0 {
				t.Errorf("n=%d relu=%v: grad x[%d] = %v, Go %v", n, relu, i, got[i], want[i])
			}
			s, p, ok := bnSIMDGradSums(x, dy, y, 0.1, relu)
			ws, wp := bnGradSumsGo(x, dy, y, 0.1, relu)
			if !ok || s != ws || p != wp {
				t.Errorf("n=%d relu=%v: grad sums %v %v (%v), Go %v %v", n, relu, s, p, ok, ws, wp)
			}
		}
		s, q, ok := bnSIMDSums(x, 0.3)
		ws, wq := bnSumsGo(x, 0.3)
		if !ok || s != ws || q != wq {
			t.Errorf("n=%d: sums %v %v (%v), Go %v %v", n, s, q, ok, ws, wq)
		}
	}
}
