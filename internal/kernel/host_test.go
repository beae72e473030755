package kernel

import (
	"math"
	"strings"
	"testing"
)

// goHost is a Host made of Go twins. Where no real host is installed (every
// build but js/wasm with the simd128 kernels loaded), the tests run it in
// its place, so that Gemm's host path (block calls, edge tiles, packing
// through the host, the extent checks) and the batch-norm dispatch are
// tested in every build.
var goHost = Host{
	Name: "gohost4x8", MR: 4, NR: 8,
	Block: func(kc int, a, b, c []float32, ldc, mp, np int, load bool) {
		for i := range mp {
			gemmKernel4x8(kc, a[i*kc*4:], b, c[i*4*ldc:], ldc, np, load)
		}
	},
	PackCopy: func(dst, src []float32, ld, kc, panels, w int) {
		gemmPack(dst, src, ld, true, 0, kc, 0, panels*w, w)
	},
	PackTrans: func(dst, src []float32, ld, kc, panels, w int) {
		gemmPack(dst, src, ld, false, 0, kc, 0, panels*w, w)
	},
	BNNormalize: bnNormalizeGo, BNGradX: bnGradXGo, BNGradSums: bnGradSumsGo, BNSums: bnSumsGo,
}

var goHostKernels = func() *hostKernels {
	h, err := newHostKernels(goHost)
	if err != nil {
		panic(err)
	}
	return h
}()

// testHost returns the installed host's kernels, or else goHost's.
func testHost() *hostKernels {
	if h := installed.Load(); h != nil {
		return h
	}
	return goHostKernels
}

// testKernels lists the kernels the GEMM tests run: the build's, and a
// host's (the installed one, or goHost's).
func testKernels() []*gemmKernel {
	ks := gemmKernels()
	if installed.Load() == nil {
		ks = append(ks, goHostKernels.gemm)
	}
	return ks
}

// TestInstall: Install refuses a host that lacks a function or has another
// tile, and then leaves the kernels as they were.
func TestInstall(t *testing.T) {
	before := installed.Load()
	noBN := goHost
	noBN.BNSums = nil
	wide := goHost
	wide.NR = 16
	for _, tc := range []struct {
		name string
		h    Host
		want string
	}{
		{"empty", Host{}, "tile"},
		{"no bn_sums", noBN, "lacks"},
		{"4x16", wide, "4x16 tile"},
	} {
		if err := Install(tc.h); err == nil || !strings.HasPrefix(err.Error(), "kernel: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Install gives %v, want a kernel: error containing %q", tc.name, err, tc.want)
		}
	}
	if installed.Load() != before {
		t.Error("a refused host was installed")
	}
}

// TestInstallSelects: once a host is installed, Gemm uses its kernel and
// SelfCheck names it first; the batch-norm loops call it for rows of
// hostMinRow values or more, and never for shorter ones.
func TestInstallSelects(t *testing.T) {
	calls := 0
	counting := goHost
	counting.Name = ""
	counting.BNSums = func(row []float32, shift float64) (float64, float64) {
		calls++
		return bnSumsGo(row, shift)
	}
	counting.BNNormalize = func(out, x []float32, mu, a, b float32, relu bool) {
		calls++
		bnNormalizeGo(out, x, mu, a, b, relu)
	}
	counting.BNGradX = func(out, x, dy, y []float32, mu, k, c2, c1 float32, relu bool) {
		calls++
		bnGradXGo(out, x, dy, y, mu, k, c2, c1, relu)
	}
	counting.BNGradSums = func(x, dy, y []float32, mu float32, relu bool) (float64, float64) {
		calls++
		return bnGradSumsGo(x, dy, y, mu, relu)
	}
	defer installed.Store(installed.Load())
	if err := Install(counting); err != nil {
		t.Fatal(err)
	}
	if k := gemmSelect(); k != installed.Load().gemm || k.name != "host4x8" {
		t.Errorf("Gemm uses %s, want the installed host4x8", k.name)
	}
	if names, err := SelfCheck(); err != nil || names[0] != "host4x8" {
		t.Errorf("SelfCheck gives %v, %v; want host4x8 first", names, err)
	}
	for _, n := range []int{1, hostMinRow - 1, hostMinRow, 1000} {
		x := gemmRand(n, 1)
		out := make([]float32, n)
		calls = 0
		BNSums(x, 0)
		BNNormalize(out, x, 0, 1, 0, true)
		BNGradSums(x, x, out, 0, true)
		BNGradX(out, x, x, out, 0, 1, 0, 0, true)
		if want := 4 * btoi(n >= hostMinRow); calls != want {
			t.Errorf("rows of %d: %d calls into the host, want %d", n, calls, want)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestHostBlockAllocs checks that a call into the host's block kernel does
// not allocate (on js/wasm, arguments to JavaScript are converted on the
// stack).
func TestHostBlockAllocs(t *testing.T) {
	h := testHost()
	a, b, c := gemmRand(4*16, 1), gemmRand(8*16, 2), make([]float32, 4*8)
	if n := testing.AllocsPerRun(100, func() { h.block(16, a, b, c, 8, 1, 1, false) }); n != 0 {
		t.Errorf("%s: a block call allocates %v times", h.gemm.name, n)
	}
}

// TestHostBlockChecks: a block whose slices are too short for it panics
// before the host sees it.
func TestHostBlockChecks(t *testing.T) {
	h := testHost()
	a, b, c := gemmRand(4*16, 1), gemmRand(8*16, 2), make([]float32, 4*8)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"short c", func() { h.block(16, a, b, c[:31], 8, 1, 1, false) }},
		{"narrow ldc", func() { h.block(16, a, b, c, 7, 1, 1, false) }},
		{"short a", func() { h.block(17, a, b, c, 8, 1, 1, false) }},
		{"two panels of b", func() { h.block(16, a, b, c, 16, 1, 2, false) }},
	} {
		func() {
			defer func() {
				if msg, _ := recover().(string); !strings.HasPrefix(msg, "kernel: host block") {
					t.Errorf("%s: panic %q, want kernel: host block ...", tc.name, msg)
				}
			}()
			tc.f()
		}()
	}
}

// TestHostPack: the host's packing writes what gemmPack writes, for both
// layouts, panel widths 4 and 8, k not a multiple of 4 and a partial last
// panel, from inside a larger matrix.
func TestHostPack(t *testing.T) {
	h := testHost()
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
					h.pack(got, src, ld, alongX, p0, kc, x0, nx, w)
					for i := range want {
						if got[i] != want[i] {
							t.Fatalf("%s: w=%d alongX=%v kc=%d nx=%d: value %d is %v, gemmPack wrote %v", h.gemm.name, w, alongX, kc, nx, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
	dst, src := make([]float32, 8*16), gemmRand(16*16, 3)
	if n := testing.AllocsPerRun(100, func() { h.pack(dst, src, 16, true, 0, 16, 0, 8, 8) }); n != 0 {
		t.Errorf("%s: a pack call allocates %v times", h.gemm.name, n)
	}
}

// TestHostBN: the host's batch-norm loops give their Go twins' bits, for
// rows of every length modulo 4, with and without the fused ReLU, on values
// that include zeros of both signs.
func TestHostBN(t *testing.T) {
	h := testHost()
	for _, n := range []int{64, 65, 66, 67, 1000, 4099} {
		x, dy := gemmRand(n, uint32(n)), gemmRand(n, uint32(n+1))
		x[3], x[5] = 0, float32(math.Copysign(0, -1))
		y := make([]float32, n)
		bnNormalizeGo(y, x, 0.1, 1.5, -0.2, true) // a ReLU output: zeros where masked
		for _, relu := range []bool{false, true} {
			got, want := make([]float32, n), make([]float32, n)
			h.BNNormalize(got, x, 0.1, 1.5, -0.2, relu)
			bnNormalizeGo(want, x, 0.1, 1.5, -0.2, relu)
			if i := firstDiff(got, want); i >= 0 {
				t.Errorf("%s: n=%d relu=%v: normalize[%d] = %v, Go %v", h.gemm.name, n, relu, i, got[i], want[i])
			}
			h.BNGradX(got, x, dy, y, 0.1, 1.3, 0.02, -0.01, relu)
			bnGradXGo(want, x, dy, y, 0.1, 1.3, 0.02, -0.01, relu)
			if i := firstDiff(got, want); i >= 0 {
				t.Errorf("%s: n=%d relu=%v: grad x[%d] = %v, Go %v", h.gemm.name, n, relu, i, got[i], want[i])
			}
			s, p := h.BNGradSums(x, dy, y, 0.1, relu)
			ws, wp := bnGradSumsGo(x, dy, y, 0.1, relu)
			if s != ws || p != wp {
				t.Errorf("%s: n=%d relu=%v: grad sums %v %v, Go %v %v", h.gemm.name, n, relu, s, p, ws, wp)
			}
		}
		s, q := h.BNSums(x, 0.3)
		ws, wq := bnSumsGo(x, 0.3)
		if s != ws || q != wq {
			t.Errorf("%s: n=%d: sums %v %v, Go %v %v", h.gemm.name, n, s, q, ws, wq)
		}
	}
}

// firstDiff returns the first index where a and b differ in their bits, or
// -1.
func firstDiff(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}
