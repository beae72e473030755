package explore

import (
	"fmt"
	"math"
	"slices"
)

// Set is a collection of named embeddings of one length: row i of Vecs,
// Vecs[i*Dim:(i+1)*Dim], is the embedding of the photo Names[i]. Rows are
// expected to have unit length (as Embedder gives them), so that a dot
// product is a cosine similarity.
type Set struct {
	Names []string
	Dim   int
	Vecs  []float32
}

// Len is the number of embeddings.
func (s *Set) Len() int { return len(s.Names) }

// Row returns embedding i, sharing Vecs.
func (s *Set) Row(i int) []float32 { return s.Vecs[i*s.Dim : (i+1)*s.Dim : (i+1)*s.Dim] }

// Add appends embeddings (row-major, Dim values each) under names.
func (s *Set) Add(names []string, vecs []float32) error {
	if s.Dim == 0 && len(names) > 0 {
		s.Dim = len(vecs) / len(names)
	}
	if s.Dim < 1 || len(vecs) != len(names)*s.Dim {
		return fmt.Errorf("explore: %d values for %d embeddings of %d", len(vecs), len(names), s.Dim)
	}
	if err := checkFinite(vecs); err != nil {
		return err
	}
	s.Names = append(s.Names, names...)
	s.Vecs = append(s.Vecs, vecs...)
	return nil
}

// check reports a Set whose shape does not match its values.
func (s *Set) check() error {
	if s.Len() == 0 {
		return ErrNoPhotos
	}
	if s.Dim < 1 || len(s.Vecs) != s.Len()*s.Dim {
		return fmt.Errorf("explore: a set of %d embeddings of %d holds %d values", s.Len(), s.Dim, len(s.Vecs))
	}
	return nil
}

// checkFinite reports a NaN or infinite value.
func checkFinite(v []float32) error {
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("explore: value %d of the embeddings is %v", i, x)
		}
	}
	return nil
}

// Neighbour is one photo near another: its index in the Set, its name and
// its cosine similarity to the query.
type Neighbour struct {
	Index      int     `json:"index"`
	Name       string  `json:"file"`
	Similarity float64 `json:"similarity"`
}

// dot is the float64 dot product of two float32 vectors of one length.
func dot(a, b []float32) float64 {
	var s float64
	for i, x := range a {
		s += float64(x) * float64(b[i])
	}
	return s
}

// Nearest returns the k embeddings of s most similar to q (cosine
// similarity, the most similar first; the lower index first on ties),
// leaving out index skip (the query itself when it is in the set; -1
// leaves out none). Fewer are returned when s has fewer.
func (s *Set) Nearest(q []float32, k, skip int) ([]Neighbour, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if len(q) != s.Dim {
		return nil, fmt.Errorf("explore: a query of %d values for embeddings of %d", len(q), s.Dim)
	}
	if k < 1 {
		return nil, fmt.Errorf("explore: %d neighbours, want at least 1", k)
	}
	all := make([]Neighbour, 0, s.Len())
	for i := range s.Len() {
		if i != skip {
			all = append(all, Neighbour{Index: i, Name: s.Names[i], Similarity: dot(q, s.Row(i))})
		}
	}
	slices.SortStableFunc(all, func(a, b Neighbour) int {
		switch {
		case a.Similarity > b.Similarity:
			return -1
		case a.Similarity < b.Similarity:
			return 1
		}
		return 0
	})
	return all[:min(k, len(all))], nil
}

// Similarities returns the n x n matrix of cosine similarities of the
// set's embeddings, row-major, computed once and symmetric exactly.
func (s *Set) Similarities() []float64 {
	n := s.Len()
	sim := make([]float64, n*n)
	for i := range n {
		a := s.Row(i)
		sim[i*n+i] = dot(a, a)
		for j := i + 1; j < n; j++ {
			v := dot(a, s.Row(j))
			sim[i*n+j], sim[j*n+i] = v, v
		}
	}
	return sim
}
