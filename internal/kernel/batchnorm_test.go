package kernel

import (
	"math"
	"testing"
)

// TestBNLoops checks the batch-norm loops (whichever kernel runs them)
// against plain loops over the same values: the elementwise ones bit for
// bit (each element is the same float32 expression; the conversions keep
// the compiler from fusing a multiply and an add here), the sums within the
// error bound of a float64 sum of n terms.
func TestBNLoops(t *testing.T) {
	const mu, a, b, k, c2, c1 = 0.1, 1.5, -0.2, 1.3, 0.02, -0.01
	for _, n := range []int{1, 3, 4, 5, 63, 64, 67, 1000} {
		x, dy := gemmRand(n, uint32(n)), gemmRand(n, uint32(n+1))
		x[0] = float32(math.Copysign(0, -1))
		for _, relu := range []bool{false, true} {
			y := make([]float32, n)
			BNNormalize(y, x, mu, a, b, relu)
			for i, v := range x {
				z := float32((v-mu)*a) + b
				if relu && !(z > 0) {
					z = 0 // +0, also for -0
				}
				if math.Float32bits(y[i]) != math.Float32bits(z) {
					t.Fatalf("n=%d relu=%v: normalize[%d] = %v, want %v", n, relu, i, y[i], z)
				}
			}
			dx := make([]float32, n)
			BNGradX(dx, x, dy, y, mu, k, c2, c1, relu)
			var sDz, sDzX, mag float64
			for i, v := range x {
				g := dy[i]
				if relu && !(y[i] > 0) {
					g = 0
				}
				if want := float32(k*g) - float32((v-mu)*c2) - c1; math.Float32bits(dx[i]) != math.Float32bits(want) {
					t.Fatalf("n=%d relu=%v: grad x[%d] = %v, want %v", n, relu, i, dx[i], want)
				}
				sDz += float64(g)
				sDzX += float64(g) * (float64(v) - mu32(mu))
				mag += math.Abs(float64(g)) * (1 + math.Abs(float64(v)-mu32(mu)))
			}
			s, p := BNGradSums(x, dy, y, mu, relu)
			if tol := float64(n) * mag / (1 << 52); math.Abs(s-sDz) > tol || math.Abs(p-sDzX) > tol {
				t.Errorf("n=%d relu=%v: grad sums %v %v, want %v %v ± %.3g", n, relu, s, p, sDz, sDzX, tol)
			}
		}
		const shift = 0.3
		var sum, squares, mag float64
		for _, v := range x {
			d := float64(v) - shift
			sum += d
			squares += d * d
			mag += math.Abs(d) + d*d
		}
		s, q := BNSums(x, shift)
		if tol := float64(n) * mag / (1 << 52); math.Abs(s-sum) > tol || math.Abs(q-squares) > tol {
			t.Errorf("n=%d: sums %v %v, want %v %v ± %.3g", n, s, q, sum, squares, tol)
		}
	}
}

// mu32 is mu as the loops see it: a float32 widened to float64.
func mu32(mu float32) float64 { return float64(mu) }

// TestBNNative checks the build's native batch-norm loops (AVX2 assembly on
// amd64) against the Go twins bit for bit, on every length up to 70 (the
// vector loops and their scalar tails) and with values of both signs, -0
// and zeros in y (the ReLU's mask).
func TestBNNative(t *testing.T) {
	const mu, a, b, k, c2, c1 = 0.1, 1.5, -0.2, 1.3, 0.02, -0.01
	for n := 0; n <= 70; n++ {
		x, dy := gemmRand(n, uint32(3*n+1)), gemmRand(n, uint32(3*n+2))
		if n > 2 {
			x[1] = float32(math.Copysign(0, -1))
			x[2] = mu
		}
		shift := 0.25
		if s, q := bnSumsNative(x, shift); true {
			ws, wq := bnSumsGo(x, shift)
			if s != ws || q != wq {
				t.Fatalf("n=%d: sums %v %v, Go twin %v %v", n, s, q, ws, wq)
			}
		}
		for _, relu := range []bool{false, true} {
			y, want := make([]float32, n), make([]float32, n)
			bnNormalizeNative(y, x, mu, a, b, relu)
			bnNormalizeGo(want, x, mu, a, b, relu)
			for i := range y {
				if math.Float32bits(y[i]) != math.Float32bits(want[i]) {
					t.Fatalf("n=%d relu=%v: normalize[%d] = %v, Go twin %v", n, relu, i, y[i], want[i])
				}
			}
			s, p := bnGradSumsNative(x, dy, y, mu, relu)
			ws, wp := bnGradSumsGo(x, dy, y, mu, relu)
			if s != ws || p != wp {
				t.Fatalf("n=%d relu=%v: gradient sums %v %v, Go twin %v %v", n, relu, s, p, ws, wp)
			}
			dx, wdx := make([]float32, n), make([]float32, n)
			bnGradXNative(dx, x, dy, y, mu, k, c2, c1, relu)
			bnGradXGo(wdx, x, dy, y, mu, k, c2, c1, relu)
			for i := range dx {
				if math.Float32bits(dx[i]) != math.Float32bits(wdx[i]) {
					t.Fatalf("n=%d relu=%v: grad x[%d] = %v, Go twin %v", n, relu, i, dx[i], wdx[i])
				}
			}
		}
	}
}
