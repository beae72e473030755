package app

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"image/png"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/pretextlab/pretext/internal/testphotos"
)

// kindFiles returns n PNG photos of each of two kinds, reddish stripes
// ("red-SEED-i.png") and bluish rings ("blue-SEED-i.png"), with noise.
func kindFiles(t testing.TB, n int, seed uint64) []File {
	t.Helper()
	var files []File
	for _, p := range testphotos.Kinds(n, seed) {
		files = append(files, File{Name: fmt.Sprintf("%s-%d-%d.png", p.Kind, seed, p.Index), Bytes: p.PNG})
	}
	return files
}

// idsByName maps the photos' names to their ids.
func idsByName(info ExploreInfo) map[string]int {
	m := map[string]int{}
	for _, p := range info.Photos {
		m[p.Name] = p.ID
	}
	return m
}

func TestExplore(t *testing.T) {
	t.Parallel()
	a := New()
	if _, err := a.Explore(); !errors.Is(err, errNoModel) {
		t.Fatalf("no model: %v", err)
	}
	a.AddImages(kindFiles(t, 5, 1))
	if _, err := a.Train(context.Background(), quick("rotation", 2), nil); err != nil {
		t.Fatal(err)
	}
	info, err := a.Explore()
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Photos) != 10 || info.Embedded != 10 || info.Dim != 512 || info.Photos[0].Thumb == nil {
		t.Fatalf("explore: %d photos, %d embedded, dim %d", len(info.Photos), info.Embedded, info.Dim)
	}
	// Asked again, nothing is embedded again; a photo added is embedded
	// alone.
	if info, _ = a.Explore(); info.Embedded != 10 {
		t.Errorf("explored twice: %d embeddings computed, want 10", info.Embedded)
	}
	a.AddImages(kindFiles(t, 1, 2))
	if info, _ = a.Explore(); info.Embedded != 12 || len(info.Photos) != 12 {
		t.Errorf("two photos added: %d embeddings computed (want 12), %d photos", info.Embedded, len(info.Photos))
	}
	ids := idsByName(info)

	nb, err := a.Neighbours(ids["red-1-0.png"], 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nb {
		if n.ID == ids["red-1-0.png"] || !strings.HasPrefix(n.Name, "red-") {
			t.Errorf("a neighbour of red-1-0.png: %+v", n)
		}
	}
	files := kindFiles(t, 5, 1)
	nb, err = a.NeighboursFile(File{Name: "outside.png", Bytes: files[7].Bytes}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if nb[0].Name != files[7].Name || math.Abs(nb[0].Similarity-1) > 1e-5 {
		t.Errorf("a copy of %s from outside: neighbours %+v", files[7].Name, nb)
	}

	g, err := a.Groups(2, 1)
	if err != nil || g.K != 2 || len(g.Groups[0])+len(g.Groups[1]) != 12 {
		t.Fatalf("groups %+v (%v)", g, err)
	}
	for _, grp := range g.Groups {
		kind := ""
		for _, id := range grp {
			for name, i := range ids {
				if i == id {
					k, _, _ := strings.Cut(name, "-")
					if kind != "" && k != kind {
						t.Errorf("a group holds %s and %s photos", kind, k)
					}
					kind = k
				}
			}
		}
	}

	pts, err := a.Map("tsne", 1)
	if err != nil || len(pts) != 12 {
		t.Fatalf("map %v (%v)", pts, err)
	}
	again, _ := a.Map("tsne", 1)
	for i := range pts {
		if pts[i] != again[i] {
			t.Fatal("the same map asked twice differs")
		}
	}
	pic, err := a.MapPNG("tsne", 1, 320)
	if err != nil {
		t.Fatal(err)
	}
	if img, err := png.Decode(bytes.NewReader(pic)); err != nil || img.Bounds().Dx() != 320 {
		t.Errorf("map PNG: %v", err)
	}

	names := []Named{{ids["red-1-0.png"], "stripes"}, {ids["red-1-1.png"], "stripes"}, {ids["blue-1-0.png"], "rings"}, {ids["blue-1-1.png"], "rings"}}
	for _, probe := range []string{"linear", "knn"} {
		l, err := a.Label(names, probe)
		if err != nil {
			t.Fatal(err)
		}
		if l.LeaveOneOut != 1 || !(l.RandomLeaveOneOut >= 0 && l.RandomLeaveOneOut <= 1) {
			t.Errorf("%s: leave-one-out %v, random %v", probe, l.LeaveOneOut, l.RandomLeaveOneOut)
		}
		for _, p := range l.Photos {
			var name string
			for n, id := range ids {
				if id == p.ID {
					name = n
				}
			}
			want := map[bool]string{true: "stripes", false: "rings"}[strings.HasPrefix(name, "red")]
			if p.Label != want || !(p.Confidence > 0.5 && p.Confidence <= 1) {
				t.Errorf("%s: %s labelled %s (%.3f), want %s", probe, name, p.Label, p.Confidence, want)
			}
		}
	}
	out, err := a.ExportPredictions(names, "")
	if err != nil {
		t.Fatal(err)
	}
	if rows, _ := csv.NewReader(bytes.NewReader(out)).ReadAll(); len(rows) != 1+12-4 {
		t.Errorf("predictions CSV has %d rows", len(rows))
	}
	e, err := a.ExportEmbeddings("csv")
	if err != nil || !strings.HasPrefix(string(e.Data), "file,f0,f1,") || strings.Count(string(e.Data), "\n") != 13 {
		t.Errorf("embeddings CSV (%v): %.40q", err, e.Data)
	}
	if e, err = a.ExportEmbeddings("npy"); err != nil || !bytes.HasPrefix(e.Data, []byte("\x93NUMPY")) || strings.Count(e.Names, "\n") != 12 {
		t.Errorf("embeddings npy (%v)", err)
	}
	for name, err := range map[string]error{
		"one class": func() error { _, err := a.Label(names[:2], ""); return err }(),
		"no photo":  func() error { _, err := a.Neighbours(9999, 3); return err }(),
		"bad probe": func() error { _, err := a.Label(names, "svm"); return err }(),
		"bad map":   func() error { _, err := a.Map("umap", 1); return err }(),
		"bad k":     func() error { _, err := a.Groups(99, 1); return err }(),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}

	// Training further is a new model state: everything is embedded again.
	if _, err := a.Train(context.Background(), Settings{Settings: quick("rotation", 3).Settings, Resume: true}, nil); err != nil {
		t.Fatal(err)
	}
	if info, _ = a.Explore(); info.Embedded != 24 || info.Step != 3 {
		t.Errorf("after training on: %d embeddings computed (want 24), step %d", info.Embedded, info.Step)
	}
	// Without photos there is nothing to explore.
	a.ClearImages()
	if _, err := a.Explore(); !errors.Is(err, errNoPhotosToExplore) {
		t.Errorf("no photos: %v", err)
	}
}

// TestExploreGreyModel: a 1-channel (Fashion-MNIST-like) model embeds
// colour photos by its own input rule.
func TestExploreGreyModel(t *testing.T) {
	t.Parallel()
	a := New()
	a.AddImages(kindFiles(t, 3, 1))
	s := quick("rotation", 2)
	s.Channels = 1
	if _, err := a.Train(context.Background(), s, nil); err != nil {
		t.Fatal(err)
	}
	info, err := a.Explore()
	if err != nil || len(info.Photos) != 6 {
		t.Fatalf("grey model: %v, %d photos", err, len(info.Photos))
	}
}

// BenchmarkLabelThousand times step 4 on 1,000 photos with 30 named:
// embedding them (once, reported as a metric) and then labelling them
// with each probe, leave-one-out included, as the page does after every
// correction (docs/RUNS.md quotes it).
func BenchmarkLabelThousand(b *testing.B) {
	a := New()
	var files []File
	for s := range 100 {
		files = append(files, kindFiles(b, 5, uint64(s))...)
	}
	a.SetLimits(Limits{MaxPhotos: 2000})
	a.AddImages(files)
	if _, err := a.Train(context.Background(), quick("rotation", 1), nil); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	info, err := a.Explore()
	if err != nil || len(info.Photos) != 1000 {
		b.Fatalf("%v, %d photos", err, len(info.Photos))
	}
	embed := time.Since(start)
	ids := idsByName(info)
	var names []Named
	for s := range 15 {
		names = append(names, Named{ids[fmt.Sprintf("red-%d-0.png", s)], "stripes"}, Named{ids[fmt.Sprintf("blue-%d-0.png", s)], "rings"})
	}
	if _, err := a.Label(names, ""); err != nil { // the random-init embeddings, made once
		b.Fatal(err)
	}
	for _, probe := range []string{"knn", "linear"} {
		b.Run(probe, func(b *testing.B) {
			for range b.N {
				if _, err := a.Label(names, probe); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(embed.Seconds(), "embed-s")
		})
	}
}
