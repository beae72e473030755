package recipe

import "github.com/pretextlab/pretext/tasks"

// Rounds of random examples HeldOut draws from each held-back photo (the
// crops, rotations and shuffles differ each round): photos are few, so
// one round would leave the figure to chance.
const Rounds = 4

// HeldOut measures the run's task on photos it never trained on: its
// loss, accuracy and its trivial predictor's loss (tasks.HeldOutScore) over
// rounds passes, and a Measurer task's own measure (super-resolution's
// PSNR against bicubic). The examples are drawn from a generator seeded
// by the run's seed, so the figure is reproducible.
func (r *Run) HeldOut(photos []Photo, rounds int) (tasks.HeldOut, error) {
	return tasks.HeldOutScore(r.Trainer, r.Task, Images(photos), rounds, r.Settings.Batch, r.Settings.Seed)
}
