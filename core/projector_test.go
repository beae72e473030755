package core

import (
	"math"
	"testing"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"
)

// refProjector is the projector from its definition, in float64: h = x·W1ᵀ,
// each hidden unit normalised with the batch's mean and biased variance
// (train) or the given running ones, scaled, shifted, ReLU, then ·W2ᵀ + B2.
// It also returns the running statistics PyTorch would keep (momentum 0.1,
// unbiased variance).
func refProjector(p *Projector, x []float64, n int, train bool) (y, runMean, runVar []float64) {
	in, hid, out := p.In(), p.Hidden(), p.Out()
	w1, g, b, w2 := f64(p.W1), f64(p.Gamma), f64(p.Beta), f64(p.W2)
	var b2 []float64
	if p.B2 != nil {
		b2 = f64(p.B2)
	}
	rm, rv := f64(p.RunMean), f64(p.RunVar)
	h := make([]float64, n*hid)
	for i := range n {
		for j := range hid {
			for k := range in {
				h[i*hid+j] += x[i*in+k] * w1[j*in+k]
			}
		}
	}
	for j := range hid {
		mean, vr := rm[j], rv[j]
		if train {
			mean, vr = 0, 0
			for i := range n {
				mean += h[i*hid+j]
			}
			mean /= float64(n)
			for i := range n {
				vr += (h[i*hid+j] - mean) * (h[i*hid+j] - mean)
			}
			vr /= float64(n)
			rm[j] = 0.9*rm[j] + 0.1*mean
			rv[j] = 0.9*rv[j] + 0.1*vr*float64(n)/float64(n-1)
		}
		for i := range n {
			h[i*hid+j] = math.Max(0, (h[i*hid+j]-mean)/math.Sqrt(vr+1e-5)*g[j]+b[j])
		}
	}
	y = make([]float64, n*out)
	for i := range n {
		for o := range out {
			if p.B2 != nil {
				y[i*out+o] = b2[o]
			}
			for j := range hid {
				y[i*out+o] += h[i*hid+j] * w2[o*hid+j]
			}
		}
	}
	if p.OutGamma != nil {
		og, ob, om, ov := f64(p.OutGamma), f64(p.OutBeta), f64(p.OutMean), f64(p.OutVar)
		for o := range out {
			mean, vr := om[o], ov[o]
			if train {
				mean, vr = 0, 0
				for i := range n {
					mean += y[i*out+o]
				}
				mean /= float64(n)
				for i := range n {
					vr += (y[i*out+o] - mean) * (y[i*out+o] - mean)
				}
				vr /= float64(n)
			}
			for i := range n {
				y[i*out+o] = (y[i*out+o]-mean)/math.Sqrt(vr+1e-5)*og[o] + ob[o]
			}
		}
	}
	return y, rm, rv
}

func TestProjectorForward(t *testing.T) {
	t.Parallel()
	for _, outBN := range []bool{false, true} {
		testProjectorForward(t, outBN)
	}
}

func testProjectorForward(t *testing.T, outBN bool) {
	rng := testRNG(41)
	p, err := NewProjector(5, 7, 3, outBN, rng)
	if err != nil {
		t.Fatal(err)
	}
	// Gamma and Beta away from their initial 1 and 0.
	for i := range data(p.Gamma) {
		data(p.Gamma)[i] = float32(0.5 + rng.Float64())
		data(p.Beta)[i] = float32(rng.Float64() - 0.5)
	}
	if outBN {
		for i := range data(p.OutGamma) {
			data(p.OutGamma)[i] = float32(0.5 + rng.Float64())
			data(p.OutBeta)[i] = float32(rng.Float64() - 0.5)
		}
	}
	x := randMatrix(rng, 6, 5, false)
	want, wantMean, wantVar := refProjector(p, f64(x), 6, true)
	y, err := p.Forward(x, true)
	if err != nil {
		t.Fatal(err)
	}
	assertShape(t, "projector output", y, 6, 3)
	assertClose(t, "projector train", data(y), want, 1e-5)
	assertClose(t, "running mean", data(p.RunMean), wantMean, 1e-6)
	assertClose(t, "running variance", data(p.RunVar), wantVar, 1e-6)

	// Evaluation: the running statistics normalise, and stay.
	before := cloneData(p.RunMean)
	want, _, _ = refProjector(p, f64(x), 6, false)
	if y, err = p.Forward(x, false); err != nil {
		t.Fatal(err)
	}
	assertClose(t, "projector eval", data(y), want, 1e-5)
	assertUnchanged(t, "running mean", p.RunMean, before)
	// One row evaluates; it cannot train.
	one := fromData(1, 5, cloneData(x)[:5])
	if y, err = p.Forward(one, false); err != nil {
		t.Fatal(err)
	}
	assertClose(t, "projector eval of row 0", data(y), want[:3], 1e-5)
	if _, err := p.Forward(one, true); err == nil {
		t.Error("training on one row: no error")
	}
}

func TestProjectorGrad(t *testing.T) {
	t.Parallel()
	for _, outBN := range []bool{false, true} {
		testProjectorGrad(t, outBN)
	}
}

func testProjectorGrad(t *testing.T, outBN bool) {
	rng := testRNG(43)
	p, err := NewProjector(4, 6, 3, outBN, rng)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data(p.Beta) {
		data(p.Beta)[i] = float32(rng.Float64() - 0.5)
	}
	x := randMatrix(rng, 5, 4, true)
	params := []gradParam{{"x", x}}
	for _, np := range []struct {
		name string
		p    mat.Tensor
	}{{"W1", p.W1}, {"Gamma", p.Gamma}, {"Beta", p.Beta}, {"W2", p.W2}, {"B2", p.B2}, {"OutGamma", p.OutGamma}, {"OutBeta", p.OutBeta}} {
		if np.p.(*nn.Param) == nil {
			continue
		}
		params = append(params, gradParam{np.name, np.p.Value().(*mat.Dense[float32])})
	}
	gradCheck(t, func() (mat.Tensor, error) { return p.Forward(x, true) }, params, rng, 1e-3, gradTol)
}

func TestProjectorErrors(t *testing.T) {
	t.Parallel()
	rng := testRNG(44)
	for _, sz := range [][3]int{{0, 1, 1}, {1, -1, 1}, {1, 1, 0}, {1 << 14, 1 << 14, 1 << 14}} {
		if _, err := NewProjector(sz[0], sz[1], sz[2], false, rng); err == nil {
			t.Errorf("projector %v: no error", sz)
		}
	}
	p, err := NewProjector(3, 4, 2, false, rng)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []mat.Tensor{nil, randMatrix(rng, 4, 2, false)} {
		if _, err := p.Forward(x, true); err == nil {
			t.Errorf("input %v: no error", x)
		}
	}
}
