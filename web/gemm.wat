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
      (br_if $rows (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $mp))))))
