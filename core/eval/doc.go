// Package eval measures how good a trunk's frozen features are for a
// labelled task: a linear probe (multinomial logistic regression fitted by
// L-BFGS, its weight decay chosen on held-out training rows) and a weighted
// k-nearest-neighbour classifier, plus readers for the labelled data they are
// measured on (IDX files such as Fashion-MNIST's, and a photo folder's
// labels.csv with deterministic folds). The defaults follow the project's
// reference protocol (../shared/bench/quality.md), so that figures compare
// with its PyTorch ones.
//
// The protocol's steps around the probes are here too, for every shell to
// call: [Inputs] and [Extract] turn labelled images into a frozen trunk's
// features (batch-norm statistics recomputed on the training images);
// [Folds] and [Splits] make the cross-validation rounds of a photo folder,
// and [MeanSD] summarises their accuracies; [Supervise] trains a trunk end to
// end with the labels, the ceiling the frozen features are compared with.
//
// # Layout
//
// A set of trunk inputs is a []core.Planar of one size, one per image,
// with its labels in a []int of the same length. A set of features is one
// row-major float32 matrix of N rows of Dim values ([Features]): row i is
// the feature vector of example i. Labels are class ids in [0, classes),
// one per row, in a []int of length N. A logistic model's weights are a
// float64 matrix of Classes rows of Dim values ([Logistic]).
//
// # Invariants
//
//   - Inputs are never modified: standardised and normalised rows are
//     copies. The one exception is the trunk given to [Extract], whose
//     batch-norm running statistics it replaces unless told to keep them
//     (its weights never change).
//   - The test rows only score a finished model: the probe's weight decay
//     is chosen on rows carved from the end of the training set, and its
//     standardisation uses training statistics alone.
//   - Nothing is random but [Supervise], which draws from the *rand.Rand
//     it is given. (The cross-validation order of [Splits] is a
//     permutation from a fixed seed, the same everywhere.) Work is split over goroutines in chunks fixed by
//     the data's size, never by the number of threads, and partial sums are
//     reduced in a fixed order, so results are the same bits whatever
//     GOMAXPROCS is, natively and under js/wasm. (The k-NN similarities and
//     the probe's products with the features come from [core.Gemm]; its
//     assembly kernels round differently from the pure-Go ones, as its
//     documentation says.)
//   - No file or network I/O: readers take an io.Reader.
//   - Misuse that a caller controls (mismatched sizes, labels out of range,
//     non-finite features) is an error prefixed "eval: ", not a panic. The
//     few functions without an error result panic on mismatched sizes, and
//     say so.
package eval
