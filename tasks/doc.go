// Package tasks holds Pretext's pretext tasks and their contract: each task
// turns unlabelled photos into (input, label) examples and owns the head
// that predicts the label. One file per task, its paper cited in its doc
// comment, and one registry (registry.go) whose entries hold everything
// about their task.
//
// The contract (task.go): a Task is a core.Objective (a head with its loss,
// which core's trainer steps and checkpoints) that also makes its examples,
// says what it needs of its photos and shows its output (Predict). A task
// whose labels depend on the whole photo set or the current trunk
// (clustering, surrogate classes) is also a Refresher, and an Assigner to
// label held-out photos. A task with a trivial predictor to beat is a
// Baseliner; one with a measure of its own (super-resolution's PSNR) a
// Measurer.
//
// Adding a task:
//
//  1. One file, tasks/<name>.go: a type that embeds base[Config] (its
//     name, settings and input channels: Name, Config and Spec) and
//     implements Task. Its Examples makes every input together with its
//     label from one call; all randomness from the rng it is given; a
//     photo it cannot use returns an error. Its head is a type: a
//     *core.Classifier or *core.MLP field (export and checkpoints know
//     them), or an nn.Model struct of *nn.Param fields registered with gob.
//     Its Needs says what photos it can use (colour, smallest side).
//  2. Its registry entry beside it (<name>Entry: constructor, summary,
//     training defaults that learn on photos it has never seen, preview
//     captions) and one line in registry.go's map.
//  3. Its test, <name>_test.go: labels checked against an independent
//     construction, and the loss falling within a few dozen steps on the
//     embedded sample photos (package samples, in tests only).
//  4. Its visual output (Predict) for the page and pretext predict.
//  5. Its rows in docs/RESULTS.md: a pretext training and a probe in
//     cmd/pretext/report.go, then pretext report. The page, pretext train
//     and pretext tasks pick the task and its facts up from the registry.
//
// Shared helpers live in files of their own: photo.go (checks), augment.go
// (the augmented crop), twoview.go and multicrop.go (the joint-embedding
// methods' views, forward pass and previews), probs.go, matrix.go, tiles.go
// (the context tasks' tiles and patches), views.go (their forward pass),
// cluster.go and kmeans.go and sinkhorn.go (the clustering tasks; swav
// shares the Sinkhorn-Knopp scaling), lab.go
// (colour), decoder.go (the pixel-predicting tasks' decoder).
//
// Inputs are made by core.TrunkInput: colour normalised with
// core.ImageNetNorm for 3-channel trunks, luminance in [0, 1] for 1-channel
// ones (Fashion-MNIST).
package tasks
