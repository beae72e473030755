package eval

import (
	"math"

	"github.com/pretextlab/pretext/core"
)

// objective is the linear probe's training loss: the mean softmax
// cross-entropy of the rows of x against labels y plus (decay/2)·||W||²
// (the bias is not penalised). Its parameters are one float64 vector, W
// (classes x dim, row-major) followed by B (classes).
//
// The two products with the features, the scores X·Wᵀ and the gradient
// (P - Y)ᵀ·X, run as float32 matrix products ([core.Gemm]), as a float32
// PyTorch probe does; everything else (softmax, loss, the sums over
// chunks of rows, the parameters L-BFGS keeps) is float64. The gradient's
// float32 sums run over one chunk of rows at a time, so their rounding
// stays near float32 epsilon times sqrt(chunk) rather than sqrt(N).
type objective struct {
	x       Features
	y       []int
	classes int
	decay   float64
	// chunk is the number of rows summed into one partial result. It
	// depends only on the number of rows, so the order of every sum is
	// the same whatever the number of threads (and so is core.Gemm's).
	chunk int
	// w32 is W in float32; z holds the scores, then the residuals p -
	// onehot(y), class by class (classes x N): as the left operand of the
	// gradient's product it is then packed as is, and the scores' product
	// packs the few rows of W rather than the many of X.
	w32, z []float32
	// parts[c] holds chunk c's float32 weight-gradient sums (classes x
	// dim); sums[c] its bias-gradient sums, then its loss sum.
	parts [][]float32
	sums  [][]float64
}

// Rows per partial sum: at least objMinChunk, and at most objMaxChunks
// partial results (so their memory stays small next to the features).
const (
	objMinChunk  = 1024
	objMaxChunks = 64
)

func newObjective(x Features, y []int, classes int, decay float64) *objective {
	chunk := max(objMinChunk, (x.N+objMaxChunks-1)/objMaxChunks)
	n := (x.N + chunk - 1) / chunk
	o := &objective{x: x, y: y, classes: classes, decay: decay, chunk: chunk,
		w32: make([]float32, classes*x.Dim), z: make([]float32, x.N*classes),
		parts: make([][]float32, n), sums: make([][]float64, n)}
	for c := range n {
		o.parts[c] = make([]float32, classes*x.Dim)
		o.sums[c] = make([]float64, classes+1)
	}
	return o
}

// size is the number of parameters.
func (o *objective) size() int { return o.classes*o.x.Dim + o.classes }

// eval returns the loss at params and writes its gradient to grad.
func (o *objective) eval(params, grad []float64) float64 {
	d, k, n := o.x.Dim, o.classes, o.x.N
	w, b := params[:k*d], params[k*d:k*d+k]
	for i, v := range w {
		o.w32[i] = float32(v)
	}
	if d > 0 {
		core.Gemm(false, true, k, n, d, o.w32, d, o.x.Data, d, 0, o.z, n)
	} else {
		clear(o.z)
	}
	parallel(len(o.parts), func(c int) {
		lo := c * o.chunk
		o.partial(b, lo, min(lo+o.chunk, n), o.parts[c], o.sums[c])
	})
	// Reduce the chunks in order, then scale once.
	clear(grad)
	gw, gb := grad[:k*d], grad[k*d:k*d+k]
	var loss float64
	for c, p := range o.parts {
		for i, v := range p {
			gw[i] += float64(v)
		}
		s := o.sums[c]
		for i, v := range s[:k] {
			gb[i] += v
		}
		loss += s[k]
	}
	inv := 1 / float64(n)
	for i := range grad {
		grad[i] *= inv
	}
	loss *= inv
	var sq float64
	for i, v := range w {
		sq += float64(v * v)
		gw[i] += float64(o.decay * v)
	}
	return loss + float64(0.5*o.decay*sq)
}

// partial turns the scores of rows [lo, hi) into residuals p - onehot(y),
// writes their bias-gradient sums and cross-entropy sum to sums, and the
// weight-gradient sums Σ (p - onehot(y)) ⊗ x to part.
func (o *objective) partial(b []float64, lo, hi int, part []float32, sums []float64) {
	d, k, n := o.x.Dim, o.classes, o.x.N
	clear(sums)
	var zr [64]float64
	row := zr[:0]
	if k > len(zr) {
		row = make([]float64, k)
	}
	row = row[:k]
	var loss float64
	for i := lo; i < hi; i++ {
		for c := range row {
			row[c] = float64(o.z[c*n+i]) + b[c]
		}
		loss += softmaxResidual(row, o.y[i])
		for c, v := range row {
			o.z[c*n+i] = float32(v)
			sums[c] += v
		}
	}
	sums[k] = loss
	if d > 0 {
		core.Gemm(false, false, k, d, hi-lo, o.z[lo:], n, o.x.Data[lo*d:hi*d], d, 0, part, d)
	}
}

// softmaxResidual replaces the scores z of one row by p - onehot(y), where p
// = softmax(z), and returns the cross-entropy -log p[y], computed as
// log Σ exp(z - max z) - (z[y] - max z) so that nothing overflows.
func softmaxResidual(z []float64, y int) float64 {
	zmax := math.Inf(-1)
	for _, v := range z {
		zmax = max(zmax, v)
	}
	zy := z[y] - zmax
	var sum float64
	for c, v := range z {
		z[c] = math.Exp(v - zmax)
		sum += z[c]
	}
	inv := 1 / sum
	for c := range z {
		z[c] *= inv
	}
	z[y]--
	return math.Log(sum) - zy
}

// dot returns Σ a[j]·b[j], a plain sum in increasing j. Every product is
// converted to float64 before it is added, which forbids the compiler from
// fusing it into an FMA (as Go does on arm64): every platform rounds the
// same way. (So does axpy.)
func dot(a, b []float64) float64 {
	b = b[:len(a)]
	var s float64
	for j, v := range a {
		s += float64(v * b[j])
	}
	return s
}

// axpy adds r·x to y.
func axpy(r float64, x, y []float64) {
	y = y[:len(x)]
	for j, v := range x {
		y[j] += float64(r * v)
	}
}
