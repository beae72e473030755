//go:build amd64 && !purego

#include "textflag.h"

// func maxPool2x2RowAVX2(dst *float32, arg *int32, r0, r1 *float32, n8 int, idx *[8]int32, w int)
//
// MaxPool2x2Row for 8*n8 outputs, 8 at a time, with the Go twin's keys
// (as 32-bit integers: every key of a non-NaN value fits, and a NaN's is
// the largest int32) and its choices. idx holds the indices of the first
// eight windows' top-left values (base, base+2, ..., base+14).
TEXT ·maxPool2x2RowAVX2(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ arg+8(FP), R8
	MOVQ r0+16(FP), SI
	MOVQ r1+24(FP), BX
	MOVQ n8+32(FP), CX
	MOVQ idx+40(FP), AX
	VMOVDQU (AX), Y13       // indices of this iteration's windows
	MOVQ w+48(FP), AX
	VMOVD AX, X14
	VPBROADCASTD X14, Y14   // w
	MOVL $0x7fffffff, AX
	VMOVD AX, X15
	VPBROADCASTD X15, Y15   // |x| mask, and a NaN's key
	MOVL $0x7f800000, AX
	VMOVD AX, X12
	VPBROADCASTD X12, Y12   // +Inf's bits
	MOVL $16, AX
	VMOVD AX, X11
	VPBROADCASTD X11, Y11   // 16: the next eight windows
	TESTQ CX, CX
	JLE pool_done
pool_loop:
	// Even and odd columns of r0 (Y0, Y1) and of r1 (Y2, Y3).
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VSHUFPS $0x88, Y5, Y4, Y0
	VSHUFPS $0xDD, Y5, Y4, Y1
	VPERMPD $0xD8, Y0, Y0
	VPERMPD $0xD8, Y1, Y1
	VMOVUPS (BX), Y4
	VMOVUPS 32(BX), Y5
	VSHUFPS $0x88, Y5, Y4, Y2
	VSHUFPS $0xDD, Y5, Y4, Y3
	VPERMPD $0xD8, Y2, Y2
	VPERMPD $0xD8, Y3, Y3
	// Keys of Y0, Y1 into Y4, Y5.
	VPSRAD $31, Y0, Y6
	VPSRLD $1, Y6, Y6
	VPXOR Y6, Y0, Y4
	VPSRLD $31, Y0, Y6
	VPADDD Y6, Y4, Y4
	VPAND Y15, Y0, Y6
	VPCMPGTD Y12, Y6, Y6
	VPBLENDVB Y6, Y15, Y4, Y4
	VPSRAD $31, Y1, Y6
	VPSRLD $1, Y6, Y6
	VPXOR Y6, Y1, Y5
	VPSRLD $31, Y1, Y6
	VPADDD Y6, Y5, Y5
	VPAND Y15, Y1, Y6
	VPCMPGTD Y12, Y6, Y6
	VPBLENDVB Y6, Y15, Y5, Y5
	// Top row: the later one where its key is strictly larger.
	VPCMPGTD Y4, Y5, Y6     // Y6 = key1 > key0
	VPBLENDVB Y6, Y5, Y4, Y4 // top key
	VPBLENDVB Y6, Y1, Y0, Y0 // top value
	VPSRLD $31, Y6, Y7      // its offset: 0 or 1
	// Keys of Y2, Y3 into Y5, Y8.
	VPSRAD $31, Y2, Y6
	VPSRLD $1, Y6, Y6
	VPXOR Y6, Y2, Y5
	VPSRLD $31, Y2, Y6
	VPADDD Y6, Y5, Y5
	VPAND Y15, Y2, Y6
	VPCMPGTD Y12, Y6, Y6
	VPBLENDVB Y6, Y15, Y5, Y5
	VPSRAD $31, Y3, Y6
	VPSRLD $1, Y6, Y6
	VPXOR Y6, Y3, Y8
	VPSRLD $31, Y3, Y6
	VPADDD Y6, Y8, Y8
	VPAND Y15, Y3, Y6
	VPCMPGTD Y12, Y6, Y6
	VPBLENDVB Y6, Y15, Y8, Y8
	// Bottom row.
	VPCMPGTD Y5, Y8, Y6
	VPBLENDVB Y6, Y8, Y5, Y5 // bottom key
	VPBLENDVB Y6, Y3, Y2, Y2 // bottom value
	VPSRLD $31, Y6, Y9
	VPADDD Y14, Y9, Y9      // its offset: w or w+1
	// The bottom one where its key is strictly larger than the top's.
	VPCMPGTD Y4, Y5, Y6
	VPBLENDVB Y6, Y2, Y0, Y0
	VPBLENDVB Y6, Y9, Y7, Y7
	VPADDD Y13, Y7, Y7
	VMOVUPS Y0, (DI)
	VMOVDQU Y7, (R8)
	VPADDD Y11, Y13, Y13
	ADDQ $64, SI
	ADDQ $64, BX
	ADDQ $32, DI
	ADDQ $32, R8
	DECQ CX
	JNZ pool_loop
pool_done:
	VZEROUPPER
	RET
