package eval

import (
	"fmt"
	"testing"
)

// BenchmarkObjective measures one loss-and-gradient evaluation of the
// probe's objective on Fashion-MNIST-sized training sets (60000 rows, 10
// classes): L-BFGS makes about one per iteration.
func BenchmarkObjective(b *testing.B) {
	for _, d := range []int{128, 512} {
		b.Run(fmt.Sprintf("60000x%dx10", d), func(b *testing.B) {
			x, y, params := randomProblem(1, 60000, d, 10)
			o := newObjective(x, y, 10, 1e-3)
			g := make([]float64, o.size())
			b.ReportAllocs()
			for b.Loop() {
				o.eval(params, g)
			}
			b.ReportMetric(float64(b.N)*float64(x.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkKNN60000x128 classifies 1000 test rows against 60000 training
// rows of 128 features (a tenth of Fashion-MNIST's test set).
func BenchmarkKNN60000x128(b *testing.B) {
	rng := newRand(2)
	train, trainY := blobs(rng, 60000, 128, 10, 1)
	test, _ := blobs(rng, 1000, 128, 10, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := KNNPredict(train, trainY, test, 10, DefaultK, DefaultTemperature); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*float64(test.N)/b.Elapsed().Seconds(), "queries/s")
}
