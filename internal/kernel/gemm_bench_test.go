package kernel

import (
	"fmt"
	"testing"
)

// gemmBenchShapes are the products of the RS training workload at batch 64
// (channel-major activations; a conv is W[Cout, Cin*9] x im2col[Cin*9, N*H*W]
// on 32x32, 16x16 and 8x8 maps), plus a square reference.
var gemmBenchShapes = []struct {
	name           string
	transA, transB bool
	m, n, k        int
}{
	{"conv1_fwd", false, false, 32, 65536, 27},
	{"conv2_fwd", false, false, 64, 16384, 288},
	{"conv3_fwd", false, false, 128, 4096, 576},
	{"conv1_dW", false, true, 32, 27, 65536}, // dW = dY·colᵀ
	{"conv2_dW", false, true, 64, 288, 16384},
	{"conv3_dW", false, true, 128, 576, 4096},
	{"conv2_dcol", true, false, 288, 16384, 64}, // dcol = Wᵀ·dY
	{"conv3_dcol", true, false, 576, 4096, 128},
	{"square256", false, false, 256, 256, 256},
}

// BenchmarkGemm measures Gemm (the kernel the build selects) on the RS
// shapes; run it with -cpu 1,2 to see the threading.
func BenchmarkGemm(b *testing.B) {
	// Warm up first: on js/wasm, V8 runs the kernel's baseline code until
	// its optimized code is ready, which would slow the first shape down.
	x, y := gemmRand(256*256, 3), make([]float32, 256*256)
	for range 20 {
		Gemm(false, false, 256, 256, 256, x, 256, x, 256, 0, y, 256)
	}
	for _, s := range gemmBenchShapes {
		b.Run(fmt.Sprintf("%s_m%d_n%d_k%d", s.name, s.m, s.n, s.k), func(b *testing.B) {
			gemmBench(b, nil, s.transA, s.transB, s.m, s.n, s.k)
		})
	}
}

// BenchmarkGemmKernels compares every kernel of the build (on amd64: the
// AVX-512 and AVX2 ones the CPU can run and the pure-Go fallback; in
// js/wasm run by wasm/exec_node.js with PRETEXT_SIMD=1: the simd128 one and
// the pure-Go one).
func BenchmarkGemmKernels(b *testing.B) {
	for _, kern := range gemmKernels() {
		for _, s := range gemmBenchShapes {
			b.Run(kern.name+"/"+s.name, func(b *testing.B) {
				gemmBench(b, kern, s.transA, s.transB, s.m, s.n, s.k)
			})
		}
	}
}

func gemmBench(b *testing.B, kern *gemmKernel, transA, transB bool, m, n, k int) {
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	a, bb, c := gemmRand(m*k, 1), gemmRand(k*n, 2), make([]float32, m*n)
	b.ReportAllocs()
	b.ResetTimer()
	// A b.N loop, not b.Loop: a b.Loop sub-benchmark runs to completion in
	// its first call, before "go test -cpu 1,2" sets GOMAXPROCS for it, so
	// every -cpu value would run with the same thread count.
	for range b.N {
		if kern == nil {
			Gemm(transA, transB, m, n, k, a, lda, bb, ldb, 0, c, n)
		} else {
			gemm(kern, transA, transB, m, n, k, a, lda, bb, ldb, 0, c, n)
		}
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
