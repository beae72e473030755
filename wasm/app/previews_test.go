package app

import (
	"context"
	"testing"
)

func TestColorizationPreview(t *testing.T) {
	t.Parallel()
	a := withSamples(t)
	if _, err := a.Train(context.Background(), quick("colorization", 1), nil); err != nil {
		t.Fatal(err)
	}
	pv, err := a.Previews()
	if err != nil {
		t.Fatal(err)
	}
	if len(pv[0].Probs) != 0 || pv[0].Image == nil || pv[0].Input == nil {
		t.Errorf("colorization preview %+v", pv[0])
	}
}
