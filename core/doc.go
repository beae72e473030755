// Package core is Pretext's model and training core: fused float32 operators
// over whole batches, the RS trunk, the trainer, optimizers and checkpoints,
// built on spago's autograd (ag) and parameters (nn).
//
// # Batch layout
//
// A batch of N feature maps with C channels of H x W pixels is one float32
// matrix of shape [C, N*H*W]: row c holds channel c of every image, image
// after image, each image row-major (top row first). Its geometry travels
// beside it as a [Shape]. This channel-major layout makes a convolution one
// matrix multiply over the whole batch (W[Cout, Cin*KH*KW] x im2col[Cin*KH*KW,
// N*Ho*Wo] gives the next [Cout, N*Ho*Wo] directly) and makes batch-norm
// statistics row reductions.
//
// Flat per-image data (pooled features, logits) is [N, D]: one row per image.
// [GlobalAvgPool] is the bridge from the first layout to the second.
//
// # Invariants
//
//   - Every operator checks its operands' shapes before it builds a graph
//     node and returns an error instead: spago's ag calls log.Fatalf when a
//     forward pass fails, which would kill a browser tab's program.
//   - Operator inputs are never modified; outputs and gradients are fresh.
//   - All values are float32 (*mat.Dense[float32]).
//   - Randomness is passed in as *rand.Rand (math/rand/v2); core holds no
//     global state and does no file or network I/O: it reads io.Reader and
//     image.Image and writes io.Writer.
//   - Native builds split work over runtime.GOMAXPROCS(0) goroutines; the
//     split never changes the order of any floating-point sum, so results do
//     not depend on the number of threads and match the js/wasm build.
//
// # Kernels
//
// The arithmetic under the operators (the matrix product, the batch-norm
// row loops, the thread split) lives in internal/kernel, which gives the
// pure-Go builds, native and js/wasm (with or without its simd128 kernels),
// the same bits. The JavaScript side of those kernels stays there too (in
// its package jshost), so core is plain Go in every build. On amd64 and
// arm64 the matrix product, the batch-norm loops and 2x2 max-pooling run in
// assembly (AVX2/FMA or AVX-512, NEON for the product); the product's
// fused multiply-adds round differently from the pure-Go builds, so native
// results match js/wasm's within float tolerance rather than bit for bit
// (see that package's doc; the purego build tag leaves the assembly out).
package core
