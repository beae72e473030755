// Package recipe is Pretext's one training recipe: it turns settings into a
// run (trunk, task and trainer, all seeded) and trains it, the same way for
// every shell. The command (cmd/pretext), the page (wasm/app) and the tests
// drive it through hooks (progress, refresh, warnings, previews, autosave,
// yield, stop), never through copies of the loop.
//
// A training step, in the order the loop takes it:
//
//  1. stop? (the context, agreed by every replica of a data-parallel group)
//  2. tasks.Prepare: a clustering task relabels the photos when it asks
//  3. tasks.Batch: photos drawn with the run's generator, the task makes
//     each input together with its label
//  4. core.Trainer.Step: forward, loss, backward, update (or a diverged
//     step undone and retried at a lower rate)
//  5. hooks: progress; every N steps a preview, an autosave and an
//     evaluation (Hooks.Eval)
//
// Invariants:
//
//   - A run is determined by its Settings and photos: the same seed gives
//     the same losses, natively and in wasm, with any number of replicas.
//   - Photos are split into training and held-back ones by name (Split), so
//     the order they were added in does not matter.
//   - The run's generator (its PCG state) travels with the model in a
//     session, so a stopped or reloaded run resumes exactly.
//   - No file or network I/O: photos come decoded, sessions are bytes.
package recipe
