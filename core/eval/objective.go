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
// The two products with the features, the scores W·Xᵀ and the gradient
// (P - Y)ᵀ·X, run as float32 matrix products ([core.Gemm]), as a float32
// PyTorch probe does; everything else (softmax, loss, the sums over
// chunks of rows, the parameters L-BFGS keeps) is float64. The gradient's
// float32 sums run over one chunk of rows at a time, so their rounding
// stays near float32 epsilon times sqrt(chunk) rather than sqrt(N).
//
// evalMany evaluates several models (of several decays) at once: their
// weights are stacked into one matrix, so each chunk of x is read once for
// all of them. Each element of a product depends only on its own row and
// column, so every model's loss and gradient are the same bits as when it
// is evaluated alone.
type objective struct {
	x       Features
	y       []int
	classes int
	decay   float64 // of eval
	// chunk is the number of rows summed into one partial result. It
	// depends only on the number of rows, so the order of every sum is
	// the same whatever the number of threads (and so is core.Gemm's).
	chunk int
	// For the models of one evaluation, stacked: w32 holds their weights
	// in float32; z their scores, then the residuals p - onehot(y), class
	// by class (models*classes x N), which makes it the left operand of
	// the gradient's product as is.
	w32, z []float32
	// parts[c] holds chunk c's float32 weight-gradient sums (models*classes
	// x dim); sums[c] each model's bias-gradient sums and loss sum.
	parts [][]float32
	sums  [][]float64
	b     [][]float64 // each model's biases
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
	return &objective{x: x, y: y, classes: classes, decay: decay, chunk: chunk,
		parts: make([][]float32, n), sums: make([][]float64, n)}
}

// size is the number of parameters.
func (o *objective) size() int { return o.classes*o.x.Dim + o.classes }

// eval returns the loss at params and writes its gradient to grad.
func (o *objective) eval(params, grad []float64) float64 {
	var loss [1]float64
	o.evalMany([]float64{o.decay}, [][]float64{params}, [][]float64{grad}, loss[:])
	return loss[0]
}

// evalMany evaluates models m = 0, 1, ...: writes to loss[m] the loss, with
// decay decays[m], at params[m] and its gradient to grads[m].
func (o *objective) evalMany(decays []float64, params, grads [][]float64, loss []float64) {
	d, k, n, nm := o.x.Dim, o.classes, o.x.N, len(params)
	kk := nm * k
	if cap(o.w32) < kk*d {
		o.w32 = make([]float32, kk*d)
		o.z = make([]float32, kk*n)
		for c := range o.parts {
			o.parts[c] = make([]float32, kk*d)
			o.sums[c] = make([]float64, nm*(k+1))
		}
	}
	o.w32, o.z = o.w32[:kk*d], o.z[:kk*n]
	o.b = o.b[:0]
	for m, p := range params {
		for i, v := range p[:k*d] {
			o.w32[m*k*d+i] = float32(v)
		}
		o.b = append(o.b, p[k*d:k*d+k])
	}
	parallel(len(o.parts), func(c int) {
		lo := c * o.chunk
		o.partial(nm, lo, min(lo+o.chunk, n), o.parts[c][:kk*d], o.sums[c][:nm*(k+1)])
	})
	// Reduce the chunks in order, then scale once.
	inv := 1 / float64(n)
	for m, grad := range grads {
		clear(grad)
		gw, gb := grad[:k*d], grad[k*d:k*d+k]
		var l float64
		for c, p := range o.parts {
			for i, v := range p[m*k*d : (m+1)*k*d] {
				gw[i] += float64(v)
			}
			s := o.sums[c][m*(k+1) : (m+1)*(k+1)]
			for i, v := range s[:k] {
				gb[i] += v
			}
			l += s[k]
		}
		for i := range grad {
			grad[i] *= inv
		}
		l *= inv
		decay := decays[m]
		var sq float64
		for i, v := range params[m][:k*d] {
			sq += float64(v * v)
			gw[i] += float64(decay * v)
		}
		loss[m] = l + float64(0.5*decay*sq)
	}
}

// partial computes the scores of rows [lo, hi) for nm models, turns them
// into residuals p - onehot(y), writes each model's bias-gradient sums and
// cross-entropy sum to sums, and the weight-gradient sums Σ (p -
// onehot(y)) ⊗ x to part.
func (o *objective) partial(nm, lo, hi int, part []float32, sums []float64) {
	d, k, n := o.x.Dim, o.classes, o.x.N
	kk := nm * k
	clear(sums)
	// The chunk's scores, then (below) its gradient: its rows of x are
	// still in cache for the second product.
	if d > 0 {
		core.Gemm(false, true, kk, hi-lo, d, o.w32, d, o.x.Data[lo*d:hi*d], d, 0, o.z[lo:], n)
	} else {
		for c := range kk {
			clear(o.z[c*n+lo : c*n+hi])
		}
	}
	var zr [64]float64
	row := zr[:0]
	if k > len(zr) {
		row = make([]float64, k)
	}
	row = row[:k]
	for m := range nm {
		z, b, s := o.z[m*k*n:(m+1)*k*n], o.b[m], sums[m*(k+1):(m+1)*(k+1)]
		var loss float64
		for i := lo; i < hi; i++ {
			for c := range row {
				row[c] = float64(z[c*n+i]) + b[c]
			}
			loss += softmaxResidual(row, o.y[i])
			for c, v := range row {
				z[c*n+i] = float32(v)
				s[c] += v
			}
		}
		s[k] = loss
	}
	if d > 0 {
		core.Gemm(false, false, kk, d, hi-lo, o.z[lo:], n, o.x.Data[lo*d:hi*d], d, 0, part, d)
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
