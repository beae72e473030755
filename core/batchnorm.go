package core

import (
	"fmt"
	"math"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

// BNStats are a batch-norm layer's running statistics, updated in place in
// training mode (PyTorch semantics: momentum 0.1 default, running var uses the
// unbiased batch variance). Both slices have one value per channel; in
// training mode both may be nil to track no statistics.
type BNStats struct{ Mean, Var []float32 }

// BNOptions are a batch-norm layer's mode and constants.
type BNOptions struct {
	// Train selects batch statistics (and updates the running statistics);
	// otherwise the running statistics normalise.
	Train bool
	// ReLU fuses max(0, ·) into the output.
	ReLU bool
	// Eps is added to the variance; 0 means 1e-5.
	Eps float32
	// Momentum is the running statistics' update rate; 0 means 0.1.
	Momentum float32
}

// BatchNorm2D normalises each channel (row) of x ([C, N*H*W], geometry in),
// scales it by gamma and shifts it by beta (both [C, 1]) and, with opt.ReLU,
// clamps it at zero. The result y is [C, N*H*W].
//
// In training mode the backward pass is the full gradient through the batch
// statistics; in evaluation mode it is the per-channel affine map's.
func BatchNorm2D(x mat.Tensor, in Shape, gamma, beta mat.Tensor, stats BNStats, opt BNOptions) (mat.Tensor, error) {
	fn, err := newBatchNormFn(x, in, gamma, beta, stats, opt)
	if err != nil {
		return nil, err
	}
	return ag.NewOperator(fn).Run(), nil
}

// newBatchNormFn validates BatchNorm2D's operands and options and returns
// its autograd function.
func newBatchNormFn(x mat.Tensor, in Shape, gamma, beta mat.Tensor, stats BNStats, opt BNOptions) (*batchNormFn, error) {
	if err := in.check("batch-norm input", x); err != nil {
		return nil, err
	}
	if err := checkMatrix("batch-norm gamma", gamma, in.C, 1); err != nil {
		return nil, err
	}
	if err := checkMatrix("batch-norm beta", beta, in.C, 1); err != nil {
		return nil, err
	}
	eps, mom := float64(opt.Eps), float64(opt.Momentum)
	if eps == 0 {
		eps = 1e-5
	}
	if mom == 0 {
		mom = 0.1
	}
	if !(eps > 0) || math.IsInf(eps, 1) {
		return nil, fmt.Errorf("core: batch-norm eps is %v, want positive", opt.Eps)
	}
	if !(mom > 0 && mom <= 1) {
		return nil, fmt.Errorf("core: batch-norm momentum is %v, want in (0, 1]", opt.Momentum)
	}
	track := !opt.Train || stats.Mean != nil || stats.Var != nil
	if track && (len(stats.Mean) != in.C || len(stats.Var) != in.C) {
		return nil, fmt.Errorf("core: batch-norm running statistics have %d means and %d variances, want %d of each",
			len(stats.Mean), len(stats.Var), in.C)
	}
	if opt.Train && in.Cols() < 2 {
		// PyTorch refuses too: the unbiased variance needs two values.
		return nil, fmt.Errorf("core: batch-norm in training mode needs more than one value per channel, got %v", in)
	}
	if !opt.Train {
		for c, v := range stats.Var {
			if !(float64(v)+eps > 0) || math.IsInf(float64(v), 1) {
				return nil, fmt.Errorf("core: batch-norm running variance of channel %d is %v", c, v)
			}
		}
	}
	return &batchNormFn{x: x, gamma: gamma, beta: beta, in: in, stats: stats, opt: opt, eps: eps, mom: mom, track: track}, nil
}

// batchNormFn is the autograd function of [BatchNorm2D].
type batchNormFn struct {
	x, gamma, beta mat.Tensor
	in             Shape
	stats          BNStats
	opt            BNOptions
	eps, mom       float64
	track          bool // update stats (training mode)
	// mean and istd are the per-channel mean and 1/sqrt(var+eps) the forward
	// pass used (batch or running); backward recomputes the normalised x from
	// them and x rather than storing a copy of it.
	mean, istd []float32
	// y is the output, kept for the fused ReLU's mask (y > 0).
	y *mat.Dense[float32]
}

// Operands implements ag.AutoGradFunction.
func (f *batchNormFn) Operands() []mat.Tensor { return []mat.Tensor{f.x, f.gamma, f.beta} }

// Forward implements ag.AutoGradFunction.
func (f *batchNormFn) Forward() (mat.Tensor, error) {
	c, m := f.in.C, f.in.Cols()
	xd, gd, bd := data(f.x), data(f.gamma), data(f.beta)
	f.mean, f.istd = make([]float32, c), make([]float32, c)
	f.y = newMatrix(c, m)
	yd := data(f.y)
	parallelFor(c, 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			row := xd[ch*m : (ch+1)*m]
			var mean, variance float64
			if f.opt.Train {
				mean, variance = bnMoments(row)
				if f.track {
					// Running statistics follow PyTorch: the unbiased
					// variance, blended with weight momentum.
					unbiased := variance * float64(m) / float64(m-1)
					f.stats.Mean[ch] = float32((1-f.mom)*float64(f.stats.Mean[ch]) + f.mom*mean)
					f.stats.Var[ch] = float32((1-f.mom)*float64(f.stats.Var[ch]) + f.mom*unbiased)
				}
			} else {
				mean, variance = float64(f.stats.Mean[ch]), float64(f.stats.Var[ch])
			}
			istd := 1 / math.Sqrt(variance+f.eps)
			f.mean[ch], f.istd[ch] = float32(mean), float32(istd)
			mu, a, b := float32(mean), float32(float64(gd[ch])*istd), bd[ch]
			out := yd[ch*m : (ch+1)*m]
			out = out[:len(row)]
			if f.opt.ReLU {
				for i, v := range row {
					out[i] = relu32((v-mu)*a + b)
				}
			} else {
				for i, v := range row {
					out[i] = (v-mu)*a + b
				}
			}
		}
	})
	return f.y, nil
}

// bnMoments returns the mean and biased variance of row, accumulated in
// float64 around the first value (a shift that keeps E[x²]-E[x]² from
// cancelling when the mean is large against the spread). Two accumulators per
// sum halve the dependency chain; their order is fixed, so it is reproducible.
func bnMoments(row []float32) (mean, variance float64) {
	shift := float64(row[0])
	var s0, s1, q0, q1 float64
	i := 0
	for ; i+1 < len(row); i += 2 {
		a, b := float64(row[i])-shift, float64(row[i+1])-shift
		s0 += a
		s1 += b
		q0 += a * a
		q1 += b * b
	}
	if i < len(row) {
		a := float64(row[i]) - shift
		s0 += a
		q0 += a * a
	}
	n := float64(len(row))
	d := (s0 + s1) / n
	return shift + d, max((q0+q1)/n-d*d, 0)
}

// Backward implements ag.AutoGradFunction. With z the pre-ReLU output,
// x̂ = (x-mean)·istd and dz = dy masked by y > 0:
//
//	dbeta = Σ dz, dgamma = Σ dz·x̂
//	dx = gamma·istd·(dz - dbeta/M - x̂·dgamma/M)  (training mode)
//	dx = gamma·istd·dz                            (evaluation mode)
func (f *batchNormFn) Backward(gy mat.Tensor) error {
	c, m := f.in.C, f.in.Cols()
	dyd := data(gy)
	if len(dyd) != c*m {
		return fmt.Errorf("core: batch-norm output gradient has %d values, want %d", len(dyd), c*m)
	}
	needX, needG, needB := f.x.RequiresGrad(), f.gamma.RequiresGrad(), f.beta.RequiresGrad()
	if !needX && !needG && !needB {
		return nil
	}
	xd, gd, yd := data(f.x), data(f.gamma), data(f.y)
	var dx []float32
	var dxm *mat.Dense[float32]
	if needX {
		dxm = newMatrix(c, m)
		dx = data(dxm)
	}
	dgamma, dbeta := newMatrix(c, 1), newMatrix(c, 1)
	dg, db := data(dgamma), data(dbeta)
	relu, train := f.opt.ReLU, f.opt.Train
	parallelFor(c, 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			x := xd[ch*m : (ch+1)*m]
			dy := dyd[ch*m : (ch+1)*m]
			dy = dy[:len(x)]
			y := yd[ch*m : (ch+1)*m]
			y = y[:len(x)]
			mu, istd := f.mean[ch], f.istd[ch]
			k := gd[ch] * istd // d z / d x in evaluation mode
			var sumDz, sumDzX float32
			if train || needG || needB {
				sumDz, sumDzX = bnGradSums(x, dy, y, mu, relu)
				db[ch] = sumDz
				dg[ch] = sumDzX * istd
			}
			if !needX {
				continue
			}
			out := dx[ch*m : (ch+1)*m]
			out = out[:len(x)]
			if !train {
				if relu {
					for i, v := range dy {
						out[i] = reluMasked(v, y[i]) * k
					}
				} else {
					for i, v := range dy {
						out[i] = v * k
					}
				}
				continue
			}
			// dx = k·dz - (x-mu)·k·istd·dgamma/M - k·dbeta/M
			inv := 1 / float32(m)
			c1 := k * sumDz * inv
			c2 := k * istd * dg[ch] * inv
			if relu {
				for i, v := range dy {
					out[i] = k*reluMasked(v, y[i]) - (x[i]-mu)*c2 - c1
				}
			} else {
				for i, v := range dy {
					out[i] = k*v - (x[i]-mu)*c2 - c1
				}
			}
		}
	})
	if needX {
		f.x.AccGrad(dxm)
	}
	if needG {
		f.gamma.AccGrad(dgamma)
	}
	if needB {
		f.beta.AccGrad(dbeta)
	}
	return nil
}

// bnGradSums returns Σ dz and Σ dz·(x-mu) over one channel in float64 (as
// float32), where dz is dy, masked by y > 0 if relu.
func bnGradSums(x, dy, y []float32, mu float32, relu bool) (sumDz, sumDzX float32) {
	dy, y = dy[:len(x)], y[:len(x)]
	mean := float64(mu)
	var s0, s1, p0, p1 float64
	i := 0
	for ; i+1 < len(x); i += 2 {
		a, b := dy[i], dy[i+1]
		if relu {
			a, b = reluMasked(a, y[i]), reluMasked(b, y[i+1])
		}
		da, dbv := float64(a), float64(b)
		s0 += da
		s1 += dbv
		p0 += da * (float64(x[i]) - mean)
		p1 += dbv * (float64(x[i+1]) - mean)
	}
	if i < len(x) {
		a := dy[i]
		if relu {
			a = reluMasked(a, y[i])
		}
		s0 += float64(a)
		p0 += float64(a) * (float64(x[i]) - mean)
	}
	return float32(s0 + s1), float32(p0 + p1)
}
