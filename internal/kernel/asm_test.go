package kernel_test

import (
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/cpu"

	"github.com/pretextlab/pretext/internal/kernel"
)

// TestAsmActive makes a run that asks for the amd64 assembly kernels
// (PRETEXT_ASM=1, as .ci/run sets) fail rather than silently test the
// pure-Go kernel alone, as TestSIMDActive does for js/wasm's simd128: Gemm
// must use the fastest kernel gemm_amd64.go selects for this CPU, AVX-512
// where it has AVX-512F, else AVX2 with FMA, and that kernel must pass
// SelfCheck. Built with -tags purego, which leaves the assembly out, it
// fails when asked.
func TestAsmActive(t *testing.T) {
	if os.Getenv("PRETEXT_ASM") != "1" {
		t.Skip("PRETEXT_ASM=1 asks for the amd64 assembly kernels")
	}
	if runtime.GOARCH != "amd64" {
		t.Skipf("the assembly kernels asked for by PRETEXT_ASM=1 are amd64's; this is %s", runtime.GOARCH)
	}
	var want string
	switch {
	case cpu.X86.HasAVX512F && cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		want = "avx512x8x32"
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		want = "avx2x6x16"
	default:
		t.Fatal("PRETEXT_ASM=1 but this CPU has neither AVX-512F nor AVX2 with FMA")
	}
	kernels, err := kernel.SelfCheck()
	if err != nil {
		t.Fatal(err)
	}
	if kernels[0] != want {
		t.Errorf("PRETEXT_ASM=1: Gemm uses %s (of %v), want the assembly kernel %s (built with -tags purego?)", kernels[0], kernels, want)
	}
}
