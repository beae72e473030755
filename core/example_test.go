package core_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/core/safetensors"
)

// A trainer for a 4-way classifier on the RS trunk: one step on a batch of
// random images, then a checkpoint round trip.
func ExampleTrainer() {
	rng := rand.New(rand.NewPCG(1, 2)) // all randomness is seeded and passed in
	trunk, _ := core.NewTrunk(core.TrunkConfig{}, rng)
	head, _ := core.NewClassifier(trunk.Features(), 4, rng)
	tr, _ := core.NewTrainer(trunk, head, core.TrainConfig{})

	batch := make([]core.Example, 8)
	for i := range batch {
		img := core.NewPlanar(3, 32, 32)
		for j := range img.Pix {
			img.Pix[j] = float32(rng.NormFloat64())
		}
		batch[i] = core.Example{Views: []core.Planar{img}, Class: i % 4}
	}
	st, err := tr.Step(context.Background(), batch)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("step %d: %d images, lr %.2f, loss finite: %v\n", st.Step, st.Images, st.LR, st.Loss > 0 && st.Loss < 10)

	var ckpt bytes.Buffer
	if err := tr.Save(&ckpt); err != nil {
		fmt.Println(err)
		return
	}
	back, err := core.LoadTrainer(&ckpt, nil)
	fmt.Println("reloaded at step", back.Steps(), "error:", err)
	// Output:
	// step 1: 8 images, lr 0.05, loss finite: true
	// reloaded at step 1 error: <nil>
}

// Export a trained model as safetensors, the format PyTorch and others read
// (interop/pytorch loads it into a PyTorch twin), and read it back.
func ExampleTrainer_ExportSafetensors() {
	rng := rand.New(rand.NewPCG(1, 2))
	trunk, _ := core.NewTrunk(core.TrunkConfig{}, rng)
	head, _ := core.NewClassifier(trunk.Features(), 4, rng)
	tr, _ := core.NewTrainer(trunk, head, core.TrainConfig{})

	var file bytes.Buffer // an *os.File in practice
	if err := tr.ExportSafetensors(&file); err != nil {
		fmt.Println(err)
		return
	}
	st, err := safetensors.Read(bytes.NewReader(file.Bytes()), 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(st.Tensors) > 0, st.Tensors[0].DType)
	back, err := core.ImportSafetensors(&file, nil)
	fmt.Println("imported:", back != nil, err)
	// Output:
	// true F32
	// imported: true <nil>
}
