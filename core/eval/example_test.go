package eval_test

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math/rand/v2"
	"strings"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/core/eval"
)

// clusters returns n feature rows around three centres, and their classes.
func clusters(rng *rand.Rand, n int) (eval.Features, []int) {
	x := eval.Features{N: n, Dim: 2, Data: make([]float32, 2*n)}
	y := make([]int, n)
	centres := [][2]float64{{4, 0}, {-2, 3}, {-2, -3}}
	for i := range n {
		c := rng.IntN(3)
		y[i] = c
		x.Data[2*i] = float32(centres[c][0] + rng.NormFloat64())
		x.Data[2*i+1] = float32(centres[c][1] + rng.NormFloat64())
	}
	return x, y
}

// The linear probe and k-NN on features of three clear clusters.
func ExampleLinearProbe() {
	rng := rand.New(rand.NewPCG(1, 2))
	train, trainY := clusters(rng, 600)
	test, testY := clusters(rng, 200)

	res, err := eval.LinearProbe(train, trainY, test, testY, 3, eval.ProbeConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("probe: %.1f%% (decay %g chosen on %d candidates)\n", 100*res.Accuracy, res.WeightDecay, len(res.Validation))

	acc, err := eval.KNN(train, trainY, test, testY, 3, eval.DefaultK, eval.DefaultTemperature)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("k-NN: %.1f%%\n", 100*acc)
	// Output:
	// probe: 100.0% (decay 0.01 chosen on 4 candidates)
	// k-NN: 100.0%
}

// Labels of a photo folder, their class ids and two stratified folds.
func ExampleFolds() {
	items, err := eval.ReadLabelsCSV(strings.NewReader("file,label\n" +
		"tabby.jpg,cat\nrex.jpg,dog\nmog.jpg,cat\nfido.jpg,dog\nfelix.jpg,cat\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	names, ids := eval.ClassIndex(items)
	folds := eval.Folds(items, 2)
	fmt.Println(names)
	for i, it := range items {
		fmt.Println(it.File, ids[i], folds[i])
	}
	// Output:
	// [cat dog]
	// tabby.jpg 0 0
	// rex.jpg 1 1
	// mog.jpg 0 1
	// fido.jpg 1 0
	// felix.jpg 0 0
}

// Cross validation over a photo folder's labels: two stratified folds, each
// tested once by a model trained on the other, and the accuracies'
// mean and spread.
func ExampleSplits() {
	items, err := eval.ReadLabelsCSV(strings.NewReader("file,label\n" +
		"tabby.jpg,cat\nrex.jpg,dog\nmog.jpg,cat\nfido.jpg,dog\nfelix.jpg,cat\nspot.jpg,dog\nkitty.jpg,cat\nmax.jpg,dog\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for f, s := range eval.Splits(eval.Folds(items, 2), 2) {
		var train, test []string
		for _, i := range s.Train {
			train = append(train, items[i].File)
		}
		for _, i := range s.Test {
			test = append(test, items[i].File)
		}
		fmt.Printf("fold %d: train on %v, test on %v\n", f, train, test)
	}
	// The accuracies a probe might score on the two folds.
	mean, sd := eval.MeanSD([]float64{0.75, 0.85})
	fmt.Printf("accuracy %.1f%% ± %.1f\n", 100*mean, 100*sd)
	// Output:
	// fold 0: train on [max.jpg tabby.jpg kitty.jpg spot.jpg], test on [fido.jpg rex.jpg felix.jpg mog.jpg]
	// fold 1: train on [fido.jpg rex.jpg felix.jpg mog.jpg], test on [max.jpg kitty.jpg tabby.jpg spot.jpg]
	// accuracy 80.0% ± 7.1
}

// A random trunk's features of a few images: after the last block, pooled
// globally, and after the first, pooled over a 4x4 grid; the batch-norm
// statistics are first recomputed on the training images.
func ExampleExtract() {
	rng := rand.New(rand.NewPCG(1, 2))
	trunk, err := core.NewTrunk(core.TrunkConfig{}, rng) // RS: 32, 64, 128 channels
	if err != nil {
		fmt.Println(err)
		return
	}
	imgs := make([]image.Image, 6)
	for i := range imgs {
		img := image.NewRGBA(image.Rect(0, 0, 32, 32))
		draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{uint8(40 * i), 128, uint8(255 - 40*i), 255}), image.Point{}, draw.Src)
		imgs[i] = img
	}
	train, test := eval.Inputs(imgs[:4], 3), eval.Inputs(imgs[4:], 3)
	pools := []core.Pooling{{Layer: 2, Grid: 1}, {Layer: 0, Grid: 4}}
	trainF, testF, err := eval.Extract(trunk, train, test, pools, eval.ExtractConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for p, pool := range pools {
		fmt.Printf("layer %d, grid %d: %d training and %d test rows of %d values\n", pool.Layer, pool.Grid, trainF[p].N, testF[p].N, trainF[p].Dim)
	}
	// Output:
	// layer 2, grid 1: 4 training and 2 test rows of 128 values
	// layer 0, grid 4: 4 training and 2 test rows of 512 values
}
