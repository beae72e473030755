package kernel

//go:generate go run gemm_gen.go

import (
	"fmt"
	"sync"
)

// Gemm computes C = op(A)·op(B) + beta·C for row-major float32 matrices, where
// op(X) is X, or Xᵀ when the matching trans flag is set. C is m x n, op(A) is
// m x k and op(B) is k x n; lda, ldb and ldc are the row strides of A, B and C
// as stored. beta is 0 (overwrite C) or 1 (accumulate into C).
//
// Every element of C is summed over k in increasing order, whatever the
// number of threads, so results are reproducible from run to run. (Other
// values of beta scale C before the sum; with beta=0, C is only written, so
// it may hold garbage such as NaN.) The exact kernels (pure Go, native and
// js/wasm, and js/wasm's simd128 one) give bit-identical results; the
// assembly kernels of amd64 (AVX2 with FMA, AVX-512) and arm64 (NEON) fuse
// each multiply and add, which rounds once instead of twice, so their
// results differ from those in the last bits (and between the two ISAs).
//
// Gemm panics if a size is negative, a stride is narrower than its matrix or
// a slice is too short for the matrix it holds.
func Gemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemmCheck(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	gemm(gemmSelect(), transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc)
}

// How Gemm works (GotoBLAS/BLIS style):
//
//	for jc in steps of nc over the columns of C:
//	  for pc in steps of kc over k:
//	    pack op(B)[pc:pc+kc, jc:jc+nc] into nr-column panels   (stays in L2)
//	    for ir in steps of mr over the rows of C:
//	      pack op(A)[ir:ir+mr, pc:pc+kc] into one panel          (stays in L1)
//	      for jr in steps of nr: micro-kernel → C[ir:ir+mr, jc+jr:jc+jr+nr]
//
// (A kernel with a block function, js/wasm's simd128 one, gets all the A
// panels of its rows packed at once and computes all full tiles of the
// block in one call: a call into JavaScript costs too much to make per row.)
//
// Packing reads A and B once per block in whatever order they are stored, so
// transposed operands cost nothing extra in the kernel, and it zero-pads the
// last panels so that the kernel only ever sees full mr x nr tiles (edge
// tiles of C go through a scratch tile).
//
// Summation order, which makes results deterministic: the kernel keeps one
// accumulator per element of C, starts it from C (beta=1, or any k block
// after the first) or from 0 (beta=0, first k block), and adds the products
// in increasing k. A k block ends by storing the accumulator to C and the
// next one reloads it; that round trip through float32 memory is exact, so
// the result is that of the plain loop
//
//	acc := beta==1 ? C[i][j] : 0
//	for p := 0; p < k; p++ { acc += op(A)[i][p] * op(B)[p][j] }
//
// whatever kc, mr, nr or the thread count are. (Accumulating each k block
// from zero and adding it to C afterwards would make the bits depend on kc,
// which differs between builds.) Threads split C by whole panels of rows or
// columns, never k. An exact kernel rounds every product and every sum (no
// fused multiply-add), so all exact kernels (the native one and the js/wasm
// one) agree bit for bit with that loop and with each other.

// gemmKernel is a micro-kernel and the blocking it is tuned for.
type gemmKernel struct {
	name   string
	mr, nr int // tile of C: A is packed in mr-row panels, B in nr-column panels
	kc     int // k block: a packed A panel stays in L1
	nc     int // columns of B per packed block (multiple of nr): kc*nc values stay in L2
	// aDup is how many copies of each value packA writes (see packA).
	aDup int
	// packA packs an mr x kc panel of op(A) (for a block kernel: all the
	// panels of a run's rows), as gemmPack does with w = mr, except that it
	// writes every value aDup times in a row.
	packA func(dst, src []float32, ld int, alongX bool, p0, kc, x0, nx, w int)
	// packB is gemmPack or a faster equivalent for this kernel's nr.
	packB func(dst, src []float32, ld int, alongX bool, p0, kc, x0, nx, w int)
	// exact reports that fn rounds every product and every sum separately,
	// so that it reproduces the plain loop bit for bit.
	exact bool
	// fn computes nt adjacent mr x nr tiles of C from one packed A panel
	// and nt packed B panels: for t < nt, i < mr, j < nr, with
	// acc = c[i*ldc+t*nr+j] if load, else 0, it adds
	// a[(p*mr+i)*aDup]*b[t*kc*nr+p*nr+j] for p = 0, 1, ..., kc-1 in that
	// order and stores acc back. One call per row of tiles, rather than per
	// tile, keeps call overhead (large on js/wasm) out of small-k products.
	fn func(kc int, a, b, c []float32, ldc, nt int, load bool)
	// block, if not nil, computes every full tile of a packed block in
	// one call, as fn would with nt = np, for each of mp A panels in turn:
	// panel i at a[i*kc*mr:] (aDup must be 1) updates the rows i*mr to
	// i*mr+mr-1 of c. run then packs all A panels of its rows at once and
	// leaves only the edge tiles to fn. It is for kernels whose calls cost
	// much, such as the simd128 one that js/wasm calls through JavaScript.
	block func(kc int, a, b, c []float32, ldc, mp, np int, load bool)
}

// gemmGrain is the least number of multiply-adds worth a goroutine of its
// own: below it, starting and joining the goroutine costs more than it saves.
const gemmGrain = 1 << 17

// gemmWork holds one goroutine's packing buffers. They are recycled through
// gemmPool so that steady-state calls allocate nothing large; the pool (unlike
// a global cache) lets the garbage collector take them back when idle.
type gemmWork struct {
	a, b, tile []float32
}

var gemmPool sync.Pool // of *gemmWork

// gemmGetWork returns buffers of at least na, nb and nt values.
func gemmGetWork(na, nb, nt int) *gemmWork {
	w, _ := gemmPool.Get().(*gemmWork)
	if w == nil {
		w = new(gemmWork)
	}
	if cap(w.a) < na {
		w.a = make([]float32, na)
	}
	if cap(w.b) < nb {
		w.b = make([]float32, nb)
	}
	if cap(w.tile) < nt {
		w.tile = make([]float32, nt)
	}
	return w
}

// gemmCheck panics with a clear message on programmer misuse: negative sizes,
// strides narrower than the rows they hold, or slices too short to hold them.
func gemmCheck(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernel: Gemm with negative size m=%d n=%d k=%d", m, n, k))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if m > 0 && n > 0 && k > 0 {
		gemmCheckOperand("A", transA, a, lda, ar, ac)
		gemmCheckOperand("B", transB, b, ldb, br, bc)
	}
	if m > 0 && n > 0 {
		gemmCheckOperand("C", false, c, ldc, m, n)
	}
}

func gemmCheckOperand(name string, trans bool, x []float32, ld, rows, cols int) {
	how := "stored"
	if trans {
		how = "stored transposed"
	}
	if ld < cols {
		panic(fmt.Sprintf("kernel: Gemm: %s is %s as %d x %d but its row stride is %d", name, how, rows, cols, ld))
	}
	if need := (rows-1)*ld + cols; len(x) < need {
		panic(fmt.Sprintf("kernel: Gemm: %s is %s as %d x %d with row stride %d and needs %d values, has %d", name, how, rows, cols, ld, need, len(x)))
	}
}

// gemmArgs is one Gemm call, shared read-only by its goroutines.
type gemmArgs struct {
	kern           *gemmKernel
	transA, transB bool
	m, n, k        int
	a              []float32
	lda            int
	b              []float32
	ldb            int
	beta           float32
	c              []float32
	ldc            int
}

// gemm is Gemm with the kernel chosen by the caller (tests run every kernel
// the build has). The arguments must have passed gemmCheck.
func gemm(kern *gemmKernel, transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	g := &gemmArgs{kern, transA, transB, m, n, k, a, lda, b, ldb, beta, c, ldc}
	mr, nr := kern.mr, kern.nr
	work := max(k, 1)
	// Split C into whole panels along its longer side. Every goroutine packs
	// the whole of the other operand's side, so this also keeps the repeated
	// packing small.
	if n >= m {
		panels := (n + nr - 1) / nr
		grain := (gemmGrain + m*nr*work - 1) / (m * nr * work)
		ParallelFor(panels, grain, func(lo, hi int) {
			g.run(0, m, lo*nr, min(hi*nr, n))
		})
	} else {
		panels := (m + mr - 1) / mr
		grain := (gemmGrain + n*mr*work - 1) / (n * mr * work)
		ParallelFor(panels, grain, func(lo, hi int) {
			g.run(lo*mr, min(hi*mr, m), 0, n)
		})
	}
}

// run computes the block [i0, i1) x [j0, j1) of C.
func (g *gemmArgs) run(i0, i1, j0, j1 int) {
	kern, k, c, ldc := g.kern, g.k, g.c, g.ldc
	if g.beta != 0 && g.beta != 1 {
		// General beta: scale first, then accumulate as for beta=1.
		for i := i0; i < i1; i++ {
			row := c[i*ldc+j0 : i*ldc+j1]
			for j := range row {
				row[j] *= g.beta
			}
		}
	}
	if k == 0 {
		if g.beta == 0 {
			for i := i0; i < i1; i++ {
				clear(c[i*ldc+j0 : i*ldc+j1])
			}
		}
		return
	}
	mr, nr := kern.mr, kern.nr
	// Split k into equal blocks of at most kern.kc: a short last block would
	// spend the per-block work (packing, C loads and stores) on little
	// computation. Block sizes do not change the results (see above).
	blocks := (k + kern.kc - 1) / kern.kc
	kcMax := (k + blocks - 1) / blocks
	na := kcMax * mr * kern.aDup // one A panel
	if kern.block != nil {
		na = kcMax * gemmRoundUp(i1-i0, mr) // all of them
	}
	w := gemmGetWork(na, kcMax*min(kern.nc, gemmRoundUp(j1-j0, nr)), mr*nr)
	defer gemmPool.Put(w)
	tile := w.tile[:mr*nr]

	for jc := j0; jc < j1; jc += kern.nc {
		nc := min(kern.nc, j1-jc)
		for pc := 0; pc < k; pc += kcMax {
			kc := min(kcMax, k-pc)
			load := pc > 0 || g.beta != 0
			bp := w.b[:kc*gemmRoundUp(nc, nr)]
			// op(B)[p][j] is b[p*ldb+j] (contiguous along j) unless transB.
			kern.packB(bp, g.b, g.ldb, !g.transB, pc, kc, jc, nc, nr)
			if kern.block != nil {
				// Pack every A panel, then all full tiles in one call; the
				// edge tiles follow.
				ap := w.a[:kc*gemmRoundUp(i1-i0, mr)]
				kern.packA(ap, g.a, g.lda, g.transA, pc, kc, i0, i1-i0, mr)
				mp, np := (i1-i0)/mr, nc/nr
				if mp > 0 && np > 0 {
					kern.block(kc, ap, bp, c[i0*ldc+jc:], ldc, mp, np, load)
				}
				for ir := i0; ir < i1; ir += mr {
					rows, jr := min(mr, i1-ir), 0
					if rows == mr {
						jr = np * nr
					}
					g.edge(ap[(ir-i0)*kc:][:kc*mr], bp, c[ir*ldc+jc:], tile, kc, rows, jr, nc, load)
				}
				continue
			}
			ap := w.a[:kc*mr*kern.aDup]
			for ir := i0; ir < i1; ir += mr {
				rows := min(mr, i1-ir)
				// op(A)[i][p] is a[p*lda+i] (contiguous along i) if transA.
				kern.packA(ap, g.a, g.lda, g.transA, pc, kc, ir, rows, mr)
				ct := c[ir*ldc+jc:]
				jr := 0
				if rows == mr {
					// All full tiles of this row of tiles in one call.
					if nt := nc / nr; nt > 0 {
						kern.fn(kc, ap, bp, ct, ldc, nt, load)
						jr = nt * nr
					}
				}
				g.edge(ap, bp, ct, tile, kc, rows, jr, nc, load)
			}
		}
	}
}

// edge computes the tiles from column jr to nc of one row of tiles (rows
// rows of ct, the packed A panel ap, the packed B block bp) with kern.fn
// one at a time: each full tile in the scratch tile, of which the part that
// exists is copied out; the padding's values are discarded.
func (g *gemmArgs) edge(ap, bp, ct, tile []float32, kc, rows, jr, nc int, load bool) {
	ldc, nr := g.ldc, g.kern.nr
	for ; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		if load {
			for i := range rows {
				copy(tile[i*nr:i*nr+cols], ct[i*ldc+jr:i*ldc+jr+cols])
			}
		}
		g.kern.fn(kc, ap, bp[jr*kc:(jr+nr)*kc], tile, nr, 1, load)
		for i := range rows {
			copy(ct[i*ldc+jr:i*ldc+jr+cols], tile[i*nr:i*nr+cols])
		}
	}
}

func gemmRoundUp(x, to int) int { return (x + to - 1) / to * to }

// gemmPack packs the kc x nx matrix X[p][x] = src[(p0+p)*ld + x0+x] (alongX)
// or src[(x0+x)*ld + p0+p] (!alongX) into panels of w columns, each stored
// row after row: dst[x/w*w*kc + p*w + x%w] = X[p][x]. The last panel is
// zero-padded to w columns, so that kernels need no edge cases in k or x.
func gemmPack(dst, src []float32, ld int, alongX bool, p0, kc, x0, nx, w int) {
	full := nx / w * w
	if alongX {
		// Fill one panel after the other: the writes are sequential and the
		// reads advance along kc rows at once. For the narrow panels of the
		// pure-Go kernels this measured faster than streaming each source
		// row across all panels (gemmPack8, for the AVX kernel, streams).
		for x := 0; x < full; x += w {
			panel := dst[x*kc : (x+w)*kc]
			// The kernels' widths are unrolled: copy (memmove) costs more
			// than a copy of 2 to 8 values, and on js/wasm so does a loop
			// iteration (a jump-table dispatch).
			switch w {
			case 2:
				for p := range kc {
					d, s := (*[2]float32)(panel[p*2:]), (*[2]float32)(src[(p0+p)*ld+x0+x:])
					d[0], d[1] = s[0], s[1]
				}
			case 4:
				for p := range kc {
					d, s := (*[4]float32)(panel[p*4:]), (*[4]float32)(src[(p0+p)*ld+x0+x:])
					d[0], d[1], d[2], d[3] = s[0], s[1], s[2], s[3]
				}
			case 8:
				for p := range kc {
					d, s := (*[8]float32)(panel[p*8:]), (*[8]float32)(src[(p0+p)*ld+x0+x:])
					d[0], d[1], d[2], d[3] = s[0], s[1], s[2], s[3]
					d[4], d[5], d[6], d[7] = s[4], s[5], s[6], s[7]
				}
			default:
				for p := range kc {
					gemmCopy(panel[p*w:p*w+w], src[(p0+p)*ld+x0+x:][:w])
				}
			}
		}
		if full < nx {
			panel := dst[full*kc : (full+w)*kc]
			for p := range kc {
				d := panel[p*w : p*w+w]
				copy(d, src[(p0+p)*ld+x0+full:][:nx-full])
				clear(d[nx-full:])
			}
		}
		return
	}
	// Read each source row once and scatter it down a column of its panel,
	// eight, four or two rows at a time so that each step writes adjacent
	// values (the panel, kc*w values, stays in L1).
	for x := 0; x < nx; x += w {
		panel := dst[x*kc : (x+w)*kc]
		cols := min(w, nx-x)
		r := 0
		for ; r+8 <= cols; r += 8 {
			row := (x0+x+r)*ld + p0
			s0 := src[row:][:kc]
			s1 := src[row+ld:][:kc]
			s2 := src[row+2*ld:][:kc]
			s3 := src[row+3*ld:][:kc]
			s4 := src[row+4*ld:][:kc]
			s5 := src[row+5*ld:][:kc]
			s6 := src[row+6*ld:][:kc]
			s7 := src[row+7*ld:][:kc]
			for p := range kc {
				d := (*[8]float32)(panel[p*w+r:])
				d[0], d[1], d[2], d[3] = s0[p], s1[p], s2[p], s3[p]
				d[4], d[5], d[6], d[7] = s4[p], s5[p], s6[p], s7[p]
			}
		}
		for ; r+4 <= cols; r += 4 {
			row := (x0 + x + r) * ld
			s0 := src[row+p0:][:kc]
			s1 := src[row+ld+p0:][:kc]
			s2 := src[row+2*ld+p0:][:kc]
			s3 := src[row+3*ld+p0:][:kc]
			for p := range kc {
				d := panel[p*w+r:][:4]
				d[0], d[1], d[2], d[3] = s0[p], s1[p], s2[p], s3[p]
			}
		}
		for ; r+2 <= cols; r += 2 {
			row := (x0+x+r)*ld + p0
			s0 := src[row:][:kc]
			s1 := src[row+ld:][:kc]
			for p := range kc {
				d := (*[2]float32)(panel[p*w+r:])
				d[0], d[1] = s0[p], s1[p]
			}
		}
		gemmPackColumns(panel, src, ld, p0, kc, x0+x, r, cols, w)
	}
}

// gemmCopy copies s to d (of equal, small length) value by value: for panel
// widths of 2 to 24, a call to memmove (which is what copy and array
// assignment between possibly overlapping slices compile to) costs more than
// the copy itself, especially on js/wasm.
func gemmCopy(d, s []float32) {
	for len(d) >= 4 && len(s) >= 4 {
		d4, s4 := (*[4]float32)(d), (*[4]float32)(s)
		d4[0], d4[1], d4[2], d4[3] = s4[0], s4[1], s4[2], s4[3]
		d, s = d[4:], s[4:]
	}
	for i := range min(len(d), len(s)) {
		d[i] = s[i]
	}
}

// gemmPackColumns fills columns r to w-1 of one panel of a transposed pack
// (gemmPack's !alongX): column c < cols from source row x0+c one value at a
// time, the rest, past the matrix, with zeros.
func gemmPackColumns(panel, src []float32, ld, p0, kc, x0, r, cols, w int) {
	for ; r < cols; r++ {
		s := src[(x0+r)*ld+p0:][:kc]
		for p, v := range s {
			panel[p*w+r] = v
		}
	}
	for ; r < w; r++ {
		for p := range kc {
			panel[p*w+r] = 0
		}
	}
}
