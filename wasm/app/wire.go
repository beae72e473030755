package app

import (
	"image"

	"github.com/disintegration/imaging"

	"github.com/pretextlab/pretext/core"
	"github.com/pretextlab/pretext/recipe"
	"github.com/pretextlab/pretext/tasks"
)

// The types the page sends and is sent (docs/browser.md): package main in
// wasm/ converts them to and from JavaScript values by their JSON names.

// Sizes of the images the page is sent.
const (
	thumbSide = 96 // photo thumbnails
	// exploreThumbSide is the side of step 4's thumbnails, which may be
	// a thousand: 64 pixels keep them at 16 KB each.
	exploreThumbSide = 64
	previewSide      = 192 // originals and outputs in previews
)

// Image is an image for the page: RGBA pixels, row by row (ImageData's
// layout).
type Image struct {
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Pix    []byte `json:"data"`
}

func toImage(img *image.NRGBA, side int) *Image {
	if img == nil {
		return nil
	}
	if b := img.Bounds(); b.Dx() > side || b.Dy() > side {
		img = imaging.Fit(img, side, side, imaging.Linear)
	}
	b := img.Bounds()
	pix := make([]byte, 0, 4*b.Dx()*b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		i := img.PixOffset(b.Min.X, y)
		pix = append(pix, img.Pix[i:i+4*b.Dx()]...)
	}
	// NRGBA and ImageData are both non-premultiplied RGBA.
	return &Image{Width: b.Dx(), Height: b.Dy(), Pix: pix}
}

// Photo describes a photo the app holds.
type Photo struct {
	ID     int    `json:"id"`
	Name   string `json:"name"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Thumb  *Image `json:"thumb"`
}

// Rejected is a file that was not taken, and why.
type Rejected struct {
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// Added is the answer to AddImages and AddSamples.
type Added struct {
	Added    []Photo    `json:"added"`
	Rejected []Rejected `json:"rejected"`
	Count    int        `json:"count"`
	Credits  string     `json:"credits,omitempty"`
}

// File is a named photo file's bytes.
type File struct {
	Name  string
	Bytes []byte
}

// Settings configure a training run: the run's own (recipe.Settings; zero
// fields take the task's defaults) and how the page follows it.
type Settings struct {
	recipe.Settings
	// Every is the number of steps between previews (default 10).
	Every int `json:"previewEvery"`
	// SaveEvery, if positive, makes the run emit a "session" event (see
	// SaveSession) every SaveEvery steps and when it ends, for the page to
	// keep across a reload.
	SaveEvery int `json:"saveEvery,omitempty"`
	// Resume continues the current model (the one trained, stopped,
	// imported or restored last) up to Steps, instead of starting anew.
	Resume bool `json:"resume"`
	// Labels are the labels the person gave photos in step 4, by photo
	// id: with two photos of two labels at least, the run reports its
	// k-NN accuracy on them ("knn" events; knn.go). Ids of photos no
	// longer held are left out. The training never sees them.
	Labels []Named `json:"labels,omitempty"`
	// KNNEvery is the steps between k-NN evaluations (default: about a
	// tenth of the run, less often when an evaluation would take more
	// than a tenth of the time; knnEvery); negative: never.
	KNNEvery int `json:"knnEvery,omitempty"`
	// Replica, if set, makes this app one replica of a data-parallel run
	// (one per Web Worker; see recipe.Hooks.Replica).
	Replica core.Collective `json:"-"`
}

// defaultEvery is the preview interval of a run that names none.
const defaultEvery = 10

// Event is a training progress report: Type "step" after every step,
// "preview" with Items every Settings.Every steps and at the end,
// "warning" with a Message before the first step when the photos cannot
// teach the task what it learns, "refresh" when a clustering task
// relabelled the photos, "diverged" when a step went non-finite and was
// undone (LR is then the lowered rate), "session" (see
// Settings.SaveEvery), and "knn" with the k-NN accuracy on the named
// photos (Settings.Labels) every Settings.KNNEvery steps and after the
// last: Accuracy, Images and K, and Seconds, its time; or a Message
// alone, before the first step when the named photos cannot be measured
// or at a step whose features could not be.
type Event struct {
	Type         string    `json:"type"`
	Step         int       `json:"step"`
	Steps        int       `json:"steps"`
	Loss         float64   `json:"loss"`
	Accuracy     float64   `json:"accuracy"`
	LR           float64   `json:"lr"`
	ImagesPerSec float64   `json:"imagesPerSec"`
	Elapsed      float64   `json:"elapsed"`
	ETA          float64   `json:"eta"`
	Items        []Preview `json:"items,omitempty"`
	// Message is a refresh's log line, a warning's text, or what diverged
	// and the new rate.
	Message string `json:"message,omitempty"`
	// Session is a saved session (Type "session").
	Session []byte `json:"session,omitempty"`
	// Images is the photos a "knn" event's accuracy was measured on, K
	// the neighbours that voted, Seconds the evaluation's time.
	Images  int     `json:"images,omitempty"`
	K       int     `json:"k,omitempty"`
	Seconds float64 `json:"seconds,omitempty"`
}

// Preview is a task's visual output on one photo.
type Preview struct {
	ID       int       `json:"id"`
	Name     string    `json:"name"`
	Summary  string    `json:"summary"`
	Probs    []float64 `json:"probs"`
	Image    *Image    `json:"image"`
	Input    *Image    `json:"input"`
	Original *Image    `json:"original"`
}

// HeldOutScore is the task's score on the held-back photos.
type HeldOutScore struct {
	Loss         float64 `json:"loss"`
	Accuracy     float64 `json:"accuracy"`
	BaselineLoss float64 `json:"baselineLoss"`
	Photos       int     `json:"photos"`
	// Measure is the task's own measure against its baseline
	// (super-resolution: PSNR against bicubic), if it has one.
	Measure *tasks.Measure `json:"measure,omitempty"`
}

// Result is how a training run ended.
type Result struct {
	Task         string       `json:"task"`
	Step         int          `json:"step"`
	Steps        int          `json:"steps"`
	Loss         float64      `json:"loss"`
	Accuracy     float64      `json:"accuracy"`
	Stopped      bool         `json:"stopped"`
	HeldOut      HeldOutScore `json:"heldOut"`
	ImagesPerSec float64      `json:"imagesPerSec"`
	// Warnings are the run's "warning" events' messages (e.g. grey
	// photos for colorization).
	Warnings []string `json:"warnings,omitempty"`
}

// Status is a snapshot of the app.
type Status struct {
	Photos   int    `json:"photos"`
	HeldOut  int    `json:"heldOut"`
	Task     string `json:"task"`
	Step     int    `json:"step"`
	Steps    int    `json:"steps"`
	Training bool   `json:"training"`
}

// ModelInfo describes the model loaded by Import or RestoreSession.
type ModelInfo struct {
	Task  string           `json:"task"`
	Step  int              `json:"step"`
	Trunk core.TrunkConfig `json:"trunk"`
	Train core.TrainConfig `json:"train"`
}

// BenchResult is a Bench measurement.
type BenchResult struct {
	Workload     string  `json:"workload"`
	ImagesPerSec float64 `json:"images_per_sec"`
	Steps        int     `json:"steps"`
	Batch        int     `json:"batch"`
	Runtime      string  `json:"runtime"`
}

// ExploreInfo describes the embeddings of the photos (Explore).
type ExploreInfo struct {
	// Step is the training step of the model they come from.
	Step int `json:"step"`
	// Dim is an embedding's length; Block, Grid and Side how it is taken
	// (explore.EmbedConfig).
	Dim   int `json:"dim"`
	Block int `json:"block"`
	Grid  int `json:"grid"`
	Side  int `json:"side"`
	// Embedded counts the embeddings computed since the app started:
	// photos already embedded for the model are not embedded again.
	Embedded int `json:"embedded"`
	// Photos are the photos embedded, with thumbnails.
	Photos []Photo `json:"photos"`
}

// Neighbour is a photo similar to another.
type Neighbour struct {
	ID         int     `json:"id"`
	Name       string  `json:"name"`
	Similarity float64 `json:"similarity"`
}

// GroupsInfo is a grouping of the photos: Groups[g] lists group g's photo
// ids, the most typical first; the largest group comes first.
type GroupsInfo struct {
	K          int     `json:"k"`
	Silhouette float64 `json:"silhouette"`
	Groups     [][]int `json:"groups"`
}

// MapPoint is a photo's place on the map, x and y in [0, 1].
type MapPoint struct {
	ID int     `json:"id"`
	X  float64 `json:"x"`
	Y  float64 `json:"y"`
}

// Named is a label the person gave a photo.
type Named struct {
	ID    int    `json:"id"`
	Label string `json:"label"`
}

// LabelledPhoto is a photo's label: given (Named) or predicted, with the
// probe's confidence.
type LabelledPhoto struct {
	ID         int     `json:"id"`
	Label      string  `json:"label"`
	Confidence float64 `json:"confidence"`
	Named      bool    `json:"named"`
}

// LabelsInfo is the answer to Label.
type LabelsInfo struct {
	Classes []string        `json:"classes"`
	Photos  []LabelledPhoto `json:"photos"`
	// LeaveOneOut is the accuracy of predicting each named photo from the
	// others with this model's embeddings, RandomLeaveOneOut with a
	// random-init trunk's of the same shape.
	LeaveOneOut       float64 `json:"leaveOneOut"`
	RandomLeaveOneOut float64 `json:"randomLeaveOneOut"`
}

// Exported is a file for the page to download; Names, for a .npy, is the
// file names of its rows, one a line.
type Exported struct {
	Data  []byte `json:"data"`
	Names string `json:"names,omitempty"`
}
