package tasks

import (
	"encoding/json"
	"image"
	"image/color"
	"testing"

	"github.com/pretextlab/pretext/core"
)

// greyPhoto is a 32x32 grey image like a padded Fashion-MNIST one: a bright
// blob off centre on black.
func greyPhoto() *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, 32, 32))
	for y := range 32 {
		for x := range 32 {
			v := uint8(0)
			if x > 8 && x < 20 && y > 4 && y < 26 {
				v = uint8(100 + 5*x)
			}
			img.SetNRGBA(x, y, color.NRGBA{v, v, v, 255})
		}
	}
	return img
}

// TestGreyTrunk runs every task on a 1-channel trunk (Fashion-MNIST's
// setting): its views have one channel and its loss and prediction work.
func TestGreyTrunk(t *testing.T) {
	t.Parallel()
	configs := map[string]string{
		"rotation":     `{"min_scale":1,"jitter":-1}`,
		"jigsaw":       `{"cell":10,"tile":9,"min_scale":1}`,
		"colorization": `{"size":32}`,
	}
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			trunk, err := core.NewTrunk(core.TrunkConfig{InChannels: 1, Widths: []int{8, 16, 32}}, testRNG(1))
			if err != nil {
				t.Fatal(err)
			}
			task, err := New(name, json.RawMessage(configs[name]), trunk, testRNG(2))
			if err != nil {
				t.Fatal(err)
			}
			photos := []*image.NRGBA{greyPhoto(), greyPhoto()}
			if _, err := Prepare(task, trunk, photos, 0, testRNG(5)); err != nil {
				t.Fatal(err)
			}
			batch, err := Batch(task, photos, 4, testRNG(3))
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range batch[0].Views {
				if v.C != 1 {
					t.Fatalf("a view has %d channels, want 1", v.C)
				}
			}
			if _, _, err := task.Loss(trunk, batch, true); err != nil {
				t.Fatal(err)
			}
			if _, err := task.Predict(trunk, greyPhoto(), testRNG(4)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
