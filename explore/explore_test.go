package explore

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pretextlab/pretext/core"
)

// unitBlobs returns per unit vectors around each of k random directions in
// dim dimensions (spread sd before normalising), named "c<class>-<i>", and
// their classes.
func unitBlobs(k, per, dim int, sd float64, seed uint64) (*Set, []int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := &Set{Dim: dim}
	var truth []int
	for c := range k {
		centre := make([]float64, dim)
		for j := range centre {
			centre[j] = rng.NormFloat64()
		}
		for i := range per {
			v := make([]float32, dim)
			var norm float64
			for j := range v {
				x := centre[j] + sd*rng.NormFloat64()
				v[j] = float32(x)
				norm += x * x
			}
			for j := range v {
				v[j] /= float32(math.Sqrt(norm))
			}
			s.Add([]string{"c" + strconv.Itoa(c) + "-" + strconv.Itoa(i)}, v)
			truth = append(truth, c)
		}
	}
	return s, truth
}

func TestNearest(t *testing.T) {
	t.Parallel()
	s := &Set{}
	if err := s.Add([]string{"a", "b", "c", "d"}, []float32{1, 0, 0.6, 0.8, 0, 1, 0.6, 0.8}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Nearest(s.Row(0), 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	// b and d tie at 0.6: the lower index first; a itself is skipped.
	want := []Neighbour{{1, "b", 0.6}, {3, "d", 0.6}, {2, "c", 0}}
	if len(got) != 3 {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].Index != want[i].Index || got[i].Name != want[i].Name || math.Abs(got[i].Similarity-want[i].Similarity) > 1e-6 {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	// A query outside the set, all of it, more asked than there are.
	got, err = s.Nearest([]float32{0, 1}, 10, -1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0].Name != "c" || got[0].Similarity != 1 || got[3].Name != "a" {
		t.Errorf("outside query: %v", got)
	}
	for name, f := range map[string]func() error{
		"short query": func() error { _, err := s.Nearest([]float32{1}, 1, -1); return err },
		"k 0":         func() error { _, err := s.Nearest([]float32{1, 0}, 0, -1); return err },
		"empty set":   func() error { _, err := (&Set{}).Nearest([]float32{1}, 1, -1); return err },
		"ragged add":  func() error { return s.Add([]string{"e"}, []float32{1, 2, 3}) },
		"NaN add":     func() error { return s.Add([]string{"e"}, []float32{float32(math.NaN()), 0}) },
	} {
		if f() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// sameGrouping reports whether two labelings split the items alike,
// whatever the group numbers.
func sameGrouping(a, b []int) bool {
	ab, ba := map[int]int{}, map[int]int{}
	for i := range a {
		if x, ok := ab[a[i]]; ok && x != b[i] {
			return false
		}
		if x, ok := ba[b[i]]; ok && x != a[i] {
			return false
		}
		ab[a[i]], ba[b[i]] = b[i], a[i]
	}
	return true
}

func TestClusterBlobs(t *testing.T) {
	t.Parallel()
	s, truth := unitBlobs(5, 12, 16, 0.15, 3)
	g, err := Cluster(s, ClusterConfig{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if g.K != 5 || !sameGrouping(g.Labels, truth) {
		t.Fatalf("chose k=%d (silhouettes from k=%d: %v), labels %v; want the 5 blobs", g.K, g.MinK, g.Tried, g.Labels)
	}
	if g.Silhouette < 0.5 || g.Silhouette > 1 {
		t.Errorf("silhouette %v of well separated blobs", g.Silhouette)
	}
	for c, m := range g.Members {
		if len(m) != 12 {
			t.Errorf("group %d has %d members", c, len(m))
		}
		for _, i := range m {
			if g.Labels[i] != c {
				t.Errorf("photo %d listed in group %d, labelled %d", i, c, g.Labels[i])
			}
		}
	}
	// A given k is kept; groups are ordered by size.
	g3, err := Cluster(s, ClusterConfig{K: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if g3.K != 3 || len(g3.Tried) != 0 {
		t.Errorf("k=3 gave %d groups, tried %v", g3.K, g3.Tried)
	}
	for c := 1; c < g3.K; c++ {
		if len(g3.Members[c]) > len(g3.Members[c-1]) {
			t.Errorf("group %d (%d members) larger than group %d (%d)", c, len(g3.Members[c]), c-1, len(g3.Members[c-1]))
		}
	}
	again, _ := Cluster(s, ClusterConfig{K: 3, Seed: 1})
	if !slices.Equal(again.Labels, g3.Labels) {
		t.Error("the same seed gave different groups")
	}
	// Two photos: one group, no error.
	two := &Set{}
	two.Add([]string{"a", "b"}, []float32{1, 0, 0, 1})
	if g, err := Cluster(two, ClusterConfig{}); err != nil || g.K != 1 {
		t.Errorf("two photos: %v, %v", g, err)
	}
	if _, err := Cluster(s, ClusterConfig{K: 61}); err == nil {
		t.Error("more groups than photos: no error")
	}
	if _, err := Cluster(&Set{}, ClusterConfig{}); !errors.Is(err, ErrNoPhotos) {
		t.Errorf("no photos: %v", err)
	}
}

func TestSilhouette(t *testing.T) {
	t.Parallel()
	// Four points on a line (as cosine distances): {0, 0.1} and {1, 1.1}.
	// For point 0: a = 0.1, b = (1 + 1.1)/2 = 1.05, s = 0.95/1.05.
	pos := []float64{0, 0.1, 1, 1.1}
	n := len(pos)
	sim := make([]float64, n*n)
	for i := range n {
		for j := range n {
			sim[i*n+j] = 1 - math.Abs(pos[i]-pos[j])
		}
	}
	s0 := (1.05 - 0.1) / 1.05
	s1 := (0.95 - 0.1) / 0.95
	want := (2*s0 + 2*s1) / 4
	if got := silhouette(sim, n, []int{0, 0, 1, 1}, 2); math.Abs(got-want) > 1e-12 {
		t.Errorf("silhouette %v, want %v", got, want)
	}
}

func TestLabelBlobs(t *testing.T) {
	t.Parallel()
	s, truth := unitBlobs(4, 15, 24, 0.3, 5)
	names := []string{"apple", "bird", "car", "dog"}
	for _, probe := range []Probe{ProbeLinear, ProbeKNN} {
		for _, per := range []int{1, 3} {
			named := map[int]string{}
			for c := range 4 {
				for i := range per {
					named[c*15+i] = names[c]
				}
			}
			l, err := Label(s, named, LabelConfig{Probe: probe})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(l.Classes, names) {
				t.Fatalf("classes %v", l.Classes)
			}
			for i, c := range truth {
				if l.Pred[i] != c {
					t.Errorf("%s, %d named per class: photo %d predicted %s, is %s", probe, per, i, names[l.Pred[i]], names[c])
				}
				if _, ok := named[i]; ok != l.Named[i] || (ok && l.Confidence[i] != 1) {
					t.Errorf("%s: photo %d named %v, marked %v with confidence %v", probe, i, ok, l.Named[i], l.Confidence[i])
				}
				if !(l.Confidence[i] > 0.25 && l.Confidence[i] <= 1) {
					t.Errorf("%s: photo %d confidence %v", probe, i, l.Confidence[i])
				}
			}
			// One per class: leaving one out leaves its class unnamed, so
			// nothing can be right; three per class: all are.
			want := map[int]float64{1: 0, 3: 1}[per]
			if l.LeaveOneOut != want {
				t.Errorf("%s, %d per class: leave-one-out %v, want %v", probe, per, l.LeaveOneOut, want)
			}
			loo, err := LeaveOneOut(s, named, LabelConfig{Probe: probe})
			if err != nil || loo != l.LeaveOneOut {
				t.Errorf("LeaveOneOut %v (%v), Label's %v", loo, err, l.LeaveOneOut)
			}
		}
	}
	for name, c := range map[string]struct {
		named map[int]string
		cfg   LabelConfig
		want  error
	}{
		"one class":   {map[int]string{0: "a", 1: "a"}, LabelConfig{}, ErrOneClass},
		"none":        {map[int]string{}, LabelConfig{}, ErrOneClass},
		"bad probe":   {map[int]string{0: "a", 20: "b"}, LabelConfig{Probe: "svm"}, nil},
		"bad index":   {map[int]string{0: "a", 99: "b"}, LabelConfig{}, nil},
		"empty label": {map[int]string{0: "a", 20: ""}, LabelConfig{}, nil},
	} {
		_, err := Label(s, c.named, c.cfg)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: error %v, want %v", name, err, c.want)
		}
	}
}

// photoOf returns a side x side photo: a colour gradient with a square of
// another colour, varied by k.
func photoOf(k, side int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, side, side))
	for y := range side {
		for x := range side {
			c := color.NRGBA{uint8(40 * k), uint8(x * 255 / side), uint8(y * 255 / side), 255}
			if x > side/4*(k%3) && x < side/4*(k%3+2) && y > side/3 && y < 2*side/3 {
				c = color.NRGBA{uint8(255 - 30*k), 20, uint8(60 * k), 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func TestEmbedder(t *testing.T) {
	t.Parallel()
	for _, channels := range []int{3, 1} {
		trunk, err := core.NewTrunk(core.TrunkConfig{InChannels: channels}, rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		before := trunk.Clone()
		var photos []*image.NRGBA
		for k := range 6 {
			photos = append(photos, photoOf(k, 40+7*k))
		}
		e, err := NewEmbedder(trunk, photos, EmbedConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if e.Dim() != 32*DefaultGrid*DefaultGrid || e.Config().Block != DefaultBlock || e.Config().Side != DefaultSide {
			t.Errorf("dim %d, config %+v", e.Dim(), e.Config())
		}
		all, err := e.Embed(photos)
		if err != nil {
			t.Fatal(err)
		}
		for i := range photos {
			var norm float64
			for _, v := range all[i*e.Dim() : (i+1)*e.Dim()] {
				norm += float64(v) * float64(v)
			}
			if math.Abs(norm-1) > 1e-5 {
				t.Errorf("%d channels: photo %d embedding has squared norm %v", channels, i, norm)
			}
		}
		// Added later, one at a time, a photo's embedding is the same.
		for i, p := range photos {
			one, err := e.Embed([]*image.NRGBA{p})
			if err != nil {
				t.Fatal(err)
			}
			for j, v := range one {
				if math.Abs(float64(v-all[i*e.Dim()+j])) > 1e-6 {
					t.Fatalf("%d channels: photo %d alone embeds differently at %d: %v vs %v", channels, i, j, v, all[i*e.Dim()+j])
				}
			}
		}
		// The trunk given is not changed (its statistics are recomputed
		// on a copy).
		for l := range trunk.Layers {
			for _, pair := range [][2]*core.ConvBN{{trunk.Layers[l], before.Layers[l]}} {
				if !slices.Equal(pair[0].RunMean.Value().Data().F32(), pair[1].RunMean.Value().Data().F32()) {
					t.Fatalf("layer %d's running mean changed", l)
				}
			}
		}
		// Centred, the embeddings point every way: their mean is about 0
		// before each is scaled, so well below the uncentred mean's length.
		ec, err := NewEmbedder(trunk, photos, EmbedConfig{Centre: true})
		if err != nil {
			t.Fatal(err)
		}
		cv, _ := ec.Embed(photos)
		meanLen := func(v []float32) float64 {
			d := len(v) / len(photos)
			var s float64
			for j := range d {
				var m float64
				for i := range photos {
					m += float64(v[i*d+j])
				}
				s += m * m
			}
			return math.Sqrt(s) / float64(len(photos))
		}
		if c, u := meanLen(cv), meanLen(all); !(c < 0.5*u) {
			t.Errorf("%d channels: centred embeddings' mean has length %v, uncentred %v", channels, c, u)
		}
		// The random baseline has the same shape and other values.
		r, err := NewRandomEmbedder(trunk, photos, EmbedConfig{}, 9)
		if err != nil {
			t.Fatal(err)
		}
		rv, err := r.Embed(photos[:1])
		if err != nil || len(rv) != e.Dim() || slices.Equal(rv, all[:e.Dim()]) {
			t.Errorf("random embedder: %d values (%v), equal to the trained ones: %v", len(rv), err, slices.Equal(rv, all[:e.Dim()]))
		}
	}
	trunk, _ := core.NewTrunk(core.TrunkConfig{}, rand.New(rand.NewPCG(1, 2)))
	for name, c := range map[string]struct {
		photos []*image.NRGBA
		cfg    EmbedConfig
	}{
		"no photos": {nil, EmbedConfig{}},
		"block 4":   {[]*image.NRGBA{photoOf(1, 32)}, EmbedConfig{Block: 4}},
		"side 4":    {[]*image.NRGBA{photoOf(1, 32)}, EmbedConfig{Side: 4}},
		"grid -1":   {[]*image.NRGBA{photoOf(1, 32)}, EmbedConfig{Grid: -1}},
	} {
		if _, err := NewEmbedder(trunk, c.photos, c.cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := NewEmbedder(nil, []*image.NRGBA{photoOf(1, 32)}, EmbedConfig{}); err == nil {
		t.Error("no trunk: no error")
	}
}

func TestWrite(t *testing.T) {
	t.Parallel()
	s := &Set{}
	s.Add([]string{"a.jpg", "sub/b, c.jpg"}, []float32{0.25, -1, 1e-7, 3})
	var buf bytes.Buffer
	if err := WriteCSV(&buf, s); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"file", "f0", "f1"}, {"a.jpg", "0.25", "-1"}, {"sub/b, c.jpg", "1e-07", "3"}}
	if !slices.EqualFunc(rows, want, slices.Equal) {
		t.Errorf("CSV %q, want %q", rows, want)
	}
	buf.Reset()
	if err := WriteNPY(&buf, s); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	hl := int(binary.LittleEndian.Uint16(b[8:10]))
	header := string(b[10 : 10+hl])
	if string(b[:8]) != "\x93NUMPY\x01\x00" || (10+hl)%64 != 0 || !strings.Contains(header, "'shape': (2, 2)") || !strings.Contains(header, "'<f4'") || !strings.HasSuffix(header, "\n") {
		t.Errorf("npy header %q", b[:10+hl])
	}
	body := b[10+hl:]
	if len(body) != 16 {
		t.Fatalf("npy data of %d bytes, want 16", len(body))
	}
	for i, v := range s.Vecs {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:])); got != v {
			t.Errorf("npy value %d = %v, want %v", i, got, v)
		}
	}
	buf.Reset()
	WriteNames(&buf, s)
	if buf.String() != "a.jpg\nsub/b, c.jpg\n" {
		t.Errorf("names %q", buf.String())
	}
	buf.Reset()
	l := Labels{Classes: []string{"x", "y"}, Pred: []int{0, 1}, Confidence: []float64{1, 0.625}, Named: []bool{true, false}}
	if err := WritePredictions(&buf, s, l); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "file,label,confidence\n\"sub/b, c.jpg\",y,0.6250\n" {
		t.Errorf("predictions %q", buf.String())
	}
	buf.Reset()
	if err := WriteGroups(&buf, s, Groups{K: 2, Labels: []int{1, 0}}); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "file,group\na.jpg,1\n\"sub/b, c.jpg\",0\n" {
		t.Errorf("groups %q", buf.String())
	}
	if WriteCSV(&buf, &Set{}) == nil || WritePredictions(&buf, s, Labels{}) == nil {
		t.Error("empty set or labels: no error")
	}
}

func TestPictures(t *testing.T) {
	t.Parallel()
	photos := []*image.NRGBA{photoOf(0, 50), photoOf(1, 60), photoOf(2, 40)}
	pic, err := MapPicture([][2]float64{{0, 0}, {1, 1}, {0.5, 0.25}}, photos, []int{0, 1, -1}, 200, 32)
	if err != nil {
		t.Fatal(err)
	}
	if pic.Bounds().Dx() != 200 || pic.Bounds().Dy() != 200 {
		t.Fatalf("map of %v", pic.Bounds())
	}
	// The first photo's thumbnail fills the top-left corner, framed in
	// group 0's colour; the middle of the picture is background.
	if got := pic.NRGBAAt(16, 16); got == (color.NRGBA{255, 255, 255, 255}) {
		t.Error("no thumbnail at the first point")
	}
	if got := pic.NRGBAAt(0, 0); got != Palette[0] {
		t.Errorf("frame %v, want %v", got, Palette[0])
	}
	if got := pic.NRGBAAt(100, 170); got != (color.NRGBA{255, 255, 255, 255}) {
		t.Errorf("background %v", got)
	}
	m, err := Montage(photos[0], photos[1:], []float64{0.9, 0.5}, 64)
	if err != nil {
		t.Fatal(err)
	}
	if m.Bounds().Dx() != 3*(64+8)+8 {
		t.Errorf("montage %v", m.Bounds())
	}
	if _, err := MapPicture([][2]float64{{0, 0}}, photos, nil, 200, 32); err == nil {
		t.Error("points and photos of different counts: no error")
	}
	if _, err := Montage(photos[0], photos[1:], []float64{1}, 64); err == nil {
		t.Error("neighbours and similarities of different counts: no error")
	}
}

func TestFewShotAndPrecision(t *testing.T) {
	t.Parallel()
	s, truth := unitBlobs(3, 8, 12, 0.2, 11)
	labels := make([]string, len(truth))
	for i, c := range truth {
		labels[i] = string(rune('a' + c))
	}
	labels[5] = "" // unlabelled: left out
	for _, probe := range []Probe{ProbeLinear, ProbeKNN} {
		mean, sd, err := FewShot(s, labels, 2, 5, 1, LabelConfig{Probe: probe})
		if err != nil || mean != 1 || sd != 0 {
			t.Errorf("%s: few-shot %v ± %v (%v) on separate blobs, want 1 ± 0", probe, mean, sd, err)
		}
	}
	if p, err := PrecisionAt(s, labels, 5); err != nil || p != 1 {
		t.Errorf("precision@5 %v (%v), want 1", p, err)
	}
	// Shuffled labels: about chance, well below 1.
	rng := rand.New(rand.NewPCG(2, 2))
	shuffled := slices.Clone(labels)
	rng.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
	if p, _ := PrecisionAt(s, shuffled, 5); p > 0.6 {
		t.Errorf("precision@5 of shuffled labels %v", p)
	}
	if mean, _, _ := FewShot(s, shuffled, 2, 5, 1, LabelConfig{}); mean > 0.7 {
		t.Errorf("few-shot accuracy of shuffled labels %v", mean)
	}
	if _, _, err := FewShot(s, labels, 8, 1, 1, LabelConfig{}); err == nil {
		t.Error("naming every photo of a label: no error")
	}
	if _, err := PrecisionAt(s, labels[:3], 5); err == nil {
		t.Error("labels of another length: no error")
	}
}

// BenchmarkEmbed1000 times embedding 1,000 photos of 128x128 pixels with
// the RS trunk: the calibration pass and the embedding pass (the figure
// quoted in docs/RUNS.md).
func BenchmarkEmbed1000(b *testing.B) {
	trunk, err := core.NewTrunk(core.TrunkConfig{}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		b.Fatal(err)
	}
	photos := make([]*image.NRGBA, 1000)
	for i := range photos {
		photos[i] = core.CenterCrop(photoOf(i%7, 128), 128)
	}
	b.ResetTimer()
	for range b.N {
		e, err := NewEmbedder(trunk, photos, EmbedConfig{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Embed(photos); err != nil {
			b.Fatal(err)
		}
	}
}
