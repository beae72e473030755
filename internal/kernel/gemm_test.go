package kernel

import (
	"fmt"
	"hash/fnv"
	"math"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// gemmCase is one Gemm call with operands stored with padded strides.
type gemmCase struct {
	transA, transB bool
	m, n, k        int
	lda, ldb, ldc  int
	beta           float32
	a, b, c        []float32
}

func gemmNewCase(transA, transB bool, m, n, k, pad int, beta float32, seed uint32) *gemmCase {
	t := &gemmCase{transA: transA, transB: transB, m: m, n: n, k: k, beta: beta}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	t.lda, t.ldb, t.ldc = ac+pad, bc+2*pad, n+3*pad
	t.a = gemmRand(max(ar*t.lda, 1), seed)
	t.b = gemmRand(max(br*t.ldb, 1), seed+1)
	t.c = gemmRand(max(m*t.ldc, 1), seed+2)
	return t
}

func (t *gemmCase) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d lda=%d ldb=%d ldc=%d beta=%v", t.transA, t.transB, t.m, t.n, t.k, t.lda, t.ldb, t.ldc, t.beta)
}

func (t *gemmCase) opA(i, p int) float32 {
	if t.transA {
		return t.a[p*t.lda+i]
	}
	return t.a[i*t.lda+p]
}

func (t *gemmCase) opB(p, j int) float32 {
	if t.transB {
		return t.b[j*t.ldb+p]
	}
	return t.b[p*t.ldb+j]
}

// run returns C after Gemm with kernel kern (nil: the public Gemm).
func (t *gemmCase) run(kern *gemmKernel) []float32 {
	c := append([]float32(nil), t.c...)
	if kern == nil {
		Gemm(t.transA, t.transB, t.m, t.n, t.k, t.a, t.lda, t.b, t.ldb, t.beta, c, t.ldc)
	} else {
		gemm(kern, t.transA, t.transB, t.m, t.n, t.k, t.a, t.lda, t.b, t.ldb, t.beta, c, t.ldc)
	}
	return c
}

// plain32 is the loop every exact kernel must reproduce bit for bit. The
// float32 conversion forbids fusing the multiply into the add.
func (t *gemmCase) plain32() []float32 {
	c := append([]float32(nil), t.c...)
	for i := range t.m {
		for j := range t.n {
			acc := t.beta * c[i*t.ldc+j]
			if t.beta == 0 {
				acc = 0
			}
			for p := range t.k {
				acc += float32(t.opA(i, p) * t.opB(p, j))
			}
			c[i*t.ldc+j] = acc
		}
	}
	return c
}

// check compares got with a float64 reference, allowing the classic error
// bound of a float32 sum of k+1 rounded terms, (k+2)·2⁻²³·Σ|terms| (a
// relative 1e-7 to 3e-5 for k from 1 to 257; fused multiply-adds only do
// better), and checks that the padding between rows of C is untouched.
func (t *gemmCase) check(tb testing.TB, what string, got []float32) {
	tb.Helper()
	const eps = 1.0 / (1 << 23)
	bad := 0
	for i := range t.m {
		for j := range t.n {
			var ref, mag float64
			if t.beta != 0 {
				ref = float64(t.beta) * float64(t.c[i*t.ldc+j])
				mag = math.Abs(ref)
			}
			for p := range t.k {
				x := float64(t.opA(i, p)) * float64(t.opB(p, j))
				ref += x
				mag += math.Abs(x)
			}
			g := float64(got[i*t.ldc+j])
			if tol := float64(t.k+2) * eps * mag; !(math.Abs(g-ref) <= tol) {
				if bad++; bad <= 3 {
					tb.Errorf("%s %v: C[%d][%d] = %v, want %v ± %.3g", what, t, i, j, g, ref, tol)
				}
			}
		}
		for j := t.n; j < t.ldc && i*t.ldc+j < len(got); j++ {
			if math.Float32bits(got[i*t.ldc+j]) != math.Float32bits(t.c[i*t.ldc+j]) {
				tb.Fatalf("%s %v: wrote padding C[%d][%d]", what, t, i, j)
			}
		}
	}
}

func gemmSameBits(x, y []float32) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
			return false
		}
	}
	return true
}

var gemmSizes = []int{1, 2, 3, 5, 7, 17, 33, 64, 100, 257}

// TestGemmShapes runs every kernel of this build on many odd shapes, all four
// transpose combinations, padded strides and beta 0 and 1.
func TestGemmShapes(t *testing.T) {
	sizes := gemmSizes
	if testing.Short() {
		sizes = []int{1, 3, 7, 33, 100}
	}
	for _, kern := range testKernels() {
		t.Run(kern.name, func(t *testing.T) {
			seed := uint32(1)
			for _, m := range sizes {
				for _, n := range sizes {
					for _, k := range sizes {
						for tr := range 4 {
							seed++
							pad := int(seed % 3)
							beta := float32(seed % 2)
							tc := gemmNewCase(tr&1 != 0, tr&2 != 0, m, n, k, pad, beta, seed)
							got := tc.run(kern)
							tc.check(t, kern.name, got)
							if kern.exact && !gemmSameBits(got, tc.plain32()) {
								t.Fatalf("%s %v: not bit-identical to the plain float32 loop", kern.name, tc)
							}
							if t.Failed() {
								return
							}
						}
					}
				}
			}
		})
	}
}

// TestGemmBlocks crosses the cache-block boundaries (k > kc, n > nc) and
// exercises beta other than 0 and 1, and k = 0. -short keeps no transpose
// and both (each operand packed both ways) and beta 0 and 0.5.
func TestGemmBlocks(t *testing.T) {
	type shape struct{ m, n, k int }
	shapes := []shape{{3, 4100, 5}, {300, 9, 600}, {130, 70, 1030}, {5, 3, 0}, {1, 1, 2000}, {257, 2051, 3}}
	transposes, betas := []int{0, 1, 2, 3}, []float32{0, 1, 0.5}
	if testing.Short() {
		transposes, betas = []int{0, 3}, []float32{0, 0.5}
	}
	for _, kern := range testKernels() {
		for i, s := range shapes {
			for _, tr := range transposes {
				for _, beta := range betas {
					tc := gemmNewCase(tr&1 != 0, tr&2 != 0, s.m, s.n, s.k, 1, beta, uint32(100+i))
					got := tc.run(kern)
					tc.check(t, kern.name, got)
					if kern.exact && !gemmSameBits(got, tc.plain32()) {
						t.Fatalf("%s %v: not bit-identical to the plain float32 loop", kern.name, tc)
					}
				}
			}
		}
	}
}

// TestGemmBetaZeroIgnoresC checks that beta=0 overwrites C without reading
// it, so NaN garbage in a fresh buffer does not leak into the result.
func TestGemmBetaZeroIgnoresC(t *testing.T) {
	for _, kern := range testKernels() {
		tc := gemmNewCase(false, false, 9, 11, 13, 0, 0, 7)
		for i := range tc.c {
			tc.c[i] = float32(math.NaN())
		}
		tc.check(t, kern.name, tc.run(kern))
	}
}

// TestGemmThreads checks that the result does not depend on the number of
// goroutines, for shapes split along n and along m.
func TestGemmThreads(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, kern := range testKernels() {
		for i, s := range [][3]int{{32, 3001, 27}, {64, 288, 700}, {577, 40, 129}, {100, 100, 100}} {
			for tr := range 4 {
				tc := gemmNewCase(tr&1 != 0, tr&2 != 0, s[0], s[1], s[2], 1, float32(tr%2), uint32(200+i))
				var ref []float32
				for _, procs := range []int{1, 2, 3, 4} {
					runtime.GOMAXPROCS(procs)
					got := tc.run(kern)
					if ref == nil {
						ref = got
					} else if !gemmSameBits(got, ref) {
						t.Fatalf("%s %v: GOMAXPROCS=%d differs from GOMAXPROCS=1", kern.name, tc, procs)
					}
				}
			}
		}
	}
}

// TestGemmSteadyStateAllocs checks that once the packing buffers are pooled,
// a call allocates only its small bookkeeping (the arguments and closure
// shared by its goroutines), not packing buffers.
func TestGemmSteadyStateAllocs(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // a GC empties the pool
	// sync.Pool is per P: with several, a goroutine may land on a P whose
	// pool is empty and allocate, which makes the count flaky.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	tc := gemmNewCase(false, true, 64, 300, 700, 0, 0, 9)
	c := make([]float32, len(tc.c))
	call := func() {
		Gemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.a, tc.lda, tc.b, tc.ldb, 0, c, tc.ldc)
	}
	for range 3 {
		call()
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const calls = 20
	for range calls {
		call()
	}
	runtime.ReadMemStats(&after)
	perCall := (after.TotalAlloc - before.TotalAlloc) / calls
	t.Logf("%d bytes in %d objects per call", perCall, (after.Mallocs-before.Mallocs)/calls)
	if perCall > 1024 {
		t.Errorf("Gemm allocates %d bytes per call in steady state, want at most 1024", perCall)
	}
}

// gemmGolden is an FNV-1a hash of the bits Gemm returns in TestGemmGolden.
// Every exact kernel of every build (the native 4x2, the js/wasm 8x8, the
// host kernels: js/wasm's simd128 4x8 one, and testHost's)
// must produce it, since they all compute the plain loop's sums; a change
// here means results are no longer reproducible across builds.
const gemmGolden = 0xc69d78d4b75c628e

func TestGemmGolden(t *testing.T) {
	for _, kern := range testKernels() {
		if !kern.exact {
			continue
		}
		h := fnv.New64a()
		var buf [4]byte
		for i, s := range [][3]int{{33, 65, 300}, {7, 300, 17}, {64, 64, 64}} {
			for tr := range 4 {
				tc := gemmNewCase(tr&1 != 0, tr&2 != 0, s[0], s[1], s[2], 2, float32(tr/2), uint32(300+i))
				for _, v := range tc.run(kern) {
					b := math.Float32bits(v)
					buf[0], buf[1], buf[2], buf[3] = byte(b), byte(b>>8), byte(b>>16), byte(b>>24)
					h.Write(buf[:])
				}
			}
		}
		if got := h.Sum64(); got != gemmGolden {
			t.Errorf("%s: result hash %#x, want %#x", kern.name, got, uint64(gemmGolden))
		}
	}
}

// TestSelfCheck runs the check the page runs (pretext.kernels).
func TestSelfCheck(t *testing.T) {
	kernels, err := SelfCheck()
	if err != nil {
		t.Fatal(err)
	}
	if len(kernels) != len(gemmKernels()) || kernels[0] != gemmSelect().name {
		t.Errorf("SelfCheck names %v, want the %d kernels of this build, %s first", kernels, len(gemmKernels()), gemmSelect().name)
	}
}

func TestGemmPanics(t *testing.T) {
	a, b, c := make([]float32, 6), make([]float32, 6), make([]float32, 4)
	for _, tc := range []struct {
		name string
		f    func()
		want string
	}{
		{"short A", func() { Gemm(false, false, 2, 2, 3, a[:5], 3, b, 2, 0, c, 2) }, "A is stored as 2 x 3"},
		{"short B", func() { Gemm(false, true, 2, 2, 3, a, 3, b[:5], 3, 0, c, 2) }, "B is stored transposed as 2 x 3"},
		{"short C", func() { Gemm(false, false, 2, 2, 3, a, 3, b, 2, 0, c[:3], 2) }, "C is stored as 2 x 2"},
		{"narrow lda", func() { Gemm(true, false, 2, 2, 3, a, 1, b, 2, 0, c, 2) }, "row stride is 1"},
		{"negative", func() { Gemm(false, false, -1, 2, 3, a, 3, b, 2, 0, c, 2) }, "negative size"},
	} {
		func() {
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, "kernel: ") || !strings.Contains(msg, tc.want) {
					t.Errorf("%s: panic %q, want a kernel: panic containing %q", tc.name, msg, tc.want)
				}
			}()
			tc.f()
		}()
	}
	// Empty products touch nothing.
	Gemm(false, false, 0, 5, 5, nil, 5, nil, 5, 0, nil, 5)
}
