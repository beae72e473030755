;; gemm.wat: the wasm simd128 micro-kernel of Pretext's GEMM (core/gemm.go),
;; assembled by wat2wasm (Debian's wabt) into gemm.wasm. It shares the Go
;; module's memory: web/simd.js instantiates it with the Go instance's
;; exported memory, and core/gemm_wasm_simd.go calls "block" with byte
;; offsets of Go slices in that memory, so nothing is copied.
;;
;; block(kc, mp, np, a, b, c, ldc, load) computes every 4x8 tile of C of a
;; packed block (the layouts of core's gemmPack): for each A panel i < mp
;; (at a + i*kc*4 floats; value (p, r) at p*4+r), each B panel t < np (at
;; b + t*kc*8 floats; value (p, j) at p*8+j), r < 4 and j < 8,
;;
;;	acc = load ? C[i*4+r][t*8+j] : 0      (C row stride ldc floats)
;;	for p = 0, 1, ..., kc-1: acc += A(p, r) * B(p, j)
;;	C[i*4+r][t*8+j] = acc
;;
;; Every product and every sum is rounded separately (f32x4.mul, then
;; f32x4.add; never a fused or relaxed multiply-add) and the sum runs in
;; increasing p, so the result is bit for bit that of the plain float32
;; loop and of core's pure-Go kernels. kc, mp and np must be positive.
;;
;; Why 4x8: the 8 accumulators, 2 B vectors and 1 broadcast A value stay in
;; V8's 16 x64 vector registers. In Node 20 on this project's 2-core Xeon,
;; 4x8 ran the RS block shapes at 32-34 GFLOP/s; 6x8 (12 accumulators) ran
;; at 29-31, 4x12 at 30-32, 8x8 at 24, and unrolling the p loop twice made
;; 4x8 slower (26).
(module
  (import "env" "memory" (memory 0))
  ;; The tile, for the Go side to check against its own.
  (global (export "mr") i32 (i32.const 4))
  (global (export "nr") i32 (i32.const 8))

  (func (export "block")
    (param $kc i32) (param $mp i32) (param $np i32)
    (param $a i32) (param $b i32) (param $c i32) (param $ldc i32) (param $load i32)
    (local $i i32) (local $t i32)
    (local $ap i32) (local $bp i32) (local $bend i32) ;; walk one A and one B panel
    (local $row i32) (local $ct i32)                   ;; C: the tile, one of its rows
    (local $apanel i32) (local $bpanel i32)            ;; panel sizes in bytes
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $av v128) (local $b0 v128) (local $b1 v128)
    (if (i32.or (i32.or (i32.eqz (local.get $kc)) (i32.eqz (local.get $mp))) (i32.eqz (local.get $np)))
      (then (return)))
    (local.set $ldc (i32.shl (local.get $ldc) (i32.const 2)))
    (local.set $apanel (i32.mul (local.get $kc) (i32.const 16)))
    (local.set $bpanel (i32.mul (local.get $kc) (i32.const 32)))
    ;; One A panel (4 rows of C) after the other, each against all B
    ;; panels: the A panel stays in L1 while B streams from L2.
    (loop $rows
      (local.set $t (i32.const 0))
      (local.set $ct (local.get $c))
      (loop $cols
        (if (local.get $load)
          (then
            (local.set $c00 (v128.load (local.get $ct)))
            (local.set $c01 (v128.load offset=16 (local.get $ct)))
            (local.set $row (i32.add (local.get $ct) (local.get $ldc)))
            (local.set $c10 (v128.load (local.get $row)))
            (local.set $c11 (v128.load offset=16 (local.get $row)))
            (local.set $row (i32.add (local.get $row) (local.get $ldc)))
            (local.set $c20 (v128.load (local.get $row)))
            (local.set $c21 (v128.load offset=16 (local.get $row)))
            (local.set $row (i32.add (local.get $row) (local.get $ldc)))
            (local.set $c30 (v128.load (local.get $row)))
            (local.set $c31 (v128.load offset=16 (local.get $row))))
          (else
            (local.set $c00 (v128.const i32x4 0 0 0 0))
            (local.set $c01 (v128.const i32x4 0 0 0 0))
            (local.set $c10 (v128.const i32x4 0 0 0 0))
            (local.set $c11 (v128.const i32x4 0 0 0 0))
            (local.set $c20 (v128.const i32x4 0 0 0 0))
            (local.set $c21 (v128.const i32x4 0 0 0 0))
            (local.set $c30 (v128.const i32x4 0 0 0 0))
            (local.set $c31 (v128.const i32x4 0 0 0 0))))
        (local.set $ap (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $apanel))))
        (local.set $bp (i32.add (local.get $b) (i32.mul (local.get $t) (local.get $bpanel))))
        (local.set $bend (i32.add (local.get $bp) (local.get $bpanel)))
        (loop $k
          (local.set $b0 (v128.load (local.get $bp)))
          (local.set $b1 (v128.load offset=16 (local.get $bp)))
          (local.set $av (v128.load32_splat (local.get $ap)))
          (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $av) (local.get $b0))))
          (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $av) (local.get $b1))))
          (local.set $av (v128.load32_splat offset=4 (local.get $ap)))
          (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $av) (local.get $b0))))
          (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $av) (local.get $b1))))
          (local.set $av (v128.load32_splat offset=8 (local.get $ap)))
          (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $av) (local.get $b0))))
          (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $av) (local.get $b1))))
          (local.set $av (v128.load32_splat offset=12 (local.get $ap)))
          (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $av) (local.get $b0))))
          (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $av) (local.get $b1))))
          (local.set $ap (i32.add (local.get $ap) (i32.const 16)))
          (local.set $bp (i32.add (local.get $bp) (i32.const 32)))
          (br_if $k (i32.lt_u (local.get $bp) (local.get $bend))))
        (v128.store (local.get $ct) (local.get $c00))
        (v128.store offset=16 (local.get $ct) (local.get $c01))
        (local.set $row (i32.add (local.get $ct) (local.get $ldc)))
        (v128.store (local.get $row) (local.get $c10))
        (v128.store offset=16 (local.get $row) (local.get $c11))
        (local.set $row (i32.add (local.get $row) (local.get $ldc)))
        (v128.store (local.get $row) (local.get $c20))
        (v128.store offset=16 (local.get $row) (local.get $c21))
        (local.set $row (i32.add (local.get $row) (local.get $ldc)))
        (v128.store (local.get $row) (local.get $c30))
        (v128.store offset=16 (local.get $row) (local.get $c31))
        (local.set $ct (i32.add (local.get $ct) (i32.const 32)))
        (br_if $cols (i32.lt_u (local.tee $t (i32.add (local.get $t) (i32.const 1))) (local.get $np))))
      (local.set $c (i32.add (local.get $c) (i32.shl (local.get $ldc) (i32.const 2))))
      (br_if $rows (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $mp)))))

  ;; pack_copy(dst, src, ld, kc, panels, w) packs panels full panels of w
  ;; (4 or 8) columns of a matrix stored along x (core's gemmPack with
  ;; alongX): for panel q, p < kc, j < w, dst[(q*kc + p)*w + j] =
  ;; src[p*ld + q*w + j]. dst and src are byte offsets, ld is in floats.
  (func (export "pack_copy")
    (param $dst i32) (param $src i32) (param $ld i32) (param $kc i32) (param $panels i32) (param $w i32)
    (local $q i32) (local $s i32) (local $d i32) (local $end i32)
    (local.set $ld (i32.shl (local.get $ld) (i32.const 2)))
    (local.set $d (local.get $dst))
    (block $done
      (br_if $done (i32.or (i32.eqz (local.get $kc)) (i32.eqz (local.get $panels))))
      (loop $panel
        (local.set $s (i32.add (local.get $src) (i32.shl (i32.mul (local.get $q) (local.get $w)) (i32.const 2))))
        (local.set $end (i32.add (local.get $d) (i32.shl (i32.mul (local.get $kc) (local.get $w)) (i32.const 2))))
        (if (i32.eq (local.get $w) (i32.const 8))
          (then
            (loop $row8
              (v128.store (local.get $d) (v128.load (local.get $s)))
              (v128.store offset=16 (local.get $d) (v128.load offset=16 (local.get $s)))
              (local.set $s (i32.add (local.get $s) (local.get $ld)))
              (br_if $row8 (i32.lt_u (local.tee $d (i32.add (local.get $d) (i32.const 32))) (local.get $end)))))
          (else
            (loop $row4
              (v128.store (local.get $d) (v128.load (local.get $s)))
              (local.set $s (i32.add (local.get $s) (local.get $ld)))
              (br_if $row4 (i32.lt_u (local.tee $d (i32.add (local.get $d) (i32.const 16))) (local.get $end))))))
        (br_if $panel (i32.lt_u (local.tee $q (i32.add (local.get $q) (i32.const 1))) (local.get $panels))))))

  ;; pack_trans(dst, src, ld, kc, panels, w) packs panels full panels of w
  ;; (4 or 8) columns of a matrix stored along p, one source row per column
  ;; (core's gemmPack without alongX): for panel q, p < kc, j < w,
  ;; dst[(q*kc + p)*w + j] = src[(q*w + j)*ld + p]. Four source rows at a
  ;; time, four values of each, transposed in registers.
  (func (export "pack_trans")
    (param $dst i32) (param $src i32) (param $ld i32) (param $kc i32) (param $panels i32) (param $w i32)
    (local $q i32) (local $g i32) (local $p i32) (local $kc4 i32) (local $wb i32)
    (local $s0 i32) (local $s1 i32) (local $s2 i32) (local $s3 i32) (local $d i32)
    (local $r0 v128) (local $r1 v128) (local $r2 v128) (local $r3 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $ld (i32.shl (local.get $ld) (i32.const 2)))
    (local.set $wb (i32.shl (local.get $w) (i32.const 2))) ;; a packed row, in bytes
    (local.set $kc4 (i32.and (local.get $kc) (i32.const -4)))
    (block $done
      (br_if $done (i32.or (i32.eqz (local.get $kc)) (i32.eqz (local.get $panels))))
      (loop $panel
        (local.set $g (i32.const 0))
        (loop $group ;; source rows q*w+g .. q*w+g+3
          (local.set $s0 (i32.add (local.get $src)
            (i32.mul (i32.add (i32.mul (local.get $q) (local.get $w)) (local.get $g)) (local.get $ld))))
          (local.set $s1 (i32.add (local.get $s0) (local.get $ld)))
          (local.set $s2 (i32.add (local.get $s1) (local.get $ld)))
          (local.set $s3 (i32.add (local.get $s2) (local.get $ld)))
          ;; the panel's column g, at row p = 0
          (local.set $d (i32.add (local.get $dst)
            (i32.shl (i32.add (i32.mul (i32.mul (local.get $q) (local.get $kc)) (local.get $w)) (local.get $g)) (i32.const 2))))
          (local.set $p (i32.const 0))
          (block $tail
            (br_if $tail (i32.eqz (local.get $kc4)))
            (loop $four
              (local.set $r0 (v128.load (local.get $s0)))
              (local.set $r1 (v128.load (local.get $s1)))
              (local.set $r2 (v128.load (local.get $s2)))
              (local.set $r3 (v128.load (local.get $s3)))
              ;; t0 = r0[0] r1[0] r0[1] r1[1], t1 = r0[2] r1[2] r0[3] r1[3], t2, t3 likewise for r2, r3
              (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r0) (local.get $r1)))
              (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r0) (local.get $r1)))
              (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $r2) (local.get $r3)))
              (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $r2) (local.get $r3)))
              (v128.store (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
              (local.set $d (i32.add (local.get $d) (local.get $wb)))
              (v128.store (local.get $d) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
              (local.set $d (i32.add (local.get $d) (local.get $wb)))
              (v128.store (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
              (local.set $d (i32.add (local.get $d) (local.get $wb)))
              (v128.store (local.get $d) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
              (local.set $d (i32.add (local.get $d) (local.get $wb)))
              (local.set $s0 (i32.add (local.get $s0) (i32.const 16)))
              (local.set $s1 (i32.add (local.get $s1) (i32.const 16)))
              (local.set $s2 (i32.add (local.get $s2) (i32.const 16)))
              (local.set $s3 (i32.add (local.get $s3) (i32.const 16)))
              (br_if $four (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 4))) (local.get $kc4)))))
          ;; the last kc%4 rows, one value at a time
          (block $end
            (br_if $end (i32.ge_u (local.get $p) (local.get $kc)))
            (loop $one
              (f32.store (local.get $d) (f32.load (local.get $s0)))
              (f32.store offset=4 (local.get $d) (f32.load (local.get $s1)))
              (f32.store offset=8 (local.get $d) (f32.load (local.get $s2)))
              (f32.store offset=12 (local.get $d) (f32.load (local.get $s3)))
              (local.set $d (i32.add (local.get $d) (local.get $wb)))
              (local.set $s0 (i32.add (local.get $s0) (i32.const 4)))
              (local.set $s1 (i32.add (local.get $s1) (i32.const 4)))
              (local.set $s2 (i32.add (local.get $s2) (i32.const 4)))
              (local.set $s3 (i32.add (local.get $s3) (i32.const 4)))
              (br_if $one (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 1))) (local.get $kc)))))
          (br_if $group (i32.lt_u (local.tee $g (i32.add (local.get $g) (i32.const 4))) (local.get $w))))
        (br_if $panel (i32.lt_u (local.tee $q (i32.add (local.get $q) (i32.const 1))) (local.get $panels))))))
)
