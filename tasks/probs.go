package tasks

import "math"

// Turning a head's outputs into answers: probabilities, the top class,
// cosine similarity.

// classProbs returns the probabilities of logits, computed in float64.
func classProbs(logits []float32) []float64 {
	p := make([]float64, len(logits))
	if len(logits) == 0 {
		return p
	}
	m := logits[0]
	for _, v := range logits {
		m = max(m, v)
	}
	var s float64
	for i, v := range logits {
		p[i] = math.Exp(float64(v - m))
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return p
}

// topClass is the index of the largest value (the first, on ties).
func topClass(p []float64) int {
	best := 0
	for i, v := range p {
		if v > p[best] {
			best = i
		}
	}
	return best
}

// cosine is the cosine similarity of a and b (0 if either is zero).
func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}
