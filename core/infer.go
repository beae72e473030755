package core

import (
	"fmt"

	"github.com/pretextlab/pretext/internal/kernel"
)

// infer is the layer's forward pass without a graph, for inference and
// for recomputing batch-norm statistics: the same products and the same
// per-channel arithmetic as forward (so the same bits), with no gradient
// bookkeeping, the batch-norm and ReLU written over the convolution's
// output, no max-pool argmaxes, and every buffer recycled scratch. x ([C,
// N*H*W], geometry in) is not modified; the result is a scratch buffer the
// caller hands back with putScratch.
func (l *ConvBN) infer(x []float32, in Shape, train bool, momentum float32) ([]float32, Shape, error) {
	spec := conv3x3.normalized()
	cout := l.W.Shape()[0]
	s, err := spec.Out(in, cout)
	if err != nil {
		return nil, Shape{}, err
	}
	if len(x) != in.C*in.Cols() {
		return nil, Shape{}, fmt.Errorf("core: layer input holds %d values, want %d for %v", len(x), in.C*in.Cols(), in)
	}
	k, p := in.C*spec.KH*spec.KW, s.Cols()
	if k != l.W.Shape()[1] {
		return nil, Shape{}, fmt.Errorf("core: layer weights take %d inputs per output, the input gives %d", l.W.Shape()[1], k)
	}
	col := getScratch(k * p)
	im2col(col, x, in, s, spec)
	y := getScratch(cout * p)
	kernel.Gemm(false, false, cout, p, k, data(l.W), k, col, p, 0, y, p)
	putScratch(col)

	ym := fromData(cout, p, y)
	stats := BNStats{Mean: data(l.RunMean), Var: data(l.RunVar)}
	bn, err := newBatchNormFn(ym, s, l.Gamma, l.Beta, stats, BNOptions{Train: train, ReLU: true, Momentum: momentum})
	if err != nil {
		putScratch(y)
		return nil, Shape{}, err
	}
	bn.run(y)
	if !l.Pool {
		return y, s, nil
	}
	if s.H < 2 || s.W < 2 {
		putScratch(y)
		return nil, Shape{}, fmt.Errorf("core: cannot pool %dx%d maps 2x2", s.H, s.W)
	}
	ps := s
	ps.H, ps.W = (s.H-2)/2+1, (s.W-2)/2+1
	z := getScratch(cout * ps.Cols())
	xcols, ycols := s.Cols(), ps.Cols()
	parallelFor(cout, 1, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			maxPool2x2(z[c*ycols:(c+1)*ycols], nil, y[c*xcols:(c+1)*xcols], s, ps)
		}
	})
	putScratch(y)
	return z, ps, nil
}
