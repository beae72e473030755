;; gemm.wat: the wasm simd128 micro-kernel of Pretext's GEMM
;; (internal/kernel/gemm.go), assembled by wat2wasm (Debian's wabt) into
;; gemm.wasm. It shares the Go module's memory: web/simd.js instantiates it
;; with the Go instance's exported memory, and internal/kernel/jshost calls
;; "block" with byte offsets of Go slices in that memory, so nothing is
;; copied.
;;
;; block(kc, mp, np, a, b, c, ldc, load) computes every 4x8 tile of C of a
;; packed block (the layouts of kernel's gemmPack): for each A panel i < mp
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
;; loop and of kernel's pure-Go kernels. kc, mp and np must be positive.
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
  ;; (4 or 8) columns of a matrix stored along x (kernel's gemmPack with
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
  ;; (kernel's gemmPack without alongX): for panel q, p < kc, j < w,
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


  ;; The batch-norm loops of internal/kernel/batchnorm.go, one channel (row)
  ;; per call, each giving exactly the bits of its Go twin: the same float32
  ;; operations in the same order, and float64 sums in the same four running
  ;; sums.

  ;; bn_normalize(out, x, n, mu, a, b, relu): out[i] = (x[i]-mu)*a + b,
  ;; clamped at +0 (sign bit cleared to zero, as kernel's relu32) if relu.
  (func (export "bn_normalize")
    (param $out i32) (param $x i32) (param $n i32) (param $mu f32) (param $a f32) (param $b f32) (param $relu i32)
    (local $end i32) (local $end4 i32) (local $v v128) (local $mu4 v128) (local $a4 v128) (local $b4 v128) (local $f f32)
    (local.set $mu4 (f32x4.splat (local.get $mu)))
    (local.set $a4 (f32x4.splat (local.get $a)))
    (local.set $b4 (f32x4.splat (local.get $b)))
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $vec
      (br_if $vec (i32.ge_u (local.get $x) (local.get $end4)))
      (loop $four
        (local.set $v (f32x4.add (f32x4.mul (f32x4.sub (v128.load (local.get $x)) (local.get $mu4)) (local.get $a4)) (local.get $b4)))
        (if (local.get $relu)
          (then (local.set $v (v128.andnot (local.get $v) (i32x4.shr_s (local.get $v) (i32.const 31))))))
        (v128.store (local.get $out) (local.get $v))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (br_if $four (i32.lt_u (local.tee $x (i32.add (local.get $x) (i32.const 16))) (local.get $end4)))))
    (block $done
      (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
      (loop $one
        (local.set $f (f32.add (f32.mul (f32.sub (f32.load (local.get $x)) (local.get $mu)) (local.get $a)) (local.get $b)))
        (if (local.get $relu)
          (then (local.set $f (f32.reinterpret_i32 (i32.and (i32.reinterpret_f32 (local.get $f))
            (i32.xor (i32.shr_s (i32.reinterpret_f32 (local.get $f)) (i32.const 31)) (i32.const -1)))))))
        (f32.store (local.get $out) (local.get $f))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br_if $one (i32.lt_u (local.tee $x (i32.add (local.get $x) (i32.const 4))) (local.get $end))))))

  ;; bn_grad_x(out, x, dy, y, n, mu, k, c2, c1, relu): out[i] =
  ;; k*dz[i] - (x[i]-mu)*c2 - c1, where dz is dy, masked by y != +0
  ;; (kernel's reluMasked) if relu.
  (func (export "bn_grad_x")
    (param $out i32) (param $x i32) (param $dy i32) (param $y i32) (param $n i32)
    (param $mu f32) (param $k f32) (param $c2 f32) (param $c1 f32) (param $relu i32)
    (local $end i32) (local $end4 i32) (local $g v128) (local $mu4 v128) (local $k4 v128) (local $c24 v128) (local $c14 v128) (local $gs f32)
    (local.set $mu4 (f32x4.splat (local.get $mu)))
    (local.set $k4 (f32x4.splat (local.get $k)))
    (local.set $c24 (f32x4.splat (local.get $c2)))
    (local.set $c14 (f32x4.splat (local.get $c1)))
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $vec
      (br_if $vec (i32.ge_u (local.get $x) (local.get $end4)))
      (loop $four
        (local.set $g (v128.load (local.get $dy)))
        (if (local.get $relu)
          (then (local.set $g (v128.and (local.get $g) (i32x4.shr_s (i32x4.neg (v128.load (local.get $y))) (i32.const 31))))))
        (v128.store (local.get $out)
          (f32x4.sub
            (f32x4.sub (f32x4.mul (local.get $k4) (local.get $g))
              (f32x4.mul (f32x4.sub (v128.load (local.get $x)) (local.get $mu4)) (local.get $c24)))
            (local.get $c14)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
        (local.set $y (i32.add (local.get $y) (i32.const 16)))
        (br_if $four (i32.lt_u (local.tee $x (i32.add (local.get $x) (i32.const 16))) (local.get $end4)))))
    (block $done
      (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
      (loop $one
        (local.set $gs (f32.load (local.get $dy)))
        (if (local.get $relu)
          (then (local.set $gs (f32.reinterpret_i32 (i32.and (i32.reinterpret_f32 (local.get $gs))
            (i32.shr_s (i32.sub (i32.const 0) (i32.reinterpret_f32 (f32.load (local.get $y)))) (i32.const 31)))))))
        (f32.store (local.get $out)
          (f32.sub
            (f32.sub (f32.mul (local.get $k) (local.get $gs))
              (f32.mul (f32.sub (f32.load (local.get $x)) (local.get $mu)) (local.get $c2)))
            (local.get $c1)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $dy (i32.add (local.get $dy) (i32.const 4)))
        (local.set $y (i32.add (local.get $y) (i32.const 4)))
        (br_if $one (i32.lt_u (local.tee $x (i32.add (local.get $x) (i32.const 4))) (local.get $end))))))

  ;; bn_grad_sums(res, x, dy, y, n, mean, relu) writes Σ dz and
  ;; Σ dz*(x-mean) in float64 to res[0] and res[1] (byte offset res), dz as
  ;; in bn_grad_x: element i goes to running sum i%4 (the tail to sum 0), and
  ;; the result is (s0+s1)+(s2+s3), as kernel's BNGradSums.
  (func (export "bn_grad_sums")
    (param $res i32) (param $x i32) (param $dy i32) (param $y i32) (param $n i32) (param $mean f64) (param $relu i32)
    (local $end i32) (local $end4 i32) (local $g v128) (local $v v128) (local $m2 v128)
    (local $g01 v128) (local $g23 v128) (local $s01 v128) (local $s23 v128) (local $p01 v128) (local $p23 v128)
    (local $gs f64) (local $s0 f64) (local $p0 f64)
    (local.set $m2 (f64x2.splat (local.get $mean)))
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $vec
      (br_if $vec (i32.ge_u (local.get $x) (local.get $end4)))
      (loop $four
        (local.set $g (v128.load (local.get $dy)))
        (if (local.get $relu)
          (then (local.set $g (v128.and (local.get $g) (i32x4.shr_s (i32x4.neg (v128.load (local.get $y))) (i32.const 31))))))
        (local.set $v (v128.load (local.get $x)))
        (local.set $g01 (f64x2.promote_low_f32x4 (local.get $g)))
        (local.set $g23 (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $g) (local.get $g))))
        (local.set $s01 (f64x2.add (local.get $s01) (local.get $g01)))
        (local.set $s23 (f64x2.add (local.get $s23) (local.get $g23)))
        (local.set $p01 (f64x2.add (local.get $p01)
          (f64x2.mul (local.get $g01) (f64x2.sub (f64x2.promote_low_f32x4 (local.get $v)) (local.get $m2)))))
        (local.set $p23 (f64x2.add (local.get $p23)
          (f64x2.mul (local.get $g23) (f64x2.sub (f64x2.promote_low_f32x4
            (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))) (local.get $m2)))))
        (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
        (local.set $y (i32.add (local.get $y) (i32.const 16)))
        (br_if $four (i32.lt_u (local.tee $x (i32.add (local.get $x) (i32.const 16))) (local.get $end4)))))
    (local.set $s0 (f64x2.extract_lane 0 (local.get $s01)))
    (local.set $p0 (f64x2.extract_lane 0 (local.get $p01)))
    (block $done
      (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
      (loop $one
        (local.set $gs (f64.promote_f32 (f32.load (local.get $dy))))
        (if (local.get $relu)
          (then (local.set $gs (f64.promote_f32 (f32.reinterpret_i32 (i32.and (i32.reinterpret_f32 (f32.load (local.get $dy)))
            (i32.shr_s (i32.sub (i32.const 0) (i32.reinterpret_f32 (f32.load (local.get $y)))) (i32.const 31))))))))
        (local.set $s0 (f64.add (local.get $s0) (local.get $gs)))
        (local.set $p0 (f64.add (local.get $p0)
          (f64.mul (local.get $gs) (f64.sub (f64.promote_f32 (f32.load (local.get $x))) (local.get $mean)))))
        (local.set $dy (i32.add (local.get $dy) (i32.const 4)))
        (local.set $y (i32.add (local.get $y) (i32.const 4)))
        (br_if $one (i32.lt_u (local.tee $x (i32.add (local.get $x) (i32.const 4))) (local.get $end)))))
    (f64.store (local.get $res)
      (f64.add (f64.add (local.get $s0) (f64x2.extract_lane 1 (local.get $s01)))
               (f64.add (f64x2.extract_lane 0 (local.get $s23)) (f64x2.extract_lane 1 (local.get $s23)))))
    (f64.store offset=8 (local.get $res)
      (f64.add (f64.add (local.get $p0) (f64x2.extract_lane 1 (local.get $p01)))
               (f64.add (f64x2.extract_lane 0 (local.get $p23)) (f64x2.extract_lane 1 (local.get $p23))))))

  ;; bn_sums(res, x, n, shift) writes Σ (x-shift) and Σ (x-shift)² in
  ;; float64 to res[0] and res[1], summed as kernel's BNSums.
  (func (export "bn_sums")
    (param $res i32) (param $x i32) (param $n i32) (param $shift f64)
    (local $end i32) (local $end4 i32) (local $v v128) (local $sh2 v128)
    (local $a01 v128) (local $a23 v128) (local $s01 v128) (local $s23 v128) (local $q01 v128) (local $q23 v128)
    (local $a f64) (local $s0 f64) (local $q0 f64)
    (local.set $sh2 (f64x2.splat (local.get $shift)))
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $vec
      (br_if $vec (i32.ge_u (local.get $x) (local.get $end4)))
      (loop $four
        (local.set $v (v128.load (local.get $x)))
        (local.set $a01 (f64x2.sub (f64x2.promote_low_f32x4 (local.get $v)) (local.get $sh2)))
        (local.set $a23 (f64x2.sub (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))) (local.get $sh2)))
        (local.set $s01 (f64x2.add (local.get $s01) (local.get $a01)))
        (local.set $s23 (f64x2.add (local.get $s23) (local.get $a23)))
        (local.set $q01 (f64x2.add (local.get $q01) (f64x2.mul (local.get $a01) (local.get $a01))))
        (local.set $q23 (f64x2.add (local.get $q23) (f64x2.mul (local.get $a23) (local.get $a23))))
        (br_if $four (i32.lt_u (local.tee $x (i32.add (local.get $x) (i32.const 16))) (local.get $end4)))))
    (local.set $s0 (f64x2.extract_lane 0 (local.get $s01)))
    (local.set $q0 (f64x2.extract_lane 0 (local.get $q01)))
    (block $done
      (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
      (loop $one
        (local.set $a (f64.sub (f64.promote_f32 (f32.load (local.get $x))) (local.get $shift)))
        (local.set $s0 (f64.add (local.get $s0) (local.get $a)))
        (local.set $q0 (f64.add (local.get $q0) (f64.mul (local.get $a) (local.get $a))))
        (br_if $one (i32.lt_u (local.tee $x (i32.add (local.get $x) (i32.const 4))) (local.get $end)))))
    (f64.store (local.get $res)
      (f64.add (f64.add (local.get $s0) (f64x2.extract_lane 1 (local.get $s01)))
               (f64.add (f64x2.extract_lane 0 (local.get $s23)) (f64x2.extract_lane 1 (local.get $s23)))))
    (f64.store offset=8 (local.get $res)
      (f64.add (f64.add (local.get $q0) (f64x2.extract_lane 1 (local.get $q01)))
               (f64.add (f64x2.extract_lane 0 (local.get $q23)) (f64x2.extract_lane 1 (local.get $q23))))))
)
