//go:build !amd64 || purego

package kernel

// Without assembly loops, the batch-norm loops are the Go twins.

func bnSumsNative(row []float32, shift float64) (sum, squares float64) {
	return bnSumsGo(row, shift)
}

func bnGradSumsNative(x, dy, y []float32, mu float32, relu bool) (sumDz, sumDzX float64) {
	return bnGradSumsGo(x, dy, y, mu, relu)
}

func bnNormalizeNative(out, x []float32, mu, a, b float32, relu bool) {
	bnNormalizeGo(out, x, mu, a, b, relu)
}

func bnGradXNative(out, x, dy, y []float32, mu, k, c2, c1 float32, relu bool) {
	bnGradXGo(out, x, dy, y, mu, k, c2, c1, relu)
}
