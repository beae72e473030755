package main

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pretextlab/pretext/internal/testphotos"
)

// writeKinds writes n photos of each of two kinds, reddish stripes and
// bluish spots, with noise, as PNGs: red-i.png and blue-i.png.
func writeKinds(t *testing.T, dir string, n int) {
	t.Helper()
	for _, p := range testphotos.Kinds(n, 3) {
		if err := os.WriteFile(filepath.Join(dir, p.Kind+"-"+strconv.Itoa(p.Index)+".png"), p.PNG, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// runCmd runs a command and returns its output.
func runCmd(t *testing.T, cmd func([]string, *bytes.Buffer) error, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := cmd(args, &out); err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return out.String()
}

func TestEmbedCSVAndNPY(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeKinds(t, dir, 3)
	// A subfolder is read; a hidden one is not.
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.MkdirAll(filepath.Join(dir, ".hidden"), 0o755)
	b, _ := os.ReadFile(filepath.Join(dir, "red-0.png"))
	os.WriteFile(filepath.Join(dir, "sub", "copy.png"), b, 0o644)
	os.WriteFile(filepath.Join(dir, ".hidden", "secret.png"), b, 0o644)
	out := filepath.Join(t.TempDir(), "emb.csv")
	var stdout bytes.Buffer
	if err := embedCmd([]string{"-random", "-images", dir, "-out", out}, &stdout); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(out)
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"blue-0.png", "blue-1.png", "blue-2.png", "red-0.png", "red-1.png", "red-2.png", "sub/copy.png"}
	if len(rows) != len(names)+1 || rows[0][0] != "file" || rows[0][1] != "f0" {
		t.Fatalf("%d rows, header %v", len(rows), rows[0][:2])
	}
	dim := len(rows[0]) - 1
	csvVals := make([]float32, 0, len(names)*dim)
	for i, r := range rows[1:] {
		if r[0] != names[i] {
			t.Errorf("row %d is %s, want %s", i, r[0], names[i])
		}
		var norm float64
		for _, s := range r[1:] {
			v, err := strconv.ParseFloat(s, 32)
			if err != nil {
				t.Fatal(err)
			}
			norm += v * v
			csvVals = append(csvVals, float32(v))
		}
		if math.Abs(norm-1) > 1e-4 {
			t.Errorf("%s: squared norm %v", r[0], norm)
		}
	}
	// The copy in the subfolder embeds as its original does.
	if !slices.Equal(rows[4][1:], rows[7][1:]) {
		t.Error("sub/copy.png embeds differently from red-0.png")
	}
	npy := filepath.Join(t.TempDir(), "emb.npy")
	if err := embedCmd([]string{"-random", "-images", dir, "-out", npy}, &stdout); err != nil {
		t.Fatal(err)
	}
	nb, _ := os.ReadFile(npy)
	hl := int(binary.LittleEndian.Uint16(nb[8:10]))
	if want := "'shape': (" + strconv.Itoa(len(names)) + ", " + strconv.Itoa(dim) + ")"; !strings.Contains(string(nb[10:10+hl]), want) {
		t.Errorf("npy header %q lacks %s", nb[10:10+hl], want)
	}
	data := nb[10+hl:]
	if len(data) != 4*len(csvVals) {
		t.Fatalf("npy holds %d bytes, want %d", len(data), 4*len(csvVals))
	}
	for i, v := range csvVals {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:])); got != v {
			t.Fatalf("npy value %d = %v, CSV %v", i, got, v)
		}
	}
	txt, _ := os.ReadFile(npy + ".txt")
	if string(txt) != strings.Join(names, "\n")+"\n" {
		t.Errorf("names file %q", txt)
	}
	for name, args := range map[string][]string{
		"no trunk":     {"-images", dir, "-out", out},
		"both trunks":  {"-random", "-ckpt", "x.ckpt", "-images", dir, "-out", out},
		"bad format":   {"-random", "-images", dir, "-out", "emb.txt"},
		"empty folder": {"-random", "-images", t.TempDir(), "-out", out},
		"no folder":    {"-random", "-images", filepath.Join(dir, "nope"), "-out", out},
	} {
		if err := embedCmd(args, &stdout); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestSimilar(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeKinds(t, dir, 4)
	var out bytes.Buffer
	if err := similarCmd([]string{"-random", "-images", dir, "-query", filepath.Join(dir, "red-1.png"), "-k", "3", "-json"}, &out); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Query      string
		Neighbours []struct {
			File       string
			Similarity float64
		}
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if len(res.Neighbours) != 3 {
		t.Fatalf("neighbours %v", res.Neighbours)
	}
	for _, n := range res.Neighbours {
		if n.File == "red-1.png" || !strings.HasPrefix(n.File, "red-") {
			t.Errorf("a neighbour of red-1.png is %s", n.File)
		}
	}
	// A copy outside the folder finds its original first, at similarity 1.
	b, _ := os.ReadFile(filepath.Join(dir, "blue-2.png"))
	q := filepath.Join(t.TempDir(), "query.png")
	os.WriteFile(q, b, 0o644)
	montage := filepath.Join(t.TempDir(), "m.png")
	out.Reset()
	if err := similarCmd([]string{"-random", "-images", dir, "-query", q, "-json", "-out", montage}, &out); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(out.Bytes(), &res)
	if res.Neighbours[0].File != "blue-2.png" || math.Abs(res.Neighbours[0].Similarity-1) > 1e-5 || len(res.Neighbours) != 8 {
		t.Errorf("the copy's neighbours %v", res.Neighbours)
	}
	f, err := os.Open(montage)
	if err != nil {
		t.Fatal(err)
	}
	m, err := png.Decode(f)
	f.Close()
	if err != nil || m.Bounds().Dx() != 9*(128+8)+8 {
		t.Errorf("montage %v (%v)", m, err)
	}
	if err := similarCmd([]string{"-random", "-images", dir}, &out); err == nil {
		t.Error("no -query: no error")
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeKinds(t, dir, 6)
	labels := filepath.Join(t.TempDir(), "labels.csv")
	os.WriteFile(labels, []byte("file,label\nred-0.png,stripes\nred-1.png,stripes\nblue-0.png,spots\nblue-1.png,spots\n"), 0o644)
	for _, probe := range []string{"linear", "knn"} {
		pred := filepath.Join(t.TempDir(), "pred.csv")
		var out bytes.Buffer
		if err := classifyCmd([]string{"-random", "-images", dir, "-labels", labels, "-probe", probe, "-out", pred, "-json"}, &out); err != nil {
			t.Fatal(err)
		}
		var res map[string]any
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatalf("%v: %s", err, out.String())
		}
		if res["leave_one_out"] != 1.0 || res["named"] != 4.0 {
			t.Errorf("%s: %v", probe, res)
		}
		f, _ := os.Open(pred)
		rows, _ := csv.NewReader(f).ReadAll()
		f.Close()
		if len(rows) != 9 || !slices.Equal(rows[0], []string{"file", "label", "confidence"}) {
			t.Fatalf("%s: predictions %v", probe, rows)
		}
		for _, r := range rows[1:] {
			want := map[bool]string{true: "stripes", false: "spots"}[strings.HasPrefix(r[0], "red")]
			c, _ := strconv.ParseFloat(r[2], 64)
			if r[1] != want || !(c > 0.5 && c <= 1) {
				t.Errorf("%s: %v, want %s", probe, r, want)
			}
		}
	}
	// The measuring mode.
	var out bytes.Buffer
	all := filepath.Join(t.TempDir(), "all.csv")
	csvText := "file,label\n"
	for i := range 6 {
		csvText += "red-" + strconv.Itoa(i) + ".png,stripes\nblue-" + strconv.Itoa(i) + ".png,spots\n"
	}
	os.WriteFile(all, []byte(csvText), 0o644)
	if err := classifyCmd([]string{"-random", "-images", dir, "-labels", all, "-shots", "1,2", "-draws", "3", "-json"}, &out); err != nil {
		t.Fatal(err)
	}
	var m struct {
		Rows []struct {
			Accuracy    map[string]float64
			PrecisionAt float64 `json:"precision_at_5"`
		}
	}
	if err := json.Unmarshal(out.Bytes(), &m); err != nil || len(m.Rows) != 2 {
		t.Fatalf("%v: %s", err, out.String())
	}
	for _, r := range m.Rows {
		if r.Accuracy["1"] < 0.9 || r.Accuracy["2"] < 0.9 || r.PrecisionAt < 0.9 {
			t.Errorf("two distinct kinds: %+v", r)
		}
	}
	bad := func(text string) string {
		p := filepath.Join(t.TempDir(), "bad.csv")
		os.WriteFile(p, []byte(text), 0o644)
		return p
	}
	for name, c := range map[string]struct{ labels, want string }{
		"missing file": {bad("file,label\nred-0.png,a\nnot-there.png,b\n"), "not-there.png"},
		"one class":    {bad("file,label\nred-0.png,a\nred-1.png,a\n"), "two different labels"},
		"none":         {bad("file,label\n"), ""},
	} {
		err := classifyCmd([]string{"-random", "-images", dir, "-labels", c.labels, "-out", filepath.Join(t.TempDir(), "p.csv")}, &out)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming %q", name, err, c.want)
		}
	}
}

func TestMapAndCluster(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeKinds(t, dir, 5)
	pic := filepath.Join(t.TempDir(), "map.png")
	args := []string{"-random", "-images", dir, "-out", pic, "-size", "400", "-thumb", "32", "-json"}
	first := runCmd(t, func(a []string, w *bytes.Buffer) error { return mapCmd(a, w) }, args...)
	var m struct {
		Type   string
		Points []struct {
			File string
			X, Y float64
		}
	}
	if err := json.Unmarshal([]byte(first), &m); err != nil || m.Type != "map" || len(m.Points) != 10 {
		t.Fatalf("%v: %s", err, first)
	}
	pts := m.Points
	for _, p := range pts {
		if p.X < 0 || p.X > 1 || p.Y < 0 || p.Y > 1 {
			t.Errorf("%s at (%v, %v)", p.File, p.X, p.Y)
		}
	}
	if again := runCmd(t, func(a []string, w *bytes.Buffer) error { return mapCmd(a, w) }, args...); again != first {
		t.Error("the same seed drew another map")
	}
	f, err := os.Open(pic)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil || img.Bounds().Dx() != 400 || img.Bounds().Dy() != 400 {
		t.Errorf("map picture %v (%v)", img.Bounds(), err)
	}
	groups := filepath.Join(t.TempDir(), "g.csv")
	runCmd(t, func(a []string, w *bytes.Buffer) error { return clusterCmd(a, w) }, "-random", "-images", dir, "-k", "2", "-out", groups)
	g, _ := os.Open(groups)
	rows, _ := csv.NewReader(g).ReadAll()
	g.Close()
	if len(rows) != 11 || !slices.Equal(rows[0], []string{"file", "group"}) {
		t.Fatalf("groups %v", rows)
	}
	of := map[string]string{}
	for _, r := range rows[1:] {
		kind, _, _ := strings.Cut(r[0], "-")
		if o, ok := of[r[1]]; ok && o != kind {
			t.Errorf("group %s holds %s and %s photos", r[1], o, kind)
		}
		of[r[1]] = kind
	}
	if len(of) != 2 {
		t.Errorf("%d groups, want 2", len(of))
	}
	var out bytes.Buffer
	if err := clusterCmd([]string{"-random", "-images", dir, "-k", "11", "-out", groups}, &out); err == nil {
		t.Error("more groups than photos: no error")
	}
	if err := mapCmd([]string{"-random", "-images", dir}, &out); err == nil {
		t.Error("map with neither -out nor -json: no error")
	}
}
