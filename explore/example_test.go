package explore_test

import (
	"fmt"
	"image"
	"log"
	"math/rand/v2"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/explore"
	"github.com/pretextlab/pretext/tasks/samples"
)

// Embed photos with a trunk and find the ones most like a photo. A
// trained trunk comes from a checkpoint (core.LoadTrainer); this one is
// freshly initialised.
func ExampleNewEmbedder() {
	var names []string
	var photos []*image.NRGBA
	for _, p := range samples.Photos() {
		img, err := core.Decode(p.Name, p.Data, core.IntakeConfig{})
		if err != nil {
			log.Fatal(err)
		}
		names, photos = append(names, p.Name), append(photos, img)
	}
	trunk, err := core.NewTrunk(core.TrunkConfig{}, rand.New(rand.NewPCG(1, 0)))
	if err != nil {
		log.Fatal(err)
	}
	emb, err := explore.NewEmbedder(trunk, photos, explore.EmbedConfig{})
	if err != nil {
		log.Fatal(err)
	}
	vecs, err := emb.Embed(photos)
	if err != nil {
		log.Fatal(err)
	}
	set := &explore.Set{}
	if err := set.Add(names, vecs); err != nil {
		log.Fatal(err)
	}
	nearest, err := set.Nearest(set.Row(0), 3, 0) // 3 photos, leaving out photo 0 itself
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d photos, %d values each; %d most like %s\n", set.Len(), set.Dim, len(nearest), names[0])
	for _, n := range nearest {
		_ = n.Name // and n.Similarity, the cosine similarity
	}
	// Output: 16 photos, 512 values each; 3 most like animal-farmanimals-cow.jpg
}
