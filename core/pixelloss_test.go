package core

import (
	"fmt"
	"math"
	"testing"

	"github.com/nlpodyssey/spago/mat"
)

// refPixelLoss is PixelLoss's definition in float64.
func refPixelLoss(pred, target []float64, weights []float32, c, p int, penalty Penalty) float64 {
	var num, den float64
	for j := range p {
		w := 1.0
		if weights != nil {
			w = float64(weights[j])
		}
		den += w * float64(c)
		for ch := range c {
			e := pred[ch*p+j] - target[ch*p+j]
			if penalty == SquaredError {
				num += w * e * e
			} else {
				num += w * math.Abs(e)
			}
		}
	}
	return num / den
}

func randWeights(rng interface{ Float64() float64 }, n int) []float32 {
	w := make([]float32, n)
	for i := range w {
		if rng.Float64() < 0.3 {
			continue // some positions weigh nothing (outside a hole)
		}
		w[i] = float32(rng.Float64() * 2)
	}
	w[0] = 1 // never all zero
	return w
}

func TestPixelLoss(t *testing.T) {
	t.Parallel()
	rng := testRNG(73)
	for _, penalty := range []Penalty{SquaredError, AbsoluteError} {
		for _, sh := range [][2]int{{1, 1}, {3, 20}, {1, 50}} {
			for _, weighted := range []bool{false, true} {
				t.Run(fmt.Sprintf("p%d/%v/w=%v", penalty, sh, weighted), func(t *testing.T) {
					c, p := sh[0], sh[1]
					pred := randMatrix(rng, c, p, false)
					target := cloneData(randMatrix(rng, c, p, false))
					var w []float32
					if weighted {
						w = randWeights(rng, p)
					}
					before := cloneData(pred)
					loss, err := PixelLoss(pred, target, w, penalty)
					if err != nil {
						t.Fatal(err)
					}
					assertShape(t, "loss", loss, 1, 1)
					want := refPixelLoss(f64(pred), f64s(target), w, c, p, penalty)
					assertClose(t, "loss", data(loss), []float64{want}, 1e-6)
					assertUnchanged(t, "pred", pred, before)
				})
			}
		}
	}
	// Hand-worked: errors (1, -2) weighted (1, 3): L2 (1 + 12)/4, L1 (1 + 6)/4.
	pred := fromData(1, 2, []float32{1, 0})
	for penalty, want := range map[Penalty]float64{SquaredError: 13.0 / 4, AbsoluteError: 7.0 / 4} {
		loss, err := PixelLoss(pred, []float32{0, 2}, []float32{1, 3}, penalty)
		if err != nil {
			t.Fatal(err)
		}
		assertClose(t, "hand-worked loss", data(loss), []float64{want}, 1e-7)
	}
}

func TestPixelLossGrad(t *testing.T) {
	t.Parallel()
	rng := testRNG(74)
	for _, penalty := range []Penalty{SquaredError, AbsoluteError} {
		for _, weighted := range []bool{false, true} {
			c, p := 3, 8
			// Errors at least 0.025 from 0, so ±h never crosses |e|'s kink.
			pred := distinctMatrix(rng, c, p, 0.05, true)
			target := make([]float32, c*p)
			for i := range target {
				target[i] = data(pred)[i] + float32(0.025+rng.Float64())*float32(1-2*rng.IntN(2))
			}
			var w []float32
			if weighted {
				w = randWeights(rng, p)
			}
			build := func() (mat.Tensor, error) { return PixelLoss(pred, target, w, penalty) }
			gradCheck(t, build, []gradParam{{"pred", pred}}, rng, gradH, gradTol)
		}
	}
}

func TestPixelLossErrors(t *testing.T) {
	t.Parallel()
	pred := randMatrix(testRNG(75), 2, 3, true)
	ok := make([]float32, 6)
	expectError(t, "nil", second(PixelLoss(nil, ok, nil, SquaredError)))
	expectError(t, "short target", second(PixelLoss(pred, ok[:5], nil, SquaredError)))
	expectError(t, "NaN target", second(PixelLoss(pred, []float32{0, 0, float32(math.NaN()), 0, 0, 0}, nil, SquaredError)))
	expectError(t, "weights length", second(PixelLoss(pred, ok, []float32{1, 1}, SquaredError)))
	expectError(t, "negative weight", second(PixelLoss(pred, ok, []float32{1, -1, 1}, SquaredError)))
	expectError(t, "zero weight", second(PixelLoss(pred, ok, []float32{0, 0, 0}, SquaredError)))
	expectError(t, "penalty", second(PixelLoss(pred, ok, nil, Penalty(7))))
	expectError(t, "float64", second(PixelLoss(mat.NewDense[float64](mat.WithShape(2, 3)), ok, nil, SquaredError)))
}
