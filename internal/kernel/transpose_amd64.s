//go:build amd64 && !purego

#include "textflag.h"

// func transpose8AVX(dst *float32, ldd int, src *float32, lds int, nb int)
//
// Transposes nb 8x8 blocks side by side: dst[(8b+j)*ldd+i] = src[i*lds+8b+j]
// for b < nb and i, j < 8. Each block's rows are unpacked in pairs,
// shuffled in fours and their 128-bit halves swapped.
TEXT ·transpose8AVX(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), DX
	MOVQ src+16(FP), SI
	MOVQ lds+24(FP), CX
	MOVQ nb+32(FP), R10
	SHLQ $2, DX
	SHLQ $2, CX
	LEAQ (CX)(CX*2), R8  // 3 source rows
	LEAQ (DX)(DX*2), R11 // 3 destination rows
	TESTQ R10, R10
	JLE transpose_done
transpose_block:
	LEAQ (SI)(CX*4), R9  // source row 4
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(CX*1), Y1
	VMOVUPS (SI)(CX*2), Y2
	VMOVUPS (SI)(R8*1), Y3
	VMOVUPS (R9), Y4
	VMOVUPS (R9)(CX*1), Y5
	VMOVUPS (R9)(CX*2), Y6
	VMOVUPS (R9)(R8*1), Y7
	// t = a0 b0 a1 b1 | a4 b4 a5 b5, and the high pairs.
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15
	// s = a0 b0 c0 d0 | a4 b4 c4 d4, ...
	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7
	// out j: the low halves for j < 4, the high ones after.
	LEAQ (DI)(DX*4), R9
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, (DI)(DX*1)
	VMOVUPS Y10, (DI)(DX*2)
	VMOVUPS Y11, (DI)(R11*1)
	VMOVUPS Y12, (R9)
	VMOVUPS Y13, (R9)(DX*1)
	VMOVUPS Y14, (R9)(DX*2)
	VMOVUPS Y15, (R9)(R11*1)
	ADDQ $32, SI
	LEAQ (R9)(DX*4), DI
	DECQ R10
	JNZ transpose_block
transpose_done:
	VZEROUPPER
	RET

// func packRowsAVX(dst, src *float32, ld, kc, np, w int)
//
// Deals kc rows of np*w values out to np panels of kc rows of w values:
// dst[x*kc*w+p*w+j] = src[p*ld+x*w+j] for p < kc, x < np, j < w, w a
// multiple of 8. Row after row, so the source streams through once.
TEXT ·packRowsAVX(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), DX
	MOVQ kc+24(FP), CX
	MOVQ np+32(FP), R8
	MOVQ w+40(FP), R9
	SHLQ $2, DX          // source row stride in bytes
	SHLQ $2, R9          // panel row in bytes
	MOVQ R9, R10
	IMULQ CX, R10        // panel in bytes
	TESTQ CX, CX
	JLE pack_done
	TESTQ R8, R8
	JLE pack_done
pack_row:
	MOVQ SI, R11         // source
	MOVQ DI, R12         // destination: this row of panel 0
	MOVQ R8, R13
pack_panel:
	XORQ AX, AX
pack_vec:
	VMOVUPS (R11)(AX*1), Y0
	VMOVUPS Y0, (R12)(AX*1)
	ADDQ $32, AX
	CMPQ AX, R9
	JLT pack_vec
	ADDQ R9, R11
	ADDQ R10, R12
	DECQ R13
	JNZ pack_panel
	ADDQ DX, SI
	ADDQ R9, DI
	DECQ CX
	JNZ pack_row
pack_done:
	VZEROUPPER
	RET
