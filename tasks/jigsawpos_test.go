package tasks

import (
	"encoding/json"
	"image"
	"math"
	"strings"
	"testing"

	"github.com/nlpodyssey/spago/mat"

	"github.com/pretextlab/pretext/core"
)

func newTestJigsawPos(t *testing.T, trunk *core.Trunk, cfg JigsawPosConfig) *JigsawPos {
	t.Helper()
	j, err := NewJigsawPos(cfg, trunk, testRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// nextPerm steps p to the next permutation in lexicographic order
// (Narayana Pandita's algorithm), reporting false after the last.
func nextPerm(p []int) bool {
	i := len(p) - 2
	for i >= 0 && p[i] >= p[i+1] {
		i--
	}
	if i < 0 {
		return false
	}
	k := len(p) - 1
	for p[k] <= p[i] {
		k--
	}
	p[i], p[k] = p[k], p[i]
	for a, b := i+1, len(p)-1; a < b; a, b = a+1, b-1 {
		p[a], p[b] = p[b], p[a]
	}
	return true
}

// TestPermRank checks permRank and permUnrank against the permutations
// enumerated in lexicographic order.
func TestPermRank(t *testing.T) {
	t.Parallel()
	p := []int{0, 1, 2, 3, 4, 5, 6, 7, 8}
	n := 0
	for {
		var a [jigsawTiles]int
		copy(a[:], p)
		if r := permRank(a); r != n {
			t.Fatalf("rank of %v is %d, want %d", a, r, n)
		}
		if got := permUnrank(n); got != a {
			t.Fatalf("unrank %d is %v, want %v", n, got, a)
		}
		n++
		if !nextPerm(p) {
			break
		}
	}
	if n != permCount {
		t.Errorf("%d permutations, want %d", n, permCount)
	}
}

// cellImage is a 3*cell square photo whose grid cell p is filled with red
// 20+20p.
func cellImage(cell int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, 3*cell, 3*cell))
	for y := range 3 * cell {
		for x := range 3 * cell {
			o := img.PixOffset(x, y)
			img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = uint8(20+20*(y/cell*3+x/cell)), 50, 50, 255
		}
	}
	return img
}

// TestJigsawPosLabels checks that an example's label says where each view
// came from, on a photo whose cells have distinct colours: view i shows
// the colour of position perm[i] (of the photo or, when the crop was
// mirrored, of the mirrored photo).
func TestJigsawPosLabels(t *testing.T) {
	t.Parallel()
	const cell = 32
	img := cellImage(cell)
	j := newTestJigsawPos(t, smallTrunk(t, 1), JigsawPosConfig{MinScale: 1, RawTiles: true, GreyProb: -1, DropProb: -1})
	rng := testRNG(31)
	flips, ranks := 0, map[int]bool{}
	for range 40 {
		exs, err := j.Examples(nil, img, rng)
		if err != nil {
			t.Fatal(err)
		}
		ex := exs[0]
		ranks[ex.Class] = true
		perm := permUnrank(ex.Class)
		var seen [jigsawTiles]int // the cell each view shows
		for i, v := range ex.Views {
			red := int(v.Image(core.ImageNetNorm).Pix[0])
			seen[i] = (red - 20) / 20
		}
		plain, mirrored := true, true
		for i, p := range perm {
			plain = plain && seen[i] == p
			mirrored = mirrored && seen[i] == p/3*3+2-p%3
		}
		if !plain && !mirrored {
			t.Fatalf("views show cells %v, label says %v", seen, perm)
		}
		if mirrored {
			flips++
		}
	}
	if len(ranks) < 38 {
		t.Errorf("%d distinct orders in 40 examples", len(ranks))
	}
	if flips < 5 || flips > 35 {
		t.Errorf("%d of 40 crops mirrored", flips)
	}
}

// TestJigsawPosLossLayout compares the loss and accuracy with a plain
// computation from the logits: the mean over tiles of -log softmax of
// logits[n][9i+·] at perm_n[i].
func TestJigsawPosLossLayout(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 2)
	j := newTestJigsawPos(t, trunk, JigsawPosConfig{Hidden: 16})
	batch, err := Batch(j, testPhotos(t), 3, testRNG(3))
	if err != nil {
		t.Fatal(err)
	}
	logits, err := j.Logits(trunk, batch, false)
	if err != nil {
		t.Fatal(err)
	}
	z := logitsData(logits)
	var sum float64
	right := 0
	for n, ex := range batch {
		perm := permUnrank(ex.Class)
		for i := range jigsawTiles {
			row := z[n*81+i*9 : n*81+i*9+9]
			var s float64
			best := 0
			for p, v := range row {
				s += math.Exp(float64(v))
				if v > row[best] {
					best = p
				}
			}
			sum += math.Log(s) - float64(row[perm[i]])
			if best == perm[i] {
				right++
			}
		}
	}
	want := sum / float64(9*len(batch))
	loss, score, err := j.Loss(trunk, batch, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := float64(logitsData(loss)[0]); math.Abs(got-want) > 1e-5 {
		t.Errorf("loss %v, want %v", got, want)
	}
	if wantAcc := float64(right) / float64(9*len(batch)); score.Accuracy != wantAcc {
		t.Errorf("accuracy %v, want %v", score.Accuracy, wantAcc)
	}
}

// logitsData is the values of a node.
func logitsData(x mat.Tensor) []float32 { return mat.Data[float32](x.Value()) }

// TestBestAssignment checks the placement against every permutation scored
// directly, on random distributions and on one where the greedy choice is
// wrong.
func TestBestAssignment(t *testing.T) {
	t.Parallel()
	rng := testRNG(33)
	score := func(p [jigsawTiles][jigsawTiles]float64, a [jigsawTiles]int) float64 {
		var s float64
		for i, k := range a {
			s += math.Log(p[i][k])
		}
		return s
	}
	for trial := range 3 {
		var p [jigsawTiles][jigsawTiles]float64
		for i := range p {
			var s float64
			for k := range p[i] {
				p[i][k] = math.Exp(3 * rng.NormFloat64())
				s += p[i][k]
			}
			for k := range p[i] {
				p[i][k] /= s
			}
		}
		if trial == 0 {
			// Greedy puts view 0 at 0 (0.6), leaving view 1 at 0.01;
			// the best is view 0 at 1 and view 1 at 0.
			for i := range 2 {
				for k := range p[i] {
					p[i][k] = 0.01
				}
			}
			p[0][0], p[0][1], p[1][0], p[1][1] = 0.6, 0.3, 0.9, 0.01
		}
		got := bestAssignment(p)
		best, bestRank := math.Inf(-1), -1
		for r := range permCount {
			if s := score(p, permUnrank(r)); s > best {
				best, bestRank = s, r
			}
		}
		if permRank(got) != bestRank {
			t.Errorf("trial %d: assignment %v (score %v), want %v (score %v)", trial, got, score(p, got), permUnrank(bestRank), best)
		}
		if trial == 0 && (got[0] != 1 || got[1] != 0) {
			t.Errorf("greedy trap: got %v", got)
		}
	}
}

// TestJigsawPosLossFalls trains a small trunk on one sample photo: with
// any of 9! orders the loss falls slowly on several photos (about 5% in 80
// steps on four), so the test learns the tiles of one whole photo (small
// cells, raw tiles) within its few steps.
func TestJigsawPosLossFalls(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the sample photos; -short skips it")
	}
	t.Parallel()
	trunk := smallTrunk(t, 2)
	j := newTestJigsawPos(t, trunk, JigsawPosConfig{Cell: 16, Tile: 13, Hidden: 128, MinScale: 1, RawTiles: true, GreyProb: -1, DropProb: -1})
	losses, _ := trainLosses(t, trunk, j, testPhotos(t)[:1], core.TrainConfig{Optimizer: "adam", LR: 5e-3}, 50, 16, 3)
	checkLossFalls(t, losses, 5, 0.8)
}

// TestJigsawPosGreyTrunk runs the task on a 1-channel trunk.
func TestJigsawPosGreyTrunk(t *testing.T) {
	t.Parallel()
	trunk, err := core.NewTrunk(core.TrunkConfig{InChannels: 1, Widths: []int{8, 16}}, testRNG(5))
	if err != nil {
		t.Fatal(err)
	}
	j := newTestJigsawPos(t, trunk, JigsawPosConfig{Cell: 16, Tile: 12, Hidden: 8})
	batch, err := Batch(j, testPhotos(t), 2, testRNG(6))
	if err != nil {
		t.Fatal(err)
	}
	if v := batch[0].Views[0]; v.C != 1 || v.H != 12 {
		t.Fatalf("view is %dx%dx%d", v.C, v.H, v.W)
	}
	if _, _, err := j.Loss(trunk, batch, true); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Predict(trunk, testPhotos(t)[1], testRNG(7)); err != nil {
		t.Fatal(err)
	}
}

// TestJigsawPosSpecCheckpoint rebuilds the task from its spec and from a
// checkpoint.
func TestJigsawPosSpecCheckpoint(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 4)
	j := newTestJigsawPos(t, trunk, JigsawPosConfig{Cell: 16, Tile: 13, Hidden: 16, GreyProb: -1, RawTiles: true})
	got, err := Resolve(j.Spec(), trunk)
	if err != nil {
		t.Fatal(err)
	}
	j2, ok := got.(*JigsawPos)
	if !ok {
		t.Fatalf("Resolve gave %T", got)
	}
	if j2.Config() != j.Config() || j2.InputSize() != 13 {
		t.Errorf("resolved config %+v, want %+v", j2.Config(), j.Config())
	}
	photos := testPhotos(t)
	_, tr := trainLosses(t, trunk, j, photos, core.TrainConfig{Optimizer: "adam"}, 2, 4, 5)
	batch, err := Batch(j, photos, 4, testRNG(6))
	if err != nil {
		t.Fatal(err)
	}
	checkpointRoundTrip(t, tr, batch)
}

// TestJigsawPosPredict checks the boards hold the same nine tiles, each
// once, and the summary counts the tiles placed right.
func TestJigsawPosPredict(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 7)
	j := newTestJigsawPos(t, trunk, JigsawPosConfig{Hidden: 32})
	p, err := j.Predict(trunk, cellImage(40), testRNG(8))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Probs) != 81 {
		t.Fatalf("%d probs, want 81", len(p.Probs))
	}
	for i := range jigsawTiles {
		var s float64
		for _, v := range p.Probs[9*i : 9*i+9] {
			s += v
		}
		if math.Abs(s-1) > 1e-9 {
			t.Errorf("view %d's probabilities sum to %v", i, s)
		}
	}
	const tile = 27
	side := 3*tile + 4*tileGap
	for _, im := range []*image.NRGBA{p.Image, p.Input} {
		if im == nil || im.Bounds().Dx() != side || im.Bounds().Dy() != side {
			t.Fatalf("board is %v, want %dx%d", im.Bounds(), side, side)
		}
	}
	// Each photo cell has its own red; read each board position's.
	reds := func(im *image.NRGBA) [jigsawTiles]int {
		var out [jigsawTiles]int
		for pos := range jigsawTiles {
			o := im.PixOffset(tileGap+pos%3*(tile+tileGap)+tile/2, tileGap+pos/3*(tile+tileGap)+tile/2)
			out[pos] = (int(im.Pix[o]) - 20) / 20
		}
		return out
	}
	in, out := reds(p.Input), reds(p.Image)
	var count [jigsawTiles]int
	right := 0
	for pos, c := range out {
		count[c]++
		if c == pos {
			right++
		}
	}
	for c, n := range count {
		if n != 1 {
			t.Errorf("cell %d's tile is on the board %d times (board %v, input %v)", c, n, out, in)
		}
	}
	if want := strings.Fields(p.Summary)[0]; want != string(rune('0'+right)) || !strings.HasSuffix(p.Summary, "of 9 tiles placed right") {
		t.Errorf("summary %q, %d tiles are in place", p.Summary, right)
	}
}

func TestJigsawPosErrors(t *testing.T) {
	t.Parallel()
	trunk := smallTrunk(t, 9)
	j := newTestJigsawPos(t, trunk, JigsawPosConfig{Hidden: 16})
	for _, img := range []*image.NRGBA{nil, image.NewNRGBA(image.Rect(0, 0, 0, 5)), image.NewNRGBA(image.Rect(0, 0, 10, 10)), image.NewNRGBA(image.Rect(0, 0, 200, 31))} {
		if _, err := j.Examples(nil, img, testRNG(1)); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
			t.Errorf("Examples(%v): error %v", img, err)
		}
		if _, err := j.Predict(trunk, img, testRNG(1)); err == nil {
			t.Errorf("Predict(%v): no error", img)
		}
	}
	for _, cfg := range []string{`{"tile":33}`, `{"hidden":-1}`, `{"cell":200}`, `{"cell":1,"tile":1}`, `{"min_scale":1.5}`, `{"grey_prob":2}`, `{"bogus":1}`} {
		if _, err := New("jigsaw-positions", json.RawMessage(cfg), trunk, testRNG(1)); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
			t.Errorf("config %s: error %v", cfg, err)
		}
	}
	exs, err := j.Examples(nil, testPhotos(t)[0], testRNG(2))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := j.Loss(trunk, []core.Example{{Views: exs[0].Views[:8]}}, true); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
		t.Errorf("Loss with 8 views: error %v", err)
	}
	for _, c := range []int{-1, permCount} {
		if _, _, err := j.Loss(trunk, []core.Example{{Views: exs[0].Views, Class: c}}, true); err == nil || !strings.HasPrefix(err.Error(), "tasks: ") {
			t.Errorf("Loss with class %d: error %v", c, err)
		}
	}
	if _, _, err := j.Loss(trunk, nil, true); err == nil {
		t.Errorf("Loss of an empty batch: no error")
	}
}
