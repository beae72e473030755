// golden writes one checkpoint per task with the code before the
// restructuring, and the predictions they make, for the migration test.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/disintegration/imaging"
	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/tasks"
	"github.com/pretextlab/pretext/tasks/samples"
)

var configs = map[string]string{
	"jigsaw":            `{"hidden":32,"perms":10}`,
	"jigsaw-positions":  `{"hidden":32}`,
	"relative-position": `{"hidden":32}`,
	"simclr":            `{"hidden":32,"proj":16}`,
	"colorization":      `{"hidden":16}`,
	"inpainting":        `{"hidden":8}`,
	"exemplar":          `{"classes":8}`,
	"deepcluster":       `{"k":4}`,
	"sela":              `{"k":4}`,
	"keypoint-clusters": `{"k":4}`,
	"super-resolution":  `{"hidden":8}`,
	"multi-task":        `{"tasks":[{"name":"rotation"},{"name":"jigsaw","config":{"hidden":32,"perms":10}},{"name":"colorization","config":{"hidden":16}}]}`,
}

type pic struct {
	W, H  int
	Thumb string // 16x16 box-filtered RGBA, base64
}

type pred struct {
	Photo   string
	Summary string
	Probs   []float64
	Image   *pic
	Input   *pic
}

type golden struct {
	Task     string
	Config   string
	Step     int
	Preds    []pred
	EvalLoss float64
}

func thumb(img *image.NRGBA) *pic {
	if img == nil {
		return nil
	}
	b := img.Bounds()
	t := imaging.Resize(img, 16, 16, imaging.Box)
	return &pic{W: b.Dx(), H: b.Dy(), Thumb: base64.StdEncoding.EncodeToString(t.Pix)}
}

func main() {
	out := os.Args[1]
	os.MkdirAll(out, 0o755)
	var photos []*image.NRGBA
	var names []string
	for _, p := range samples.Photos() {
		img, err := core.Decode(p.Name, p.Data, core.IntakeConfig{MaxSide: 128})
		if err != nil {
			log.Fatal(err)
		}
		photos = append(photos, img)
		names = append(names, p.Name)
	}
	for i, name := range tasks.Names() {
		rng := rand.New(rand.NewPCG(uint64(100+i), 0))
		trunk, err := core.NewTrunk(core.TrunkConfig{Widths: []int{4, 8, 16}}, rng)
		if err != nil {
			log.Fatal(err)
		}
		cfg := configs[name]
		t, err := tasks.New(name, json.RawMessage(cfg), trunk, rng)
		if err != nil {
			log.Fatal(name, err)
		}
		tr, err := core.NewTrainer(trunk, t, core.TrainConfig{Optimizer: "adam", LR: 0.001, Steps: 10, WarmupSteps: 1})
		if err != nil {
			log.Fatal(err)
		}
		for step := range 3 {
			if _, err := tasks.Prepare(t, trunk, photos, step, rng); err != nil {
				log.Fatal(name, err)
			}
			b, err := tasks.Batch(t, photos, 12, rng)
			if err != nil {
				log.Fatal(name, err)
			}
			if _, err := tr.Step(context.Background(), b); err != nil {
				log.Fatal(name, err)
			}
		}
		var buf bytes.Buffer
		if err := tr.Save(&buf); err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, name+".ckpt"), buf.Bytes(), 0o644); err != nil {
			log.Fatal(err)
		}
		// Reload, as the test will, and predict.
		lt, err := core.LoadTrainer(bytes.NewReader(buf.Bytes()), tasks.Resolve)
		if err != nil {
			log.Fatal(name, err)
		}
		task := lt.Head.(core.Task)
		if _, err := tasks.Prepare(task, lt.Trunk, photos, lt.Steps(), rand.New(rand.NewPCG(7, 0))); err != nil {
			log.Fatal(name, err)
		}
		g := golden{Task: name, Config: cfg, Step: lt.Steps()}
		// Held-out style evaluation loss on a fixed batch.
		eb, err := tasks.Batch(task, photos, 12, rand.New(rand.NewPCG(9, 0)))
		if err != nil {
			log.Fatal(name, err)
		}
		if g.EvalLoss, _, err = lt.Evaluate(eb); err != nil {
			log.Fatal(name, err)
		}
		for _, k := range []int{0, 5} {
			p, err := task.Predict(lt.Trunk, photos[k], rand.New(rand.NewPCG(1, 0)))
			if err != nil {
				log.Fatal(name, err)
			}
			g.Preds = append(g.Preds, pred{Photo: names[k], Summary: p.Summary, Probs: p.Probs, Image: thumb(p.Image), Input: thumb(p.Input)})
		}
		js, _ := json.MarshalIndent(g, "", "  ")
		os.WriteFile(filepath.Join(out, name+".json"), js, 0o644)
		fmt.Printf("%-18s %7d bytes, eval loss %.5f, %s\n", name, buf.Len(), g.EvalLoss, g.Preds[0].Summary)
	}
}
