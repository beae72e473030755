package core

import (
	"fmt"
	"math"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
	"github.com/pretextlab/pretext/internal/kernel"
)

// BNStats are a batch-norm layer's running statistics, updated in place in
// training mode (PyTorch semantics: momentum 0.1 default, running var uses the
// unbiased batch variance). Both slices have one value per channel. In
// training mode they are updated when [BatchNorm2D] is called (its forward
// pass runs then), and both may be nil to track no statistics; evaluation
// mode reads them, then, and never writes them.
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
	return batchNorm2D(x, in, gamma, beta, stats, opt, nil)
}

// batchNorm2D is BatchNorm2D with its output and input gradient from a.
func batchNorm2D(x mat.Tensor, in Shape, gamma, beta mat.Tensor, stats BNStats, opt BNOptions, a *stepArena) (mat.Tensor, error) {
	fn, err := newBatchNormFn(x, in, gamma, beta, stats, opt)
	if err != nil {
		return nil, err
	}
	fn.arena = a
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
	track          bool       // update stats (training mode)
	arena          *stepArena // where y and dx come from (nil: allocated)
	// mean and istd are the per-channel mean and 1/sqrt(var+eps) the forward
	// pass used (batch or running); backward recomputes the normalised x from
	// them and x rather than storing a copy of it.
	mean, istd []float32
	// y is the output, kept for the fused ReLU's mask (y > 0).
	y *mat.Dense[float32]
	// batch, in a data-parallel step, holds the whole batch's statistics.
	batch *bnBatch
}

// bnBatch is a synchronised batch-norm layer's view of the whole
// data-parallel batch, of which x holds one replica's columns.
type bnBatch struct {
	mean, variance []float64
	count          float64 // columns in the whole batch
	r              *replicaStep
}

// syncBatchNorm is BatchNorm2D in training mode for one replica of a
// data-parallel step (see Collective): x holds the replica's columns, and
// the statistics, forward and backward, are those of the whole batch.
func syncBatchNorm(x mat.Tensor, in Shape, gamma, beta mat.Tensor, stats BNStats, opt BNOptions, r *replicaStep, a *stepArena) (mat.Tensor, error) {
	fn, err := newBatchNormFn(x, in, gamma, beta, stats, opt)
	if err != nil {
		return nil, err
	}
	fn.arena = a
	c, m := in.C, in.Cols()
	xd := data(x)
	// Sums around a shift every replica shares: the running mean if there
	// is one (close to the batch mean after a few steps), else zero.
	shift := func(ch int) float64 {
		if stats.Mean != nil {
			return float64(stats.Mean[ch])
		}
		return 0
	}
	sums := make([]float64, 2*c+1)
	parallelFor(c, 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			sums[ch], sums[c+ch] = kernel.BNSums(xd[ch*m:(ch+1)*m], shift(ch))
		}
	})
	sums[2*c] = float64(m)
	if err := r.comm.AllReduce64(sums); err != nil {
		return nil, fmt.Errorf("core: synchronising batch-norm statistics: %w", err)
	}
	b := &bnBatch{mean: make([]float64, c), variance: make([]float64, c), count: sums[2*c], r: r}
	for ch := range c {
		d := sums[ch] / b.count
		b.mean[ch] = shift(ch) + d
		b.variance[ch] = max(sums[c+ch]/b.count-d*d, 0)
	}
	fn.batch = b
	return ag.NewOperator(fn).Run(), nil
}

// Operands implements ag.AutoGradFunction.
func (f *batchNormFn) Operands() []mat.Tensor { return []mat.Tensor{f.x, f.gamma, f.beta} }

// Forward implements ag.AutoGradFunction.
func (f *batchNormFn) Forward() (mat.Tensor, error) {
	f.y = f.arena.matrix(f.in.C, f.in.Cols(), false)
	f.run(data(f.y))
	return f.y, nil
}

// run is Forward writing the output to yd, which may be x's own data (the
// arithmetic is per element, each read before it is written).
func (f *batchNormFn) run(yd []float32) {
	c, m := f.in.C, f.in.Cols()
	xd, gd, bd := data(f.x), data(f.gamma), data(f.beta)
	f.mean, f.istd = make([]float32, c), make([]float32, c)
	parallelFor(c, 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			row := xd[ch*m : (ch+1)*m]
			var mean, variance float64
			if f.opt.Train {
				count := float64(m)
				if f.batch != nil {
					mean, variance, count = f.batch.mean[ch], f.batch.variance[ch], f.batch.count
				} else {
					mean, variance = bnMoments(row)
				}
				if f.track {
					// Running statistics follow PyTorch: the unbiased
					// variance, blended with weight momentum.
					unbiased := variance * count / (count - 1)
					f.stats.Mean[ch] = float32((1-f.mom)*float64(f.stats.Mean[ch]) + f.mom*mean)
					f.stats.Var[ch] = float32((1-f.mom)*float64(f.stats.Var[ch]) + f.mom*unbiased)
				}
			} else {
				mean, variance = float64(f.stats.Mean[ch]), float64(f.stats.Var[ch])
			}
			istd := 1 / math.Sqrt(variance+f.eps)
			f.mean[ch], f.istd[ch] = float32(mean), float32(istd)
			mu, a, b := float32(mean), float32(float64(gd[ch])*istd), bd[ch]
			kernel.BNNormalize(yd[ch*m:(ch+1)*m], row, mu, a, b, f.opt.ReLU)
		}
	})
}

// bnMoments returns the mean and biased variance of row, accumulated in
// float64 around the first value (a shift that keeps E[x²]-E[x]² from
// cancelling when the mean is large against the spread).
func bnMoments(row []float32) (mean, variance float64) {
	shift := float64(row[0])
	s, q := kernel.BNSums(row, shift)
	n := float64(len(row))
	d := s / n
	return shift + d, max(q/n-d*d, 0)
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
		dxm = f.arena.matrix(c, m, false)
		dx = data(dxm)
	}
	dgamma, dbeta := newMatrix(c, 1), newMatrix(c, 1)
	dg, db := data(dgamma), data(dbeta)
	relu, train := f.opt.ReLU, f.opt.Train
	if train && f.batch != nil {
		if !f.syncBackward(dyd, dx, dg, db) {
			return nil // the replica step reports the failure
		}
		f.accGrads(needX, needG, needB, dxm, dgamma, dbeta)
		return nil
	}
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
				s, p := kernel.BNGradSums(x, dy, y, mu, relu)
				sumDz, sumDzX = float32(s), float32(p)
				db[ch] = sumDz
				dg[ch] = sumDzX * istd
			}
			if !needX {
				continue
			}
			out := dx[ch*m : (ch+1)*m]
			if !train {
				kernel.BNGradX(out, x, dy, y, mu, k, 0, 0, relu)
				continue
			}
			// dx = k·dz - (x-mu)·k·istd·dgamma/M - k·dbeta/M
			inv := 1 / float32(m)
			kernel.BNGradX(out, x, dy, y, mu, k, k*istd*dg[ch]*inv, k*sumDz*inv, relu)
		}
	})
	f.accGrads(needX, needG, needB, dxm, dgamma, dbeta)
	return nil
}

func (f *batchNormFn) accGrads(needX, needG, needB bool, dxm, dgamma, dbeta *mat.Dense[float32]) {
	if needX {
		f.x.AccGrad(handoff{dxm})
	}
	if needG {
		f.gamma.AccGrad(handoff{dgamma})
	}
	if needB {
		f.beta.AccGrad(handoff{dbeta})
	}
}

// syncBackward is the training-mode backward pass of a synchronised layer:
// gamma's and beta's gradients are this replica's share (the trainer sums
// them across replicas), while x's gradient needs the whole batch's Σ dz and
// Σ dz·x̂, which the replicas add up here. It reports false if the
// replicas could not exchange them.
func (f *batchNormFn) syncBackward(dyd, dx, dg, db []float32) bool {
	c, m := f.in.C, f.in.Cols()
	xd, gd, yd := data(f.x), data(f.gamma), data(f.y)
	relu := f.opt.ReLU
	sums := make([]float64, 2*c)
	parallelFor(c, 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			row := xd[ch*m : (ch+1)*m]
			sums[ch], sums[c+ch] = kernel.BNGradSums(row, dyd[ch*m:(ch+1)*m], yd[ch*m:(ch+1)*m], f.mean[ch], relu)
			db[ch] = float32(sums[ch])
			dg[ch] = float32(sums[c+ch]) * f.istd[ch]
		}
	})
	if err := f.batch.r.comm.AllReduce64(sums); err != nil {
		f.batch.r.fail(fmt.Errorf("core: synchronising batch-norm gradients: %w", err))
		return false
	}
	if dx == nil {
		return true
	}
	inv := 1 / float32(f.batch.count)
	parallelFor(c, 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			mu, istd := f.mean[ch], f.istd[ch]
			k := gd[ch] * istd
			sumDz, dgamma := float32(sums[ch]), float32(sums[c+ch])*istd
			kernel.BNGradX(dx[ch*m:(ch+1)*m], xd[ch*m:(ch+1)*m], dyd[ch*m:(ch+1)*m], yd[ch*m:(ch+1)*m], mu, k, k*istd*dgamma*inv, k*sumDz*inv, relu)
		}
	})
	return true
}
