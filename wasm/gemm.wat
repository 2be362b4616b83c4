;; Single-precision matrix product for the JS convolution kernels (src/backend/js-conv.ts):
;;
;;   C[M x N] = A[M x K] * B[K x N]            (accumulate = 0)
;;   C[M x N] = C + A[M x K] * B[K x N]        (accumulate = 1)
;;
;; Row-major float32 matrices in this module's memory, addressed by byte offset, with row strides
;; lda, ldb, ldc in elements. N must be a multiple of 8 (the caller pads). Blocks of 4 rows x 8 columns
;; keep 8 four-lane accumulators in registers; each step of k loads 8 values of B once for 4 rows of A.
;; Leftover rows (M mod 4) take a 1 x 8 block. Each product is rounded to float32 and added to a
;; float32 accumulator, in k order. Assembled by scripts/build-wasm.mjs into src/backend/gemm-wasm.ts.
(module
  (memory (export "memory") 1)
  (func (export "gemm")
    (param $M i32) (param $N i32) (param $K i32)
    (param $a i32) (param $lda i32) (param $b i32) (param $ldb i32) (param $c i32) (param $ldc i32)
    (param $accumulate i32)
    (local $i i32) (local $j i32) (local $k i32)
    (local $pa0 i32) (local $pa1 i32) (local $pa2 i32) (local $pa3 i32) (local $pb i32) (local $pc i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $av v128)
    ;; strides in bytes
    (local.set $lda (i32.shl (local.get $lda) (i32.const 2)))
    (local.set $ldb (i32.shl (local.get $ldb) (i32.const 2)))
    (local.set $ldc (i32.shl (local.get $ldc) (i32.const 2)))
    (if (i32.or (i32.le_s (local.get $N) (i32.const 0)) (i32.le_s (local.get $M) (i32.const 0))) (then (return)))
    ;; blocks of 4 rows
    (local.set $i (i32.const 0))
    (block $rows4_done
      (loop $rows4
        (br_if $rows4_done (i32.gt_s (i32.add (local.get $i) (i32.const 4)) (local.get $M)))
        (local.set $j (i32.const 0))
        (loop $cols
          (local.set $pc (i32.add (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $ldc))) (i32.shl (local.get $j) (i32.const 2))))
          (if (local.get $accumulate)
            (then
              (local.set $c00 (v128.load (local.get $pc)))
              (local.set $c01 (v128.load offset=16 (local.get $pc)))
              (local.set $c10 (v128.load (i32.add (local.get $pc) (local.get $ldc))))
              (local.set $c11 (v128.load offset=16 (i32.add (local.get $pc) (local.get $ldc))))
              (local.set $c20 (v128.load (i32.add (local.get $pc) (i32.shl (local.get $ldc) (i32.const 1)))))
              (local.set $c21 (v128.load offset=16 (i32.add (local.get $pc) (i32.shl (local.get $ldc) (i32.const 1)))))
              (local.set $c30 (v128.load (i32.add (local.get $pc) (i32.mul (local.get $ldc) (i32.const 3)))))
              (local.set $c31 (v128.load offset=16 (i32.add (local.get $pc) (i32.mul (local.get $ldc) (i32.const 3))))))
            (else
              (local.set $c00 (v128.const i32x4 0 0 0 0)) (local.set $c01 (v128.const i32x4 0 0 0 0))
              (local.set $c10 (v128.const i32x4 0 0 0 0)) (local.set $c11 (v128.const i32x4 0 0 0 0))
              (local.set $c20 (v128.const i32x4 0 0 0 0)) (local.set $c21 (v128.const i32x4 0 0 0 0))
              (local.set $c30 (v128.const i32x4 0 0 0 0)) (local.set $c31 (v128.const i32x4 0 0 0 0))))
          (local.set $pa0 (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $lda))))
          (local.set $pa1 (i32.add (local.get $pa0) (local.get $lda)))
          (local.set $pa2 (i32.add (local.get $pa1) (local.get $lda)))
          (local.set $pa3 (i32.add (local.get $pa2) (local.get $lda)))
          (local.set $pb (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))
          (local.set $k (local.get $K))
          (if (i32.gt_s (local.get $k) (i32.const 0))
            (then
              (loop $steps
                (local.set $b0 (v128.load (local.get $pb)))
                (local.set $b1 (v128.load offset=16 (local.get $pb)))
                (local.set $av (f32x4.splat (f32.load (local.get $pa0))))
                (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $av) (local.get $b0))))
                (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $av) (local.get $b1))))
                (local.set $av (f32x4.splat (f32.load (local.get $pa1))))
                (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $av) (local.get $b0))))
                (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $av) (local.get $b1))))
                (local.set $av (f32x4.splat (f32.load (local.get $pa2))))
                (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $av) (local.get $b0))))
                (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $av) (local.get $b1))))
                (local.set $av (f32x4.splat (f32.load (local.get $pa3))))
                (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $av) (local.get $b0))))
                (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $av) (local.get $b1))))
                (local.set $pa0 (i32.add (local.get $pa0) (i32.const 4)))
                (local.set $pa1 (i32.add (local.get $pa1) (i32.const 4)))
                (local.set $pa2 (i32.add (local.get $pa2) (i32.const 4)))
                (local.set $pa3 (i32.add (local.get $pa3) (i32.const 4)))
                (local.set $pb (i32.add (local.get $pb) (local.get $ldb)))
                (local.set $k (i32.sub (local.get $k) (i32.const 1)))
                (br_if $steps (local.get $k)))))
          (v128.store (local.get $pc) (local.get $c00))
          (v128.store offset=16 (local.get $pc) (local.get $c01))
          (local.set $pc (i32.add (local.get $pc) (local.get $ldc)))
          (v128.store (local.get $pc) (local.get $c10))
          (v128.store offset=16 (local.get $pc) (local.get $c11))
          (local.set $pc (i32.add (local.get $pc) (local.get $ldc)))
          (v128.store (local.get $pc) (local.get $c20))
          (v128.store offset=16 (local.get $pc) (local.get $c21))
          (local.set $pc (i32.add (local.get $pc) (local.get $ldc)))
          (v128.store (local.get $pc) (local.get $c30))
          (v128.store offset=16 (local.get $pc) (local.get $c31))
          (local.set $j (i32.add (local.get $j) (i32.const 8)))
          (br_if $cols (i32.lt_s (local.get $j) (local.get $N))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $rows4)))
    ;; leftover rows, one at a time
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_s (local.get $i) (local.get $M)))
        (local.set $j (i32.const 0))
        (loop $cols1
          (local.set $pc (i32.add (i32.add (local.get $c) (i32.mul (local.get $i) (local.get $ldc))) (i32.shl (local.get $j) (i32.const 2))))
          (if (local.get $accumulate)
            (then
              (local.set $c00 (v128.load (local.get $pc)))
              (local.set $c01 (v128.load offset=16 (local.get $pc))))
            (else
              (local.set $c00 (v128.const i32x4 0 0 0 0))
              (local.set $c01 (v128.const i32x4 0 0 0 0))))
          (local.set $pa0 (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $lda))))
          (local.set $pb (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))
          (local.set $k (local.get $K))
          (if (i32.gt_s (local.get $k) (i32.const 0))
            (then
              (loop $steps1
                (local.set $av (f32x4.splat (f32.load (local.get $pa0))))
                (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $av) (v128.load (local.get $pb)))))
                (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $av) (v128.load offset=16 (local.get $pb)))))
                (local.set $pa0 (i32.add (local.get $pa0) (i32.const 4)))
                (local.set $pb (i32.add (local.get $pb) (local.get $ldb)))
                (local.set $k (i32.sub (local.get $k) (i32.const 1)))
                (br_if $steps1 (local.get $k)))))
          (v128.store (local.get $pc) (local.get $c00))
          (v128.store offset=16 (local.get $pc) (local.get $c01))
          (local.set $j (i32.add (local.get $j) (i32.const 8)))
          (br_if $cols1 (i32.lt_s (local.get $j) (local.get $N))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows)))))
