package explore

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// The measures of how well embeddings serve a person, on a set whose
// photos all carry a known label (labels[i], "" for a photo without one,
// which is left out): how well a few named photos name the rest, and how
// often similar photos share a label.

// FewShot is the few-shot protocol: in each of draws rounds, per photos of
// every label are drawn at random (a generator seeded with seed) and
// named, Label predicts the other labelled photos, and the round scores the
// fraction right. It returns the mean and the standard deviation over the
// rounds. Every label needs more than per photos.
func FewShot(s *Set, labels []string, per, draws int, seed uint64, cfg LabelConfig) (mean, sd float64, err error) {
	if err := s.check(); err != nil {
		return 0, 0, err
	}
	if len(labels) != s.Len() || per < 1 || draws < 1 {
		return 0, 0, fmt.Errorf("explore: few-shot with %d labels for %d photos, %d per label, %d draws", len(labels), s.Len(), per, draws)
	}
	byLabel := map[string][]int{}
	var names []string
	for i, l := range labels {
		if l == "" {
			continue
		}
		if byLabel[l] == nil {
			names = append(names, l)
		}
		byLabel[l] = append(byLabel[l], i)
	}
	slices.Sort(names)
	for _, l := range names {
		if len(byLabel[l]) <= per {
			return 0, 0, fmt.Errorf("explore: label %q has %d photos, too few to name %d and predict the rest", l, len(byLabel[l]), per)
		}
	}
	cfg.NoLeaveOneOut = true
	rng := rand.New(rand.NewPCG(seed, 0xf5))
	acc := make([]float64, draws)
	for d := range draws {
		named := map[int]string{}
		for _, l := range names {
			m := slices.Clone(byLabel[l])
			rng.Shuffle(len(m), func(a, b int) { m[a], m[b] = m[b], m[a] })
			for _, i := range m[:per] {
				named[i] = l
			}
		}
		res, err := Label(s, named, cfg)
		if err != nil {
			return 0, 0, err
		}
		hits, total := 0, 0
		for i, l := range labels {
			if l == "" || res.Named[i] {
				continue
			}
			total++
			if res.Classes[res.Pred[i]] == l {
				hits++
			}
		}
		acc[d] = float64(hits) / float64(total)
	}
	for _, a := range acc {
		mean += a / float64(draws)
	}
	for _, a := range acc {
		sd += (a - mean) * (a - mean)
	}
	if draws > 1 {
		sd = math.Sqrt(sd / float64(draws-1))
	}
	return mean, sd, nil
}

// PrecisionAt is the mean, over the labelled photos, of the fraction of
// their k most similar other labelled photos that share their label.
func PrecisionAt(s *Set, labels []string, k int) (float64, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	if len(labels) != s.Len() || k < 1 {
		return 0, fmt.Errorf("explore: precision at %d with %d labels for %d photos", k, len(labels), s.Len())
	}
	var sub Set
	var subLabels []string
	for i, l := range labels {
		if l != "" {
			sub.Add([]string{s.Names[i]}, s.Row(i))
			subLabels = append(subLabels, l)
		}
	}
	if sub.Len() <= k {
		return 0, fmt.Errorf("explore: %d labelled photos, too few for precision at %d", sub.Len(), k)
	}
	var total float64
	for i := range sub.Len() {
		nb, err := sub.Nearest(sub.Row(i), k, i)
		if err != nil {
			return 0, err
		}
		hits := 0
		for _, n := range nb {
			if subLabels[n.Index] == subLabels[i] {
				hits++
			}
		}
		total += float64(hits) / float64(k)
	}
	return total / float64(sub.Len()), nil
}
