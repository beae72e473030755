package main

import (
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/core/eval"
	"github.com/pretextlab/pretext/explore"
	"github.com/pretextlab/pretext/tasks"
)

// The commands that put a trunk's representation to work on a folder of
// photos, all through package explore (as the page's step 4 is): embed,
// similar, classify, map and cluster.

// exploreFlags are the flags every one of them takes: which trunk, which
// photos, how they are embedded.
type exploreFlags struct {
	fs     *flag.FlagSet
	ckpt   *string
	random *bool
	trunk  *string
	seed   *uint64
	images *string
	block  *int
	grid   *int
	side   *int
	intake func() (core.IntakeConfig, error)
}

func newExploreFlags(name string) *exploreFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	return &exploreFlags{
		fs:     fs,
		ckpt:   fs.String("ckpt", "", "checkpoint whose trunk embeds the photos (written by pretext train or import)"),
		random: fs.Bool("random", false, "use a randomly initialised trunk instead of -ckpt"),
		trunk:  fs.String("trunk", "rs", "-random: the trunk's size, rs or wide"),
		seed:   fs.Uint64("seed", 1, "seed of -random's trunk and of the command's random choices"),
		images: fs.String("images", "", "folder of photos, read with its subfolders (default: the embedded samples)"),
		block:  fs.Int("block", 0, "the trunk block whose output is pooled (1-based; 0: the library's default)"),
		grid:   fs.Int("grid", 0, "pool the block's maps over a grid x grid partition (0: the default)"),
		side:   fs.Int("side", 0, "photos are filled to side x side before embedding (0: the default)"),
		intake: intakeFlags(fs),
	}
}

// explored is what the shared flags give: the photos, their embeddings and
// the trunk that made them.
type explored struct {
	trunk    *core.Trunk
	what     string // the trunk for people: "random init" or the checkpoint
	cfg      explore.EmbedConfig
	photos   []*image.NRGBA
	set      *explore.Set
	embedder *explore.Embedder
}

// load parses args, reads the trunk and the photos and embeds them.
func (f *exploreFlags) load(args []string, stdout, log io.Writer) (*explored, error) {
	if err := parseFlags(f.fs, args, stdout); err != nil {
		return nil, err
	}
	if f.fs.NArg() > 0 {
		return nil, usagef("%s: unexpected arguments %q", f.fs.Name(), f.fs.Args())
	}
	if (*f.ckpt == "") == !*f.random {
		return nil, fmt.Errorf("%s: give -ckpt FILE or -random (one of them)", f.fs.Name())
	}
	ic, err := f.intake()
	if err != nil {
		return nil, err
	}
	e := &explored{cfg: explore.EmbedConfig{Block: *f.block, Grid: *f.grid, Side: *f.side}}
	if *f.random {
		cfg, err := core.NamedTrunk(*f.trunk)
		if err != nil {
			return nil, err
		}
		cfg.InChannels = 3
		if e.trunk, err = core.NewTrunk(cfg, rand.New(rand.NewPCG(*f.seed, 0))); err != nil {
			return nil, err
		}
		e.what = fmt.Sprintf("random init (%s, seed %d)", *f.trunk, *f.seed)
	} else {
		fh, err := os.Open(*f.ckpt)
		if err != nil {
			return nil, err
		}
		tr, err := core.LoadTrainer(fh, tasks.Resolve)
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", *f.ckpt, err)
		}
		e.trunk, e.what = tr.Trunk, fmt.Sprintf("%s (%s, %d steps)", baseName(*f.ckpt), tr.Head.Spec().Kind, tr.Steps())
	}
	photos, err := loadPhotos(*f.images, ic, log)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(photos))
	for i, p := range photos {
		names[i], e.photos = p.Name, append(e.photos, p.Image)
	}
	if e.embedder, err = explore.NewEmbedder(e.trunk, e.photos, e.cfg); err != nil {
		return nil, err
	}
	v, err := e.embedder.Embed(e.photos)
	if err != nil {
		return nil, err
	}
	e.set = &explore.Set{}
	if err := e.set.Add(names, v); err != nil {
		return nil, err
	}
	return e, nil
}

// randomSet embeds the same photos with a random-init trunk of the same
// configuration: the baseline that shows what training gained.
func (e *explored) randomSet(seed uint64) (*explore.Set, error) {
	r, err := explore.NewRandomEmbedder(e.trunk, e.photos, e.cfg, seed)
	if err != nil {
		return nil, err
	}
	v, err := r.Embed(e.photos)
	if err != nil {
		return nil, err
	}
	s := &explore.Set{}
	return s, s.Add(e.set.Names, v)
}

// create opens a file to write, making its folder.
func create(path string) (*os.File, error) {
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	return os.Create(path)
}

// writeFile writes a file through fn, closing it and reporting either
// error.
func writeFile(path string, fn func(io.Writer) error) error {
	f, err := create(path)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// embedCmd writes every photo's embedding as CSV or .npy.
func embedCmd(args []string, stdout io.Writer) error {
	f := newExploreFlags("embed")
	out := f.fs.String("out", "", "file to write: .csv (file,f0,f1,...) or .npy (float32 [N,D], names in FILE.txt) (required)")
	e, err := f.load(args, stdout, os.Stderr)
	if err != nil {
		return err
	}
	switch strings.ToLower(filepath.Ext(*out)) {
	case ".csv":
		err = writeFile(*out, func(w io.Writer) error { return explore.WriteCSV(w, e.set) })
	case ".npy":
		if err = writeFile(*out, func(w io.Writer) error { return explore.WriteNPY(w, e.set) }); err == nil {
			err = writeFile(*out+".txt", func(w io.Writer) error { return explore.WriteNames(w, e.set) })
		}
	default:
		return fmt.Errorf("embed: -out must name a .csv or .npy file, not %q", *out)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d photos, %d values each, by %s: wrote %s\n", e.set.Len(), e.set.Dim, e.what, *out)
	return nil
}

// similarCmd lists the photos most similar to a query photo.
func similarCmd(args []string, stdout io.Writer) error {
	f := newExploreFlags("similar")
	query := f.fs.String("query", "", "the photo to find similar ones of: a file of -images or any other (required)")
	k := f.fs.Int("k", 8, "how many similar photos")
	asJSON := f.fs.Bool("json", false, "print JSON: {query, neighbours: [{file, similarity}]}")
	out := f.fs.String("out", "", "also write a montage of the query and its neighbours (PNG)")
	e, err := f.load(args, stdout, os.Stderr)
	if err != nil {
		return err
	}
	if *query == "" || *k < 1 {
		return errors.New("similar: -query is required and -k must be positive")
	}
	// A file of the set is its own row, left out of its neighbours.
	skip := -1
	if *f.images != "" {
		if rel, err := filepath.Rel(*f.images, *query); err == nil {
			skip = slices.Index(e.set.Names, filepath.ToSlash(rel))
		}
	}
	var q []float32
	var qimg *image.NRGBA
	if skip >= 0 {
		q, qimg = e.set.Row(skip), e.photos[skip]
	} else {
		b, err := os.ReadFile(*query)
		if err != nil {
			return err
		}
		if qimg, err = core.Decode(*query, b, core.IntakeConfig{}); err != nil {
			return err
		}
		if q, err = e.embedder.Embed([]*image.NRGBA{qimg}); err != nil {
			return err
		}
	}
	nb, err := e.set.Nearest(q, *k, skip)
	if err != nil {
		return err
	}
	if *out != "" {
		imgs := make([]*image.NRGBA, len(nb))
		sims := make([]float64, len(nb))
		for i, n := range nb {
			imgs[i], sims[i] = e.photos[n.Index], n.Similarity
		}
		m, err := explore.Montage(qimg, imgs, sims, 128)
		if err != nil {
			return err
		}
		if err := writePNG(*out, m); err != nil {
			return err
		}
	}
	if *asJSON {
		return emit(stdout, "similar", struct {
			Query      string              `json:"query"`
			Neighbours []explore.Neighbour `json:"neighbours"`
		}{*query, nb})
	}
	fmt.Fprintf(stdout, "photos most like %s (cosine similarity, by %s):\n", *query, e.what)
	for _, n := range nb {
		fmt.Fprintf(stdout, "  %.3f  %s\n", n.Similarity, n.Name)
	}
	return nil
}

// readLabels reads a labels.csv naming some of the photos names lists:
// index into names → label.
func readLabels(path string, names []string) (map[int]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	items, err := eval.ReadLabelsCSV(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	index := make(map[string]int, len(names))
	for i, n := range names {
		index[n] = i
	}
	named := map[int]string{}
	var missing []string
	for _, it := range items {
		i, ok := index[it.File]
		if !ok {
			missing = append(missing, it.File)
			continue
		}
		named[i] = it.Label
	}
	if len(missing) > 0 {
		more := ""
		if len(missing) > 5 {
			more = fmt.Sprintf(" and %d more", len(missing)-5)
			missing = missing[:5]
		}
		return nil, fmt.Errorf("%s names photos that are not among the photos read: %s%s", path, strings.Join(missing, ", "), more)
	}
	if len(named) == 0 {
		return nil, fmt.Errorf("%s names no photos", path)
	}
	return named, nil
}

// classifyCmd names every photo from the few labels.csv names, or, with
// -shots, measures how well a few named photos name the rest.
func classifyCmd(args []string, stdout io.Writer) error {
	f := newExploreFlags("classify")
	labelsPath := f.fs.String("labels", "", "CSV with the header file,label naming some of the photos (required)")
	probe := f.fs.String("probe", "knn", "classifier: knn (a vote of the most similar named photos) or linear (logistic regression)")
	out := f.fs.String("out", "", "CSV to write: file,label,confidence for every photo labels.csv does not name")
	asJSON := f.fs.Bool("json", false, "print JSON")
	shots := f.fs.String("shots", "", "measure instead: name this many photos of each label at random (e.g. 1,3,5), predict the other labelled ones")
	draws := f.fs.Int("draws", 20, "-shots: rounds of random naming averaged")
	e, err := f.load(args, stdout, os.Stderr)
	if err != nil {
		return err
	}
	if *labelsPath == "" {
		return errors.New("classify: -labels is required")
	}
	named, err := readLabels(*labelsPath, e.set.Names)
	if err != nil {
		return err
	}
	cfg := explore.LabelConfig{Probe: explore.Probe(*probe)}
	random, err := e.randomSet(*f.seed)
	if err != nil {
		return err
	}
	if *shots != "" {
		per, err := intList(*shots)
		if err != nil || len(per) == 0 || slices.Min(per) < 1 || *draws < 1 {
			return fmt.Errorf("classify: -shots %q must list positive counts and -draws be positive", *shots)
		}
		return measureShots(e, random, named, per, *draws, *f.seed, cfg, *asJSON, stdout)
	}
	if *out == "" {
		return errors.New("classify: -out is required (or -shots)")
	}
	res, err := explore.Label(e.set, named, cfg)
	if err != nil {
		return err
	}
	base, err := explore.LeaveOneOut(random, named, cfg)
	if err != nil {
		return err
	}
	if err := writeFile(*out, func(w io.Writer) error { return explore.WritePredictions(w, e.set, res) }); err != nil {
		return err
	}
	if *asJSON {
		return emit(stdout, "classify", map[string]any{
			"trunk": e.what, "probe": cfg.Probe, "named": len(named), "predicted": e.set.Len() - len(named),
			"classes": res.Classes, "leave_one_out": res.LeaveOneOut, "random_leave_one_out": base, "out": *out,
		})
	}
	fmt.Fprintf(stdout, "%d photos named with %d labels, %d predicted: wrote %s\n", len(named), len(res.Classes), e.set.Len()-len(named), *out)
	fmt.Fprintf(stdout, "leave-one-out accuracy on the named photos (%s probe): %.1f%% with %s, %.1f%% with a random-init trunk\n",
		*probe, 100*res.LeaveOneOut, e.what, 100*base)
	return nil
}

// measureShots runs the few-shot protocol and precision@5 for the trunk
// and the random-init one.
func measureShots(e *explored, random *explore.Set, named map[int]string, per []int, draws int, seed uint64, cfg explore.LabelConfig, asJSON bool, stdout io.Writer) error {
	labels := make([]string, e.set.Len())
	for i, l := range named {
		labels[i] = l
	}
	type row struct {
		Trunk       string             `json:"trunk"`
		Accuracy    map[string]float64 `json:"accuracy"`
		SD          map[string]float64 `json:"sd"`
		PrecisionAt float64            `json:"precision_at_5"`
	}
	var rows []row
	for _, c := range []struct {
		what string
		set  *explore.Set
	}{{e.what, e.set}, {"random init, same shape", random}} {
		r := row{Trunk: c.what, Accuracy: map[string]float64{}, SD: map[string]float64{}}
		for _, n := range per {
			m, sd, err := explore.FewShot(c.set, labels, n, draws, seed, cfg)
			if err != nil {
				return err
			}
			r.Accuracy[fmt.Sprint(n)], r.SD[fmt.Sprint(n)] = m, sd
		}
		var err error
		if r.PrecisionAt, err = explore.PrecisionAt(c.set, labels, 5); err != nil {
			return err
		}
		rows = append(rows, r)
	}
	if asJSON {
		return emit(stdout, "classify", map[string]any{"probe": cfg.Probe, "draws": draws, "labelled": len(named), "rows": rows})
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "trunk")
	for _, n := range per {
		fmt.Fprintf(tw, "\t%d named per label", n)
	}
	fmt.Fprintf(tw, "\tprecision@5\n")
	for _, r := range rows {
		fmt.Fprint(tw, r.Trunk)
		for _, n := range per {
			fmt.Fprintf(tw, "\t%.1f%% ± %.1f", 100*r.Accuracy[fmt.Sprint(n)], 100*r.SD[fmt.Sprint(n)])
		}
		fmt.Fprintf(tw, "\t%.3f\n", r.PrecisionAt)
	}
	fmt.Fprintf(tw, "(%s probe, accuracy on the other labelled photos, mean ± sd of %d draws)\n", cfg.Probe, draws)
	return tw.Flush()
}

// mapCmd lays the photos out in 2-D and draws the map.
func mapCmd(args []string, stdout io.Writer) error {
	f := newExploreFlags("map")
	out := f.fs.String("out", "", "PNG to draw the map in, thumbnails framed by group")
	method := f.fs.String("method", "tsne", "layout: tsne or pca")
	size := f.fs.Int("size", 1600, "the map's side in pixels")
	thumb := f.fs.Int("thumb", 48, "the thumbnails' side in pixels")
	asJSON := f.fs.Bool("json", false, "print JSON: [{file, x, y}], x and y in [0, 1]")
	e, err := f.load(args, stdout, os.Stderr)
	if err != nil {
		return err
	}
	if *out == "" && !*asJSON {
		return errors.New("map: give -out map.png, -json or both")
	}
	pts, err := explore.Map(e.set.Vecs, e.set.Len(), e.set.Dim, explore.MapConfig{Method: explore.MapMethod(*method), Seed: *f.seed})
	if err != nil {
		return err
	}
	if *out != "" {
		g, err := explore.Cluster(e.set, explore.ClusterConfig{Seed: *f.seed})
		if err != nil {
			return err
		}
		pic, err := explore.MapPicture(pts, e.photos, g.Labels, *size, *thumb)
		if err != nil {
			return err
		}
		if err := writePNG(*out, pic); err != nil {
			return err
		}
	}
	if *asJSON {
		type point struct {
			File string  `json:"file"`
			X    float64 `json:"x"`
			Y    float64 `json:"y"`
		}
		ps := make([]point, len(pts))
		for i, p := range pts {
			ps[i] = point{e.set.Names[i], p[0], p[1]}
		}
		return emit(stdout, "map", map[string]any{"points": ps})
	}
	fmt.Fprintf(stdout, "%d photos mapped by %s (%s): wrote %s\n", e.set.Len(), *method, e.what, *out)
	return nil
}

// clusterCmd groups the photos.
func clusterCmd(args []string, stdout io.Writer) error {
	f := newExploreFlags("cluster")
	out := f.fs.String("out", "", "CSV to write: file,group for every photo")
	k := f.fs.Int("k", 0, "number of groups (0: chosen by silhouette)")
	asJSON := f.fs.Bool("json", false, "print JSON: k, silhouette and each group's files")
	e, err := f.load(args, stdout, os.Stderr)
	if err != nil {
		return err
	}
	if *out == "" && !*asJSON {
		return errors.New("cluster: give -out clusters.csv, -json or both")
	}
	if *k < 0 || *k > e.set.Len() {
		return fmt.Errorf("cluster: -k %d, want 0 (automatic) to %d (the photos)", *k, e.set.Len())
	}
	g, err := explore.Cluster(e.set, explore.ClusterConfig{K: *k, Seed: *f.seed})
	if err != nil {
		return err
	}
	if *out != "" {
		if err := writeFile(*out, func(w io.Writer) error { return explore.WriteGroups(w, e.set, g) }); err != nil {
			return err
		}
	}
	files := make([][]string, g.K)
	for c, m := range g.Members {
		for _, i := range m {
			files[c] = append(files[c], e.set.Names[i])
		}
	}
	if *asJSON {
		return emit(stdout, "cluster", map[string]any{"k": g.K, "silhouette": g.Silhouette, "groups": files})
	}
	fmt.Fprintf(stdout, "%d groups of %d photos (silhouette %.3f, by %s):\n", g.K, e.set.Len(), g.Silhouette, e.what)
	for c, fs := range files {
		show := fs[:min(4, len(fs))]
		more := ""
		if len(fs) > len(show) {
			more = ", ..."
		}
		fmt.Fprintf(stdout, "  group %d: %d photos: %s%s\n", c, len(fs), strings.Join(show, ", "), more)
	}
	if *out != "" {
		fmt.Fprintf(stdout, "wrote %s\n", *out)
	}
	return nil
}
