package explore

import (
	"fmt"
	"math"
)

// MapMethod names a layout: MapTSNE or MapPCA.
type MapMethod string

const (
	// MapTSNE is Barnes-Hut t-SNE (van der Maaten, "Accelerating t-SNE
	// using tree-based algorithms", JMLR 2014) on the leading principal
	// components, started from the PCA layout: neighbours stay together and
	// groups separate, but distances between groups mean little.
	MapTSNE MapMethod = "tsne"
	// MapPCA is the projection on the first two principal components: a
	// faithful linear view of the largest variation, where groups may
	// overlap.
	MapPCA MapMethod = "pca"
)

// MapConfig sets Map. The zero value is the default.
type MapConfig struct {
	Method MapMethod // default MapTSNE
	// Perplexity is t-SNE's effective number of neighbours (default 30,
	// lowered to (n-1)/3 for small n). Each point's similarities are
	// computed on its 3·Perplexity nearest neighbours.
	Perplexity float64
	// Iterations is the number of t-SNE gradient steps (default 750: 250
	// with early exaggeration, then 500; a shorter run exaggerates its
	// first third).
	Iterations int
	// PCADims is the number of principal components t-SNE works on
	// (default 50).
	PCADims int
	// Seed draws a jitter of a thousandth of the initial layout's spread
	// added to t-SNE's PCA start: it separates identical rows and changes
	// a map's fine detail, not its overall shape. MapPCA does not use it.
	Seed uint64
}

// Map defaults (the perplexity and iteration counts of van der Maaten's
// bhtsne and of openTSNE; 50 components as in both).
const (
	mapPerplexity = 30
	mapIterations = 750
	mapPCADims    = 50
)

// mapPCATol and mapPCASteps bound MapPCA's eigen solve. A residual of
// 1e-6·λ₁ puts the two axes within 1e-6·λ₁/gap of the true ones, far below
// a pixel unless the second and third variances are nearly equal, when no
// axis is better than its neighbours; the step bound caps that case.
const (
	mapPCATol   = 1e-6
	mapPCASteps = 500
)

// Map lays out the rows of data (n rows of dim values, row-major) in 2-D:
// points[i] is row i's place, scaled into [0,1]×[0,1] with the same scale
// on both axes and the layout's bounding box centred at (0.5, 0.5). One
// point lies at the centre.
//
// The result depends on nothing but the arguments: the same data and cfg
// give the same bits natively and under js/wasm (the arithmetic is float64
// in a fixed order with no fused multiply-adds, exp and log are computed
// here rather than by math's assembly, and there is no goroutine). data is
// not modified.
//
// Cost, on one thread: the PCA forms the min(n, dim)² matrix of dot
// products, n·dim·min(n, dim)/2 multiply-adds; t-SNE adds n² distances
// between the reduced rows and Iterations steps of O(n log n). A t-SNE
// map of 1,000 rows of 128 values takes about a second natively and a few
// as wasm; 3,000 rows of 2,048 values spend several seconds natively in
// the PCA alone.
func Map(data []float32, n, dim int, cfg MapConfig) ([][2]float64, error) {
	switch {
	case n < 1:
		return nil, fmt.Errorf("explore: map of %d points, want at least 1", n)
	case dim < 1:
		return nil, fmt.Errorf("explore: map of %d-value rows, want at least 1 value", dim)
	case n > math.MaxInt32 || dim > math.MaxInt/n || len(data) != n*dim:
		return nil, fmt.Errorf("explore: map data holds %d values, want %d rows of %d", len(data), n, dim)
	}
	for k, v := range data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("explore: map data row %d column %d is %v, want a finite number", k/dim, k%dim, v)
		}
	}
	method := cfg.Method
	if method == "" {
		method = MapTSNE
	}
	if method != MapTSNE && method != MapPCA {
		return nil, fmt.Errorf("explore: unknown map method %q, want %q or %q", cfg.Method, MapTSNE, MapPCA)
	}
	perp, iters, dims := cfg.Perplexity, cfg.Iterations, cfg.PCADims
	switch {
	case perp < 0 || math.IsNaN(perp) || math.IsInf(perp, 0):
		return nil, fmt.Errorf("explore: map perplexity %v, want a positive number (0 for the default %d)", perp, mapPerplexity)
	case iters < 0:
		return nil, fmt.Errorf("explore: map of %d iterations, want a positive number (0 for the default %d)", iters, mapIterations)
	case dims < 0:
		return nil, fmt.Errorf("explore: map on %d principal components, want a positive number (0 for the default %d)", dims, mapPCADims)
	}
	if perp == 0 {
		perp = mapPerplexity
	}
	if iters == 0 {
		iters = mapIterations
	}
	if dims == 0 {
		dims = mapPCADims
	}
	if n == 1 {
		return [][2]float64{{0.5, 0.5}}, nil
	}
	perp = min(perp, float64(n-1)/3)

	x := make([]float64, len(data))
	for i, v := range data {
		x[i] = float64(v)
	}
	var y []float64
	if method == MapPCA {
		y, _ = principal(x, n, dim, 2, mapPCATol, mapPCASteps)
	} else {
		y = tsne(x, n, dim, perp, iters, dims, cfg.Seed)
	}
	return mapFit(y, n), nil
}

// mapFit scales the layout y (n×2) into the unit square: the same scale on
// both axes, the longer side of its bounding box spanning [0,1] and the
// box centred.
func mapFit(y []float64, n int) [][2]float64 {
	minX, maxX, minY, maxY := y[0], y[0], y[1], y[1]
	for i := 1; i < n; i++ {
		minX, maxX = min(minX, y[2*i]), max(maxX, y[2*i])
		minY, maxY = min(minY, y[2*i+1]), max(maxY, y[2*i+1])
	}
	side := max(maxX-minX, maxY-minY)
	midX, midY := float64((minX+maxX)/2), float64((minY+maxY)/2)
	points := make([][2]float64, n)
	for i := range points {
		if side == 0 {
			points[i] = [2]float64{0.5, 0.5}
			continue
		}
		// Clamped: rounding may put the extremes an ulp outside.
		points[i] = [2]float64{
			min(max((y[2*i]-midX)/side+0.5, 0), 1),
			min(max((y[2*i+1]-midY)/side+0.5, 0), 1),
		}
	}
	return points
}
