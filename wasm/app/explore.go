package app

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"slices"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/explore"
)

// The page's step 4, "Use what it learned": similar photos, groups, the
// map and few-shot labels over every photo the app holds, all through
// package explore, as pretext embed, similar, cluster, map and classify.
//
// Embeddings are computed once per model and photo: the cache below
// belongs to one model at one step, and photos added later are embedded
// on their own (with the batch-norm statistics of the photos the cache was
// started with, until the photos more than double, when it starts again).
// A model trained further, imported or restored starts a new cache.

// exploreCache holds the embeddings of the photos for one model state.
type exploreCache struct {
	model *model
	step  int
	// trunk is a copy of the model's trunk at that step.
	trunk    *core.Trunk
	embedder *explore.Embedder
	ids      []int // photo ids, in the order of set's rows
	images   []*image.NRGBA
	set      explore.Set
	// random is the same photos embedded by a random-init trunk of the
	// same shape (the baseline of the labels' leave-one-out accuracy),
	// made when first asked for; randomIDs are its rows' photos.
	random    *explore.Set
	randomIDs []int
	// maps are the layouts computed, by method and seed, for the photos
	// in ids (cleared when photos are added).
	maps map[mapKey][][2]float64
}

type mapKey struct {
	method string
	seed   uint64
}

// errNoPhotosToExplore is returned when there is a model but no photo.
var errNoPhotosToExplore = errors.New("no photos to explore: add some first")

// randomSeed seeds the random-init trunk the labels are compared with.
const randomSeed = 1

// explored returns the cache, brought up to date with the model and the
// photos. It refuses while a run trains: the weights change at every step.
// The caller holds a.exploreMu, and keeps it while it uses the cache.
func (a *App) explored() (*exploreCache, error) {
	a.mu.Lock()
	m, training := a.model, a.training
	photos := slices.Clone(a.photos)
	a.mu.Unlock()
	if m == nil {
		return nil, errNoModel
	}
	if training {
		return nil, errors.New("training is running: stop it, or wait until it ends, to use what it learned")
	}
	if len(photos) == 0 {
		return nil, errNoPhotosToExplore
	}
	c := a.explore
	a.modelMu.Lock()
	step := m.run.Step()
	if c == nil || c.model != m || c.step != step {
		c = &exploreCache{model: m, step: step, trunk: m.run.Trainer.Trunk.Clone()}
	}
	a.modelMu.Unlock()
	// The photos still held, in the cache's order; a photo gone (the
	// photos were cleared) or twice as many photos start the cache again.
	held := make(map[int]photo, len(photos))
	for _, p := range photos {
		held[p.id] = p
	}
	for _, id := range c.ids {
		if _, ok := held[id]; !ok {
			c = &exploreCache{model: c.model, step: c.step, trunk: c.trunk}
			break
		}
	}
	have := make(map[int]bool, len(c.ids))
	for _, id := range c.ids {
		have[id] = true
	}
	var added []photo
	for _, p := range photos {
		if !have[p.id] {
			added = append(added, p)
		}
	}
	if c.embedder == nil || len(added) > len(c.ids) {
		imgs := make([]*image.NRGBA, len(photos))
		for i, p := range photos {
			imgs[i] = p.Image
		}
		e, err := explore.NewEmbedder(c.trunk, imgs, explore.EmbedConfig{})
		if err != nil {
			return nil, err
		}
		c = &exploreCache{model: c.model, step: c.step, trunk: c.trunk, embedder: e}
		added = photos
	}
	if len(added) > 0 {
		imgs := make([]*image.NRGBA, len(added))
		names := make([]string, len(added))
		for i, p := range added {
			imgs[i], names[i] = p.Image, p.Name
		}
		v, err := c.embedder.Embed(imgs)
		if err != nil {
			return nil, err
		}
		if err := c.set.Add(names, v); err != nil {
			return nil, err
		}
		for i, p := range added {
			c.ids = append(c.ids, p.id)
			c.images = append(c.images, imgs[i])
		}
		c.maps = nil
		a.embedded += len(added)
	}
	a.explore = c
	return c, nil
}

// randomSet returns the photos embedded by the random-init trunk, rows in
// the order of c.ids. The caller holds a.exploreMu.
func (a *App) randomSet(c *exploreCache) (*explore.Set, error) {
	if c.random != nil && slices.Equal(c.randomIDs, c.ids) {
		return c.random, nil
	}
	e, err := explore.NewRandomEmbedder(c.trunk, c.images, c.embedder.Config(), randomSeed)
	if err != nil {
		return nil, err
	}
	v, err := e.Embed(c.images)
	if err != nil {
		return nil, err
	}
	s := &explore.Set{}
	if err := s.Add(c.set.Names, v); err != nil {
		return nil, err
	}
	c.random, c.randomIDs = s, slices.Clone(c.ids)
	return s, nil
}

// index returns the row of photo id.
func (c *exploreCache) index(id int) (int, error) {
	i := slices.Index(c.ids, id)
	if i < 0 {
		return 0, fmt.Errorf("no photo %d", id)
	}
	return i, nil
}

// Explore embeds every photo not yet embedded for the current model and
// describes the embeddings, with each photo's thumbnail.
func (a *App) Explore() (ExploreInfo, error) {
	a.exploreMu.Lock()
	defer a.exploreMu.Unlock()
	c, err := a.explored()
	if err != nil {
		return ExploreInfo{}, err
	}
	cfg := c.embedder.Config()
	info := ExploreInfo{Step: c.step, Dim: c.set.Dim, Block: cfg.Block, Grid: cfg.Grid, Side: cfg.Side, Embedded: a.embedded}
	for i, id := range c.ids {
		b := c.images[i].Bounds()
		info.Photos = append(info.Photos, Photo{ID: id, Name: c.set.Names[i], Width: b.Dx(), Height: b.Dy(), Thumb: toImage(c.images[i], exploreThumbSide)})
	}
	return info, nil
}

// neighbours converts explore's neighbours to the page's.
func neighbours(c *exploreCache, nb []explore.Neighbour) []Neighbour {
	out := make([]Neighbour, len(nb))
	for i, n := range nb {
		out[i] = Neighbour{ID: c.ids[n.Index], Name: n.Name, Similarity: n.Similarity}
	}
	return out
}

// Neighbours returns the k photos most similar to photo id, itself left
// out.
func (a *App) Neighbours(id, k int) ([]Neighbour, error) {
	a.exploreMu.Lock()
	defer a.exploreMu.Unlock()
	c, err := a.explored()
	if err != nil {
		return nil, err
	}
	i, err := c.index(id)
	if err != nil {
		return nil, err
	}
	nb, err := c.set.Nearest(c.set.Row(i), k, i)
	if err != nil {
		return nil, err
	}
	return neighbours(c, nb), nil
}

// NeighboursFile returns the k photos most similar to a photo from
// outside the set.
func (a *App) NeighboursFile(f File, k int) ([]Neighbour, error) {
	a.exploreMu.Lock()
	defer a.exploreMu.Unlock()
	c, err := a.explored()
	if err != nil {
		return nil, err
	}
	img, err := core.Decode(f.Name, f.Bytes, a.intakeConfig())
	if err != nil {
		return nil, err
	}
	v, err := c.embedder.Embed([]*image.NRGBA{img})
	if err != nil {
		return nil, err
	}
	nb, err := c.set.Nearest(v, k, -1)
	if err != nil {
		return nil, err
	}
	return neighbours(c, nb), nil
}

// Groups clusters the photos into k groups (0: chosen automatically).
func (a *App) Groups(k int, seed uint64) (GroupsInfo, error) {
	a.exploreMu.Lock()
	defer a.exploreMu.Unlock()
	c, err := a.explored()
	if err != nil {
		return GroupsInfo{}, err
	}
	if k < 0 || k > c.set.Len() {
		return GroupsInfo{}, fmt.Errorf("%d groups of %d photos", k, c.set.Len())
	}
	g, err := explore.Cluster(&c.set, explore.ClusterConfig{K: k, Seed: seed})
	if err != nil {
		return GroupsInfo{}, err
	}
	info := GroupsInfo{K: g.K, Silhouette: g.Silhouette, Groups: make([][]int, g.K)}
	for gi, m := range g.Members {
		for _, i := range m {
			info.Groups[gi] = append(info.Groups[gi], c.ids[i])
		}
	}
	return info, nil
}

// layout returns the map of the photos, computed once per method and seed.
// The caller holds a.exploreMu.
func (a *App) layout(c *exploreCache, method string, seed uint64) ([][2]float64, error) {
	key := mapKey{method, seed}
	if pts, ok := c.maps[key]; ok {
		return pts, nil
	}
	pts, err := explore.Map(c.set.Vecs, c.set.Len(), c.set.Dim, explore.MapConfig{Method: explore.MapMethod(method), Seed: seed})
	if err != nil {
		return nil, err
	}
	if c.maps == nil {
		c.maps = map[mapKey][][2]float64{}
	}
	c.maps[key] = pts
	return pts, nil
}

// Map lays the photos out in 2-D (method "tsne" or "pca"; "" is tsne).
func (a *App) Map(method string, seed uint64) ([]MapPoint, error) {
	a.exploreMu.Lock()
	defer a.exploreMu.Unlock()
	c, err := a.explored()
	if err != nil {
		return nil, err
	}
	pts, err := a.layout(c, method, seed)
	if err != nil {
		return nil, err
	}
	out := make([]MapPoint, len(pts))
	for i, p := range pts {
		out[i] = MapPoint{ID: c.ids[i], X: p[0], Y: p[1]}
	}
	return out, nil
}

// MapPNG draws the map as pretext map does: thumbnails on their points,
// framed in their group's colour (groups as Groups(0, seed) makes them).
func (a *App) MapPNG(method string, seed uint64, size int) ([]byte, error) {
	a.exploreMu.Lock()
	defer a.exploreMu.Unlock()
	c, err := a.explored()
	if err != nil {
		return nil, err
	}
	pts, err := a.layout(c, method, seed)
	if err != nil {
		return nil, err
	}
	g, err := explore.Cluster(&c.set, explore.ClusterConfig{Seed: seed})
	if err != nil {
		return nil, err
	}
	if size == 0 {
		size = 1600
	}
	pic, err := explore.MapPicture(pts, c.images, g.Labels, size, max(16, size/32))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := png.Encode(&b, pic); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// named converts the page's names (photo id → label) to explore's (row →
// label).
func (c *exploreCache) named(names []Named) (map[int]string, error) {
	out := make(map[int]string, len(names))
	for _, n := range names {
		i, err := c.index(n.ID)
		if err != nil {
			return nil, err
		}
		out[i] = n.Label
	}
	return out, nil
}

// Label fits the probe ("knn" or "linear"; "" is knn) to the named
// photos and predicts every other photo's label with its confidence. It
// reports the leave-one-out accuracy on the named photos with this model's
// trunk and with a random-init one of the same shape.
func (a *App) Label(names []Named, probe string) (LabelsInfo, error) {
	a.exploreMu.Lock()
	defer a.exploreMu.Unlock()
	c, err := a.explored()
	if err != nil {
		return LabelsInfo{}, err
	}
	named, err := c.named(names)
	if err != nil {
		return LabelsInfo{}, err
	}
	cfg := explore.LabelConfig{Probe: explore.Probe(probe)}
	l, err := explore.Label(&c.set, named, cfg)
	if err != nil {
		return LabelsInfo{}, err
	}
	rs, err := a.randomSet(c)
	if err != nil {
		return LabelsInfo{}, err
	}
	base, err := explore.LeaveOneOut(rs, named, cfg)
	if err != nil {
		return LabelsInfo{}, err
	}
	info := LabelsInfo{Classes: l.Classes, LeaveOneOut: l.LeaveOneOut, RandomLeaveOneOut: base, Photos: make([]LabelledPhoto, c.set.Len())}
	for i, id := range c.ids {
		info.Photos[i] = LabelledPhoto{ID: id, Label: l.Classes[l.Pred[i]], Confidence: l.Confidence[i], Named: l.Named[i]}
	}
	return info, nil
}

// ExportEmbeddings writes the embeddings as "csv" (file,f0,f1,...) or
// "npy" (float32 [N,D]; Names holds the file names, one a line).
func (a *App) ExportEmbeddings(format string) (Exported, error) {
	a.exploreMu.Lock()
	defer a.exploreMu.Unlock()
	c, err := a.explored()
	if err != nil {
		return Exported{}, err
	}
	var b, names bytes.Buffer
	switch format {
	case "csv", "":
		err = explore.WriteCSV(&b, &c.set)
	case "npy":
		if err = explore.WriteNPY(&b, &c.set); err == nil {
			err = explore.WriteNames(&names, &c.set)
		}
	default:
		return Exported{}, fmt.Errorf("embeddings as %q: csv or npy", format)
	}
	return Exported{Data: b.Bytes(), Names: names.String()}, err
}

// ExportPredictions writes the labels Label predicts as CSV:
// file,label,confidence for every photo not named.
func (a *App) ExportPredictions(names []Named, probe string) ([]byte, error) {
	a.exploreMu.Lock()
	defer a.exploreMu.Unlock()
	c, err := a.explored()
	if err != nil {
		return nil, err
	}
	named, err := c.named(names)
	if err != nil {
		return nil, err
	}
	l, err := explore.Label(&c.set, named, explore.LabelConfig{Probe: explore.Probe(probe), NoLeaveOneOut: true})
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	err = explore.WritePredictions(&b, &c.set, l)
	return b.Bytes(), err
}
