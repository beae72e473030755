//go:build amd64 && !purego

#include "textflag.h"

// The batch-norm row loops of batchnorm.go on AVX2, giving the Go twins'
// bits: the sums keep the twins' four float64 running sums in the four
// lanes of a vector and add values in the same order (lane j takes
// elements j, j+4, j+8, ...); the elementwise loops compute the same
// float32 expression per value, every product rounded (no FMA). Each
// handles the first n values, n a multiple of 4 (sums) or 8 (elementwise);
// the Go wrappers in batchnorm_amd64.go do the rest.

// func bnSumsAVX2(x *float32, n int, shift float64, lanes *[8]float64)
TEXT ·bnSumsAVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	VBROADCASTSD shift+16(FP), Y0
	MOVQ lanes+24(FP), DI
	VXORPD Y1, Y1, Y1 // Σ (x-shift)
	VXORPD Y2, Y2, Y2 // Σ (x-shift)²
	SHRQ $2, CX
	JZ sums_done
sums_loop:
	VCVTPS2PD (SI), Y3
	VSUBPD Y0, Y3, Y3
	VADDPD Y3, Y1, Y1
	VMULPD Y3, Y3, Y4
	VADDPD Y4, Y2, Y2
	ADDQ $16, SI
	DECQ CX
	JNZ sums_loop
sums_done:
	VMOVUPD Y1, (DI)
	VMOVUPD Y2, 32(DI)
	VZEROUPPER
	RET

// func bnGradSumsAVX2(x, dy, y *float32, n int, mean float64, relu bool, lanes *[8]float64)
TEXT ·bnGradSumsAVX2(SB), NOSPLIT, $0-56
	MOVQ x+0(FP), SI
	MOVQ dy+8(FP), BX
	MOVQ y+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSD mean+32(FP), Y0
	MOVBLZX relu+40(FP), R8
	MOVQ lanes+48(FP), DI
	VXORPD Y1, Y1, Y1 // Σ dz
	VXORPD Y2, Y2, Y2 // Σ dz·(x-mean)
	VPXOR X5, X5, X5
	SHRQ $2, CX
	JZ gsums_done
gsums_loop:
	VMOVUPS (BX), X3
	TESTQ R8, R8
	JZ gsums_nomask
	// dz = dy where y's bits are not zero (y = +0 after the ReLU).
	VPCMPEQD (DX), X5, X6
	VPANDN X3, X6, X3
gsums_nomask:
	VCVTPS2PD X3, Y3
	VCVTPS2PD (SI), Y4
	VSUBPD Y0, Y4, Y4
	VADDPD Y3, Y1, Y1
	VMULPD Y4, Y3, Y4
	VADDPD Y4, Y2, Y2
	ADDQ $16, SI
	ADDQ $16, BX
	ADDQ $16, DX
	DECQ CX
	JNZ gsums_loop
gsums_done:
	VMOVUPD Y1, (DI)
	VMOVUPD Y2, 32(DI)
	VZEROUPPER
	RET

// func bnNormalizeAVX2(out, x *float32, n int, mu, a, b float32, relu bool)
TEXT ·bnNormalizeAVX2(SB), NOSPLIT, $0-37
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS mu+24(FP), Y0
	VBROADCASTSS a+28(FP), Y1
	VBROADCASTSS b+32(FP), Y2
	MOVBLZX relu+36(FP), R8
	SHRQ $3, CX
	JZ norm_done
	TESTQ R8, R8
	JNZ norm_relu
norm_loop:
	VMOVUPS (SI), Y3
	VSUBPS Y0, Y3, Y3
	VMULPS Y1, Y3, Y3
	VADDPS Y2, Y3, Y3
	VMOVUPS Y3, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ norm_loop
	JMP norm_done
norm_relu:
	VMOVUPS (SI), Y3
	VSUBPS Y0, Y3, Y3
	VMULPS Y1, Y3, Y3
	VADDPS Y2, Y3, Y3
	// relu32: clear the value where its sign bit is set.
	VPSRAD $31, Y3, Y4
	VPANDN Y3, Y4, Y3
	VMOVUPS Y3, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ norm_relu
norm_done:
	VZEROUPPER
	RET

// func bnGradXAVX2(out, x, dy, y *float32, n int, mu, k, c2, c1 float32, relu bool)
TEXT ·bnGradXAVX2(SB), NOSPLIT, $0-57
	MOVQ out+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ dy+16(FP), BX
	MOVQ y+24(FP), DX
	MOVQ n+32(FP), CX
	VBROADCASTSS mu+40(FP), Y0
	VBROADCASTSS k+44(FP), Y1
	VBROADCASTSS c2+48(FP), Y2
	VBROADCASTSS c1+52(FP), Y3
	MOVBLZX relu+56(FP), R8
	VPXOR Y7, Y7, Y7
	SHRQ $3, CX
	JZ gx_done
gx_loop:
	VMOVUPS (BX), Y4
	TESTQ R8, R8
	JZ gx_nomask
	VPCMPEQD (DX), Y7, Y6
	VPANDN Y4, Y6, Y4
gx_nomask:
	VMULPS Y1, Y4, Y4       // k·dz
	VMOVUPS (SI), Y5
	VSUBPS Y0, Y5, Y5
	VMULPS Y2, Y5, Y5       // (x-mu)·c2
	VSUBPS Y5, Y4, Y4
	VSUBPS Y3, Y4, Y4
	VMOVUPS Y4, (DI)
	ADDQ $32, SI
	ADDQ $32, BX
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNZ gx_loop
gx_done:
	VZEROUPPER
	RET
