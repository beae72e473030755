package kernel

import "math"

// The row loops of batch-norm (core/batchnorm.go), one channel at a time.
// Each runs in the host's kernel (host.go) for rows long enough to be worth
// the call, else in the build's (…Native: AVX2 assembly on amd64, see
// batchnorm_amd64.go, else the Go twin …Go), which give the same bits.
//
// The Go twins handle four values per iteration through four-element
// subslices x[i:i+4:i+4] (one bounds check each): in wasm every loop
// back-edge and bounds check costs (this form measured 1.2x to 4x faster
// there than a plain range loop), and natively it shortens the dependency
// chains of the sums. Each accumulator's order is fixed (the simd128 twins
// keep the same four running sums in their lanes), so the results depend
// neither on threads nor on the kernel. Every product is converted to its
// type before it is added, which keeps Go from fusing the multiply and add
// on the architectures where it would (arm64 and others), so that every
// build rounds alike.

// BNSums returns Σ(x-shift) and Σ(x-shift)² over row, in float64.
func BNSums(row []float32, shift float64) (sum, squares float64) {
	if h := installed.Load(); h != nil && len(row) >= hostMinRow {
		return h.BNSums(row, shift)
	}
	return bnSumsNative(row, shift)
}

// bnSumsGo is BNSums in Go.
func bnSumsGo(row []float32, shift float64) (sum, squares float64) {
	var s0, s1, s2, s3, q0, q1, q2, q3 float64
	n4 := len(row) &^ 3
	for i := 0; i < n4; i += 4 {
		v := row[i : i+4 : i+4]
		a, b, c, d := float64(v[0])-shift, float64(v[1])-shift, float64(v[2])-shift, float64(v[3])-shift
		s0 += a
		s1 += b
		s2 += c
		s3 += d
		q0 += float64(a * a)
		q1 += float64(b * b)
		q2 += float64(c * c)
		q3 += float64(d * d)
	}
	for _, v := range row[n4:] {
		a := float64(v) - shift
		s0 += a
		q0 += float64(a * a)
	}
	return (s0 + s1) + (s2 + s3), (q0 + q1) + (q2 + q3)
}

// BNNormalize writes (x-mu)·a + b, clamped at zero if relu, to out[:len(x)].
func BNNormalize(out, x []float32, mu, a, b float32, relu bool) {
	out = out[:len(x)]
	if h := installed.Load(); h != nil && len(x) >= hostMinRow {
		h.BNNormalize(out, x, mu, a, b, relu)
		return
	}
	bnNormalizeNative(out, x, mu, a, b, relu)
}

// bnNormalizeGo is BNNormalize in Go.
func bnNormalizeGo(out, x []float32, mu, a, b float32, relu bool) {
	out = out[:len(x)]
	n4 := len(x) &^ 3
	if relu {
		for i := 0; i < n4; i += 4 {
			v, o := x[i:i+4:i+4], out[i:i+4:i+4]
			o[0] = relu32(float32((v[0]-mu)*a) + b)
			o[1] = relu32(float32((v[1]-mu)*a) + b)
			o[2] = relu32(float32((v[2]-mu)*a) + b)
			o[3] = relu32(float32((v[3]-mu)*a) + b)
		}
		for i := n4; i < len(x); i++ {
			out[i] = relu32(float32((x[i]-mu)*a) + b)
		}
		return
	}
	for i := 0; i < n4; i += 4 {
		v, o := x[i:i+4:i+4], out[i:i+4:i+4]
		o[0] = float32((v[0]-mu)*a) + b
		o[1] = float32((v[1]-mu)*a) + b
		o[2] = float32((v[2]-mu)*a) + b
		o[3] = float32((v[3]-mu)*a) + b
	}
	for i := n4; i < len(x); i++ {
		out[i] = float32((x[i]-mu)*a) + b
	}
}

// BNGradSums returns Σ dz and Σ dz·(x-mu) over one channel, summed in
// float64, where dz is dy masked by y > 0 if relu (y is the output of
// BNNormalize with relu).
func BNGradSums(x, dy, y []float32, mu float32, relu bool) (sumDz, sumDzX float64) {
	dy, y = dy[:len(x)], y[:len(x)]
	if h := installed.Load(); h != nil && len(x) >= hostMinRow {
		return h.BNGradSums(x, dy, y, mu, relu)
	}
	return bnGradSumsNative(x, dy, y, mu, relu)
}

// bnGradSumsGo is BNGradSums in Go.
func bnGradSumsGo(x, dy, y []float32, mu float32, relu bool) (sumDz, sumDzX float64) {
	dy, y = dy[:len(x)], y[:len(x)]
	mean := float64(mu)
	var s0, s1, s2, s3, p0, p1, p2, p3 float64
	n4 := len(x) &^ 3
	for i := 0; i < n4; i += 4 {
		v, g, o := x[i:i+4:i+4], dy[i:i+4:i+4], y[i:i+4:i+4]
		g0, g1, g2, g3 := g[0], g[1], g[2], g[3]
		if relu {
			g0, g1, g2, g3 = reluMasked(g0, o[0]), reluMasked(g1, o[1]), reluMasked(g2, o[2]), reluMasked(g3, o[3])
		}
		a, b, c, d := float64(g0), float64(g1), float64(g2), float64(g3)
		s0 += a
		s1 += b
		s2 += c
		s3 += d
		p0 += float64(a * (float64(v[0]) - mean))
		p1 += float64(b * (float64(v[1]) - mean))
		p2 += float64(c * (float64(v[2]) - mean))
		p3 += float64(d * (float64(v[3]) - mean))
	}
	for i := n4; i < len(x); i++ {
		g := dy[i]
		if relu {
			g = reluMasked(g, y[i])
		}
		s0 += float64(g)
		p0 += float64(float64(g) * (float64(x[i]) - mean))
	}
	return (s0 + s1) + (s2 + s3), (p0 + p1) + (p2 + p3)
}

// BNGradX writes dx = k·dz - (x-mu)·c2 - c1 to out[:len(x)] for one
// channel, where dz is dy masked by y > 0 if relu (c1 = c2 = 0 in
// evaluation mode).
func BNGradX(out, x, dy, y []float32, mu, k, c2, c1 float32, relu bool) {
	out, dy, y = out[:len(x)], dy[:len(x)], y[:len(x)]
	if h := installed.Load(); h != nil && len(x) >= hostMinRow {
		h.BNGradX(out, x, dy, y, mu, k, c2, c1, relu)
		return
	}
	bnGradXNative(out, x, dy, y, mu, k, c2, c1, relu)
}

// bnGradXGo is BNGradX in Go.
func bnGradXGo(out, x, dy, y []float32, mu, k, c2, c1 float32, relu bool) {
	out, dy, y = out[:len(x)], dy[:len(x)], y[:len(x)]
	n4 := len(x) &^ 3
	if relu {
		for i := 0; i < n4; i += 4 {
			o, v, g, r := out[i:i+4:i+4], x[i:i+4:i+4], dy[i:i+4:i+4], y[i:i+4:i+4]
			o[0] = float32(k*reluMasked(g[0], r[0])) - float32((v[0]-mu)*c2) - c1
			o[1] = float32(k*reluMasked(g[1], r[1])) - float32((v[1]-mu)*c2) - c1
			o[2] = float32(k*reluMasked(g[2], r[2])) - float32((v[2]-mu)*c2) - c1
			o[3] = float32(k*reluMasked(g[3], r[3])) - float32((v[3]-mu)*c2) - c1
		}
		for i := n4; i < len(x); i++ {
			out[i] = float32(k*reluMasked(dy[i], y[i])) - float32((x[i]-mu)*c2) - c1
		}
		return
	}
	for i := 0; i < n4; i += 4 {
		o, v, g := out[i:i+4:i+4], x[i:i+4:i+4], dy[i:i+4:i+4]
		o[0] = float32(k*g[0]) - float32((v[0]-mu)*c2) - c1
		o[1] = float32(k*g[1]) - float32((v[1]-mu)*c2) - c1
		o[2] = float32(k*g[2]) - float32((v[2]-mu)*c2) - c1
		o[3] = float32(k*g[3]) - float32((v[3]-mu)*c2) - c1
	}
	for i := n4; i < len(x); i++ {
		out[i] = float32(k*dy[i]) - float32((x[i]-mu)*c2) - c1
	}
}

// relu32 returns max(0, v), mapping -0 (and negative NaNs) to +0, without
// a branch (activations are positive or negative at random). It is the
// definition of core's relu32 (core/relu.go; core imports this package, not
// the other way round), so the fused ReLU clamps as core.ReLU does.
func relu32(v float32) float32 {
	b := math.Float32bits(v)
	return math.Float32frombits(b &^ uint32(int32(b)>>31))
}

// reluMasked returns g where y > 0 and 0 where y == +0, for y an output of
// relu32 (never negative), without branching: -int32(bits) is negative
// exactly when y's bits are non-zero. It is core's reluMasked.
func reluMasked(g, y float32) float32 {
	mask := uint32(-int32(math.Float32bits(y)) >> 31)
	return math.Float32frombits(math.Float32bits(g) & mask)
}
