package explore

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
)

// t-SNE as in van der Maaten, "Accelerating t-SNE using tree-based
// algorithms", JMLR 15 (2014), and his reference implementation bhtsne
// (github.com/lvdmaaten/bhtsne): input similarities on exact nearest
// neighbours, Barnes-Hut repulsion on a quadtree, gradient descent with
// momentum and gains. Where bhtsne and this code differ it is said below.
const (
	// tsneTheta is the Barnes-Hut accuracy (the paper's and bhtsne's 0.5): a
	// cell is summarised when its half-width is below theta times its
	// distance (bhtsne's test; the paper states it with the diagonal).
	tsneTheta = 0.5
	// tsneExaggeration multiplies the input similarities for the first
	// iterations (early exaggeration, 12 in the paper and bhtsne).
	tsneExaggeration = 12
	// tsneExaggerated is how many iterations are exaggerated, and use
	// momentum tsneMomentumEarly (250 in bhtsne); a run shorter than 750
	// exaggerates its first third.
	tsneExaggerated = 250
	// tsneMomentumEarly and tsneMomentumLate are bhtsne's momenta.
	tsneMomentumEarly, tsneMomentumLate = 0.5, 0.8
	// tsneMinGain is bhtsne's floor on a coordinate's gain.
	tsneMinGain = 0.01
	// tsneInitSD is the standard deviation of the first coordinate of the
	// PCA initialisation (Kobak and Berens, "The art of using t-SNE for
	// single-cell transcriptomics", Nat. Commun. 2019; openTSNE's default).
	tsneInitSD = 1e-4
	// tsneJitter is the seeded jitter added to the initialisation, relative
	// to tsneInitSD: small enough to leave the PCA start's global shape,
	// large enough to separate identical rows.
	tsneJitter = 1e-3
	// tsnePerplexityTol and tsneCalibrateSteps end the binary search for
	// each point's precision (bhtsne's 1e-5 and 200).
	tsnePerplexityTol  = 1e-5
	tsneCalibrateSteps = 200
	// tsnePCATol and tsnePCASteps bound the PCA that precedes t-SNE: it
	// needs the subspace of the leading components, not each to full
	// precision, so a few steps of subspace iteration do, as in randomised
	// PCA (Halko, Martinsson and Tropp, SIAM Review 2011; scikit-learn
	// runs 4 to 7 power iterations).
	tsnePCATol   = 1e-4
	tsnePCASteps = 8
)

// tsne returns the 2-D t-SNE embedding of the n rows of x (n×dim,
// row-major; centred in place), n×2 row-major and unscaled. n ≥ 2; perp,
// iters and dims are resolved (positive), perp ≤ (n-1)/3.
func tsne(x []float64, n, dim int, perp float64, iters, dims int, seed uint64) []float64 {
	// PCA: the first dims components, or all of them (a rotation of the
	// centred rows, which keeps every distance) when dims ≥ min(n, dim).
	k := min(dims, dim, n)
	f, _ := principal(x, n, dim, k, tsnePCATol, tsnePCASteps)

	// Input similarities on the 3·perplexity nearest neighbours.
	// (The excess guards 3·(n-1)/3 rounding to just below n-1.)
	nb := max(1, min(n-1, int(float64(3*perp)+1e-9)))
	nbr, dist := tsneNeighbours(f, n, k, nb)
	cond := tsneCalibrate(dist, n, nb, perp)
	rowStart, col, p := tsneSymmetrise(nbr, cond, n, nb)

	y := tsneInit(f, n, k, seed)
	tsneDescend(y, n, rowStart, col, p, iters)
	return y
}

// tsneNeighbours returns the nb nearest neighbours of each of the n rows of
// f (n×k) by squared Euclidean distance, nearest first, ties to the lower
// index: their indices and squared distances, n×nb each. It is exact:
// n²/2 distances (a few hundred million multiply-adds at a few thousand
// points of 50 components).
func tsneNeighbours(f []float64, n, k, nb int) ([]int32, []float64) {
	nbr := make([]int32, n*nb)
	dist := make([]float64, n*nb)
	for i := range n {
		fi := f[i*k : (i+1)*k]
		ni, di := nbr[i*nb:(i+1)*nb], dist[i*nb:(i+1)*nb]
		have := 0
		for j := range n {
			if j == i {
				continue
			}
			fj := f[j*k : (j+1)*k]
			var s float64
			for c, v := range fi {
				e := v - fj[c]
				s += float64(e * e)
			}
			if have == nb && s >= di[nb-1] {
				continue
			}
			// Insert j at its place; j grows, so among equal distances the
			// lower index stays first.
			at := min(have, nb-1)
			for at > 0 && di[at-1] > s {
				di[at], ni[at] = di[at-1], ni[at-1]
				at--
			}
			di[at], ni[at] = s, int32(j)
			if have < nb {
				have++
			}
		}
	}
	return nbr, dist
}

// tsneCalibrate returns the conditional similarities p(j|i) of each point
// to its neighbours (n×nb, each row summing to 1): a Gaussian on the
// squared distances whose precision β is found by bisection so that the
// row's perplexity 2^H is perp.
func tsneCalibrate(dist []float64, n, nb int, perp float64) []float64 {
	p := make([]float64, n*nb)
	target := tsneLog(perp)
	for i := range n {
		di, pi := dist[i*nb:(i+1)*nb], p[i*nb:(i+1)*nb]
		// Distances relative to the nearest one: the same p after
		// normalising, and exp never underflows to a zero row.
		d0 := di[0]
		beta, lo, hi := 1.0, math.Inf(-1), math.Inf(1)
		for range tsneCalibrateSteps {
			var sum, moment float64
			for j, d := range di {
				e := tsneExp(-float64(beta * (d - d0)))
				pi[j] = e
				sum += e
				moment += float64((d - d0) * e)
			}
			// H = log Σe + β Σ(d-d0)e / Σe, in nats like target.
			h := tsneLog(sum) + float64(beta*moment)/sum
			for j := range pi {
				pi[j] /= sum
			}
			diff := h - target
			if math.Abs(diff) < tsnePerplexityTol {
				break
			}
			if diff > 0 { // too flat: raise β
				lo = beta
				if math.IsInf(hi, 1) {
					beta *= 2
				} else {
					beta = (beta + hi) / 2
				}
			} else {
				hi = beta
				if math.IsInf(lo, -1) {
					beta /= 2
				} else {
					beta = (beta + lo) / 2
				}
			}
		}
	}
	return p
}

// tsneSymmetrise returns the joint similarities p_ij = (p(j|i) + p(i|j)) /
// Σ, a sparse symmetric matrix in compressed rows: row i's entries are
// col[rowStart[i]:rowStart[i+1]], in increasing column order, with values
// p at the same places. The values sum to 1.
func tsneSymmetrise(nbr []int32, cond []float64, n, nb int) (rowStart, col []int32, p []float64) {
	type entry struct {
		row, col int32
		p        float64
	}
	es := make([]entry, 0, 2*n*nb)
	for i := range n {
		for t := range nb {
			j, c := nbr[i*nb+t], cond[i*nb+t]
			es = append(es, entry{int32(i), j, c}, entry{j, int32(i), c})
		}
	}
	slices.SortFunc(es, func(a, b entry) int {
		if c := cmp.Compare(a.row, b.row); c != 0 {
			return c
		}
		return cmp.Compare(a.col, b.col)
	})
	rowStart = make([]int32, n+1)
	col = make([]int32, 0, len(es))
	p = make([]float64, 0, len(es))
	for t, e := range es {
		// A pair met from both sides appears twice, side by side: merged
		// (two terms, so their order cannot change the sum).
		if t > 0 && es[t-1].row == e.row && es[t-1].col == e.col {
			p[len(p)-1] += e.p
			continue
		}
		col = append(col, e.col)
		p = append(p, e.p)
		rowStart[e.row+1]++
	}
	for i := range n {
		rowStart[i+1] += rowStart[i]
	}
	var sum float64
	for _, v := range p {
		sum += v
	}
	for i := range p {
		p[i] /= sum
	}
	return rowStart, col, p
}

// tsneInit returns the starting layout: the first two PCA scores of f
// (n×k), scaled so that the first has standard deviation tsneInitSD, plus a
// uniform jitter of ±tsneJitter·tsneInitSD drawn from seed.
func tsneInit(f []float64, n, k int, seed uint64) []float64 {
	var mean, ss float64
	for i := range n {
		mean += f[i*k]
	}
	mean /= float64(n)
	for i := range n {
		e := f[i*k] - mean
		ss += float64(e * e)
	}
	scale := 0.0
	if sd := math.Sqrt(ss / float64(n)); sd > 0 {
		scale = tsneInitSD / sd
	}
	rng := rand.New(rand.NewPCG(seed, 0x7453_4e45)) // "tSNE"
	y := make([]float64, 2*n)
	for i := range n {
		for c := range min(k, 2) {
			y[2*i+c] = f[i*k+c] * scale
		}
		for c := range 2 {
			y[2*i+c] += float64(tsneJitter * tsneInitSD * pcaUniform(rng))
		}
	}
	return y
}

// tsneDescend moves the layout y (n×2) by iters steps of gradient descent
// on KL(P‖Q), with bhtsne's schedule: early exaggeration and momentum 0.5,
// then momentum 0.8; per-coordinate gains (Jacobs 1988) floored at
// tsneMinGain; learning rate max(200, n/12) (Belkina et al., "Automated
// optimized parameters for t-SNE", Nat. Commun. 2019). As in bhtsne the
// gradient leaves out the paper's factor 4, which the rate absorbs, and the
// layout is recentred after each step.
func tsneDescend(y []float64, n int, rowStart, col []int32, p []float64, iters int) {
	exaggerated := min(tsneExaggerated, iters/3)
	eta := max(200, float64(n)/12)
	grad := make([]float64, 2*n)
	step := make([]float64, 2*n)
	gain := make([]float64, 2*n)
	for i := range gain {
		gain[i] = 1
	}
	var tree tsneTree
	var stack []int32
	for it := range iters {
		exag, momentum := 1.0, tsneMomentumLate
		if it < exaggerated {
			exag, momentum = tsneExaggeration, tsneMomentumEarly
		}

		// Repulsion: Σ_j q_ij² (y_i - y_j) / Z with Z = Σ_ij q_ij, q the
		// Student-t kernel 1/(1+d²), approximated on the quadtree.
		tree.build(y, n, tsneTheta)
		var z float64
		for i := range n {
			var fx, fy, zi float64
			fx, fy, zi, stack = tree.repel(i, y[2*i], y[2*i+1], stack)
			grad[2*i], grad[2*i+1] = fx, fy
			z += zi
		}
		// Attraction: Σ_j p_ij q_ij (y_i - y_j), exact on P's entries.
		for i := range n {
			xi, yi := y[2*i], y[2*i+1]
			var ax, ay float64
			for e := rowStart[i]; e < rowStart[i+1]; e++ {
				j := col[e]
				dx, dy := xi-y[2*j], yi-y[2*j+1]
				w := p[e] / (1 + float64(dx*dx) + float64(dy*dy))
				ax += float64(w * dx)
				ay += float64(w * dy)
			}
			grad[2*i] = float64(exag*ax) - grad[2*i]/z
			grad[2*i+1] = float64(exag*ay) - grad[2*i+1]/z
		}

		var mx, my float64
		for i, g := range grad {
			// bhtsne's rule, sign(0) = 0 included: the gain grows while
			// the descent keeps its direction (the gradient's sign differs
			// from the last step's), else shrinks.
			if tsneSign(g) != tsneSign(step[i]) {
				gain[i] += 0.2
			} else {
				gain[i] *= 0.8
			}
			gain[i] = max(gain[i], tsneMinGain)
			step[i] = float64(momentum*step[i]) - float64(float64(eta*gain[i])*g)
			y[i] += step[i]
			if i%2 == 0 {
				mx += y[i]
			} else {
				my += y[i]
			}
		}
		mx /= float64(n)
		my /= float64(n)
		for i := range n {
			y[2*i] -= mx
			y[2*i+1] -= my
		}
	}
}

// tsneSign is bhtsne's sign: -1, 0 or 1.
func tsneSign(x float64) int {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

// tsneTree is the Barnes-Hut quadtree of a layout, rebuilt each step into
// the same storage.
type tsneTree struct {
	nodes []tsneNode
	// perm lists the points so that each node's are perm[lo:hi]; pos is
	// its inverse (pos[perm[t]] = t).
	perm, pos, scratch []int32
	theta2             float64 // the accuracy θ, squared
}

// tsneNode is a square cell of the quadtree.
type tsneNode struct {
	cx, cy float64 // the centre of mass of its points
	// far is (half the square's side / θ)²: seen from a squared
	// distance beyond it, the cell's points are summed as one.
	far    float64
	lo, hi int32 // its points are perm[lo:hi]
	child  int32 // the first of its four children (-1: a leaf)
}

// tsneMaxDepth bounds the tree: below it a cell is a leaf however many
// points it holds (only distinct points closer than 2⁻⁴⁸ of the layout
// get there).
const tsneMaxDepth = 48

// build makes the tree of the n points of y (n×2) for Barnes-Hut
// accuracy theta.
func (t *tsneTree) build(y []float64, n int, theta float64) {
	t.nodes = t.nodes[:0]
	if len(t.perm) != n {
		t.perm = make([]int32, n)
		t.pos = make([]int32, n)
		t.scratch = make([]int32, n)
	}
	for i := range t.perm {
		t.perm[i] = int32(i)
	}
	minX, maxX, minY, maxY := y[0], y[0], y[1], y[1]
	for i := 1; i < n; i++ {
		minX, maxX = min(minX, y[2*i]), max(maxX, y[2*i])
		minY, maxY = min(minY, y[2*i+1]), max(maxY, y[2*i+1])
	}
	t.nodes = append(t.nodes, tsneNode{})
	t.theta2 = theta * theta
	t.split(0, 0, int32(n), (minX+maxX)/2, (minY+maxY)/2, max(maxX-minX, maxY-minY)/2, 0, y)
	for at, i := range t.perm {
		t.pos[i] = int32(at)
	}
}

// split fills node nd, the square of centre (ox, oy) and half-width half
// holding perm[lo:hi], and makes its subtree. Points on a dividing line go
// to the upper/right side.
func (t *tsneTree) split(nd, lo, hi int32, ox, oy, half float64, depth int, y []float64) {
	node := tsneNode{far: float64(half*half) / t.theta2, lo: lo, hi: hi, child: -1}
	if hi > lo {
		var sx, sy float64
		first := t.perm[lo]
		same := true
		for _, i := range t.perm[lo:hi] {
			sx += y[2*i]
			sy += y[2*i+1]
			same = same && y[2*i] == y[2*first] && y[2*i+1] == y[2*first+1]
		}
		c := float64(hi - lo)
		node.cx, node.cy = sx/c, sy/c
		if hi-lo > 1 && !same && depth < tsneMaxDepth {
			node.child = int32(len(t.nodes))
		}
	}
	t.nodes[nd] = node
	if node.child < 0 {
		return
	}

	// Partition perm[lo:hi] by quadrant (0: lower left, 1: lower right,
	// 2: upper left, 3: upper right), keeping the order within each.
	var count [5]int32
	for _, i := range t.perm[lo:hi] {
		count[tsneQuadrant(y, i, ox, oy)+1]++
	}
	for q := 1; q < 5; q++ {
		count[q] += count[q-1]
	}
	next := count
	for _, i := range t.perm[lo:hi] {
		q := tsneQuadrant(y, i, ox, oy)
		t.scratch[lo+next[q]] = i
		next[q]++
	}
	copy(t.perm[lo:hi], t.scratch[lo:hi])

	base := node.child
	t.nodes = append(t.nodes, tsneNode{}, tsneNode{}, tsneNode{}, tsneNode{})
	h := float64(half / 2)
	for q := range int32(4) {
		cx, cy := ox-h, oy-h
		if q&1 != 0 {
			cx = ox + h
		}
		if q&2 != 0 {
			cy = oy + h
		}
		t.split(base+q, lo+count[q], lo+count[q+1], cx, cy, h, depth+1, y)
	}
}

// tsneQuadrant is the quadrant of point i about (ox, oy), as in split.
func tsneQuadrant(y []float64, i int32, ox, oy float64) int {
	q := 0
	if y[2*i] >= ox {
		q |= 1
	}
	if y[2*i+1] >= oy {
		q |= 2
	}
	return q
}

// repel returns the unnormalised repulsion on point i at (xi, yi), Σ_j
// q_ij² (y_i - y_j), and its share of Z, Σ_j q_ij, summing a cell's points
// as one at their centre of mass when the cell is small enough seen from
// i. A cell holding i itself is always opened, so i never meets itself;
// identical points in i's leaf count in Z and push with no force. stack is
// scratch space, returned for reuse.
func (t *tsneTree) repel(i int, xi, yi float64, stack []int32) (fx, fy, z float64, _ []int32) {
	at := t.pos[i]
	stack = append(stack[:0], 0)
	for len(stack) > 0 {
		nd := &t.nodes[stack[len(stack)-1]]
		stack = stack[:len(stack)-1]
		if nd.hi == nd.lo {
			continue
		}
		mine := nd.lo <= at && at < nd.hi
		if mine && nd.child >= 0 {
			stack = append(stack, nd.child+3, nd.child+2, nd.child+1, nd.child)
			continue
		}
		if mine {
			z += float64(nd.hi - nd.lo - 1) // q = 1 at distance 0
			continue
		}
		dx, dy := xi-nd.cx, yi-nd.cy
		d2 := float64(dx*dx) + float64(dy*dy)
		if nd.child >= 0 && d2 <= nd.far {
			stack = append(stack, nd.child+3, nd.child+2, nd.child+1, nd.child)
			continue
		}
		q := 1 / (1 + d2)
		cq := float64(float64(nd.hi-nd.lo) * q)
		z += cq
		w := cq * q
		fx += float64(w * dx)
		fy += float64(w * dy)
	}
	return fx, fy, z, stack
}

// tsneExp is e^x: the algorithm of Go's pure-Go math.Exp (FreeBSD's
// e_exp.c), carried here because on amd64 math.Exp is assembly that uses
// FMA when the processor has it, and can differ in the last bit from the
// pure Go wasm runs. Its products are rounded explicitly (see pca.go).
func tsneExp(x float64) float64 {
	const (
		ln2Hi     = 6.93147180369123816490e-01
		ln2Lo     = 1.90821492927058770002e-10
		log2e     = 1.44269504088896338700e+00
		overflow  = 7.09782712893383973096e+02
		underflow = -7.45133219101941108420e+02
		nearZero  = 1.0 / (1 << 28)

		p1 = 1.66666666666666657415e-01
		p2 = -2.77777777770155933842e-03
		p3 = 6.61375632143793436117e-05
		p4 = -1.65339022054652515390e-06
		p5 = 4.13813679705723846039e-08
	)
	switch {
	case math.IsNaN(x):
		return x
	case x > overflow:
		return math.Inf(1)
	case x < underflow:
		return 0
	case -nearZero < x && x < nearZero:
		return 1 + x
	}
	// x = k·ln2 + r with |r| ≤ ln2/2, r = hi - lo for extra precision.
	var k int
	switch {
	case x < 0:
		k = int(float64(log2e*x) - 0.5)
	case x > 0:
		k = int(float64(log2e*x) + 0.5)
	}
	hi := x - float64(float64(k)*ln2Hi)
	lo := float64(float64(k) * ln2Lo)
	r := hi - lo
	t := float64(r * r)
	c := p4 + float64(t*p5)
	c = p3 + float64(t*c)
	c = p2 + float64(t*c)
	c = p1 + float64(t*c)
	c = r - float64(t*c)
	e := 1 - ((lo - float64(r*c)/(2-c)) - hi)
	return math.Ldexp(e, k)
}

// tsneLog is the natural logarithm: the algorithm of Go's pure-Go math.Log
// (FreeBSD's e_log.c), carried here for the reason given at [tsneExp].
func tsneLog(x float64) float64 {
	const (
		ln2Hi = 6.93147180369123816490e-01
		ln2Lo = 1.90821492927058770002e-10
		l1    = 6.666666666666735130e-01
		l2    = 3.999999999940941908e-01
		l3    = 2.857142874366239149e-01
		l4    = 2.222219843214978396e-01
		l5    = 1.818357216161805012e-01
		l6    = 1.531383769920937332e-01
		l7    = 1.479819860511658591e-01
	)
	switch {
	case math.IsNaN(x) || math.IsInf(x, 1):
		return x
	case x < 0:
		return math.NaN()
	case x == 0:
		return math.Inf(-1)
	}
	f1, ki := math.Frexp(x)
	if f1 < math.Sqrt2/2 {
		f1 *= 2
		ki--
	}
	f := f1 - 1
	k := float64(ki)
	s := f / (2 + f)
	s2 := float64(s * s)
	s4 := float64(s2 * s2)
	a := l5 + float64(s4*l7)
	a = l3 + float64(s4*a)
	a = l1 + float64(s4*a)
	b := l4 + float64(s4*l6)
	b = l2 + float64(s4*b)
	r := float64(s2*a) + float64(s4*b)
	hfsq := float64(float64(0.5*f) * f)
	return float64(k*ln2Hi) - ((hfsq - (float64(s*(hfsq+r)) + float64(k*ln2Lo))) - f)
}
