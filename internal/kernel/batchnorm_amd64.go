//go:build amd64 && !purego

package kernel

import "golang.org/x/sys/cpu"

// The batch-norm row loops on AVX2 (batchnorm_amd64.s) where the CPU has
// it, with the same bits as the Go twins: TestBNNative compares them.

// bnAVX2 reports whether the AVX2 loops run.
var bnAVX2 = cpu.X86.HasAVX2

//go:noescape
func bnSumsAVX2(x *float32, n int, shift float64, lanes *[8]float64)

//go:noescape
func bnGradSumsAVX2(x, dy, y *float32, n int, mean float64, relu bool, lanes *[8]float64)

//go:noescape
func bnNormalizeAVX2(out, x *float32, n int, mu, a, b float32, relu bool)

//go:noescape
func bnGradXAVX2(out, x, dy, y *float32, n int, mu, k, c2, c1 float32, relu bool)

func bnSumsNative(row []float32, shift float64) (sum, squares float64) {
	n4 := len(row) &^ 3
	if !bnAVX2 || n4 == 0 {
		return bnSumsGo(row, shift)
	}
	var l [8]float64 // the twin's s0..s3, q0..q3
	bnSumsAVX2(&row[0], n4, shift, &l)
	for _, v := range row[n4:] {
		a := float64(v) - shift
		l[0] += a
		l[4] += float64(a * a)
	}
	return (l[0] + l[1]) + (l[2] + l[3]), (l[4] + l[5]) + (l[6] + l[7])
}

func bnGradSumsNative(x, dy, y []float32, mu float32, relu bool) (sumDz, sumDzX float64) {
	dy, y = dy[:len(x)], y[:len(x)]
	n4 := len(x) &^ 3
	if !bnAVX2 || n4 == 0 {
		return bnGradSumsGo(x, dy, y, mu, relu)
	}
	mean := float64(mu)
	var l [8]float64 // the twin's s0..s3, p0..p3
	bnGradSumsAVX2(&x[0], &dy[0], &y[0], n4, mean, relu, &l)
	for i := n4; i < len(x); i++ {
		g := dy[i]
		if relu {
			g = reluMasked(g, y[i])
		}
		l[0] += float64(g)
		l[4] += float64(float64(g) * (float64(x[i]) - mean))
	}
	return (l[0] + l[1]) + (l[2] + l[3]), (l[4] + l[5]) + (l[6] + l[7])
}

func bnNormalizeNative(out, x []float32, mu, a, b float32, relu bool) {
	out = out[:len(x)]
	n8 := len(x) &^ 7
	if bnAVX2 && n8 > 0 {
		bnNormalizeAVX2(&out[0], &x[0], n8, mu, a, b, relu)
	} else {
		n8 = 0
	}
	bnNormalizeGo(out[n8:], x[n8:], mu, a, b, relu)
}

func bnGradXNative(out, x, dy, y []float32, mu, k, c2, c1 float32, relu bool) {
	out, dy, y = out[:len(x)], dy[:len(x)], y[:len(x)]
	n8 := len(x) &^ 7
	if bnAVX2 && n8 > 0 {
		bnGradXAVX2(&out[0], &x[0], &dy[0], &y[0], n8, mu, k, c2, c1, relu)
	} else {
		n8 = 0
	}
	bnGradXGo(out[n8:], x[n8:], dy[n8:], y[n8:], mu, k, c2, c1, relu)
}
