// Package eval measures how good a trunk's frozen features are for a
// labelled task: a linear probe (multinomial logistic regression fitted by
// L-BFGS, its weight decay chosen on held-out training rows) and a weighted
// k-nearest-neighbour classifier, plus readers for the labelled data they are
// measured on (IDX files such as Fashion-MNIST's, and a photo folder's
// labels.csv with deterministic folds). The defaults follow the project's
// reference protocol (../shared/bench/quality.md), so that figures compare
// with its PyTorch ones.
//
// # Layout
//
// A set of features is one row-major float32 matrix of N rows of Dim values
// ([Features]): row i is the feature vector of example i. Labels are class
// ids in [0, classes), one per row, in a []int of length N. A logistic
// model's weights are a float64 matrix of Classes rows of Dim values
// ([Logistic]).
//
// # Invariants
//
//   - Inputs are never modified: standardised and normalised rows are
//     copies.
//   - The test rows only score a finished model: the probe's weight decay
//     is chosen on rows carved from the end of the training set, and its
//     standardisation uses training statistics alone.
//   - Nothing is random. Work is split over goroutines in chunks fixed by
//     the data's size, never by the number of threads, and partial sums are
//     reduced in a fixed order, so results are the same bits whatever
//     GOMAXPROCS is, natively and under js/wasm. (The k-NN similarities and
//     the probe's products with the features come from [core.Gemm]; its
//     GOEXPERIMENT=simd kernels round differently, as its documentation
//     says.)
//   - No file or network I/O: readers take an io.Reader.
//   - Misuse that a caller controls (mismatched sizes, labels out of range,
//     non-finite features) is an error prefixed "eval: ", not a panic. The
//     few functions without an error result panic on mismatched sizes, and
//     say so.
package eval
