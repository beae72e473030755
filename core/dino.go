package core

import (
	"fmt"
	"math"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
)

// DINO's operators (Caron et al. 2021, "Emerging Properties in
// Self-Supervised Vision Transformers", ICCV): its loss, and the two small
// pieces of its head and multi-crop forward pass that spago lacks in the
// form they need, the rows of a matrix made unit length and two matrices'
// rows stacked.

// DINOLoss is DINO's self-distillation loss (eq. 1 and 3, Algorithm 1):
// the student's output distribution for every view of a photo is trained
// towards the teacher's for each of the photo's two global views, other
// than itself. student is [V·N, K] and teacher [2N, K], both in view-major
// order (row v·N+i is view v of photo i: DINO's torch.cat of the crops);
// the student's first 2N rows are the same two global views the teacher
// saw, the rest the V-2 local views. center holds K values, DINO's C. With
//
//	P_t = softmax((g_t - C)/tauT)        (the centred, sharpened teacher)
//	P_s = softmax(g_s/tauS)
//
// the loss is the cross-entropy averaged over the N photos and the
// 2(V-1) pairs (t, v) of a teacher global view t and a student view v ≠ t:
//
//	L = 1/(N·2(V-1)) Σ_i Σ_{t<2} Σ_{v≠t} -Σ_k P_t[t·N+i, k] log P_s[v·N+i, k]
//
// returned as a 1x1 node computed in float64. teacher and center are under
// a stop-gradient (Algorithm 1's gt.detach()): only student gets a
// gradient. Misshapen or non-finite input and bad temperatures are errors.
func DINOLoss(student, teacher, center mat.Tensor, tauS, tauT float64) (mat.Tensor, error) {
	if teacher == nil || student == nil || center == nil {
		return nil, fmt.Errorf("core: dino loss needs student, teacher and centre")
	}
	ts := teacher.Shape()
	if len(ts) != 2 || ts[0] < 2 || ts[0]%2 != 0 || ts[1] < 1 {
		return nil, fmt.Errorf("core: dino teacher outputs have shape %v, want [2N K] with N, K >= 1", ts)
	}
	n, k := ts[0]/2, ts[1]
	ss := student.Shape()
	if len(ss) != 2 || ss[1] != k || ss[0] < 2*n || ss[0]%n != 0 {
		return nil, fmt.Errorf("core: dino student outputs have shape %v, want [V·%d %d] with V >= 2 (the teacher's %d photos)", ss, n, k, n)
	}
	views := ss[0] / n
	if err := checkMatrix("dino teacher outputs", teacher, 2*n, k); err != nil {
		return nil, err
	}
	if err := checkMatrix("dino student outputs", student, views*n, k); err != nil {
		return nil, err
	}
	if cs := center.Shape(); len(cs) != 2 || cs[0]*cs[1] != k || (cs[0] != 1 && cs[1] != 1) {
		return nil, fmt.Errorf("core: dino centre has shape %v, want [1 %d]", cs, k)
	}
	if err := checkMatrix("dino centre", center, center.Shape()[0], center.Shape()[1]); err != nil {
		return nil, err
	}
	for _, x := range []struct {
		what string
		t    mat.Tensor
	}{{"student outputs", student}, {"teacher outputs", teacher}, {"centre", center}} {
		if !allFinite(data(x.t)) {
			return nil, fmt.Errorf("core: dino %s hold a value that is not finite", x.what)
		}
	}
	for _, tau := range []float64{tauS, tauT} {
		if !(tau > 0) || math.IsInf(tau, 1) {
			return nil, fmt.Errorf("core: dino temperatures %v (student) and %v (teacher), want positive and finite", tauS, tauT)
		}
	}
	fn := &dinoFn{student: student, teacher: teacher, center: center, tauS: tauS, tauT: tauT, n: n, k: k, views: views}
	return ag.NewOperator(fn).Run(), nil
}

// dinoFn is the autograd function of [DINOLoss].
type dinoFn struct {
	student, teacher, center mat.Tensor
	tauS, tauT               float64
	n, k, views              int
	ds                       []float32
}

// Operands implements ag.AutoGradFunction. teacher and center are operands
// so that they are computed first; Backward gives them zero gradients.
func (f *dinoFn) Operands() []mat.Tensor { return []mat.Tensor{f.student, f.teacher, f.center} }

// softmaxRow sets out to softmax((x - c)/tau) (c nil: no centre) in
// float64 and returns it.
func softmaxRow(out []float64, x []float32, c []float32, tau float64) []float64 {
	smax := math.Inf(-1)
	for j, v := range x {
		z := float64(v)
		if c != nil {
			z -= float64(c[j])
		}
		out[j] = z / tau
		smax = max(smax, out[j])
	}
	var e float64
	for j, z := range out {
		out[j] = math.Exp(z - smax)
		e += out[j]
	}
	for j := range out {
		out[j] /= e
	}
	return out
}

// Forward implements ag.AutoGradFunction. It computes the student's
// gradient too: for student view v of photo i, with T(v) its teacher
// views (both globals for a local view, the other global for a global
// one), dL/dg_s = (|T(v)|·P_s - Σ_{t∈T(v)} P_t) / (tauS·N·2(V-1)).
func (f *dinoFn) Forward() (mat.Tensor, error) {
	n, k, views := f.n, f.k, f.views
	s, t, c := data(f.student), data(f.teacher), data(f.center)
	pt := make([]float64, 2*n*k)
	for r := range 2 * n {
		softmaxRow(pt[r*k:(r+1)*k], t[r*k:(r+1)*k], c, f.tauT)
	}
	f.ds = make([]float32, views*n*k)
	pairs := float64(n * 2 * (views - 1))
	ps := make([]float64, k)
	var sum float64
	for v := range views {
		for i := range n {
			r := v*n + i
			row := s[r*k : (r+1)*k]
			// log P_s = g/tauS - logsumexp(g/tauS)
			smax := math.Inf(-1)
			for _, x := range row {
				smax = max(smax, float64(x)/f.tauS)
			}
			var e float64
			for _, x := range row {
				e += math.Exp(float64(x)/f.tauS - smax)
			}
			lse := smax + math.Log(e)
			softmaxRow(ps, row, nil, f.tauS)
			teachers := 0
			for tv := range 2 {
				if tv == v {
					continue
				}
				teachers++
				p := pt[(tv*n+i)*k : (tv*n+i+1)*k]
				for j, x := range row {
					sum -= p[j] * (float64(x)/f.tauS - lse)
				}
			}
			g := f.ds[r*k : (r+1)*k]
			for j := range g {
				d := float64(teachers) * ps[j]
				for tv := range 2 {
					if tv != v {
						d -= pt[(tv*n+i)*k+j]
					}
				}
				g[j] = float32(d / (f.tauS * pairs))
			}
		}
	}
	return fromData(1, 1, []float32{float32(sum / pairs)}), nil
}

// Backward implements ag.AutoGradFunction: the student's gradient scaled by
// the incoming scalar gradient; teacher and centre, under the
// stop-gradient, get zeros where they take gradients (spago waits for a
// gradient from every operator that reads a node; see crossCosineFn).
func (f *dinoFn) Backward(gy mat.Tensor) error {
	if f.teacher.RequiresGrad() {
		f.teacher.AccGrad(handoff{newMatrix(2*f.n, f.k)})
	}
	if f.center.RequiresGrad() {
		cs := f.center.Shape()
		f.center.AccGrad(handoff{newMatrix(cs[0], cs[1])})
	}
	return accScaledGrad("dino", f.student, f.views*f.n, f.k, f.ds, gy)
}

// NormalizeRows divides each row of x ([N, D]) by its Euclidean norm (at
// least 1e-12, as PyTorch's F.normalize): DINO's head normalises its
// bottleneck output and, as the weight normalisation of its last layer
// with the norm fixed at 1 (norm_last_layer), each prototype, so that the
// logits are cosines (section 3.1 and appendix). Non-matrix input is an
// error.
func NormalizeRows(x mat.Tensor) (mat.Tensor, error) {
	if x == nil || len(x.Shape()) != 2 || x.Shape()[0] < 1 || x.Shape()[1] < 1 {
		return nil, fmt.Errorf("core: normalize-rows input is not a non-empty matrix")
	}
	rows, d := x.Shape()[0], x.Shape()[1]
	if err := checkMatrix("normalize-rows input", x, rows, d); err != nil {
		return nil, err
	}
	return ag.NewOperator(&normalizeRowsFn{x: x, rows: rows, d: d}).Run(), nil
}

// normalizeRowsFn is the autograd function of [NormalizeRows].
type normalizeRowsFn struct {
	x       mat.Tensor
	rows, d int
	u, norm []float64
}

// Operands implements ag.AutoGradFunction.
func (f *normalizeRowsFn) Operands() []mat.Tensor { return []mat.Tensor{f.x} }

// Forward implements ag.AutoGradFunction.
func (f *normalizeRowsFn) Forward() (mat.Tensor, error) {
	f.u, f.norm = unitRows(data(f.x), f.rows, f.d)
	y := newMatrix(f.rows, f.d)
	for i, v := range f.u {
		data(y)[i] = float32(v)
	}
	return y, nil
}

// Backward implements ag.AutoGradFunction: with u = x/|x|,
// dx = (dy - u·(u·dy)) / |x| (the map is linear, dy/|x|, where the norm
// was clamped).
func (f *normalizeRowsFn) Backward(gy mat.Tensor) error {
	if !f.x.RequiresGrad() {
		return nil
	}
	dy := data(gy)
	if len(dy) != f.rows*f.d {
		return fmt.Errorf("core: normalize-rows output gradient has %d values, want %d", len(dy), f.rows*f.d)
	}
	dx := newMatrix(f.rows, f.d)
	dd := data(dx)
	for r := range f.rows {
		u, g := f.u[r*f.d:(r+1)*f.d], dy[r*f.d:(r+1)*f.d]
		var ug float64
		if f.norm[r] != ntxentEps {
			for j, v := range g {
				ug += u[j] * float64(v)
			}
		}
		for j, v := range g {
			dd[r*f.d+j] = float32((float64(v) - u[j]*ug) / f.norm[r])
		}
	}
	f.x.AccGrad(handoff{dx})
	return nil
}

// ConcatRows stacks the rows of a ([Na, D]) over those of b ([Nb, D]):
// [Na+Nb, D]. DINO's multi-crop forward pass runs the trunk once per crop
// size and its head once over all the crops' features, so that the head's
// batch-norm sees them all. Matrices of different widths are an error.
func ConcatRows(a, b mat.Tensor) (mat.Tensor, error) {
	if a == nil || b == nil || len(a.Shape()) != 2 || len(b.Shape()) != 2 {
		return nil, fmt.Errorf("core: concat-rows operands are not matrices")
	}
	na, nb, d := a.Shape()[0], b.Shape()[0], a.Shape()[1]
	if err := checkMatrix("concat-rows first operand", a, na, d); err != nil {
		return nil, err
	}
	if err := checkMatrix("concat-rows second operand", b, nb, d); err != nil {
		return nil, err
	}
	return ag.NewOperator(&concatRowsFn{a: a, b: b, na: na, nb: nb, d: d}).Run(), nil
}

// concatRowsFn is the autograd function of [ConcatRows].
type concatRowsFn struct {
	a, b      mat.Tensor
	na, nb, d int
}

// Operands implements ag.AutoGradFunction.
func (f *concatRowsFn) Operands() []mat.Tensor { return []mat.Tensor{f.a, f.b} }

// Forward implements ag.AutoGradFunction.
func (f *concatRowsFn) Forward() (mat.Tensor, error) {
	y := newMatrix(f.na+f.nb, f.d)
	copy(data(y), data(f.a))
	copy(data(y)[f.na*f.d:], data(f.b))
	return y, nil
}

// Backward implements ag.AutoGradFunction: each operand gets its rows of
// the gradient.
func (f *concatRowsFn) Backward(gy mat.Tensor) error {
	g := data(gy)
	if len(g) != (f.na+f.nb)*f.d {
		return fmt.Errorf("core: concat-rows output gradient has %d values, want %d", len(g), (f.na+f.nb)*f.d)
	}
	if f.a.RequiresGrad() {
		f.a.AccGrad(handoff{fromData(f.na, f.d, append([]float32(nil), g[:f.na*f.d]...))})
	}
	if f.b.RequiresGrad() {
		f.b.AccGrad(handoff{fromData(f.nb, f.d, append([]float32(nil), g[f.na*f.d:]...))})
	}
	return nil
}
