package app

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// TestImportSafetensors: the page's safetensors export imports into a
// fresh app (the conversion once done only in js-only code) and predicts
// as the model it came from; a file that is neither format is refused
// with a message saying so.
func TestImportSafetensors(t *testing.T) {
	t.Parallel()
	a := withSamples(t)
	if _, err := a.Train(context.Background(), quick("jigsaw", 2), nil); err != nil {
		t.Fatal(err)
	}
	st, err := a.ExportSafetensors()
	if err != nil {
		t.Fatal(err)
	}
	want, err := a.Previews()
	if err != nil {
		t.Fatal(err)
	}
	b := withSamples(t)
	info, err := b.Import(st)
	if err != nil {
		t.Fatal(err)
	}
	if info.Task != "jigsaw" || info.Step != 2 {
		t.Errorf("imported %+v", info)
	}
	got, err := b.Previews()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d previews, the exporter's %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Name != want[i].Name || !slices.Equal(got[i].Probs, want[i].Probs) {
			t.Errorf("preview %d: %s %v, the exporter's %s %v", i, got[i].Name, got[i].Probs, want[i].Name, want[i].Probs)
		}
	}
	if _, err := b.Import([]byte("hello, not a model")); err == nil || !strings.Contains(err.Error(), "neither a Pretext checkpoint nor a safetensors export") {
		t.Errorf("garbage imported: %v", err)
	}
	if _, err := New().ExportSafetensors(); err == nil {
		t.Error("an app without a model exported")
	}
}
