// Package tasks holds Pretext's pretext tasks: each turns unlabelled photos
// into (input, label) examples and owns the head that predicts the label. One
// file per task, its paper cited in its doc comment, and one registry
// (registry.go).
//
// Adding a task:
//
//  1. One file, tasks/<name>.go: a type that implements Task. Its
//     Examples makes every input together with its label from one call; all
//     randomness from the rng it is given; a photo it cannot use returns an
//     error. Its head is an nn.Model struct of *nn.Param fields registered
//     with gob; Spec returns its JSON config so checkpoints can rebuild it.
//     A task whose labels depend on the whole photo set or the current
//     trunk (clustering, surrogate classes) is also a Refresher: the
//     training loops call Prepare before each batch, which refreshes it
//     when it asks; it implements Assigner to label held-out photos.
//  2. One registry line in registry.go.
//  3. Its test, <name>_test.go: labels checked against an independent
//     construction, and the loss falling within a few dozen steps on the
//     embedded sample photos (package samples).
//  4. Its visual output (Predict) for the page and `pretext predict`.
//  5. Its rows in docs/RESULTS.md: a pretext training and a probe in
//     cmd/pretext/report.go, then pretext report (the page picks the task up
//     from the registry by itself).
//
// Inputs are made by core.TrunkInput: colour normalised with
// core.ImageNetNorm for 3-channel trunks, luminance in [0, 1] for 1-channel
// ones (Fashion-MNIST).
package tasks
