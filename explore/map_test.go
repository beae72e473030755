package explore

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// mapNormal is a near-Gaussian draw (mean 0, variance 1: the sum of four
// uniforms, Irwin-Hall). It avoids rand's NormFloat64, whose tails go
// through math.Log and math.Exp, so that test data too is the same bits
// natively and under js/wasm.
func mapNormal(rng *rand.Rand) float64 {
	var s float64
	for range 4 {
		s += float64(pcaUniform(rng)) // each of variance 1/3
	}
	return s * (math.Sqrt(3) / 2)
}

// The test data are made without fused multiply-adds (float64(a*b), as in
// pca.go), so that the golden maps hold on every architecture.

// mapBlobs returns len(centres)·per unit-length rows of dim values: blob b
// is centres[b] plus Gaussian noise of standard deviation sd per value,
// rows in blob order.
func mapBlobs(rng *rand.Rand, centres [][]float64, per, dim int, sd float64) []float32 {
	data := make([]float32, 0, len(centres)*per*dim)
	row := make([]float64, dim)
	for _, c := range centres {
		for range per {
			var ss float64
			for j := range row {
				row[j] = c[j] + float64(sd*mapNormal(rng))
				ss += float64(row[j] * row[j])
			}
			for j := range row {
				data = append(data, float32(row[j]/math.Sqrt(ss)))
			}
		}
	}
	return data
}

// mapRandomCentres returns k random unit vectors of dim values.
func mapRandomCentres(rng *rand.Rand, k, dim int) [][]float64 {
	cs := make([][]float64, k)
	for b := range cs {
		cs[b] = make([]float64, dim)
		var ss float64
		for j := range cs[b] {
			cs[b][j] = mapNormal(rng)
			ss += float64(cs[b][j] * cs[b][j])
		}
		for j := range cs[b] {
			cs[b][j] /= math.Sqrt(ss)
		}
	}
	return cs
}

// mapHash is the FNV-1a hash of a layout's float64 bits.
func mapHash(points [][2]float64) uint64 {
	h := fnv.New64a()
	var b [8]byte
	for _, p := range points {
		for _, v := range p {
			bits := math.Float64bits(v)
			for k := range b {
				b[k] = byte(bits >> (8 * k))
			}
			h.Write(b[:])
		}
	}
	return h.Sum64()
}

func TestMapBlobs(t *testing.T) {
	t.Parallel()
	const blobs, per, dim = 4, 50, 32
	// For PCA the blob centres lie in one plane (±e₀, ±e₁), which the first
	// two components must find; for t-SNE they are random directions, as
	// groups of real features are.
	plane := make([][]float64, blobs)
	for b := range plane {
		plane[b] = make([]float64, dim)
		plane[b][b/2] = float64(1 - 2*(b%2))
	}
	for _, tc := range []struct {
		name    string
		method  MapMethod
		centres [][]float64
	}{
		{"pca", MapPCA, plane},
		{"tsne", MapTSNE, mapRandomCentres(rand.New(rand.NewPCG(3, 4)), blobs, dim)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := mapBlobs(rand.New(rand.NewPCG(1, 2)), tc.centres, per, dim, 0.04)
			points, err := Map(data, blobs*per, dim, MapConfig{Method: tc.method, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			// Nearest neighbours in the map belong to the same blob.
			same := 0
			for i, p := range points {
				best, at := math.Inf(1), -1
				for j, q := range points {
					if d := math.Hypot(p[0]-q[0], p[1]-q[1]); j != i && d < best {
						best, at = d, j
					}
				}
				if at/per == i/per {
					same++
				}
			}
			if same < blobs*per*98/100 {
				t.Errorf("%d of %d points have their nearest map neighbour in their own blob, want ≥ 98%%", same, blobs*per)
			}
			// Each blob's disc (its centroid and the distance to its
			// farthest point) is clear of every other's.
			var cx, cy, radius [blobs]float64
			for b := range blobs {
				for _, p := range points[b*per : (b+1)*per] {
					cx[b] += p[0] / per
					cy[b] += p[1] / per
				}
				for _, p := range points[b*per : (b+1)*per] {
					radius[b] = max(radius[b], math.Hypot(p[0]-cx[b], p[1]-cy[b]))
				}
			}
			for a := range blobs {
				for b := a + 1; b < blobs; b++ {
					if d := math.Hypot(cx[a]-cx[b], cy[a]-cy[b]); d <= radius[a]+radius[b] {
						t.Errorf("blobs %d and %d overlap: centroids %.3f apart, radii %.3f and %.3f", a, b, d, radius[a], radius[b])
					}
				}
			}
			for i, p := range points {
				if !(p[0] >= 0 && p[0] <= 1 && p[1] >= 0 && p[1] <= 1) {
					t.Fatalf("point %d at %v, outside the unit square", i, p)
				}
			}
		})
	}
}

func TestPrincipalKnownAxes(t *testing.T) {
	t.Parallel()
	third := func(a, b, c float64) []float64 { return []float64{a / 3, b / 3, c / 3} }
	r6 := 1 / math.Sqrt(6)
	for _, tc := range []struct {
		name   string
		centre []float64
		axes   [][]float64 // orthonormal principal axes
		coords [][]float64 // each point's (centred, uncorrelated) coordinates along them
		want   [][]float64 // the expected scores, sign rule applied
		vars   []float64
	}{
		{
			// A line in 3-D: n > d, the scatter-matrix path.
			name:   "line",
			centre: []float64{1, -2, 0.5},
			axes:   [][]float64{third(1, 2, 2)},
			coords: [][]float64{{-3, -2, 0, 1, 1.5, 2.5}},
			// The largest magnitude, -3, turns positive.
			want: [][]float64{{3, 2, 0, -1, -1.5, -2.5}, {0, 0, 0, 0, 0, 0}},
			vars: []float64{3.75, 0},
		},
		{
			// A plane in 3-D: n > d.
			name:   "plane scatter",
			centre: []float64{0.25, 3, -1},
			axes:   [][]float64{third(2, 1, 2), third(1, 2, -2)},
			coords: [][]float64{{4, -3, 1, -2, 0}, {1, 1, 1, 1, -4}},
			want:   [][]float64{{4, -3, 1, -2, 0}, {-1, -1, -1, -1, 4}},
			vars:   []float64{6, 4},
		},
		{
			// The same plane in 6-D: n < d, the Gram-matrix path.
			name:   "plane gram",
			centre: []float64{1, 2, 3, 4, 5, 6},
			axes:   [][]float64{{r6, r6, r6, r6, r6, r6}, {r6, -r6, r6, -r6, r6, -r6}},
			coords: [][]float64{{4, -3, 1, -2, 0}, {1, 1, 1, 1, -4}},
			want:   [][]float64{{4, -3, 1, -2, 0}, {-1, -1, -1, -1, 4}},
			vars:   []float64{6, 4},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, n, k := len(tc.centre), len(tc.coords[0]), len(tc.want)
			x := make([]float64, n*d)
			for i := range n {
				for j := range d {
					x[i*d+j] = tc.centre[j]
					for a, axis := range tc.axes {
						x[i*d+j] += tc.coords[a][i] * axis[j]
					}
				}
			}
			scores, vars := principal(x, n, d, k, mapPCATol, mapPCASteps)
			for c := range k {
				if math.Abs(vars[c]-tc.vars[c]) > 1e-12 {
					t.Errorf("component %d variance %v, want %v", c, vars[c], tc.vars[c])
				}
				for i := range n {
					if got := scores[i*k+c]; math.Abs(got-tc.want[c][i]) > 1e-12 {
						t.Errorf("row %d component %d score %v, want %v", i, c, got, tc.want[c][i])
					}
				}
			}
		})
	}
}

// TestPrincipalReference checks the first component of random data against
// a plain power iteration on the covariance matrix, on both paths.
func TestPrincipalReference(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ n, d int }{{12, 5}, {5, 12}, {40, 40}} {
		t.Run(fmt.Sprintf("%dx%d", tc.n, tc.d), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, uint64(tc.n)))
			x := make([]float64, tc.n*tc.d)
			for i := range x {
				// Unequal scales per column, for a clear top component.
				x[i] = mapNormal(rng) * float64(1+i%tc.d)
			}
			orig := slices.Clone(x)
			const k = 3
			scores, vars := principal(x, tc.n, tc.d, k, 1e-12, 1000)

			// The reference: the covariance, then power iteration.
			mean := make([]float64, tc.d)
			for i := range tc.n {
				for j := range tc.d {
					mean[j] += orig[i*tc.d+j] / float64(tc.n)
				}
			}
			cov := make([]float64, tc.d*tc.d)
			for i := range tc.n {
				for a := range tc.d {
					for b := range tc.d {
						cov[a*tc.d+b] += (orig[i*tc.d+a] - mean[a]) * (orig[i*tc.d+b] - mean[b]) / float64(tc.n)
					}
				}
			}
			v := make([]float64, tc.d)
			for j := range v {
				v[j] = 1
			}
			var lam float64
			for range 5000 {
				w := make([]float64, tc.d)
				for a := range tc.d {
					for b := range tc.d {
						w[a] += cov[a*tc.d+b] * v[b]
					}
				}
				lam = math.Sqrt(pcaDot(w, w))
				for j := range v {
					v[j] = w[j] / lam
				}
			}
			if math.Abs(vars[0]-lam) > 1e-9*lam {
				t.Errorf("first variance %v, want %v", vars[0], lam)
			}
			for i := range tc.n {
				var ref float64
				for j := range tc.d {
					ref += (orig[i*tc.d+j] - mean[j]) * v[j]
				}
				if got := scores[i*k]; math.Abs(math.Abs(got)-math.Abs(ref)) > 1e-6*math.Sqrt(lam) {
					t.Errorf("row %d first score %v, want ±%v", i, got, ref)
				}
			}
			// The components are uncorrelated, their variances decreasing.
			for a := range k {
				for b := range k {
					var s float64
					for i := range tc.n {
						s += scores[i*k+a] * scores[i*k+b] / float64(tc.n)
					}
					want := 0.0
					if a == b {
						want = vars[a]
					}
					if math.Abs(s-want) > 1e-9*vars[0] {
						t.Errorf("scores %d·%d/n = %v, want %v", a, b, s, want)
					}
				}
				if a > 0 && vars[a] > vars[a-1] {
					t.Errorf("variances %v not decreasing", vars)
				}
			}
		})
	}
}

func TestSymEigen(t *testing.T) {
	t.Parallel()
	const l = 9
	rng := rand.New(rand.NewPCG(7, 8))
	h := make([]float64, l*l)
	for p := range l {
		for q := p; q < l; q++ {
			h[p*l+q] = mapNormal(rng)
			h[q*l+p] = h[p*l+q]
		}
	}
	h[2*l+2] = h[5*l+5] // a few equal diagonal entries
	vals, w := symEigen(h, l)
	for c := range l {
		if c > 0 && vals[c] > vals[c-1] {
			t.Errorf("eigenvalues %v not decreasing", vals)
		}
		for r := range l {
			var hw float64
			for j := range l {
				hw += h[r*l+j] * w[j*l+c]
			}
			if e := math.Abs(hw - vals[c]*w[r*l+c]); e > 1e-12 {
				t.Errorf("eigenpair %d: residual %v in row %d", c, e, r)
			}
		}
		for c2 := range l {
			var s float64
			for r := range l {
				s += w[r*l+c] * w[r*l+c2]
			}
			want := 0.0
			if c == c2 {
				want = 1
			}
			if math.Abs(s-want) > 1e-13 {
				t.Errorf("eigenvectors %d·%d = %v, want %v", c, c2, s, want)
			}
		}
	}
}

// TestTSNECalibrate checks that each point's similarities have the asked
// perplexity: exp of their entropy in nats.
func TestTSNECalibrate(t *testing.T) {
	t.Parallel()
	const n, nb = 50, 30
	rng := rand.New(rand.NewPCG(17, 18))
	dist := make([]float64, n*nb)
	for i := range n {
		scale := math.Pow(10, float64(i%7-3)) // distances from 1e-3 to 1e3
		row := dist[i*nb : (i+1)*nb]
		for j := range row {
			row[j] = scale * (1 + 5*(pcaUniform(rng)+1))
		}
		slices.Sort(row)
	}
	for _, perp := range []float64{2, 10, 25} {
		p := tsneCalibrate(dist, n, nb, perp)
		for i := range n {
			var sum, h float64
			for _, v := range p[i*nb : (i+1)*nb] {
				sum += v
				if v > 0 {
					h -= v * math.Log(v)
				}
			}
			if math.Abs(sum-1) > 1e-12 || math.Abs(math.Exp(h)-perp) > 1e-3*perp {
				t.Errorf("perplexity %v, row %d: sum %v, perplexity %v", perp, i, sum, math.Exp(h))
			}
		}
	}
}

// TestTSNETree checks the Barnes-Hut repulsion against the exact sums on a
// layout with clusters, a lone point and duplicates.
func TestTSNETree(t *testing.T) {
	t.Parallel()
	const n = 400
	rng := rand.New(rand.NewPCG(19, 20))
	y := make([]float64, 2*n)
	for i := range n {
		cx, cy := float64(i%4)*10, float64(i%4/2)*7
		y[2*i], y[2*i+1] = cx+3*pcaUniform(rng), cy+3*pcaUniform(rng)
	}
	y[2*7], y[2*7+1] = 100, -50           // far away
	for _, i := range []int{11, 12, 13} { // three copies of point 10
		y[2*i], y[2*i+1] = y[20], y[21]
	}
	for _, tc := range []struct {
		theta, zTol, forceTol float64
	}{
		{1e-9, 1e-14, 1e-14}, // every cell opened: the exact sums
		// θ = 0.5 as bhtsne measures it (half the cell's side, where the
		// paper uses its diagonal): errors of a few percent.
		{tsneTheta, 0.04, 0.08},
	} {
		var tree tsneTree
		tree.build(y, n, tc.theta)
		var stack []int32
		var z, zExact, errSum, forceSum float64
		for i := range n {
			fx, fy, zi, s := tree.repel(i, y[2*i], y[2*i+1], stack)
			stack = s
			var ex, ey, ez float64
			for j := range n {
				if j == i {
					continue
				}
				dx, dy := y[2*i]-y[2*j], y[2*i+1]-y[2*j+1]
				q := 1 / (1 + dx*dx + dy*dy)
				ez += q
				ex += q * q * dx
				ey += q * q * dy
			}
			z += zi
			zExact += ez
			errSum += math.Hypot(fx-ex, fy-ey)
			forceSum += math.Hypot(ex, ey)
		}
		if e := math.Abs(z-zExact) / zExact; e > tc.zTol {
			t.Errorf("θ = %v: Z %v, exact %v: relative error %.2g", tc.theta, z, zExact, e)
		}
		if e := errSum / forceSum; e > tc.forceTol {
			t.Errorf("θ = %v: mean force error %.2g of the mean force", tc.theta, e)
		}
	}
}

// mapBigLn2 is ln 2 to 200 bits: Σ 1/(k·2^k).
func mapBigLn2() *big.Float {
	sum := new(big.Float).SetPrec(200)
	for k := 1; k < 200; k++ {
		// (SetMantExp takes its mantissa's precision: a 200-bit one.)
		term := new(big.Float).SetPrec(200).SetInt64(1)
		term.SetMantExp(term, -k)
		sum.Add(sum, term.Quo(term, big.NewFloat(float64(k))))
	}
	return sum
}

// mapBigExp is e^x to 200 bits, rounded once to float64: x = k·ln2 + r,
// then the Taylor series of e^r.
func mapBigExp(x float64, ln2 *big.Float) float64 {
	k := math.Round(x / math.Ln2)
	r := new(big.Float).SetPrec(200).SetFloat64(x)
	r.Sub(r, new(big.Float).SetPrec(200).Mul(ln2, big.NewFloat(k)))
	sum := new(big.Float).SetPrec(200).SetInt64(1)
	term := new(big.Float).SetPrec(200).SetInt64(1)
	for i := 1; i < 60; i++ {
		term.Mul(term, r)
		term.Quo(term, big.NewFloat(float64(i)))
		sum.Add(sum, term)
	}
	f, _ := sum.SetMantExp(sum, int(k)).Float64()
	return f
}

// mapBigLog is ln y to 200 bits, rounded once to float64: y = m·2^k, then
// ln m = 2 atanh((m-1)/(m+1)) by its series.
func mapBigLog(y float64, ln2 *big.Float) float64 {
	m, k := math.Frexp(y)
	bm := new(big.Float).SetPrec(200).SetFloat64(m)
	num := new(big.Float).SetPrec(200).Sub(bm, big.NewFloat(1))
	u := new(big.Float).SetPrec(200).Quo(num, new(big.Float).SetPrec(200).Add(bm, big.NewFloat(1)))
	u2 := new(big.Float).SetPrec(200).Mul(u, u)
	sum := new(big.Float).SetPrec(200)
	pow := new(big.Float).SetPrec(200).Set(u)
	for i := 1; i < 300; i += 2 {
		sum.Add(sum, new(big.Float).SetPrec(200).Quo(pow, big.NewFloat(float64(i))))
		pow.Mul(pow, u2)
	}
	sum.Mul(sum, big.NewFloat(2))
	sum.Add(sum, new(big.Float).SetPrec(200).Mul(ln2, big.NewFloat(float64(k))))
	f, _ := sum.Float64()
	return f
}

// TestTSNEExpLog checks tsneExp and tsneLog against 200-bit references:
// at most one unit in the last place from the correctly rounded value
// (FreeBSD states an error below one ulp).
func TestTSNEExpLog(t *testing.T) {
	t.Parallel()
	ulps := func(got, want float64) float64 {
		if got == want {
			return 0
		}
		return math.Abs(got-want) / math.Abs(math.Nextafter(want, math.Inf(1))-want)
	}
	ln2 := mapBigLn2()
	rng := rand.New(rand.NewPCG(9, 10))
	for range 1000 {
		x := -700 + 1400*rng.Float64()
		if rng.IntN(2) == 0 {
			x = -20 + 20*rng.Float64() // where t-SNE calls it
		}
		if got, want := tsneExp(x), mapBigExp(x, ln2); ulps(got, want) > 1 {
			t.Fatalf("tsneExp(%v) = %v, want %v: %v ulps apart", x, got, want, ulps(got, want))
		}
		y := math.Exp(-700 + 1400*rng.Float64())
		if rng.IntN(2) == 0 {
			y = 1 + 1e-2*(rng.Float64()-0.5)
		}
		if got, want := tsneLog(y), mapBigLog(y, ln2); ulps(got, want) > 1 {
			t.Fatalf("tsneLog(%v) = %v, want %v: %v ulps apart", y, got, want, ulps(got, want))
		}
	}
	for _, x := range []float64{0, 1e-9, -1e-9, 710, -746, math.Inf(1), math.Inf(-1)} {
		if got, want := tsneExp(x), math.Exp(x); got != want {
			t.Errorf("tsneExp(%v) = %v, want %v", x, got, want)
		}
	}
	for _, x := range []float64{1, 0, math.Inf(1), 2, 0.5} {
		if got, want := tsneLog(x), math.Log(x); got != want {
			t.Errorf("tsneLog(%v) = %v, want %v", x, got, want)
		}
	}
	// A subnormal, where amd64's assembly math.Log is off (-709.09).
	if got, want := tsneLog(5e-324), mapBigLog(5e-324, ln2); got != want {
		t.Errorf("tsneLog(5e-324) = %v, want %v", got, want)
	}
	if !math.IsNaN(tsneLog(-1)) || !math.IsNaN(tsneExp(math.NaN())) {
		t.Error("tsneLog(-1) or tsneExp(NaN) is not NaN")
	}
}

// mapGoldenData is the fixed input of TestMapGolden: three loose blobs of
// 40 rows of 24 values.
func mapGoldenData() []float32 {
	rng := rand.New(rand.NewPCG(11, 12))
	return mapBlobs(rng, mapRandomCentres(rng, 3, 24), 40, 24, 0.15)
}

// TestMapGolden pins the exact bits of maps of a fixed input. Run under
// GOOS=js GOARCH=wasm as well as natively, it shows that the page and the
// command draw the same map. The cases take each path: PCA by subspace
// iteration on the scatter matrix (n > dim) and on the Gram matrix
// (n < dim), and t-SNE on 8 of the 24 components.
func TestMapGolden(t *testing.T) {
	t.Parallel()
	data := mapGoldenData()
	for _, tc := range []struct {
		name  string
		n     int // the first n rows of the data
		cfg   MapConfig
		first [2]float64
		hash  uint64
	}{
		{"pca", 120, MapConfig{Method: MapPCA}, [2]float64{0.11383736595112903, 0.1662875350015079}, 0x26a6e06b9760167c},
		{"pca gram", 20, MapConfig{Method: MapPCA}, [2]float64{0.6043490538369861, 0.5826710226813391}, 0x1d6d9d9cf9339814},
		{"tsne", 120, MapConfig{Iterations: 300, Perplexity: 10, PCADims: 8, Seed: 3}, [2]float64{0.7513451043961823, 0.8906978495334994}, 0x972bdf2191b3e81f},
	} {
		t.Run(tc.name, func(t *testing.T) {
			points, err := Map(data[:tc.n*24], tc.n, 24, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if h := mapHash(points); h != tc.hash || points[0] != tc.first {
				t.Errorf("map hash %#x, first point {%v, %v}; want %#x, {%v, %v}",
					h, points[0][0], points[0][1], tc.hash, tc.first[0], tc.first[1])
			}
		})
	}
}

func TestMapDeterministic(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(13, 14))
	data := mapBlobs(rng, mapRandomCentres(rng, 3, 40), 50, 40, 0.1)
	orig := slices.Clone(data)
	for _, cfg := range []MapConfig{{Method: MapPCA}, {Iterations: 200, Seed: 5}} {
		a, err := Map(data, 150, 40, cfg)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := Map(data, 150, 40, cfg)
		if mapHash(a) != mapHash(b) {
			t.Errorf("%s: two runs differ", cfg.Method)
		}
		if cfg.Method == "" {
			cfg.Seed++
			if c, _ := Map(data, 150, 40, cfg); mapHash(c) == mapHash(a) {
				t.Error("tsne: another seed gives the same map")
			}
		}
	}
	if !slices.Equal(data, orig) {
		t.Error("Map modified its input")
	}
}

func TestMapSmall(t *testing.T) {
	t.Parallel()
	same := make([]float32, 5*3)
	for i := range same {
		same[i] = float32(i % 3)
	}
	for _, tc := range []struct {
		name string
		data []float32
		n    int
		want [][2]float64 // nil: any layout inside the square
	}{
		{"one", []float32{0.6, 0.8}, 1, [][2]float64{{0.5, 0.5}}},
		{"two", []float32{1, 0, 0, 1}, 2, nil},
		{"three", []float32{1, 0, 0, 1, 0.6, 0.8}, 3, nil},
		{"identical", same, 5, nil},
	} {
		for _, method := range []MapMethod{MapPCA, MapTSNE} {
			t.Run(tc.name+"/"+string(method), func(t *testing.T) {
				points, err := Map(tc.data, tc.n, len(tc.data)/tc.n, MapConfig{Method: method})
				if err != nil {
					t.Fatal(err)
				}
				if len(points) != tc.n {
					t.Fatalf("%d points, want %d", len(points), tc.n)
				}
				for i, p := range points {
					if !(p[0] >= 0 && p[0] <= 1 && p[1] >= 0 && p[1] <= 1) {
						t.Errorf("point %d at %v, outside the unit square", i, p)
					}
				}
				if tc.want != nil && !slices.Equal(points, tc.want) {
					t.Errorf("points %v, want %v", points, tc.want)
				}
				// Two distinct points span the square's width or height.
				if tc.n == 2 {
					d := max(math.Abs(points[0][0]-points[1][0]), math.Abs(points[0][1]-points[1][1]))
					if d != 1 {
						t.Errorf("two points %v apart along an axis, want 1", d)
					}
				}
			})
		}
	}
	// PCA of identical rows leaves every point at the centre.
	points, _ := Map(same, 5, 3, MapConfig{Method: MapPCA})
	for i, p := range points {
		if p != [2]float64{0.5, 0.5} {
			t.Errorf("identical row %d at %v, want the centre", i, p)
		}
	}
}

func TestMapErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		data   []float32
		n, dim int
		cfg    MapConfig
		want   string
	}{
		{"no points", nil, 0, 4, MapConfig{}, "map of 0 points"},
		{"no values", nil, 2, 0, MapConfig{}, "0-value rows"},
		{"short", make([]float32, 7), 2, 4, MapConfig{}, "holds 7 values, want 2 rows of 4"},
		{"NaN", []float32{1, float32(math.NaN())}, 1, 2, MapConfig{}, "row 0 column 1 is NaN"},
		{"Inf", []float32{1, 2, float32(math.Inf(-1)), 0}, 2, 2, MapConfig{}, "row 1 column 0 is -Inf"},
		{"method", []float32{1, 2}, 1, 2, MapConfig{Method: "umap"}, `unknown map method "umap"`},
		{"perplexity", []float32{1, 2}, 1, 2, MapConfig{Perplexity: -1}, "perplexity -1"},
		{"iterations", []float32{1, 2}, 1, 2, MapConfig{Iterations: -5}, "-5 iterations"},
		{"components", []float32{1, 2}, 1, 2, MapConfig{PCADims: -1}, "-1 principal components"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Map(tc.data, tc.n, tc.dim, tc.cfg)
			if err == nil || !strings.HasPrefix(err.Error(), "explore: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// BenchmarkMap1000 maps 1,000 unit rows of 128 values in ten groups with
// the default t-SNE.
func BenchmarkMap1000(b *testing.B) {
	rng := rand.New(rand.NewPCG(15, 16))
	data := mapBlobs(rng, mapRandomCentres(rng, 10, 128), 100, 128, 0.08)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Map(data, 1000, 128, MapConfig{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(1000*float64(b.N)/b.Elapsed().Seconds(), "points/s")
}

func ExampleMap() {
	// Three points on a line: PCA puts them along the x axis, the farthest
	// from their mean on the positive side.
	data := []float32{
		0, 0,
		1, 0,
		3, 0,
	}
	points, err := Map(data, 3, 2, MapConfig{Method: MapPCA})
	if err != nil {
		panic(err)
	}
	for _, p := range points {
		fmt.Printf("%.3f %.3f\n", p[0], p[1])
	}
	// Output:
	// 0.000 0.500
	// 0.333 0.500
	// 1.000 0.500
}
